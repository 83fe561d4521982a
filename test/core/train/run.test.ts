import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { poolGrid, reduceConv } from '../../../core/cca/conv.ts';
import { type Dataset, subset } from '../../../core/data/dataset.ts';
import { loadDataset } from '../../../core/data/load.ts';
import { buildNetwork } from '../../../core/nets/build.ts';
import { decodeArrays } from '../../../core/nets/weights.ts';
import {
  type CaptureOptions,
  type NormalisedRunSpec,
  normaliseProbeSpec,
  normaliseRunSpec,
  runKey,
} from '../../../core/spec/run.ts';
import { initBackend } from '../../../core/tf/backend.ts';
import { CaptureError } from '../../../core/train/capture.ts';
import { type TrainProgress, trainRun } from '../../../core/train/run.ts';
import { positionsName } from '../../../core/train/store.ts';
import { FsRunArtifactStore } from '../../../store/artifacts.ts';

let root: string;
let train: Dataset;
let test: Dataset;
before(async () => {
  await initBackend();
  root = await mkdtemp(join(tmpdir(), 'repdyn-train-'));
  const paths = { cacheDir: join(root, 'cache') };
  // Small slices keep every run here well under a second.
  train = subset(await loadDataset('mnist', 'train', paths), 2000, 0);
  test = await loadDataset('mnist', 'test', paths);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const mlpSpec = (optimizer: 'sgd' | 'adam' = 'sgd') =>
  normaliseRunSpec({
    dataset: 'mnist',
    architecture: { type: 'mlp', hidden: [32, 16], activation: 'relu' },
    training: {
      epochs: 2,
      batchSize: 64,
      trainExamples: 512,
      seed: 1,
      optimizer:
        optimizer === 'sgd'
          ? { type: 'sgd', learningRate: 0.05, momentum: 0.9 }
          : { type: 'adam', learningRate: 0.002 },
    },
    checkpoints: { count: 5, spacing: 'log' },
  });
const probe = normaliseProbeSpec({ split: 'test', examples: 300, seed: 2 }, 'mnist');
const capture: CaptureOptions = { convMode: 'positions', maxFeatures: 1024, maxSamples: 2000 };
let storeCount = 0;

function run(
  spec: NormalisedRunSpec,
  options: {
    store?: FsRunArtifactStore;
    onProgress?: (p: TrainProgress) => void;
    signal?: AbortSignal;
    cap?: CaptureOptions;
  } = {},
) {
  const cap = options.cap ?? capture;
  const store =
    options.store ?? new FsRunArtifactStore(join(root, `s${storeCount++}`), runKey(spec, probe, cap));
  return {
    store,
    promise: trainRun({
      spec,
      probe,
      data: { train, probe: test },
      store,
      capture: cap,
      onProgress: options.onProgress,
      signal: options.signal,
    }),
  };
}

/** Every checkpoint's weights and representations as bytes, for exact comparison. */
async function artifacts(
  store: FsRunArtifactStore,
  checkpoints: number,
  layers: string[],
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let c = 0; c < checkpoints; c++) {
    out.push(new Uint8Array(await store.loadWeights(c)));
    for (const l of layers) {
      const m = await store.loadRepresentation(c, l);
      out.push(new Uint8Array(m.data.buffer));
    }
  }
  return out;
}

describe('trainRun', () => {
  it('records every scheduled checkpoint with metrics and named representations, and leaks no tensors', async () => {
    const spec = mlpSpec();
    const before = tf.memory().numTensors;
    const phases = new Set<string>();
    const { store, promise } = run(spec, { onProgress: (p) => phases.add(p.phase) });
    const result = await promise;
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(
      result.checkpoints.map((c) => c.step),
      spec.checkpoints.steps,
    );
    assert.deepEqual(spec.checkpoints.steps, [0, 1, 4, 15, 16]);
    assert.deepEqual(
      result.checkpoints.map((c) => c.fraction),
      spec.checkpoints.steps.map((s) => s / 16),
    );
    assert.deepEqual(
      result.layers.map((l) => [l.name, l.kind, l.samples, l.features]),
      [
        ['input', 'input', 300, 784],
        ['fc1', 'dense', 300, 32],
        ['fc2', 'dense', 300, 16],
        ['logits', 'logits', 300, 10],
      ],
    );
    assert.ok(phases.has('capturing'));
    const first = result.checkpoints[0];
    const last = result.checkpoints[result.checkpoints.length - 1];
    assert.ok(Math.abs(first.probeAccuracy - 0.1) < 0.1, `untrained accuracy ${first.probeAccuracy}`);
    assert.ok(last.probeAccuracy > 0.4, `trained accuracy ${last.probeAccuracy}`);
    assert.ok(last.probeLoss < first.probeLoss);
    for (const c of result.checkpoints)
      assert.ok(c.trainAccuracy >= 0 && c.trainAccuracy <= 1 && c.trainLoss > 0);
    const fc2 = await store.loadRepresentation(4, 'fc2');
    assert.equal(fc2.rows, 300);
    assert.equal(fc2.cols, 16);
    // The input representation is the probe images themselves, in probe order.
    const input = await store.loadRepresentation(0, 'input');
    assert.deepEqual(input.data, subset(test, 300, 2).images);
    assert.equal((await store.loadState())?.complete, true);
  });

  it('is deterministic: same seed and backend → identical weights and activations', async () => {
    for (const optimizer of ['sgd', 'adam'] as const) {
      const spec = mlpSpec(optimizer);
      const a = run(spec);
      const b = run(spec);
      await Promise.all([a.promise, b.promise]);
      const layers = ['input', 'fc1', 'fc2', 'logits'];
      assert.deepEqual(await artifacts(a.store, 5, layers), await artifacts(b.store, 5, layers));
    }
  });

  it('resumes after a crash from the last saved checkpoint and ends bit-identical to an uninterrupted run', async () => {
    for (const optimizer of ['sgd', 'adam'] as const) {
      const spec = mlpSpec(optimizer);
      const whole = run(spec);
      await whole.promise;

      const controller = new AbortController();
      const interrupted = run(spec, {
        signal: controller.signal,
        // "Die" while training after checkpoint 2 (step 4) was saved.
        onProgress: (p) => {
          if (p.phase === 'capturing' && p.step === 15) controller.abort();
        },
      });
      await assert.rejects(interrupted.promise, { name: 'AbortError' });
      const saved = await interrupted.store.loadState();
      assert.deepEqual(
        saved?.checkpoints.map((c) => c.step),
        [0, 1, 4],
      );

      const before = tf.memory().numTensors;
      const resumed = await run(spec, { store: interrupted.store }).promise;
      assert.equal(tf.memory().numTensors, before);
      assert.equal(resumed.resumedFrom, 4);
      assert.deepEqual(
        resumed.checkpoints.map((c) => c.step),
        [0, 1, 4, 15, 16],
      );
      const layers = ['input', 'fc1', 'fc2', 'logits'];
      assert.deepEqual(
        await artifacts(interrupted.store, 5, layers),
        await artifacts(whole.store, 5, layers),
      );
      // A finished run is returned from the store without training again.
      const again = await run(spec, { store: interrupted.store }).promise;
      assert.deepEqual(again.checkpoints, resumed.checkpoints);
    }
  });

  it('cancels within one batch and leaks no tensors', async () => {
    const spec = normaliseRunSpec({
      dataset: 'mnist',
      architecture: { type: 'mlp', hidden: [32], activation: 'relu' },
      training: { steps: 100000, batchSize: 32, trainExamples: 512, seed: 3 },
      checkpoints: { steps: [0, 100000] },
    });
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let stepAtAbort = -1;
    let lastStep = -1;
    const { promise } = run(spec, {
      signal: controller.signal,
      onProgress: (p) => {
        lastStep = p.step;
        if (p.phase === 'training' && stepAtAbort < 0) {
          stepAtAbort = p.step;
          setImmediate(() => controller.abort());
        }
      },
    });
    const started = performance.now();
    await assert.rejects(promise, { name: 'AbortError' });
    assert.ok(performance.now() - started < 5000);
    assert.equal(lastStep, stepAtAbort);
    assert.equal(tf.memory().numTensors, before);
  });

  it('captures conv layers batch by batch exactly as reduceConv on the full activations', async () => {
    const spec = normaliseRunSpec({
      dataset: 'mnist',
      architecture: {
        type: 'conv',
        conv: [
          { filters: 4, kernel: 3, pool: 2 },
          { filters: 6, kernel: 3 },
        ],
        dense: [8],
      },
      training: {
        steps: 6,
        batchSize: 32,
        trainExamples: 256,
        seed: 4,
        optimizer: { type: 'adam', learningRate: 0.01 },
      },
      checkpoints: { steps: [0, 6] },
    });
    for (const convMode of ['positions', 'mean', 'flatten', 'pool'] as const) {
      const cap: CaptureOptions = { convMode, maxFeatures: 4000, maxSamples: 5000 };
      const { store, promise } = run(spec, { cap });
      const result = await promise;
      assert.deepEqual(
        result.layers.map((l) => l.name),
        ['input', 'conv1', 'conv2', 'fc1', 'logits'],
      );
      // Recompute conv2 at the final checkpoint from the saved weights in one pass.
      const { model } = buildNetwork(spec.architecture, [28, 28, 1], 10, 0);
      model.setWeights(decodeArrays(await store.loadWeights(1)));
      const probeSet = subset(test, probe.examples, probe.seed);
      const conv2 = tf.tidy(() => model.forwardAll(tf.tensor4d(probeSet.images, [300, 28, 28, 1]))[2]);
      // 'pool': 300 examples allow 30 features, so conv2 [14, 14, 6] is pooled to 2 x 2 regions (24)
      const grid = poolGrid([14, 14, 6], 300, cap.maxFeatures);
      if (convMode === 'pool') assert.deepEqual(grid, [2, 2]);
      const expected = reduceConv(conv2.dataSync() as Float32Array, [300, 14, 14, 6], convMode, {
        maxSamples: cap.maxSamples,
        ...(convMode === 'pool' && { grid }),
      });
      conv2.dispose();
      model.dispose();
      const stored = await store.loadRepresentation(1, 'conv2');
      assert.equal(stored.rows, expected.rows);
      assert.equal(stored.cols, expected.cols);
      // Batched and whole-set forward passes may differ in the last bits.
      let maxDiff = 0;
      expected.data.forEach((v, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - stored.data[i]));
      });
      assert.ok(maxDiff < 1e-4, `${convMode}: max difference ${maxDiff}`);
    }
  });

  it('stores conv layers on a common positions grid for conv-vs-conv pairs: rows correspond, the input has none', async () => {
    const spec = normaliseRunSpec({
      dataset: 'mnist',
      architecture: {
        type: 'conv',
        conv: [
          { filters: 4, kernel: 3, pool: 2 },
          { filters: 6, kernel: 3 },
        ],
        dense: [8],
      },
      training: { steps: 2, batchSize: 32, trainExamples: 128, seed: 4 },
      checkpoints: { steps: [0, 2] },
    });
    // conv1 [28, 28, 4] and conv2 [14, 14, 6]: the common grid is 14 x 14
    const cap: CaptureOptions = {
      convMode: 'pool',
      maxFeatures: 4000,
      maxSamples: 3000,
      positionsGrid: [14, 14],
    };
    const { store, promise } = run(spec, { cap });
    const result = await promise;
    const info = Object.fromEntries(result.layers.map((l) => [l.name, l]));
    assert.equal(info.input.positions, undefined);
    assert.equal(info.fc1.positions, undefined);
    assert.deepEqual(info.conv1.positions, { samples: 3000, features: 4 });
    assert.deepEqual(info.conv2.positions, { samples: 3000, features: 6 });
    const { model } = buildNetwork(spec.architecture, [28, 28, 1], 10, 0);
    model.setWeights(decodeArrays(await store.loadWeights(1)));
    const probeSet = subset(test, probe.examples, probe.seed);
    const [, conv1, conv2] = tf.tidy(() => model.forwardAll(tf.tensor4d(probeSet.images, [300, 28, 28, 1])));
    const options = { maxSamples: 3000, grid: [14, 14] as [number, number] };
    for (const [name, acts, shape] of [
      ['conv1', conv1!, [300, 28, 28, 4]],
      ['conv2', conv2!, [300, 14, 14, 6]],
    ] as const) {
      const expected = reduceConv(acts.dataSync() as Float32Array, [...shape], 'positions', options);
      const stored = await store.loadRepresentation(1, positionsName(name));
      assert.equal(stored.rows, 3000);
      let maxDiff = 0;
      expected.data.forEach((v, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - stored.data[i]));
      });
      assert.ok(maxDiff < 1e-4, `${name}: max difference ${maxDiff}`);
      // the pooled representation is stored as before
      assert.equal((await store.loadRepresentation(1, name)).rows, 300);
    }
    tf.dispose([conv1!, conv2!]);
    model.dispose();
  });

  it('refuses a representation larger than maxFeatures before training', async () => {
    const spec = normaliseRunSpec({
      dataset: 'mnist',
      architecture: { type: 'conv', conv: [{ filters: 8, kernel: 3 }] },
      training: { steps: 2, trainExamples: 256 },
      checkpoints: { count: 2 },
    });
    const before = tf.memory().numTensors;
    await assert.rejects(
      run(spec, { cap: { convMode: 'flatten', maxFeatures: 1000, maxSamples: 100 } }).promise,
      (e: unknown) => {
        assert.ok(e instanceof CaptureError, String(e));
        assert.match(e.message, /conv1 \[28,28,8\] gives 6272 features/);
        return true;
      },
    );
    assert.equal(tf.memory().numTensors, before);
  });
});
