import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { positionSampleIndices, reduceConv, reducedConvSize } from '../../../core/cca/conv.ts';

// acts: [n=2, h=2, w=3, c=2], value = 1000·example + 100·row + 10·col + channel
const shape: [number, number, number, number] = [2, 2, 3, 2];
const acts = new Float32Array(24);
for (let n = 0; n < 2; n++)
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 3; j++)
      for (let c = 0; c < 2; c++) acts[((n * 2 + i) * 3 + j) * 2 + c] = 1000 * n + 100 * i + 10 * j + c;

describe('reduceConv', () => {
  it('positions: every (example, position) is a row of channels', () => {
    const r = reduceConv(acts, shape, 'positions');
    assert.equal(r.rows, 12);
    assert.equal(r.cols, 2);
    assert.deepEqual([...r.data.subarray(0, 4)], [0, 1, 10, 11]);
    assert.deepEqual([...r.data.subarray(22, 24)], [1120, 1121]);
  });

  it('positions: subsamples deterministically to the cap, keeping example-major order', () => {
    const a = reduceConv(acts, shape, 'positions', { maxSamples: 5, seed: 3 });
    const b = reduceConv(acts, shape, 'positions', { maxSamples: 5, seed: 3 });
    assert.equal(a.rows, 5);
    assert.deepEqual(a.data, b.data);
    const rows = positionSampleIndices(2, 2, 3, 5, 3);
    rows.forEach((row, r) => {
      assert.equal(a.data[r * 2], acts[row * 2]);
    });
    for (let r = 1; r < 5; r++) assert.ok(a.data[r * 2] > a.data[(r - 1) * 2]);
  });

  it('mean: global average pool per example', () => {
    const r = reduceConv(acts, shape, 'mean');
    assert.equal(r.rows, 2);
    assert.equal(r.cols, 2);
    assert.deepEqual([...r.data], [60, 61, 1060, 1061]);
  });

  it('flatten: one row of h·w·c per example; input never mutated', () => {
    const copy = acts.slice();
    const r = reduceConv(acts, shape, 'flatten');
    assert.equal(r.rows, 2);
    assert.equal(r.cols, 12);
    assert.deepEqual(r.data, acts);
    r.data[0] = -1;
    assert.deepEqual(acts, copy);
    assert.deepEqual(reducedConvSize([10, 8, 8, 64], 'flatten'), { rows: 10, cols: 4096 });
    assert.deepEqual(reducedConvSize([10, 8, 8, 64], 'positions', 100), { rows: 100, cols: 64 });
    assert.throws(() => reduceConv(acts, [2, 2, 3, 3], 'mean'), RangeError);
  });
});
