// The hand-written JS decompositions (core/cca/linalg.ts, the fallback when the native LAPACK addon is
// missing) checked against an independent implementation: ml-matrix's eigenvalue and Cholesky
// decompositions. ml-matrix is the reference, not the engine: it measured 1.5-7.4x slower (linalg.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CholeskyDecomposition, EigenvalueDecomposition, inverse, Matrix } from 'ml-matrix';
import { choleskyInverse, symEig } from '../../../core/cca/linalg.ts';
import { gaussian } from '../../../core/cca/similarity.ts';

/** A seeded symmetric positive definite n x n matrix (X^T X / m + 0.01 I), row-major. */
function spd(n: number, seed: number): Float64Array {
  const m = n + 7;
  const x = gaussian(m * n, seed);
  const g = new Float64Array(n * n);
  for (let p = 0; p < m; p++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) g[i * n + j]! += (x[p * n + i]! * x[p * n + j]!) / m;
  for (let i = 0; i < n; i++) g[i * n + i]! += 0.01;
  return g;
}

const toMatrix = (a: Float64Array, n: number) =>
  new Matrix(Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n))));

describe('JS decompositions against ml-matrix', () => {
  for (const n of [1, 7, 60, 180]) {
    it(`symEig: the same eigenvalues and eigenvectors (n = ${n})`, () => {
      const a = spd(n, 100 + n);
      const mine = symEig(a, n, true);
      const ref = new EigenvalueDecomposition(toMatrix(a, n), { assumeSymmetric: true });
      const refValues = [...ref.realEigenvalues].sort((p, q) => p - q);
      const values = [...mine.values].sort((p, q) => p - q);
      const scale = Math.max(...refValues.map(Math.abs));
      for (let k = 0; k < n; k++)
        assert.ok(Math.abs(values[k]! - refValues[k]!) <= 1e-12 * scale, `value ${k}`);
      // each eigenvector: A v = lambda v, unit length (the basis of a repeated eigenvalue is not unique)
      for (let k = 0; k < n; k++) {
        const v = mine.vectors!.subarray(k * n, (k + 1) * n);
        let norm = 0;
        for (let i = 0; i < n; i++) norm += v[i]! * v[i]!;
        assert.ok(Math.abs(norm - 1) < 1e-12, `vector ${k} norm ${norm}`);
        for (let i = 0; i < n; i++) {
          let av = 0;
          for (let j = 0; j < n; j++) av += a[i * n + j]! * v[j]!;
          assert.ok(Math.abs(av - mine.values[k]! * v[i]!) <= 1e-11 * scale, `A v = lambda v, vector ${k}`);
        }
      }
    });

    it(`choleskyInverse: the inverse of ml-matrix's Cholesky factor (n = ${n})`, () => {
      const g = spd(n, 300 + n);
      const x = choleskyInverse(g, n);
      assert.ok(x);
      // ml-matrix: g = L L^T (L lower), so R = L^T and the factor's inverse is (L^T)^-1
      const l = new CholeskyDecomposition(toMatrix(g, n)).lowerTriangularMatrix;
      const rInv = inverse(l.transpose());
      let worst = 0;
      let size = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          worst = Math.max(worst, Math.abs(x[i * n + j]! - rInv.get(i, j)));
          size = Math.max(size, Math.abs(rInv.get(i, j)));
        }
      assert.ok(worst <= 1e-9 * size, `max difference ${worst} (entries up to ${size})`);
    });
  }

  it('choleskyInverse refuses a matrix that is not positive definite, as ml-matrix does', () => {
    const g = Float64Array.of(1, 2, 2, 1);
    assert.equal(choleskyInverse(g, 2), null);
    assert.equal(new CholeskyDecomposition(toMatrix(g, 2)).isPositiveDefinite(), false);
  });
});
