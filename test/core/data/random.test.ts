import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveSeed, permutation, Rng, sampleIndices } from '../../../core/data/random.ts';

describe('random', () => {
  it('gives the same stream for the same seed and different streams for derived seeds', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const xs = Array.from({ length: 10 }, () => a.nextUint32());
    assert.deepEqual(
      xs,
      Array.from({ length: 10 }, () => b.nextUint32()),
    );
    assert.notEqual(deriveSeed(1, 'shuffle', 0), deriveSeed(1, 'shuffle', 1));
    assert.notEqual(deriveSeed(1, 'a'), deriveSeed(2, 'a'));
    const f = new Rng(9);
    for (let i = 0; i < 1000; i++) {
      const v = f.nextFloat();
      assert.ok(v >= 0 && v < 1);
    }
  });

  it('permutation is a permutation; sampleIndices is distinct, sorted and capped', () => {
    const p = permutation(1000, 3);
    assert.deepEqual(
      [...p].sort((x, y) => x - y),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.deepEqual(permutation(1000, 3), p);
    const s = sampleIndices(1_000_000, 500, 4);
    assert.equal(s.length, 500);
    assert.equal(new Set(s).size, 500);
    for (let i = 1; i < s.length; i++) assert.ok(s[i] > s[i - 1]);
    assert.deepEqual(sampleIndices(1_000_000, 500, 4), s);
    assert.equal(sampleIndices(10, 50, 0).length, 10);
  });
});
