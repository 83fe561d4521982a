// Small dense linear-algebra kernels on row-major Float64Arrays: products for the JS fallback engine
// and a symmetric eigensolver for the per-representation and per-pair decompositions.
//
// Hand-written rather than ml-matrix's (#16 item 7; ml-matrix 6.15.1 measured on this 2-core machine
// at load ~15-20, 500 x 500 SPD matrices, CPU milliseconds): eigenvalues only 154 here vs 1145 through
// ml-matrix's EigenvalueDecomposition, which always accumulates the eigenvectors (7.4x); with
// eigenvectors 650 vs 1158 (1.8x); the inverse Cholesky factor 82 vs 126 (ml-matrix's
// CholeskyDecomposition plus the triangular inverse it lacks, 1.5x). The whole JS fallback,
// REPDYN_NATIVE=0 CCA_BENCH_CHECKPOINTS=2 CCA_BENCH_FULL_ONLY=1 npm run bench:cca: 85.9 s (23.2 CPU s)
// with these routines, 232.1 s (60.0 CPU s) with ml-matrix's in the decomposition workers. ml-matrix
// is slower than 1.5x everywhere it could serve, so it does not; it is the independent reference these
// routines are tested against (test/core/cca/linalg-reference.test.ts).

import type { Matrix2D } from './matrix.ts';

/** Rows of a^T b: a [k, m], b [k, n] -> [m, n]. Plain loops, blocked so a slab of the output stays in cache. */
export function jsMatmulTN(a: Matrix2D, b: Matrix2D): Float64Array {
  if (a.rows !== b.rows) throw new Error(`matmulTN: ${a.rows}x${a.cols}^T times ${b.rows}x${b.cols}`);
  const k = a.rows;
  const m = a.cols;
  const n = b.cols;
  const A = a.data;
  const B = b.data;
  const out = new Float64Array(m * n);
  // ~256 KiB of output rows per slab.
  const slab = Math.max(1, Math.floor(32768 / Math.max(1, n)));
  for (let i0 = 0; i0 < m; i0 += slab) {
    const i1 = Math.min(m, i0 + slab);
    for (let p = 0; p < k; p++) {
      const ao = p * m;
      const bo = p * n;
      for (let i = i0; i < i1; i++) {
        const av = A[ao + i]!;
        if (av === 0) continue;
        const oo = i * n;
        for (let j = 0; j < n; j++) out[oo + j]! += av * B[bo + j]!;
      }
    }
  }
  return out;
}

/** a b: a [m, k], b [k, n] -> [m, n]. */
export function jsMatmul(a: Matrix2D, b: Matrix2D): Float64Array {
  if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
  const m = a.rows;
  const k = a.cols;
  const n = b.cols;
  const A = a.data;
  const B = b.data;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const oo = i * n;
    for (let p = 0; p < k; p++) {
      const av = A[i * k + p]!;
      if (av === 0) continue;
      const bo = p * n;
      for (let j = 0; j < n; j++) out[oo + j]! += av * B[bo + j]!;
    }
  }
  return out;
}

/** Transpose of a row-major [rows, cols] array -> [cols, rows]. */
export function transpose(data: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const io = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[io + j]!;
  }
  return out;
}

export interface SymEig {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Eigenvectors as rows ([n, n], row i belongs to values[i]); only when requested. */
  vectors?: Float64Array;
}

/**
 * Eigen-decomposition of a symmetric n x n matrix (row-major; only read, never modified):
 * Householder tridiagonalisation and implicit QL (EISPACK tred2/tql2, as in JAMA and ml-matrix),
 * on flat arrays and with the eigenvector accumulation skipped when only values are wanted.
 * Backward stable: eigenvalues carry absolute errors of order 1e-16 x ||a||_2.
 */
export function symEig(a: Float64Array, n: number, wantVectors: boolean): SymEig {
  if (n === 0) return { values: new Float64Array(0), vectors: wantVectors ? new Float64Array(0) : undefined };
  // V is kept transposed relative to JAMA (v[r * n + c] = JAMA's V[c][r]) so the hot loops run along rows.
  const v = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(n, v, d, e, wantVectors);
  tql2(n, v, d, e, wantVectors);
  // tql2 leaves the values ascending; return them (and the rows of v) descending.
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = d[n - 1 - i]!;
  if (!wantVectors) return { values };
  const vectors = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vectors.set(v.subarray((n - 1 - i) * n, (n - i) * n), i * n);
  return { values, vectors };
}

function tred2(n: number, v: Float64Array, d: Float64Array, e: Float64Array, wantVectors: boolean): void {
  for (let j = 0; j < n; j++) d[j] = v[j * n + n - 1]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = v[j * n + i - 1]!;
        v[j * n + i] = 0;
        v[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        v[i * n + j] = f;
        const jo = j * n;
        g = e[j]! + v[jo + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const vjk = v[jo + k]!;
          g += vjk * d[k]!;
          e[k]! += vjk * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        const jo = j * n;
        for (let k = j; k <= i - 1; k++) v[jo + k]! -= f * e[k]! + g * d[k]!;
        d[j] = v[jo + i - 1]!;
        v[jo + i] = 0;
      }
    }
    d[i] = h;
  }

  if (!wantVectors) {
    // The diagonal of the tridiagonal matrix sits on v's diagonal; the accumulation below would
    // only copy it through column n-1.
    for (let j = 0; j < n; j++) d[j] = v[j * n + j]!;
    e[0] = 0;
    return;
  }
  for (let i = 0; i < n - 1; i++) {
    v[i * n + n - 1] = v[i * n + i]!;
    v[i * n + i] = 1;
    const h = d[i + 1]!;
    const ro = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[ro + k]! / h;
      for (let j = 0; j <= i; j++) {
        const jo = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[ro + k]! * v[jo + k]!;
        for (let k = 0; k <= i; k++) v[jo + k]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) v[ro + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[j * n + n - 1]!;
    v[j * n + n - 1] = 0;
  }
  v[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

function tql2(n: number, v: Float64Array, d: Float64Array, e: Float64Array, wantVectors: boolean): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = Number.EPSILON;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) throw new Error('symEig: QL iteration did not converge');
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          if (wantVectors) {
            const io = i * n;
            const jo = io + n;
            for (let k = 0; k < n; k++) {
              const t = v[jo + k]!;
              v[jo + k] = s * v[io + k]! + c * t;
              v[io + k] = c * v[io + k]! - s * t;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l]! += f;
    e[l] = 0;
  }
  // Selection sort, ascending (moving eigenvector rows along).
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      if (wantVectors) {
        for (let j = 0; j < n; j++) {
          const t = v[i * n + j]!;
          v[i * n + j] = v[k * n + j]!;
          v[k * n + j] = t;
        }
      }
    }
  }
}

/**
 * Inverse of the Cholesky factor of a symmetric positive definite n x n matrix g (row-major; only
 * read): g = R^T R with R upper triangular, returns X = R^-1 (upper triangular, row-major [n, n]),
 * or null when a pivot is not positive (g is not numerically positive definite). n^3 / 3 + n^3 / 3
 * multiply-adds along rows.
 */
export function choleskyInverse(g: Float64Array, n: number): Float64Array | null {
  const r = Float64Array.from(g);
  for (let k = 0; k < n; k++) {
    const ko = k * n;
    const d = r[ko + k]!;
    if (!(d > 0)) return null;
    const rkk = Math.sqrt(d);
    r[ko + k] = rkk;
    const inv = 1 / rkk;
    for (let j = k + 1; j < n; j++) r[ko + j]! *= inv;
    for (let i = k + 1; i < n; i++) {
      const f = r[ko + i]!;
      if (f === 0) continue;
      const io = i * n;
      for (let j = i; j < n; j++) r[io + j]! -= f * r[ko + j]!;
    }
  }
  // X = R^-1, row i: (e_i - sum_{k > i} R[i, k] X[k, :]) / R[i, i], bottom row first.
  const x = new Float64Array(n * n);
  for (let i = n - 1; i >= 0; i--) {
    const io = i * n;
    x[io + i] = 1;
    for (let k = i + 1; k < n; k++) {
      const f = r[io + k]!;
      if (f === 0) continue;
      const ko = k * n;
      for (let j = k; j < n; j++) x[io + j]! -= f * x[ko + j]!;
    }
    const inv = 1 / r[io + i]!;
    for (let j = i; j < n; j++) x[io + j]! *= inv;
  }
  return x;
}

export type DecompositionKind = 'eig' | 'eigvals' | 'cholinv';

/**
 * The decompositions of the similarity engine, of the symmetric a [n, n] (only read), packed in one
 * array: 'eig' = symEig's values (n, descending) then its vectors (n x n, rows); 'eigvals' = the
 * values only; 'cholinv' = choleskyInverse(a), an empty array standing for null.
 */
export function decompose(kind: DecompositionKind, a: Float64Array, n: number): Float64Array {
  if (kind === 'cholinv') return choleskyInverse(a, n) ?? new Float64Array(0);
  const { values, vectors } = symEig(a, n, kind === 'eig');
  if (kind === 'eigvals') return values;
  const out = new Float64Array(n + n * n);
  out.set(values);
  out.set(vectors!, n);
  return out;
}
