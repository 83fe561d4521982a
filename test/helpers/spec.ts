// Experiment bodies the tests submit (no imports: unit tests use them too).

/** The example body: a tiny MLP on MNIST, Net_S = Net_R. */
export function tinySpec(overrides: Record<string, unknown> = {}) {
  return {
    name: 'tiny',
    reference: {
      dataset: 'mnist',
      architecture: { type: 'mlp', hidden: [32, 32], activation: 'relu' },
      training: {
        epochs: 1,
        batchSize: 64,
        trainExamples: 512,
        seed: 1,
        optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 },
      },
      checkpoints: { count: 4, spacing: 'log' },
    },
    specimen: 'same',
    probe: { split: 'test', examples: 256, seed: 0 },
    similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
    ...overrides,
  };
}

/** A small upload spec: 8 samples, layers fc1 and fc2, Net_S = Net_R, two checkpoints. */
export function uploadSpec(overrides: Record<string, unknown> = {}) {
  return {
    name: 'upload',
    source: 'upload',
    samples: 8,
    reference: { layers: ['fc1', 'fc2'] },
    specimen: 'same',
    checkpoints: [{ step: 0 }, { step: 10 }],
    ...overrides,
  };
}
