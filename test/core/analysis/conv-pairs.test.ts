// Per pair conv reduction: conv-vs-conv pairs on positions as samples, every other pair on the layers'
// own (pooled) representations; each pair is computed exactly once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convPairPasses, pairReductionSummary } from '../../../core/analysis/conv-reduction.ts';
import { samplesText } from '../../../core/figures/notes.ts';

const layers = [
  { name: 'input', features: 243, samples: 2500 },
  { name: 'conv1', features: 128, samples: 2500, positions: { samples: 20000, features: 32 } },
  { name: 'conv2', features: 64, samples: 2500, positions: { samples: 20000, features: 64 } },
  { name: 'fc1', features: 128, samples: 2500 },
];

describe('convPairPasses', () => {
  it('splits the pairs: conv-vs-conv on positions, the rest on the layers; every pair once', () => {
    const passes = convPairPasses(layers, layers);
    assert.deepEqual(
      passes.map((p) => p.reduction),
      ['layers', 'positions'],
    );
    const [own, positions] = passes as [(typeof passes)[0], (typeof passes)[0]];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) {
        const conv = (i === 1 || i === 2) && (j === 1 || j === 2);
        assert.equal(positions.pair(i, j), conv, `${i}/${j}`);
        assert.equal(own.pair(i, j), !conv, `${i}/${j}`);
      }
    assert.equal(positions.artifact('conv1'), 'conv1--positions');
    assert.equal(own.artifact('conv1'), 'conv1');
    assert.equal(positions.samples, 20000);
    assert.deepEqual(positions.refWidths.slice(1, 3), [32, 64]);
    assert.equal(own.samples, 2500);
    assert.deepEqual(own.refWidths, [243, 128, 64, 128]);
    const summary = pairReductionSummary(passes, layers, layers);
    assert.deepEqual(
      summary.map((s) => [s.reduction, s.pairs, s.samples]),
      [
        ['layers', 12, 2500],
        ['positions', 4, 20000],
      ],
    );
    assert.match(summary[1]!.detail, /conv-vs-conv pairs \(conv1, conv2\): positions as samples/);
  });

  it('is one pass over every pair when no layer has a positions representation (MLPs, uploads)', () => {
    const plain = layers.map(({ positions: _p, ...l }) => l);
    const passes = convPairPasses(plain, plain);
    assert.equal(passes.length, 1);
    assert.ok(passes[0]!.pair(1, 2));
    assert.match(pairReductionSummary(passes, plain, plain)[0]!.detail, /^every pair/);
  });

  it("the figures' n states the conv-vs-conv pairs' samples beside the layers'", () => {
    assert.equal(
      samplesText({ samples: { input: 2000, conv1: 2000, fc1: 2000 }, convPairSamples: 20000 }),
      'n = 2000 samples per layer; conv-vs-conv pairs: 20000 (example, position) rows',
    );
    assert.equal(samplesText({ samples: { fc1: 2000 } }), 'n = 2000 samples per layer');
  });
});
