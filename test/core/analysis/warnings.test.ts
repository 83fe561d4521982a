import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  adjustedScore,
  cellWarnings,
  dedupeWarnings,
  fewSamplesReason,
  formatWarning,
  hasFewSamples,
  layerWarnings,
} from '../../../core/analysis/warnings.ts';

describe('layer warnings', () => {
  it('flags a 784-wide input with 256 samples as few-samples, once for both networks', () => {
    const w = layerWarnings([
      { network: 'reference', name: 'input', width: 784, samples: 256 },
      { network: 'specimen', name: 'input', width: 784, samples: 256 },
      { network: 'reference', name: 'logits', width: 10, samples: 256 },
    ]);
    assert.equal(w.length, 1);
    assert.equal(w[0]!.code, 'few-samples');
    assert.equal(w[0]!.layer, 'input');
    assert.equal(w[0]!.network, undefined);
    assert.match(w[0]!.message, /784 features and 256 samples/);
    assert.match(formatWarning(w[0]!), /^few-samples: layer 'input'/);
  });

  it('judges by the kept rank when it is known, unless the samples limit the rank', () => {
    assert.equal(hasFewSamples({ width: 500, samples: 2500 }), true);
    assert.equal(hasFewSamples({ width: 500, rank: 40, samples: 2500 }), false);
    assert.equal(hasFewSamples({ width: 784, rank: 255, samples: 256 }), true);
    assert.equal(hasFewSamples({ width: 10, samples: 100 }), false);
    assert.equal(
      fewSamplesReason({ name: 'input', width: 784, samples: 256 }),
      'few-samples: input has 784 features and 256 samples',
    );
  });

  it('flags constant and rank-deficient layers, per network when they differ', () => {
    const w = layerWarnings([
      { network: 'reference', name: 'fc1', width: 50, samples: 1000, rank: 0 },
      { network: 'specimen', name: 'fc1', width: 50, samples: 1000, rank: 30 },
    ]);
    assert.deepEqual(
      w.map((x) => [x.code, x.network]),
      [
        ['constant-layer', 'reference'],
        ['rank-deficient', 'specimen'],
      ],
    );
    assert.match(w[1]!.message, /rank 30 of its 50 features/);
  });
});

describe('cell warnings and the adjusted score', () => {
  it('groups null-near-one cells per pair', () => {
    const w = cellWarnings([
      { refLayer: 'input', specLayer: 'fc1', checkpoint: 0, rho: 1, null: 1 },
      { refLayer: 'input', specLayer: 'fc1', checkpoint: 1, rho: 1, null: 0.99 },
      { refLayer: 'fc1', specLayer: 'fc1', checkpoint: 0, rho: 0.9, null: 0.3 },
    ]);
    assert.equal(w.length, 1);
    assert.equal(w[0]!.code, 'null-near-one');
    assert.equal(w[0]!.refLayer, 'input');
    assert.match(w[0]!.message, /at 2 checkpoints/);
  });

  it('is (rho - null) / (1 - null), undefined when the null is 1', () => {
    assert.equal(adjustedScore(0.8, 0.6), (0.8 - 0.6) / 0.4);
    assert.equal(adjustedScore(1, 1), null);
    assert.equal(adjustedScore(null, 0.2), null);
    assert.ok((adjustedScore(0.1, 0.3) as number) < 0);
  });

  it('dedupes identical warnings', () => {
    const a = { code: 'few-samples', message: 'm', layer: 'x' };
    assert.equal(dedupeWarnings([a, { ...a }, { ...a, layer: 'y' }]).length, 2);
  });
});
