// Activation capture: runs the probe set through the network in batches and turns every recorded
// layer into a [samples, features] matrix, reducing conv-shaped layers ([h, w, c]) by the conv mode
// batch by batch, so a full [n, h, w, c] activation tensor is never held. With a common positions grid
// (CaptureOptions.positionsGrid) outside 'positions' mode, every conv layer but the input also yields
// its positions-as-samples matrix on that grid, for the conv-vs-conv pairs.
import * as tf from '@tensorflow/tfjs';
import { poolGrid, positionSampleIndices, reduceConv, reducedConvSize } from '../cca/conv.ts';
import type { Dataset } from '../data/dataset.ts';
import { imageSize } from '../data/dataset.ts';
import type { Network } from '../nets/build.ts';
import type { LayerInfo } from '../nets/describe.ts';
import type { CaptureOptions } from '../spec/run.ts';
import type { RepresentationInfo } from './store.ts';

export class CaptureError extends Error {
  readonly code = 'REPRESENTATION_TOO_LARGE';
  constructor(message: string) {
    super(message);
    this.name = 'CaptureError';
  }
}

/** Seed of the 'positions' row subsample; fixed so every run and checkpoint keeps the same rows. */
const POSITIONS_SEED = 0;

/** The grid of a conv-shaped layer: 'pool' over the whole probe set, 'positions' the common one. */
function convGrid(layer: LayerInfo, probeExamples: number, capture: CaptureOptions): [number, number] {
  const [h, w, c] = layer.shape as [number, number, number];
  if (capture.convMode === 'positions') return capture.positionsGrid ?? [h, w];
  return capture.convMode === 'pool' ? poolGrid([h, w, c], probeExamples, capture.maxFeatures) : [1, 1];
}

/**
 * True when the layer also gets a positions-as-samples representation for conv-vs-conv pairs: a conv
 * layer (not the input: its channels are colours, and 3 of them would stand for the image) of a
 * capture with a common positions grid outside 'positions' mode.
 */
export function pairsUsePositions(layer: LayerInfo, capture: CaptureOptions): boolean {
  return (
    capture.positionsGrid !== undefined &&
    capture.convMode !== 'positions' &&
    layer.shape.length === 3 &&
    layer.kind !== 'input'
  );
}

/**
 * The matrix each layer will produce for `probeExamples` examples. Throws CaptureError (before any
 * work) when a layer would exceed capture.maxFeatures columns.
 */
export function planCapture(
  layers: LayerInfo[],
  probeExamples: number,
  capture: CaptureOptions,
): RepresentationInfo[] {
  return layers.map((layer) => {
    const size =
      layer.shape.length === 3
        ? reducedConvSize(
            [probeExamples, layer.shape[0], layer.shape[1], layer.shape[2]],
            capture.convMode,
            capture.maxSamples,
            convGrid(layer, probeExamples, capture),
          )
        : { rows: probeExamples, cols: layer.shape[0] };
    if (size.cols > capture.maxFeatures) {
      throw new CaptureError(
        `layer ${layer.name} [${layer.shape}] gives ${size.cols} features in '${capture.convMode}' mode, above the limit of ${capture.maxFeatures}` +
          (layer.shape.length === 3 ? ` (use convMode 'positions' or 'mean')` : ''),
      );
    }
    const info: RepresentationInfo = {
      name: layer.name,
      kind: layer.kind,
      features: size.cols,
      samples: size.rows,
    };
    if (pairsUsePositions(layer, capture)) {
      const [h, w, c] = layer.shape as [number, number, number];
      const p = reducedConvSize(
        [probeExamples, h, w, c],
        'positions',
        capture.maxSamples,
        capture.positionsGrid,
      );
      info.positions = { samples: p.rows, features: p.cols };
    }
    return info;
  });
}

export interface CaptureResult {
  /** One row-major matrix per layer, in `layers` order: [samples, features]. */
  matrices: Float32Array[];
  /** Per layer, its positions-as-samples matrix for conv-vs-conv pairs (RepresentationInfo.positions). */
  positions: Array<Float32Array | undefined>;
  /** Mean cross-entropy and accuracy of the logits on the probe set. */
  loss: number;
  accuracy: number;
}

/** Mean softmax cross-entropy (float64 log-sum-exp) and correct count of logits [rows, classes]. */
export function scoreLogits(
  logits: Float32Array | Float64Array,
  labels: Uint8Array,
  classes: number,
): { lossSum: number; correct: number } {
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let max = Number.NEGATIVE_INFINITY;
    let arg = 0;
    for (let k = 0; k < classes; k++) {
      const v = logits[i * classes + k];
      if (v > max) {
        max = v;
        arg = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[i * classes + k] - max);
    lossSum += Math.log(sum) + max - logits[i * classes + labels[i]];
    if (arg === labels[i]) correct++;
  }
  return { lossSum, correct };
}

/**
 * Forward passes over `probe` in batches of `batchSize`. `afterBatch` runs between batches (the
 * caller yields to the event loop and checks cancellation there).
 */
export async function captureRepresentations(
  network: Network,
  probe: Dataset,
  capture: CaptureOptions,
  batchSize: number,
  afterBatch: (done: number) => Promise<void>,
): Promise<CaptureResult> {
  const n = probe.count;
  const plan = planCapture(network.layers, n, capture);
  const matrices = plan.map((p) => new Float32Array(p.samples * p.features));
  const positions = plan.map((p) =>
    p.positions ? new Float32Array(p.positions.samples * p.positions.features) : undefined,
  );
  // Positions-as-samples rows per conv-shaped layer (its own matrix in 'positions' mode, else its pair
  // matrix), on the layer's grid (the common one when set: then every layer keeps the same rows), and
  // how many have been filled so far.
  const positionsPlan = network.layers.map((l, li) => {
    if (l.shape.length !== 3) return undefined;
    const own = capture.convMode === 'positions';
    if (!own && !positions[li]) return undefined;
    const grid = own ? convGrid(l, n, capture) : capture.positionsGrid!;
    const rows = positionSampleIndices(n, grid[0], grid[1], capture.maxSamples, POSITIONS_SEED);
    return { grid, rows, target: own ? matrices[li]! : positions[li]! };
  });
  const filled = new Array<number>(plan.length).fill(0);
  const [h, w, c] = probe.shape;
  const size = imageSize(probe);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    const b = Math.min(batchSize, n - start);
    const outputs = tf.tidy(() =>
      network.forwardAll(tf.tensor4d(probe.images.subarray(start * size, (start + b) * size), [b, h, w, c])),
    );
    try {
      outputs.forEach((out, li) => {
        const values = out.dataSync() as Float32Array;
        const layer = network.layers[li];
        const target = matrices[li];
        const cols = plan[li].features;
        if (layer.shape.length !== 3) {
          target.set(values, start * cols);
          return;
        }
        const [lh, lw, lc] = layer.shape;
        if (capture.convMode !== 'positions') {
          // mean, pool or flatten: one row per example (the pool grid is the whole probe set's)
          const grid = convGrid(layer, n, capture);
          target.set(reduceConv(values, [b, lh, lw, lc], capture.convMode, { grid }).data, start * cols);
        }
        const pos = positionsPlan[li];
        if (!pos) return;
        // positions: the batch pooled to the grid, then the kept rows that fall in this batch (rows
        // are sorted, example-major over the grid's positions)
        const [gh, gw] = pos.grid;
        const pooled =
          gh === lh && gw === lw
            ? values
            : reduceConv(values, [b, lh, lw, lc], 'pool', { grid: pos.grid }).data;
        const firstRow = start * gh * gw;
        const endRow = (start + b) * gh * gw;
        let r = filled[li];
        while (r < pos.rows.length && pos.rows[r] < endRow) {
          const local = pos.rows[r] - firstRow;
          pos.target.set(pooled.subarray(local * lc, (local + 1) * lc), r * lc);
          r++;
        }
        filled[li] = r;
      });
      const logits = matrices[matrices.length - 1].subarray(
        start * probe.classes,
        (start + b) * probe.classes,
      );
      const score = scoreLogits(logits, probe.labels.subarray(start, start + b), probe.classes);
      lossSum += score.lossSum;
      correct += score.correct;
    } finally {
      tf.dispose(outputs);
    }
    await afterBatch(start + b);
  }
  return { matrices, positions, loss: lossSum / n, accuracy: correct / n };
}
