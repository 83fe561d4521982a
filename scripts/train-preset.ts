// Trains a preset with its default settings and prints one JSON line with the test accuracy
// (the final checkpoint's accuracy on the full test split, used as the probe set) and timings.
//   tsx scripts/train-preset.ts mnist-fc|cifar10-conv [--artifacts DIR] [--epochs N]
// TFJS_BACKEND selects the backend; REPDYN_SHARED_DIR the directory with datasets/ (default ../shared).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../core/data/load.ts';
import { PRESETS, type PresetName } from '../core/nets/presets.ts';
import { type CaptureOptions, normaliseProbeSpec, normaliseRunSpec, runKey } from '../core/spec/run.ts';
import { initBackend } from '../core/tf/backend.ts';
import { trainRun } from '../core/train/run.ts';
import { FsRunArtifactStore } from '../store/artifacts.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { artifacts: { type: 'string' }, epochs: { type: 'string' } },
});
const preset = positionals[0] as PresetName;
if (!(preset in PRESETS)) {
  console.error(
    `usage: tsx scripts/train-preset.ts ${Object.keys(PRESETS).join('|')} [--artifacts DIR] [--epochs N]`,
  );
  process.exit(2);
}
const backend = await initBackend(process.env.TFJS_BACKEND);
console.error(`backend: ${backend.name}`);
const { dataset } = PRESETS[preset];
const spec = normaliseRunSpec({
  dataset,
  architecture: { preset },
  ...(values.epochs ? { training: { ...PRESETS[preset].training, epochs: Number(values.epochs) } } : {}),
});
const probe = normaliseProbeSpec({ split: 'test', examples: 10000, seed: 0 }, dataset);
const capture: CaptureOptions = { convMode: 'mean', maxFeatures: 4096, maxSamples: 100_000 };
const root = values.artifacts ? resolve(values.artifacts) : await mkdtemp(join(tmpdir(), 'repdyn-train-'));
const paths = {
  cacheDir: join(root, 'cache'),
  sharedDir: process.env.REPDYN_SHARED_DIR ?? resolve('..', 'shared'),
};
const started = performance.now();
const [train, test] = await Promise.all([
  loadDataset(dataset, 'train', paths),
  loadDataset(dataset, 'test', paths),
]);
const loadSeconds = (performance.now() - started) / 1000;
let lastLog = 0;
const result = await trainRun({
  spec,
  probe,
  data: { train, probe: test },
  store: new FsRunArtifactStore(join(root, 'artifacts'), runKey(spec, probe, capture)),
  capture,
  onProgress: (p) => {
    const now = performance.now();
    if (now - lastLog > 30_000) {
      lastLog = now;
      console.error(
        `${p.phase} ${(p.fraction * 100).toFixed(1)}% ${p.examplesPerSecond.toFixed(0)} ex/s loss ${p.loss?.toFixed(3)}`,
      );
    }
  },
});
const last = result.checkpoints[result.checkpoints.length - 1];
console.log(
  JSON.stringify({
    preset,
    backend: result.backend,
    steps: spec.training.steps,
    checkpoints: result.checkpoints.length,
    test_accuracy: last.probeAccuracy,
    test_loss: last.probeLoss,
    seconds: result.seconds,
    training_seconds: result.timings.trainingSeconds,
    checkpoint_seconds: result.timings.checkpointSeconds,
    data_load_seconds: loadSeconds,
  }),
);
if (!values.artifacts) await rm(root, { recursive: true, force: true });
