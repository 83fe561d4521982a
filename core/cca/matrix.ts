// The matrix type shared by the similarity engine and its callers.

/** A dense row-major matrix. Activations are stored as [samples, neurons]: data[i * cols + j]. */
export interface Matrix2D {
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
}
