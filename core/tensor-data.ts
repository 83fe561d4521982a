// The input of every figure and of the analysis: a view of one experiment's rho tensor with real layer names and
// checkpoint fractions. Accessors (not arrays) so callers can back it with whatever they hold.

export interface FigureCheckpoint {
  /** checkpoint index t (the tensor's third axis) */
  index: number;
  /** training step at this checkpoint */
  step: number;
  /** fraction of training, 0..1 */
  fraction: number;
}

export interface FigureData {
  /** reference (final) network's layer names, in depth order: the tensor's first axis */
  refLayers: string[];
  /** specimen network's layer names, in depth order: the tensor's second axis */
  specLayers: string[];
  /** specimen checkpoints in training order */
  checkpoints: FigureCheckpoint[];
  /** rho of reference layer i vs specimen layer j at checkpoint index t (null: not computed) */
  rho: (i: number, j: number, t: number) => number | null;
  /** rho of the random baseline (Gaussian data of the pair's samples and widths) */
  baseline?: (i: number, j: number) => number | null;
  /**
   * The cell's permutation null: rho with the specimen representation's rows shuffled (same n, widths
   * and spectra, unrelated samples). Absent (or null) for tensors computed before the null existed.
   */
  rhoNull?: (i: number, j: number, t: number) => number | null;
  /** The adjusted score (rho - null) / (1 - null), comparable across widths (null: no null, or null ~1). */
  adjusted?: (i: number, j: number, t: number) => number | null;
  /** The ranks CCA kept for the cell's reference and specimen representations, if known. */
  ranks?: (i: number, j: number, t: number) => [number, number] | null;
}

/** One cell as stored (Prisma model Cell, only what figures need). */
export interface RhoCell {
  refLayer: number;
  specLayer: number;
  checkpoint: number;
  rho: number | null;
  /** the cell's permutation null (absent or null: not computed) */
  rhoNull?: number | null;
  rankRef?: number;
  rankSpec?: number;
}
