// The random baseline: the same measures on independent Gaussian data with the same number of
// samples and the same widths as each (reference layer, specimen layer) pair. With few samples per
// neuron, CCA finds spurious correlations; this shows how large they are for each pair of widths.
import type { Matrix2D } from '../cca/matrix.ts';

/** Seeded standard-normal matrix [samples, width] (mulberry32 + Box-Muller; deterministic). */
export function gaussianMatrix(samples: number, width: number, seed: number): Matrix2D {
  let a = (seed ^ 0x9e3779b9) >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297; // (0, 1)
  };
  const data = new Float64Array(samples * width);
  for (let i = 0; i < data.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    data[i] = r * Math.cos(theta);
    if (i + 1 < data.length) data[i + 1] = r * Math.sin(theta);
  }
  return { data, rows: samples, cols: width };
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
  const side = (widths: number[], salt: number) =>
    widths.map((w) => async () => gaussianMatrix(samples, w, seed * 7919 + salt * 104729 + w));
  return { ref: side(refWidths, 1), spec: side(specWidths, 2) };
}
