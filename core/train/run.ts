// One training run: a custom loop (tf.variableGrads + our optimizer inside tf.tidy) that stops at
// every scheduled checkpoint to evaluate, capture the probe representations and save everything
// needed to resume bit-exactly (weights, optimizer slots; batch order is a pure function of
// (seed, epoch), so no RNG state needs saving).
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs';
import { type Dataset, imageSize, subset } from '../data/dataset.ts';
import { deriveSeed, permutation } from '../data/random.ts';
import { buildNetwork, type Network } from '../nets/build.ts';
import { describeNetwork } from '../nets/describe.ts';
import { decodeArrays, encodeArrays } from '../nets/weights.ts';
import type { CaptureOptions, NormalisedProbeSpec, NormalisedRunSpec } from '../spec/run.ts';
import { captureRepresentations, planCapture, scoreLogits } from './capture.ts';
import { createOptimizer } from './optimizer.ts';
import {
  type CheckpointRecord,
  positionsName,
  type RepresentationInfo,
  type RunArtifactStore,
  type RunState,
} from './store.ts';

export interface TrainProgress {
  phase: 'training' | 'capturing';
  /** step / totalSteps. */
  fraction: number;
  step: number;
  totalSteps: number;
  /** Training examples/s while training; probe examples/s while capturing. */
  examplesPerSecond: number;
  /** Latest training-batch loss and accuracy. */
  loss?: number;
  accuracy?: number;
  message: string;
}

export interface TrainRunInput {
  spec: NormalisedRunSpec;
  probe: NormalisedProbeSpec;
  /** Full splits (or any superset): the run takes its deterministic subsets itself. */
  data: { train: Dataset; probe: Dataset };
  store: RunArtifactStore;
  capture: CaptureOptions;
  onProgress?: (p: TrainProgress) => void;
  /** Checked between batches: cancellation takes effect within one batch. */
  signal?: AbortSignal;
}

export interface RunResult {
  checkpoints: CheckpointRecord[];
  layers: RepresentationInfo[];
  backend: string;
  /** Wall time of this call. */
  seconds: number;
  /** Step of the saved checkpoint this call continued from (absent for a fresh start). */
  resumedFrom?: number;
  /** Where this call's time went: optimizer steps, and checkpoints (evaluation, capture, saving). */
  timings: { trainingSeconds: number; checkpointSeconds: number };
}

/** Probe examples per forward pass during capture. */
const CAPTURE_BATCH = 500;
/** Minimum milliseconds between two 'training' progress reports. */
const PROGRESS_INTERVAL_MS = 500;

/** Seed streams derived from the run seed. */
export const seeds = {
  trainSubset: (seed: number) => deriveSeed(seed, 'train-subset'),
  init: (seed: number) => deriveSeed(seed, 'init'),
  shuffle: (seed: number, epoch: number) => deriveSeed(seed, 'shuffle', epoch),
};

/** Deterministic minibatches: step s uses slice (s mod stepsPerEpoch) of epoch floor(s / stepsPerEpoch). */
class BatchSource {
  readonly stepsPerEpoch: number;
  private epoch = -1;
  private order: Uint32Array = new Uint32Array(0);
  private readonly size: number;

  constructor(
    private readonly data: Dataset,
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    this.stepsPerEpoch = Math.ceil(data.count / batchSize);
    this.size = imageSize(data);
  }

  /** images [b, h, w, c] flattened, labels [b], one-hot [b, classes]. */
  batch(step: number): { images: Float32Array; labels: Uint8Array; oneHot: Float32Array; count: number } {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    if (epoch !== this.epoch) {
      this.order = permutation(this.data.count, seeds.shuffle(this.seed, epoch));
      this.epoch = epoch;
    }
    const from = (step % this.stepsPerEpoch) * this.batchSize;
    const picks = this.order.subarray(from, Math.min(from + this.batchSize, this.data.count));
    const classes = this.data.classes;
    const images = new Float32Array(picks.length * this.size);
    const labels = new Uint8Array(picks.length);
    const oneHot = new Float32Array(picks.length * classes);
    picks.forEach((src, i) => {
      images.set(this.data.images.subarray(src * this.size, (src + 1) * this.size), i * this.size);
      labels[i] = this.data.labels[src];
      oneHot[i * classes + labels[i]] = 1;
    });
    return { images, labels, oneHot, count: picks.length };
  }
}

function batchTensor(images: Float32Array, count: number, shape: [number, number, number]): tf.Tensor4D {
  return tf.tensor4d(images, [count, ...shape]);
}

/** Loss and accuracy of the current weights on the batch of `step` (forward only). */
function scoreTrainBatch(
  network: Network,
  source: BatchSource,
  step: number,
  data: Dataset,
): { loss: number; accuracy: number } {
  const batch = source.batch(step);
  const logits = tf.tidy(() => network.predict(batchTensor(batch.images, batch.count, data.shape)));
  const values = logits.dataSync() as Float32Array;
  logits.dispose();
  const s = scoreLogits(values, batch.labels, data.classes);
  return { loss: s.lossSum / batch.count, accuracy: s.correct / batch.count };
}

/**
 * Trains the run described by `spec`, capturing every recorded layer on the probe set at each
 * scheduled checkpoint. If the store already holds checkpoints of this run (a process died), it
 * continues from the last complete one; the final weights and representations equal those of an
 * uninterrupted run on the same backend. A complete run returns its stored result at once.
 */
export async function trainRun(input: TrainRunInput): Promise<RunResult> {
  const { spec, probe, store, capture, onProgress, signal } = input;
  const started = performance.now();
  const backend = tf.getBackend();
  const totalSteps = spec.training.steps;
  const schedule = spec.checkpoints.steps;
  const layers = planCapture(
    describeNetwork(spec.architecture, input.data.train.shape, input.data.train.classes).layers,
    probe.examples,
    capture,
  );
  const train = subset(input.data.train, spec.training.trainExamples, seeds.trainSubset(spec.training.seed));
  const probeSet = subset(input.data.probe, probe.examples, probe.seed);
  signal?.throwIfAborted();

  const saved = await store.loadState();
  const network = buildNetwork(
    spec.architecture,
    train.shape,
    train.classes,
    seeds.init(spec.training.seed),
  ).model;
  const state: RunState = saved ?? {
    version: 1,
    checkpoints: [],
    layers,
    totalSteps,
    backend,
    complete: false,
  };
  if (saved && (saved.totalSteps !== totalSteps || JSON.stringify(saved.layers) !== JSON.stringify(layers))) {
    network.dispose();
    throw new Error('artifact store holds a different run (steps or layers differ); check the run key');
  }
  const resumeFrom = state.checkpoints[state.checkpoints.length - 1];
  let trainingMs = 0;
  let checkpointMs = 0;
  const result = (): RunResult => ({
    checkpoints: state.checkpoints,
    layers,
    backend,
    seconds: (performance.now() - started) / 1000,
    timings: { trainingSeconds: trainingMs / 1000, checkpointSeconds: checkpointMs / 1000 },
    ...(resumeFrom ? { resumedFrom: resumeFrom.step } : {}),
  });
  if (state.complete) {
    network.dispose();
    return result();
  }

  const optimizer = createOptimizer(spec.training.optimizer, network.variables, network.weightNames);
  const source = new BatchSource(train, spec.training.batchSize, spec.training.seed);
  let lastLoss: tf.Scalar | undefined;
  let lastLogits: tf.Tensor | undefined;
  let lastLabels: Uint8Array | undefined;
  try {
    if (resumeFrom) {
      network.setWeights(decodeArrays(await store.loadWeights(resumeFrom.index)));
      optimizer.setState(decodeArrays(await store.loadOptimizerState(resumeFrom.index)));
    }
    let nextCheckpoint = resumeFrom ? resumeFrom.index + 1 : 0;
    let step = resumeFrom ? resumeFrom.step : 0;

    const latest = (): { loss?: number; accuracy?: number } => {
      if (!lastLoss || !lastLogits || !lastLabels) return {};
      const s = scoreLogits(lastLogits.dataSync() as Float32Array, lastLabels, train.classes);
      return { loss: lastLoss.dataSync()[0], accuracy: s.correct / lastLabels.length };
    };
    let windowStart = performance.now();
    let windowExamples = 0;

    while (true) {
      if (step === schedule[nextCheckpoint]) {
        const checkpointStart = performance.now();
        await checkpoint(nextCheckpoint, step);
        checkpointMs += performance.now() - checkpointStart;
        nextCheckpoint++;
        windowStart = performance.now();
        windowExamples = 0;
      }
      if (step >= totalSteps) break;

      const stepStart = performance.now();
      const batch = source.batch(step);
      const [loss, logits] = tf.tidy(() => {
        const x = batchTensor(batch.images, batch.count, train.shape);
        const y = tf.tensor2d(batch.oneHot, [batch.count, train.classes]);
        let kept: tf.Tensor | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const out = network.predict(x);
          kept = tf.keep(out);
          return tf.losses.softmaxCrossEntropy(y, out) as tf.Scalar;
        }, network.variables);
        optimizer.apply(network.variables.map((v) => grads[v.name]));
        return [value, kept as tf.Tensor];
      });
      tf.dispose([lastLoss, lastLogits].filter((t) => t !== undefined));
      lastLoss = loss as tf.Scalar;
      lastLogits = logits;
      lastLabels = batch.labels;
      step++;
      windowExamples += batch.count;

      const elapsed = performance.now() - windowStart;
      if (onProgress && elapsed >= PROGRESS_INTERVAL_MS) {
        onProgress({
          phase: 'training',
          fraction: step / totalSteps,
          step,
          totalSteps,
          examplesPerSecond: (windowExamples * 1000) / elapsed,
          ...latest(),
          message: `training step ${step}/${totalSteps}`,
        });
        windowStart = performance.now();
        windowExamples = 0;
      }
      await yieldToEventLoop();
      trainingMs += performance.now() - stepStart;
      signal?.throwIfAborted();
    }
    return result();

    async function checkpoint(index: number, atStep: number): Promise<void> {
      const captureStart = performance.now();
      const report = (done: number): void =>
        onProgress?.({
          phase: 'capturing',
          fraction: atStep / totalSteps,
          step: atStep,
          totalSteps,
          examplesPerSecond: (done * 1000) / Math.max(performance.now() - captureStart, 1e-3),
          ...latest(),
          message: `capturing checkpoint ${index + 1}/${schedule.length} (step ${atStep}): ${done}/${probeSet.count} probe examples`,
        });
      report(0);
      const trainScore = scoreTrainBatch(network, source, atStep, train);
      const captured = await captureRepresentations(
        network,
        probeSet,
        capture,
        CAPTURE_BATCH,
        async (done) => {
          report(done);
          await yieldToEventLoop();
          signal?.throwIfAborted();
        },
      );
      await store.saveWeights(index, encodeArrays(network.getWeights()));
      for (let i = 0; i < layers.length; i++) {
        const { name, samples, features } = layers[i];
        await store.saveRepresentation(index, name, {
          data: captured.matrices[i],
          rows: samples,
          cols: features,
        });
        const pos = layers[i].positions;
        const posData = captured.positions[i];
        if (pos && posData) {
          await store.saveRepresentation(index, positionsName(name), {
            data: posData,
            rows: pos.samples,
            cols: pos.features,
          });
        }
      }
      await store.saveOptimizerState(index, encodeArrays(optimizer.getState()));
      state.checkpoints.push({
        index,
        step: atStep,
        fraction: atStep / totalSteps,
        trainLoss: trainScore.loss,
        trainAccuracy: trainScore.accuracy,
        probeLoss: captured.loss,
        probeAccuracy: captured.accuracy,
      });
      state.complete = index === schedule.length - 1;
      state.backend = backend;
      await store.saveState(state);
      await store.pruneOptimizerStates(index);
    }
  } finally {
    tf.dispose([lastLoss, lastLogits].filter((t) => t !== undefined));
    optimizer.dispose();
    network.dispose();
  }
}
