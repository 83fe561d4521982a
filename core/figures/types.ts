// The input of every figure: a view of one experiment's rho tensor with real layer names and
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
}

/** One cell as stored (Prisma model Cell, only what figures need). */
export interface RhoCell {
  refLayer: number;
  specLayer: number;
  checkpoint: number;
  rho: number | null;
}
