// Turns a conv layer's activations [n, h, w, c] into a 2-D representation [samples, features]:
//   positions  every spatial position of every example is a sample → [n*h*w, c], subsampled
//              deterministically to maxSamples rows (the paper's treatment of conv layers)
//   mean       global average pooling over positions → [n, c]
//   flatten    one sample per example, every (position, channel) a feature → [n, h*w*c]
// Output is row-major. Inputs are never mutated.
import { deriveSeed, sampleIndices } from '../data/random.ts';
import type { ConvMode } from '../spec/run.ts';

export type { ConvMode } from '../spec/run.ts';

export const DEFAULT_CONV_MAX_SAMPLES = 100_000;

export interface ReduceConvOptions {
  /** 'positions' only: keep at most this many (example, position) rows. Default 100,000. */
  maxSamples?: number;
  /** 'positions' only: seed of the row subsample. Default 0. */
  seed?: number;
}

/**
 * Rows kept by 'positions' mode, as sorted indices into the n*h*w (example-major) rows. Depends only
 * on (n, h, w, maxSamples, seed), so every checkpoint of a run keeps the same rows and batched
 * capture can select them batch by batch.
 */
export function positionSampleIndices(
  n: number,
  h: number,
  w: number,
  maxSamples: number = DEFAULT_CONV_MAX_SAMPLES,
  seed = 0,
): Uint32Array {
  return sampleIndices(n * h * w, maxSamples, deriveSeed(seed, 'conv-positions', n, h, w));
}

/** Row count and column count that reduceConv produces, without the data. */
export function reducedConvSize(
  shape: [number, number, number, number],
  mode: ConvMode,
  maxSamples: number = DEFAULT_CONV_MAX_SAMPLES,
): { rows: number; cols: number } {
  const [n, h, w, c] = shape;
  if (mode === 'positions') return { rows: Math.min(n * h * w, maxSamples), cols: c };
  if (mode === 'mean') return { rows: n, cols: c };
  return { rows: n, cols: h * w * c };
}

export function reduceConv(
  data: Float32Array,
  shape: [number, number, number, number],
  mode: ConvMode,
  options: ReduceConvOptions = {},
): { data: Float32Array; rows: number; cols: number } {
  const [n, h, w, c] = shape;
  if (data.length !== n * h * w * c) {
    throw new RangeError(`reduceConv: shape [${shape}] needs ${n * h * w * c} values, got ${data.length}`);
  }
  if (mode === 'flatten') return { data: data.slice(), rows: n, cols: h * w * c };
  if (mode === 'mean') {
    const out = new Float32Array(n * c);
    const positions = h * w;
    for (let i = 0; i < n; i++) {
      // Accumulate in float64, then round once.
      const acc = new Float64Array(c);
      for (let p = 0; p < positions; p++) {
        const base = (i * positions + p) * c;
        for (let k = 0; k < c; k++) acc[k] += data[base + k];
      }
      for (let k = 0; k < c; k++) out[i * c + k] = acc[k] / positions;
    }
    return { data: out, rows: n, cols: c };
  }
  const rows = positionSampleIndices(n, h, w, options.maxSamples, options.seed);
  const out = new Float32Array(rows.length * c);
  rows.forEach((row, r) => {
    out.set(data.subarray(row * c, (row + 1) * c), r * c);
  });
  return { data: out, rows: rows.length, cols: c };
}
