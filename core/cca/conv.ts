// Turns a conv layer's activations [n, h, w, c] into a 2-D representation [samples, features]:
//   positions  every spatial position of every example is a sample → [n*gh*gw, c], subsampled
//              deterministically to maxSamples rows (the paper's treatment of conv layers). The
//              positions are those of a common grid gh x gw (positionsGrid: the coarsest grid of the
//              layers compared; a finer layer is average-pooled to it first), so two layers of
//              different spatial sizes keep the same rows: row r is the same example and the same
//              region of the image in both. Conv-vs-conv pairs of every trained conv net use it.
//   mean       global average pooling over positions → [n, c]
//   flatten    one sample per example, every (position, channel) a feature → [n, h*w*c]
//   pool       one sample per example: average-pooled to a gh x gw grid of regions, then flattened →
//              [n, gh*gw*c]; the grid is the finest whose features stay within the sample budget
//              (poolGrid). The default, in networks that mix conv and dense layers (every trained conv
//              net: its logits are dense), for the pairs with a dense layer or the input, where
//              positions cannot be samples: the input image keeps its layout (e.g. CIFAR-10 [32,32,3]
//              → 18x18x3 = 972 features for 10,000 examples) instead of collapsing to its 3 mean
//              colours. Conv-vs-conv pairs of such networks use 'positions' (core/spec/experiment.ts).
// Output is row-major. Inputs are never mutated.
import { deriveSeed, sampleIndices } from '../data/random.ts';
import type { ConvMode } from '../spec/run.ts';

export type { ConvMode } from '../spec/run.ts';

export const DEFAULT_CONV_MAX_SAMPLES = 100_000;

/** Samples per feature the 'pool' grid keeps (the paper's rule of thumb: 5-10x more datapoints than neurons). */
export const POOL_SAMPLES_PER_FEATURE = 10;

/**
 * The 'pool' grid of an [h, w, c] layer seen on `examples` examples: the largest g (at most h and w)
 * with g*g*c ≤ max(c, min(maxFeatures, examples / POOL_SAMPLES_PER_FEATURE)); 1 x 1 (the mean) when
 * even 2 x 2 would exceed that. Depends only on its arguments, so the API, the estimate and the
 * capture agree.
 */
export function poolGrid(
  shape: [number, number, number],
  examples: number,
  maxFeatures: number,
): [number, number] {
  const [h, w, c] = shape;
  const budget = Math.max(c, Math.min(maxFeatures, Math.floor(examples / POOL_SAMPLES_PER_FEATURE)));
  let g = Math.floor(Math.sqrt(budget / c));
  g = Math.max(1, Math.min(g, Math.max(h, w)));
  return [Math.min(g, h), Math.min(g, w)];
}

/**
 * The common grid of 'positions' representations: the coarsest spatial size among the layers [h, w, c]
 * that take part (each dimension's minimum), so every layer can be pooled to it and the (example,
 * position) rows of any two of them correspond. Undefined when no layer is given.
 */
export function positionsGrid(shapes: Array<readonly number[]>): [number, number] | undefined {
  const conv = shapes.filter((s) => s.length === 3);
  if (conv.length === 0) return undefined;
  return [Math.min(...conv.map((s) => s[0]!)), Math.min(...conv.map((s) => s[1]!))];
}

/** How a layer was reduced, in words: "average-pooled to 18×18 regions, flattened: 972 features". */
export function describeReduction(
  mode: ConvMode,
  shape: [number, number, number],
  size: { rows: number; cols: number },
  grid?: [number, number],
): string {
  const [h, w, c] = shape;
  if (mode === 'positions') {
    const [gh, gw] = grid ?? [h, w];
    const pooled = gh === h && gw === w ? '' : ` (average-pooled from ${h}×${w})`;
    return `positions as samples on the ${gh}×${gw} grid${pooled}: ${size.rows} (example, position) rows, ${c} channels`;
  }
  if (mode === 'mean') return `mean over the ${h}×${w} positions: ${c} channels`;
  if (mode === 'flatten') return `flattened: ${h}×${w}×${c} = ${size.cols} features`;
  const [gh, gw] = grid ?? [1, 1];
  return `average-pooled from ${h}×${w} to ${gh}×${gw} regions, flattened: ${gh}×${gw}×${c} = ${size.cols} features`;
}

export interface ReduceConvOptions {
  /** 'positions' only: keep at most this many (example, position) rows. Default 100,000. */
  maxSamples?: number;
  /** 'positions' only: seed of the row subsample. Default 0. */
  seed?: number;
  /**
   * 'pool': the grid [gh, gw] (from poolGrid over the whole probe set), default 1 x 1. 'positions':
   * the common grid whose positions are the samples (positionsGrid), default the layer's own h x w.
   */
  grid?: [number, number];
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
  grid?: [number, number],
): { rows: number; cols: number } {
  const [n, h, w, c] = shape;
  if (mode === 'positions') {
    const [gh, gw] = grid ?? [h, w];
    return { rows: Math.min(n * gh * gw, maxSamples), cols: c };
  }
  if (mode === 'mean') return { rows: n, cols: c };
  if (mode === 'pool') {
    const [gh, gw] = grid ?? [1, 1];
    return { rows: n, cols: gh * gw * c };
  }
  return { rows: n, cols: h * w * c };
}

/** Adaptive average pooling of [n, h, w, c] to [n, gh, gw, c] (region r spans floor(r*h/gh) … floor((r+1)*h/gh)). */
function poolTo(
  data: Float32Array,
  shape: [number, number, number, number],
  grid: [number, number],
): Float32Array {
  const [n, h, w, c] = shape;
  const [gh, gw] = grid;
  const out = new Float32Array(n * gh * gw * c);
  const acc = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let ry = 0; ry < gh; ry++) {
      const y0 = Math.floor((ry * h) / gh);
      const y1 = Math.floor(((ry + 1) * h) / gh);
      for (let rx = 0; rx < gw; rx++) {
        const x0 = Math.floor((rx * w) / gw);
        const x1 = Math.floor(((rx + 1) * w) / gw);
        acc.fill(0);
        for (let y = y0; y < y1; y++)
          for (let x = x0; x < x1; x++) {
            const base = ((i * h + y) * w + x) * c;
            for (let k = 0; k < c; k++) acc[k] += data[base + k];
          }
        const count = (y1 - y0) * (x1 - x0);
        const o = ((i * gh + ry) * gw + rx) * c;
        for (let k = 0; k < c; k++) out[o + k] = acc[k] / count;
      }
    }
  }
  return out;
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
  if (mode === 'pool') {
    const grid = options.grid ?? [1, 1];
    if (!(grid[0] >= 1 && grid[0] <= h && grid[1] >= 1 && grid[1] <= w)) {
      throw new RangeError(`reduceConv: pool grid [${grid}] does not fit ${h}x${w}`);
    }
    return { data: poolTo(data, shape, grid), rows: n, cols: grid[0] * grid[1] * c };
  }
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
  // positions: on the common grid (the layer pooled to it when finer), the same rows for every layer
  const [gh, gw] = options.grid ?? [h, w];
  if (!(gh >= 1 && gh <= h && gw >= 1 && gw <= w)) {
    throw new RangeError(`reduceConv: positions grid [${gh},${gw}] does not fit ${h}x${w}`);
  }
  const source = gh === h && gw === w ? data : poolTo(data, shape, [gh, gw]);
  const rows = positionSampleIndices(n, gh, gw, options.maxSamples, options.seed);
  const out = new Float32Array(rows.length * c);
  rows.forEach((row, r) => {
    out.set(source.subarray(row * c, (row + 1) * c), r * c);
  });
  return { data: out, rows: rows.length, cols: c };
}
