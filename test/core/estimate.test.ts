// Estimates: the random baseline of the capturing phase is counted, and decompositions are priced by
// the engine that runs them (native LAPACK or JS).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateTensor } from '../../core/estimate.ts';

describe('estimates', () => {
  const wide = { samples: 256, features: 4096 };
  const ref = [wide, wide];
  const spec = [wide, wide];

  it('count the random baseline (capture) next to the tensor', () => {
    for (const linalg of ['lapack', 'js'] as const) {
      const e = estimateTensor(ref, spec, 2, linalg);
      // baseline: 4 representations (2 reference, 2 specimen layers); tensor: 2 + 2 x 2 checkpoints
      assert.ok(e.seconds.capture > 0, 'the baseline costs time');
      assert.ok(Math.abs(e.seconds.tensor / e.seconds.capture - 6 / 4) < 0.05, JSON.stringify(e.seconds));
      assert.ok(Math.abs(e.seconds.total - (e.seconds.capture + e.seconds.tensor)) <= 0.1);
    }
  });

  it('price decompositions by the engine that runs them', () => {
    const lapack = estimateTensor(ref, spec, 2, 'lapack').seconds.total;
    const js = estimateTensor(ref, spec, 2, 'js').seconds.total;
    assert.ok(js > 20 * lapack, `${js} vs ${lapack}`);
    // issue 15's case on the native engine: 10 eigendecompositions of order 4096 at ~17 s each
    assert.ok(lapack > 100 && lapack < 300, String(lapack));
  });

  it("count each cell's permutation null: two products per cell, one per baseline pair", () => {
    // many samples, few features: each representation and each product costs u = 2 n d^2 / GEMM rate and
    // the decompositions are negligible. Baseline: 2 representations + 1 pair = 3u; tensor over one
    // checkpoint: 2 representations + 2 products (the cell and its null) = 4u.
    const tall = { samples: 2_500_000_000, features: 10 };
    const e = estimateTensor([tall], [tall], 1, 'lapack');
    assert.ok(Math.abs(e.seconds.tensor / e.seconds.capture - 4 / 3) < 0.01, JSON.stringify(e.seconds));
  });

  it('count uploaded representations on disk at 8 bytes per value (uploads may be float64)', () => {
    // 2 reference layers + 2 specimen layers × 2 checkpoints, each 256 × 4096 values of 8 bytes
    const e = estimateTensor(ref, spec, 2, 'lapack');
    assert.equal(e.diskMB, (6 * 256 * 4096 * 8) / 2 ** 20);
  });
});
