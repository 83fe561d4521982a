// Public API of the similarity engine.
export type { GemmEngine, GemmEngineOptions, GemmPreference } from './gemm.ts';
export { getGemmEngine, jsEngine } from './gemm.ts';
export type { Matrix2D } from './matrix.ts';
export type {
  SimilarityErrorCode,
  SimilarityMethod,
  SimilarityOptions,
  SimilarityResult,
  SvccaResult,
} from './similarity.ts';
export { ALL_METHODS, randomBaseline, SimilarityError, similarity, similarityAsync } from './similarity.ts';
export type { TensorBuilderInput, TensorCell } from './tensor.ts';
export { buildTensor } from './tensor.ts';
