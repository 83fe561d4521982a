import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseConvergence, spearman } from '../../../core/analysis/convergence.ts';

describe('convergence analysis', () => {
  it('computes Spearman correlation with ties', () => {
    assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
    assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
    assert.ok(Math.abs((spearman([1, 2, 3], [1, 1, 2]) ?? 0) - 0.8660254) < 1e-6);
    assert.equal(spearman([1, 2], [1, 2]), null);
  });

  it('calls layers that converge lowest-first bottom-up, and the reverse not', () => {
    const fractions = [0, 0.1, 0.5, 1];
    const layers = ['input', 'fc1', 'fc2', 'fc3', 'logits'];
    const bottomUp = [
      [1, 1, 1, 1],
      [0.5, 0.95, 1, 1],
      [0.4, 0.7, 0.95, 1],
      [0.3, 0.6, 0.8, 1],
      [0.2, 0.99, 1, 1],
    ];
    const a = analyseConvergence(layers, bottomUp, fractions, { threshold: 0.9 });
    assert.equal(a.verdict, 'bottom-up');
    assert.deepEqual(
      a.layers.map((l) => l.convergedAt),
      [0, 0.1, 0.5, null, 0.1], // fc3 reaches 0.9 only at the final checkpoint: not converged
    );
    const topDown = [bottomUp[0], bottomUp[3], bottomUp[2], bottomUp[1], bottomUp[4]];
    assert.equal(analyseConvergence(layers, topDown, fractions, { threshold: 0.9 }).verdict, 'not-bottom-up');
  });
});
