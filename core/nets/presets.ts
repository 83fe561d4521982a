// Named architectures with their default training settings. Values only (no tf), so spec
// validation can use them without loading TensorFlow.js.
import type { Architecture, CheckpointSchedule, DatasetName } from '../spec/run.ts';

export type PresetName = 'mnist-fc' | 'cifar10-conv';

export interface Preset {
  dataset: DatasetName;
  architecture: Exclude<Architecture, { preset: string }>;
  training: {
    epochs?: number;
    steps?: number;
    batchSize?: number;
    trainExamples?: number;
    seed?: number;
    optimizer?:
      | { type: 'sgd'; learningRate: number; momentum?: number }
      | { type: 'adam'; learningRate: number };
  };
  checkpoints: CheckpointSchedule;
  description: string;
}

export const PRESETS: Record<PresetName, Preset> = {
  // The fully connected MNIST network of the paper / SVCCA tutorials.
  'mnist-fc': {
    dataset: 'mnist',
    architecture: { type: 'mlp', hidden: [500, 500, 500], activation: 'relu' },
    training: { epochs: 10, batchSize: 128, optimizer: { type: 'sgd', learningRate: 0.01, momentum: 0.9 } },
    checkpoints: { count: 20, spacing: 'log' },
    description:
      'input [784] → fc1 [500] → fc2 [500] → fc3 [500] → logits [10]; ReLU; SGD lr 0.01 momentum 0.9, batch 128, 10 epochs',
  },
  // A small CIFAR-10 net sized to train on 2 CPU cores with the wasm backend:
  //   input [32,32,3]
  //   conv1 3x3x32 + ReLU [32,32,32] → max-pool 2 → [16,16,32]
  //   conv2 3x3x64 + ReLU [16,16,64] → max-pool 2 → [8,8,64]
  //   conv3 3x3x64 + ReLU [8,8,64]   → max-pool 2 → [4,4,64] → flatten [1024]
  //   fc1 [128] + ReLU → logits [10]
  // ~16 MFLOP per example forward, 0.2 M parameters; ~150-350 examples/s training on wasm (2 cores),
  // so 4 epochs take roughly 10-25 minutes.
  'cifar10-conv': {
    dataset: 'cifar10',
    architecture: {
      type: 'conv',
      conv: [
        { filters: 32, kernel: 3, pool: 2 },
        { filters: 64, kernel: 3, pool: 2 },
        { filters: 64, kernel: 3, pool: 2 },
      ],
      dense: [128],
      activation: 'relu',
    },
    training: { epochs: 4, batchSize: 64, optimizer: { type: 'adam', learningRate: 0.001 } },
    checkpoints: { count: 20, spacing: 'log' },
    description:
      'input [32,32,3] → conv1 [32,32,32] → pool → conv2 [16,16,64] → pool → conv3 [8,8,64] → pool → fc1 [128] → logits [10]; ReLU; Adam lr 1e-3, batch 64, 4 epochs',
  },
};
