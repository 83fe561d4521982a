// Activation capture: runs the probe set through the network in batches and turns every recorded
// layer into a [samples, features] matrix, reducing conv-shaped layers ([h, w, c]) by the conv mode
// batch by batch, so a full [n, h, w, c] activation tensor is never held.
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

/** The 'pool' grid of a conv-shaped layer over the whole probe set (any other mode: unused). */
function convGrid(layer: LayerInfo, probeExamples: number, capture: CaptureOptions): [number, number] {
  const [h, w, c] = layer.shape as [number, number, number];
  return capture.convMode === 'pool' ? poolGrid([h, w, c], probeExamples, capture.maxFeatures) : [1, 1];
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
    return { name: layer.name, kind: layer.kind, features: size.cols, samples: size.rows };
  });
}

export interface CaptureResult {
  /** One row-major matrix per layer, in `layers` order: [samples, features]. */
  matrices: Float32Array[];
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
  // 'positions' rows per conv-shaped layer, and how many have been filled so far.
  const positionRows = network.layers.map((l) =>
    l.shape.length === 3 && capture.convMode === 'positions'
      ? positionSampleIndices(n, l.shape[0], l.shape[1], capture.maxSamples, POSITIONS_SEED)
      : undefined,
  );
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
        const rows = positionRows[li];
        if (!rows) {
          // mean, pool or flatten: one row per example (the pool grid is the whole probe set's)
          const grid = convGrid(layer, n, capture);
          target.set(reduceConv(values, [b, lh, lw, lc], capture.convMode, { grid }).data, start * cols);
          return;
        }
        // positions: copy the kept rows that fall in this batch (rows are sorted, example-major)
        const firstRow = start * lh * lw;
        const endRow = (start + b) * lh * lw;
        let r = filled[li];
        while (r < rows.length && rows[r] < endRow) {
          const local = rows[r] - firstRow;
          target.set(values.subarray(local * lc, (local + 1) * lc), r * lc);
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
  return { matrices, loss: lossSum / n, accuracy: correct / n };
}
