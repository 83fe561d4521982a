import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  analyseCrawl,
  convergenceOf,
  defaultTopLayer,
  EARLY_FRACTION,
  TIE_TOLERANCE,
} from '../../../core/analysis/crawl.ts';
import { FRACTIONS, LAYERS, syntheticTensor } from '../figures/fixture.ts';

describe('defaultTopLayer', () => {
  it("is the last layer below 'logits', else the last layer", () => {
    assert.equal(defaultTopLayer(['input', 'fc1', 'fc2', 'logits']), 'fc2');
    assert.equal(defaultTopLayer(['input', 'fc1', 'fc2']), 'fc2');
    assert.equal(defaultTopLayer(['logits']), 'logits');
    assert.equal(defaultTopLayer([]), undefined);
  });
});

describe('analyseCrawl', () => {
  it('names the most similar final layer at every checkpoint and finds the crawl', () => {
    const a = analyseCrawl(syntheticTensor({ crawl: true }));
    assert.equal(a.layer, 'fc3');
    assert.equal(a.depth, 3);
    assert.deepEqual(
      a.steps.map((s) => s.fraction),
      FRACTIONS,
    );
    for (const s of a.steps) {
      assert.deepEqual(Object.keys(s.rhoByLayer), LAYERS);
      const values = Object.values(s.rhoByLayer).filter((v): v is number => v !== null);
      assert.ok((s.rho ?? Number.NaN) >= Math.max(...values) - TIE_TOLERANCE);
      assert.equal(s.rhoByLayer[s.mostSimilar as string], s.rho);
      if (s.fraction < 0.3) assert.equal(s.mostSimilar, 'fc2', `at ${s.fraction}`);
    }
    assert.equal(a.steps.at(-1)?.mostSimilar, 'fc3');
    assert.ok(a.steps.filter((s) => s.fraction <= EARLY_FRACTION).length > 1);
    assert.equal(a.verdict, 'crawl');
  });

  it("is 'no-crawl' when the top layer resembles itself early", () => {
    const a = analyseCrawl(syntheticTensor({ crawl: false }));
    assert.ok(a.steps.every((s) => s.mostSimilar === 'fc3'));
    assert.equal(a.verdict, 'no-crawl');
  });

  it('follows a named layer, skips missing rho and refuses unknown layers', () => {
    const data = syntheticTensor();
    const a = analyseCrawl({ ...data, rho: (i, j, t) => (t === 0 ? null : data.rho(i, j, t)) }, 'fc2');
    assert.equal(a.layer, 'fc2');
    assert.equal(a.steps[0].mostSimilar, null);
    assert.equal(a.steps[0].rho, null);
    assert.equal(a.steps[1].mostSimilar, 'fc2');
    assert.equal(a.verdict, 'no-crawl');
    assert.throws(() => analyseCrawl(data, 'nope'), RangeError);
  });

  it('breaks ties toward the followed layer (a spurious rho = 1 with the input is no crawl)', () => {
    const data = syntheticTensor({ crawl: false });
    const tied = { ...data, rho: (i: number, j: number, t: number) => (i === 0 ? 1 : data.rho(i, j, t)) };
    const a = analyseCrawl(tied);
    assert.equal(a.steps.at(-1)?.mostSimilar, 'fc3');
    assert.equal(a.steps.at(-1)?.rho, 1);
    assert.equal(a.steps[0].mostSimilar, 'input', 'a strictly larger rho still wins');
    // equal distance: the deeper layer
    const even = analyseCrawl(
      { ...data, rho: (i: number) => (i === 1 || i === 3 ? 0.5 : 0.1), baseline: () => 0.1 },
      'fc2',
    );
    assert.equal(even.steps[0].mostSimilar, 'fc3');
  });

  it("is 'inconclusive' without any early rho, and maps depth across different networks", () => {
    const data = syntheticTensor();
    assert.equal(analyseCrawl({ ...data, rho: () => null }).verdict, 'inconclusive');
    const other = { ...data, specLayers: ['s0', 's1', 's2'] };
    const a = analyseCrawl(other, 's2');
    assert.equal(a.depth, LAYERS.length - 1);
  });
});

describe('convergenceOf', () => {
  it('finds bottom-up convergence over the shared layers', () => {
    const c = convergenceOf(syntheticTensor(), { threshold: 0.99 });
    assert.deepEqual(
      c.layers.map((l) => l.layer),
      LAYERS,
    );
    assert.equal(c.layers[0].convergedAt, 0);
    assert.ok((c.layers[1].convergedAt ?? 1) < (c.layers[3].convergedAt ?? 1));
    assert.equal(c.verdict, 'bottom-up');
    assert.equal(c.threshold, 0.99);
  });

  it('never counts a missing rho as converged', () => {
    const c = convergenceOf({ ...syntheticTensor(), rho: () => null });
    assert.ok(c.layers.every((l) => l.convergedAt === null));
  });
});
