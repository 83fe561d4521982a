// The figures' input types, defined with the tensor view in core/tensor-data.ts (the analysis reads
// them too, and core/analysis does not import core/figures).
export * from '../tensor-data.ts';
