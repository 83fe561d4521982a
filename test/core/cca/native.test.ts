// The optional native OpenBLAS/LAPACK addon (core/cca/native.ts): when it loads, every operation
// equals the JS code it replaces (1e-9 relative), and 'auto' picks it; when it does not, 'blas' fails
// with the reason and 'auto' falls back. CI installs libopenblas-dev and sets REPDYN_REQUIRE_NATIVE=1,
// so there the native path must be the one tested.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { identicalRepresentations } from '../../../core/cca/identical.ts';
import { getGemmEngine, jsEngine } from '../../../core/cca/index.ts';
import { decompose, jsMatmul, jsMatmulTN, symEig } from '../../../core/cca/linalg.ts';
import { limiter, loadNative } from '../../../core/cca/native.ts';
import { centreColumns, columnStats, gaussian, gramEigSteps, runSync } from '../../../core/cca/similarity.ts';

const { lib, detail } = loadNative();

/** max |a - b| / max(1, max |b|). */
function relErr(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length, 'length');
  let scale = 1;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
  return err / scale;
}

/** b^T b + shift I for a random b [n + 5, n]: symmetric positive definite with distinct eigenvalues. */
function spd(n: number, seed: number, shift = 0): Float64Array {
  const b = { data: gaussian((n + 5) * n, seed), rows: n + 5, cols: n };
  const g = jsMatmulTN(b, b);
  for (let i = 0; i < n; i++) g[i * n + i]! += shift;
  return g;
}

describe('native linear algebra', () => {
  it('loads where CI requires it, and the engines say which path they use', async () => {
    if (process.env.REPDYN_REQUIRE_NATIVE === '1') assert.ok(lib, `native addon required: ${detail}`);
    const auto = await getGemmEngine('auto');
    try {
      if (lib) {
        assert.equal(auto.name, 'blas');
        assert.equal(auto.linalg, 'lapack');
        assert.match(lib.config(), /OpenBLAS/);
        // SkylakeX kernels on AVX-512 CPUs, whatever OPENBLAS_CORETYPE the environment pins.
        const flags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
        const avx512 = ['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) =>
          new RegExp(`^flags\\s*:.*\\b${f}\\b`, 'm').test(flags),
        );
        if (avx512 && !process.env.REPDYN_OPENBLAS_CORETYPE) assert.match(lib.config(), /core SkylakeX/);
      } else {
        assert.notEqual(auto.name, 'blas');
        await assert.rejects(getGemmEngine('blas'), /native OpenBLAS engine unavailable/);
      }
    } finally {
      await auto.dispose();
    }
    assert.equal(jsEngine.linalg, 'js');
  });

  it('products, Gram matrices and decompositions equal the JS ones (1e-9)', {
    skip: !lib && detail,
  }, async () => {
    assert.ok(lib);
    const a = { data: gaussian(37 * 23, 1), rows: 37, cols: 23 };
    const b = { data: gaussian(37 * 11, 2), rows: 37, cols: 11 };
    const c = { data: gaussian(23 * 11, 3), rows: 23, cols: 11 };
    const copies = [a, b, c].map((m) => Float64Array.from(m.data));
    assert.ok(relErr(await lib.gemm(true, a.data, b.data, 23, 11, 37), jsMatmulTN(a, b)) < 1e-12);
    assert.ok(relErr(await lib.gemm(false, a.data, c.data, 37, 11, 23), jsMatmul(a, c)) < 1e-12);
    assert.ok(relErr(await lib.syrk(a.data, 37, 23), jsMatmulTN(a, a)) < 1e-12);
    assert.deepEqual([a.data, b.data, c.data], copies, 'inputs are never modified');

    for (const n of [1, 2, 30, 120]) {
      const g = spd(n, 10 + n);
      const before = Float64Array.from(g);
      assert.ok(relErr(await lib.eigvals(g, n), decompose('eigvals', g, n)) < 1e-9, `eigvals ${n}`);
      // Eigenvectors (distinct eigenvalues): equal up to sign, row by row.
      const native = await lib.eig(g, n);
      const js = decompose('eig', g, n);
      assert.ok(relErr(native.subarray(0, n), js.subarray(0, n)) < 1e-9, `eig values ${n}`);
      for (let i = 0; i < n; i++) {
        const u = native.subarray(n + i * n, n + (i + 1) * n);
        const v = js.subarray(n + i * n, n + (i + 1) * n);
        let dot = 0;
        for (let k = 0; k < n; k++) dot += u[k]! * v[k]!;
        const aligned = Float64Array.from(u, (t) => t * Math.sign(dot));
        assert.ok(relErr(aligned, Float64Array.from(v)) < 1e-7, `eigenvector ${i} of ${n}`);
      }
      const cholinv = await lib.cholinv(spd(n, 20 + n, 1), n);
      assert.ok(relErr(cholinv, decompose('cholinv', spd(n, 20 + n, 1), n)) < 1e-9, `cholinv ${n}`);
      assert.deepEqual(g, before, 'decompositions copy their input');
    }
    // Not positive definite: empty, as decompose('cholinv').
    assert.equal((await lib.cholinv(Float64Array.from([1, 2, 2, 1]), 2)).length, 0);
    assert.equal((await lib.eigvals(new Float64Array(0), 0)).length, 0);

    // Singular values (dgesdd) of a [23, 11] and its transpose: the square roots of a^T a's eigenvalues.
    const s = await lib.svdvals(c.data, 23, 11);
    const expected = symEig(jsMatmulTN(c, c), 11, false).values.map(Math.sqrt);
    assert.ok(relErr(s, expected) < 1e-9);
    const full = await lib.svd(c.data, 23, 11);
    // U diag(s) Vt rebuilds c.
    const u = full.subarray(11, 11 + 23 * 11);
    const vt = full.subarray(11 + 23 * 11);
    const rebuilt = new Float64Array(23 * 11);
    for (let i = 0; i < 23; i++)
      for (let j = 0; j < 11; j++)
        for (let q = 0; q < 11; q++) rebuilt[i * 11 + j]! += u[i * 11 + q]! * full[q]! * vt[q * 11 + j]!;
    assert.ok(relErr(rebuilt, c.data) < 1e-12);
  });

  it("gramEig (the smaller side's Gram and its eigendecomposition) equals the JS steps (1e-9)", {
    skip: !lib && detail,
  }, async () => {
    assert.ok(lib);
    assert.equal(
      typeof lib.gramEig,
      'function',
      'the addon predates gramEig: rebuild it (npm run build:native)',
    );
    for (const [p, q] of [
      [17, 9],
      [9, 17],
      [12, 12],
      [1, 5],
      [0, 4],
    ] as const) {
      const b = { data: gaussian(p * q, 30 + p), rows: p, cols: q };
      const before = Float64Array.from(b.data);
      const small = Math.min(p, q);
      const values = await lib.gramEig(b.data, p, q, false);
      assert.ok(relErr(values, runSync(gramEigSteps(b, false))) < 1e-9, `values ${p}x${q}`);
      const packed = await lib.gramEig(b.data, p, q, true);
      const js = runSync(gramEigSteps(b, true));
      assert.equal(packed.length, small + small * small);
      assert.ok(relErr(packed.subarray(0, small), js.subarray(0, small)) < 1e-9, `eig values ${p}x${q}`);
      for (let i = 0; i < small; i++) {
        const u = packed.subarray(small + i * small, small + (i + 1) * small);
        const v = js.subarray(small + i * small, small + (i + 1) * small);
        let dot = 0;
        for (let k = 0; k < small; k++) dot += u[k]! * v[k]!;
        assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-7, `eigenvector ${i} of ${p}x${q}`);
      }
      assert.deepEqual(b.data, before, 'the input is never modified');
    }
    assert.throws(() => lib.gramEig(new Float64Array(5), 2, 3, false), /size/);
  });

  it('column statistics and centring equal the JS ones bit for bit (float32 and float64)', {
    skip: !lib && detail,
  }, async () => {
    assert.ok(lib);
    const n = 57;
    const d = 13;
    const values = gaussian(n * d, 4);
    for (let i = 0; i < n; i++) {
      values[i * d + 3] = 2.5; // constant
      values[i * d + 7] = i === 40 ? 1 : 0; // varies in one row only
    }
    for (const data of [values, Float32Array.from(values)]) {
      const m = { data, rows: n, cols: d };
      const stats = await lib.colstats(data, n, d);
      assert.deepEqual(stats, columnStats(m));
      assert.equal(stats[d + 3], 0);
      assert.equal(stats[d + 7], 1);
      assert.equal(stats.length, 4 * d);
      assert.equal(stats[2 * d + 3], 2.5); // minimum and maximum of the constant column
      assert.equal(stats[3 * d + 7], 1);
      for (const keep of [Int32Array.from({ length: d }, (_, j) => j), Int32Array.from([0, 7, 12])]) {
        const mean = Float64Array.from(keep, (j) => stats[j]! / n);
        assert.deepEqual(await lib.centre(data, n, d, keep, mean), centreColumns(m, keep, mean));
        assert.deepEqual(
          await lib.centreScaled!(data, n, d, keep, mean, 0.25),
          centreColumns(m, keep, mean, 0.25),
        );
      }
    }
    assert.throws(() => lib.centre(values, n, d, Int32Array.from([d]), new Float64Array(1)), /outside/);
  });

  it('identical representations: same dtype, shape and bytes, nothing else', () => {
    const data = gaussian(101 * 7, 9);
    const flipped = Float64Array.from(data);
    new Uint8Array(flipped.buffer)[8 * 350 + 3]! ^= 1; // one bit of one value
    const a = { data, rows: 101, cols: 7 };
    assert.ok(identicalRepresentations(a, { data: Float64Array.from(data), rows: 101, cols: 7 }));
    // a view into a larger buffer compares its own bytes only
    const padded = new Float64Array(data.length + 9);
    padded.set(data, 5);
    assert.ok(identicalRepresentations(a, { data: padded.subarray(5, 5 + data.length), rows: 101, cols: 7 }));
    for (const other of [
      { data: flipped, rows: 101, cols: 7 },
      { data, rows: 7, cols: 101 },
      { data: Float32Array.from(data), rows: 101, cols: 7 },
      { data: data.subarray(7), rows: 100, cols: 7 },
    ])
      assert.ok(!identicalRepresentations(a, other), `${other.rows}x${other.cols}`);
  });

  it('rejects malformed arguments instead of reading out of bounds', { skip: !lib && detail }, () => {
    assert.ok(lib);
    assert.throws(() => lib.gemm(true, new Float64Array(5), new Float64Array(6), 2, 3, 2), /sizes/);
    assert.throws(() => lib.syrk(new Float32Array(4) as unknown as Float64Array, 2, 2), /Float64Array/);
    assert.throws(() => lib.eig(new Float64Array(3), 2), /size/);
    assert.throws(() => lib.eigvals(new Float64Array(4), -2), /non-negative/);
  });

  it('products with an upper triangular right factor (dtrmm) equal the JS ones (1e-12)', {
    skip: !lib && detail,
  }, async () => {
    assert.ok(lib?.trmmUpper, 'the addon has trmmUpper');
    for (const [m, n] of [
      [40, 17],
      [3, 1],
      [0, 5],
    ] as const) {
      const a = { data: gaussian(m * n, m + n), rows: m, cols: n };
      const w = { data: gaussian(n * n, n), rows: n, cols: n };
      for (let r = 0; r < n; r++) for (let c = 0; c < r; c++) w.data[r * n + c] = 0;
      const copies = [a.data, w.data].map((x) => Float64Array.from(x));
      assert.ok(relErr(await lib.trmmUpper(a.data, w.data, m, n), jsMatmul(a, w)) < 1e-12, `${m}x${n}`);
      assert.deepEqual([a.data, w.data], copies, 'inputs are never modified');
    }
    const engine = await getGemmEngine('blas', { minWork: 0 });
    try {
      const a = { data: gaussian(30 * 8, 5), rows: 30, cols: 8 };
      const w = {
        data: gaussian(64, 6).map((v, i) => (i % 8 >= Math.floor(i / 8) ? v : 0)),
        rows: 8,
        cols: 8,
      };
      assert.ok(relErr(await engine.matmulUpper!(a, w), jsMatmul(a, w)) < 1e-12);
    } finally {
      await engine.dispose();
    }
  });

  it('reuses collected output blocks while a run holds them, with exact results, and frees them after', {
    skip: !lib && detail,
  }, async () => {
    const stats = () => Array.from(lib!.cacheStats!());
    const gc = (() => {
      setFlagsFromString('--expose-gc');
      return runInNewContext('gc') as () => void;
    })();
    const engine = await getGemmEngine('blas');
    const [usersBefore] = stats();
    const release = engine.reuseOutputs!();
    try {
      assert.equal(stats()[0], usersBefore! + 1, 'a user more');
      // outputs of 1.3 MB (above the 1 MiB kept): products until a collected one is handed out again
      const n = 400;
      const a = { data: gaussian(n * n, 31), rows: n, cols: n };
      const b = { data: gaussian(n * n, 32), rows: n, cols: n };
      const expected = jsMatmul(a, b);
      const reusesBefore = stats()[3]!;
      for (let round = 0; round < 50 && stats()[3] === reusesBefore; round++) {
        const p = await engine.matmul(a, b);
        assert.ok(relErr(p, expected) < 1e-12, `product ${round}`);
        gc();
        await new Promise((r) => setImmediate(r)); // (finalizers)
      }
      assert.ok(stats()[3]! > reusesBefore, 'a collected output block was handed out again');
      // a reused (dirty) block serves an output the operation zeroes first, and an eigendecomposition
      const g = spd(n, 33);
      const native = await engine.decompose!('eig', Float64Array.from(g), n);
      const js = decompose('eig', Float64Array.from(g), n);
      assert.ok(relErr(native.subarray(0, n), js.subarray(0, n)) < 1e-9, 'eigenvalues');
      assert.ok(relErr(await engine.matmul(a, b), expected) < 1e-12, 'product after reuse');
    } finally {
      release();
      release(); // (once only)
      await engine.dispose();
    }
    const [users, blocks, bytes] = stats();
    assert.equal(users, usersBefore, 'the user gone');
    if (users === 0) assert.deepEqual([blocks, bytes], [0, 0], 'no block kept without a user');
  });

  it('limiter runs at most its size at a time, in order', async () => {
    const run = limiter(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((resolve) => setImmediate(resolve));
          order.push(i);
          active--;
        }),
      ),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
  });
});
