// The random baseline: the same measures on independent Gaussian data with the same number of
// samples and the same widths as each (reference layer, specimen layer) pair. With few samples per
// neuron, CCA finds spurious correlations; this shows how large they are for each pair of widths.
import type { Matrix2D } from '../cca/matrix.ts';
import { baselineSeed, gaussian } from '../data/random.ts';

/** Seeded standard-normal matrix [samples, width] (core/data/random.ts's gaussian; deterministic). */
export function gaussianMatrix(samples: number, width: number, seed: number): Matrix2D {
  return { data: gaussian(samples * width, seed), rows: samples, cols: width };
}

/**
 * Baseline representations for a tensor builder: one Gaussian matrix per distinct width and side
 * (reference and specimen sides use independent seeds), loaded lazily.
 */
export function baselineLayers(
  samples: number,
  refWidths: number[],
  specWidths: number[],
  seed = 0,
): { ref: Array<() => Promise<Matrix2D>>; spec: Array<() => Promise<Matrix2D>> } {
  const side = (widths: number[], salt: 1 | 2) =>
    widths.map((w) => async () => gaussianMatrix(samples, w, baselineSeed(seed, salt, w)));
  return { ref: side(refWidths, 1), spec: side(specWidths, 2) };
}
