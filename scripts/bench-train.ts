// Benchmark: mnist-fc on MNIST. Measures the training loop's throughput against a bare
// tf.LayersModel.fit of the same network on the same backend, and the capture throughput
// (forward pass + reduction + saving .npy files), then projects the capture overhead for the
// paper setting: 10 epochs of 60,000 examples, 20 checkpoints, 10,000 probe examples.
// Prints one JSON line. TFJS_BACKEND selects the backend. Bounded to about a minute on wasm.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { subset } from '../core/data/dataset.ts';
import { loadDataset } from '../core/data/load.ts';
import { PRESETS } from '../core/nets/presets.ts';
import { type CaptureOptions, normaliseProbeSpec, normaliseRunSpec, runKey } from '../core/spec/run.ts';
import { initBackend } from '../core/tf/backend.ts';
import { trainRun } from '../core/train/run.ts';
import { FsRunArtifactStore } from '../store/artifacts.ts';

const STEPS = 60;
const BATCH = 128;
const PROBE = 2000;
const PAPER = { epochs: 10, trainExamples: 60000, checkpoints: 20, probe: 10000 };

const backend = await initBackend(process.env.TFJS_BACKEND);
const root = await mkdtemp(join(tmpdir(), 'repdyn-bench-'));
try {
  const paths = { cacheDir: join(root, 'cache') };
  const [train, test] = await Promise.all([
    loadDataset('mnist', 'train', paths),
    loadDataset('mnist', 'test', paths),
  ]);
  const preset = PRESETS['mnist-fc'];
  const hidden = preset.architecture.type === 'mlp' ? preset.architecture.hidden : [];

  // Bare model.fit on the same examples: one warm-up batch, then STEPS batches.
  const fitExamples = subset(train, STEPS * BATCH, 1);
  const model = tf.sequential();
  hidden.forEach((units, i) => {
    model.add(tf.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [784] } : {}) }));
  });
  model.add(tf.layers.dense({ units: 10 }));
  model.compile({ optimizer: tf.train.momentum(0.01, 0.9), loss: tf.losses.softmaxCrossEntropy });
  const xs = tf.tensor2d(fitExamples.images, [fitExamples.count, 784]);
  const ys = tf.oneHot(tf.tensor1d(fitExamples.labels, 'int32'), 10);
  await model.fit(xs.slice(0, BATCH), ys.slice(0, BATCH), { batchSize: BATCH, epochs: 1, verbose: 0 });
  const fitStart = performance.now();
  await model.fit(xs, ys, { batchSize: BATCH, epochs: 1, verbose: 0, shuffle: true });
  const fitPerSecond = (STEPS * BATCH) / ((performance.now() - fitStart) / 1000);
  tf.dispose([xs, ys]);
  model.dispose();

  // Our loop: STEPS steps with checkpoints at 0 and STEPS, each capturing PROBE examples.
  const spec = normaliseRunSpec({
    dataset: 'mnist',
    architecture: { preset: 'mnist-fc' },
    training: { steps: STEPS, trainExamples: STEPS * BATCH, batchSize: BATCH },
    checkpoints: { steps: [0, STEPS] },
  });
  const probe = normaliseProbeSpec({ split: 'test', examples: PROBE, seed: 0 }, 'mnist');
  const capture: CaptureOptions = { convMode: 'positions', maxFeatures: 4096, maxSamples: 100_000 };
  const result = await trainRun({
    spec,
    probe,
    data: { train, probe: test },
    store: new FsRunArtifactStore(join(root, 'artifacts'), runKey(spec, probe, capture)),
    capture,
  });
  const trainPerSecond = (STEPS * BATCH) / result.timings.trainingSeconds;
  const capturePerSecond = (result.checkpoints.length * PROBE) / result.timings.checkpointSeconds;
  const paperTrain = (PAPER.epochs * PAPER.trainExamples) / trainPerSecond;
  const paperCapture = (PAPER.checkpoints * PAPER.probe) / capturePerSecond;
  console.log(
    JSON.stringify({
      backend: backend.name,
      train_examples_per_s: Math.round(trainPerSecond),
      capture_examples_per_s: Math.round(capturePerSecond),
      projected_capture_overhead_pct: Number(((100 * paperCapture) / paperTrain).toFixed(1)),
      model_fit_examples_per_s: Math.round(fitPerSecond),
      train_vs_model_fit_pct: Number(((100 * trainPerSecond) / fitPerSecond).toFixed(1)),
    }),
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
