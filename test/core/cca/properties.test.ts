// Mathematical properties of the measures, on seeded random data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  randomBaseline,
  SimilarityError,
  type SimilarityMethod,
  type SimilarityResult,
  similarity,
} from '../../../core/cca/index.ts';
import { prepareSteps, resolveOptions, runSync } from '../../../core/cca/similarity.ts';
import { affine, assertClose, randomMatrix, related, scaled } from './helpers.ts';

const x = randomMatrix(600, 20, 1);
const y = related(x, 30, 0.5, 2);

function assertSame(a: SimilarityResult, b: SimilarityResult, tol: number, what: string): void {
  assert.deepEqual(a.ranks, b.ranks, `${what}: ranks`);
  assert.equal(a.cca.length, b.cca.length);
  for (let i = 0; i < a.cca.length; i++) assertClose(a.cca[i]!, b.cca[i]!, tol, `${what}: cca[${i}]`);
  assertClose(a.rho, b.rho, tol, `${what}: rho`);
  assertClose(a.svcca!.rho, b.svcca!.rho, tol, `${what}: svcca rho`);
  assertClose(a.pwcca!, b.pwcca!, tol, `${what}: pwcca`);
}

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof SimilarityError && err.code === code && message.test(err.message),
  );
}

describe('similarity properties', () => {
  const base = similarity(x, y);

  it('returns descending coefficients in [0, 1] and consistent summaries', () => {
    assert.equal(base.cca.length, 20);
    for (let i = 0; i < base.cca.length; i++) {
      assert.ok(base.cca[i]! >= 0 && base.cca[i]! <= 1);
      if (i > 0) assert.ok(base.cca[i]! <= base.cca[i - 1]!);
    }
    const mean = base.cca.reduce((s, c) => s + c, 0) / base.cca.length;
    assertClose(base.mean, mean, 1e-15, 'mean');
    assert.ok(base.rho >= base.mean && base.rho <= 1);
    assert.ok(base.cka! > 0 && base.cka! < 1);
    assert.deepEqual(base.warnings, []);
  });

  it('is unchanged by invertible affine maps of either side (coefficients and rho)', () => {
    const r = similarity(affine(x, 11), affine(y, 12));
    assert.deepEqual(r.ranks, base.ranks);
    for (let i = 0; i < r.cca.length; i++) assertClose(r.cca[i]!, base.cca[i]!, 1e-9, `cca[${i}]`);
    assertClose(r.rho, base.rho, 1e-9, 'rho');
  });

  it('is unchanged by units (x 1e6, x 1e-6), for every measure', () => {
    assertSame(similarity(scaled(x, 1e6), scaled(y, 1e-6)), base, 1e-12, 'units');
    assertClose(similarity(scaled(x, 1e6), y).cka!, base.cka!, 1e-12, 'cka');
  });

  it('has symmetric rho and CKA', () => {
    const r = similarity(y, x);
    assertClose(r.rho, base.rho, 1e-12, 'rho');
    assertClose(r.cka!, base.cka!, 1e-12, 'cka');
    assert.deepEqual(r.ranks, [base.ranks[1], base.ranks[0]]);
  });

  it('never mutates its inputs (float32 and float64)', () => {
    const x32 = { data: Float32Array.from(x.data), rows: x.rows, cols: x.cols };
    const copies = [Float64Array.from(y.data), Float32Array.from(x32.data)] as const;
    similarity(x32, y);
    assert.deepEqual(y.data, copies[0]);
    assert.deepEqual(x32.data, copies[1]);
  });

  it('gives 1 for a layer against itself and a CKA of 1', () => {
    const r = similarity(x, x);
    assertClose(r.rho, 1, 1e-12, 'rho');
    assertClose(r.cka!, 1, 1e-12, 'cka');
    assertClose(r.pwcca!, 1, 1e-12, 'pwcca');
  });

  it('drops constant and duplicated neurons from the rank', () => {
    const cols = 8;
    const data = new Float64Array(x.rows * cols);
    for (let i = 0; i < x.rows; i++) {
      for (let j = 0; j < 5; j++) data[i * cols + j] = x.data[i * x.cols + j]!;
      data[i * cols + 5] = 0.1; // constant (not exactly representable: centring must not leave noise)
      data[i * cols + 6] = data[i * cols + 1]!; // duplicate
      data[i * cols + 7] = data[i * cols + 2]! - 2 * data[i * cols + 3]!; // linear combination
    }
    const r = similarity({ data, rows: x.rows, cols }, y);
    assert.equal(r.ranks[0], 5);
  });

  it('treats a constant layer as rank 0 with zero similarity, never NaN', () => {
    const constant = { data: new Float64Array(x.rows * 3).fill(2.5), rows: x.rows, cols: 3 };
    const r = similarity(constant, y);
    assert.deepEqual(r.ranks, [0, 30]);
    assert.equal(r.cca.length, 0);
    assert.equal(r.rho, 0);
    assert.equal(r.mean, 0);
    assert.equal(r.cka, 0);
    assert.equal(r.pwcca, 0);
    assert.ok(r.warnings.some((w) => w.startsWith('constant-layer')));
  });

  it('honours methods and svccaDims', () => {
    const r = similarity(x, y, { methods: ['cca'] });
    assert.equal(r.svcca, null);
    assert.equal(r.pwcca, null);
    assert.equal(r.cka, null);
    assert.deepEqual(similarity(x, y, { svccaDims: 4 }).svcca!.dims, [4, 4]);
    const fast = similarity(x, y, { spectrum: 'rho' });
    assertClose(fast.rho, base.rho, 1e-12, 'rho without the spectrum');
    assertClose(fast.cka!, base.cka!, 1e-12, 'cka without the spectrum');
    assert.equal(fast.cca.length, 0);
    assert.equal(fast.svcca, null);
  });

  it('gives the same values without SVCCA (Cholesky whitening of the y side)', () => {
    const r = similarity(x, y, { methods: ['cca', 'pwcca', 'cka'] });
    assertClose(r.mean, base.mean, 1e-12, 'mean');
    assertClose(r.cka!, base.cka!, 1e-12, 'cka');
    assertSame({ ...r, svcca: base.svcca }, base, 1e-12, 'no svcca');
    const swapped = similarity(y, x, { methods: ['cca', 'pwcca'] });
    for (let i = 0; i < base.cca.length; i++)
      assertClose(swapped.cca[i]!, base.cca[i]!, 1e-12, `swapped cca[${i}]`);
    // Rank-deficient and nearly rank-deficient y sides fall back to the eigendecomposition.
    const cols = 8;
    const data = new Float64Array(x.rows * cols);
    for (let i = 0; i < x.rows; i++) {
      for (let j = 0; j < 5; j++) data[i * cols + j] = x.data[i * x.cols + j]!;
      data[i * cols + 5] = data[i * cols + 0]! + 1e-9 * x.data[i * x.cols + 7]!; // singular value ~1e-9
      data[i * cols + 6] = data[i * cols + 1]!; // duplicate
      data[i * cols + 7] = data[i * cols + 2]! - 2 * data[i * cols + 3]! + 1e-12 * x.data[i * x.cols + 9]!;
    }
    const deficient = { data, rows: x.rows, cols };
    // Which path ran: the Cholesky one leaves sigma2 empty.
    const prepared = (m: typeof x, methods: SimilarityMethod[]) =>
      runSync(prepareSteps(m, 'y', 'y', resolveOptions({ methods })));
    assert.equal(prepared(y, ['cca', 'cka']).sigma2.length, 0, 'Cholesky whitening');
    assert.equal(prepared(y, ['cca', 'svcca']).sigma2.length, 30, 'principal whitening for SVCCA');
    assert.equal(prepared(deficient, ['cca', 'cka']).sigma2.length, 6, 'fallback when rank-deficient');
    for (const epsilon of [1e-10, 1e-6]) {
      const full = similarity(x, deficient, { epsilon });
      const fast = similarity(x, deficient, { epsilon, methods: ['cca', 'pwcca', 'cka'] });
      assert.deepEqual(fast.ranks, full.ranks, `epsilon ${epsilon}: ranks`);
      assert.deepEqual(full.ranks, [20, epsilon === 1e-10 ? 6 : 5]);
      for (let i = 0; i < full.cca.length; i++)
        assertClose(fast.cca[i]!, full.cca[i]!, 1e-9, `epsilon ${epsilon}: cca[${i}]`);
      assertClose(fast.pwcca!, full.pwcca!, 1e-9, `epsilon ${epsilon}: pwcca`);
      assertClose(fast.cka!, full.cka!, 1e-9, `epsilon ${epsilon}: cka`);
    }
  });

  it('warns about few samples and its random baseline is far from 0', () => {
    const r = randomBaseline(120, 40, 40, { seed: 3 });
    assert.ok(r.warnings.some((w) => w.startsWith('few-samples')));
    assert.ok(r.rho > 0.5, `baseline rho ${r.rho}`);
    assert.deepEqual(randomBaseline(120, 40, 40, { seed: 3 }).cca, r.cca);
    assert.ok(randomBaseline(5000, 10, 10, { seed: 3 }).rho < 0.1);
  });

  it('rejects too few samples, mismatched samples and non-finite values', () => {
    expectError(
      () => similarity(randomMatrix(1, 3, 1), randomMatrix(1, 3, 2)),
      'TOO_FEW_SAMPLES',
      /at least 2/,
    );
    expectError(
      () => similarity(randomMatrix(10, 3, 1), randomMatrix(11, 3, 2)),
      'SAMPLE_MISMATCH',
      /10 .* 11/,
    );
    const bad = randomMatrix(10, 3, 1);
    bad.data[7] = Number.NaN;
    expectError(
      () => similarity(randomMatrix(10, 3, 1), bad),
      'NON_FINITE',
      /^y contains NaN at sample 2, neuron 1$/,
    );
    bad.data[7] = Number.POSITIVE_INFINITY;
    expectError(() => similarity(bad, randomMatrix(10, 3, 1)), 'NON_FINITE', /^x contains Infinity/);
  });
});
