// A small committed run state (one checkpoint, one layer) for the artifact-store tests.
import type { RunState } from '../../core/train/store.ts';

export function sampleRunState(complete = false): RunState {
  return {
    version: 1,
    checkpoints: [
      {
        index: 0,
        step: 0,
        fraction: 0,
        trainLoss: 2.3,
        trainAccuracy: 0.1,
        probeLoss: 2.3,
        probeAccuracy: 0.1,
      },
    ],
    layers: [{ name: 'fc1', kind: 'dense', features: 2, samples: 3 }],
    totalSteps: 10,
    backend: 'wasm',
    complete,
  };
}
