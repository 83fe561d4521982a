// The decomposition workers of the tensor builder compute exactly what the in-place code does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decompose } from '../../../core/cca/linalg.ts';
import { startDecompositionPool } from '../../../core/cca/pool.ts';
import { gaussian } from '../../../core/cca/similarity.ts';

describe('decomposition pool', () => {
  it('matches in-place decompose() bit for bit and never modifies its input', async () => {
    const n = 40;
    const b = gaussian(n * n, 5);
    const g = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) g[i * n + j]! += b[k * n + i]! * b[k * n + j]!;
    const copy = Float64Array.from(g);
    const pool = await startDecompositionPool(2);
    assert.ok(pool, 'workers start');
    try {
      const kinds = ['eig', 'eigvals', 'cholinv'] as const;
      const results = await Promise.all(kinds.map((kind) => pool.decompose(kind, g, n)));
      for (const [i, kind] of kinds.entries()) assert.deepEqual(results[i], decompose(kind, g, n), kind);
      assert.equal(results[0]!.length, n + n * n);
      // Not positive definite: an empty array.
      assert.equal((await pool.decompose('cholinv', Float64Array.from([1, 2, 2, 1]), 2)).length, 0);
      assert.deepEqual(g, copy);
    } finally {
      await pool.close();
    }
  });
});
