// CCA, SVCCA, PWCCA and linear CKA between two layer representations (see the golden README,
// ../shared/fixtures/cca-golden/README.md, for the exact definitions followed here).
//
// Shapes: a representation is acts [n samples, d neurons]. Per representation ("prepare", done once):
//   Xc   = acts with centred columns, constant columns dropped              [n, dl]
//   G    = Xc^T Xc (the big product, on the GEMM engine)                     [dl, dl]
//   W    = whitening factor, Q = Xc W has orthonormal columns that are the   [dl, r]
//          left singular vectors of Xc, in descending singular value order
//   s2   = squared singular values of Xc for those directions               [r]
// Per pair (x, y): M = Qx^T Yc [rx, dy] (GEMM), B = M Wy = Qx^T Qy [rx, ry]; the CCA coefficients are
// the singular values of B, SVCCA uses B's top-left [kx, ky] block, CKA's numerator is
// ||Xc^T Yc||_F^2 = sum_i s2x_i ||M_i||^2 (Xc = Qx diag(s) Vx^T).
//
// Rank: directions whose singular value is below epsilon x the largest are dropped. The Gram matrix
// resolves singular values only down to ~1e-8 of the largest (its eigenvalues carry absolute errors of
// ~1e-16 x the largest), so eigen-directions below AMBIGUOUS x the largest eigenvalue are re-measured on
// the data itself: they are projected out of the well-resolved directions and decomposed again, which
// resolves singular values down to ~1e-14 of the largest. Exactly constant columns are removed first.

import { baselineSeed, gaussian } from '../data/random.ts';
import { type DecompositionKind, decompose, jsMatmul, jsMatmulTN, transpose } from './linalg.ts';
import type { Matrix2D } from './matrix.ts';

export type SimilarityMethod = 'cca' | 'svcca' | 'pwcca' | 'cka';
export const ALL_METHODS: readonly SimilarityMethod[] = ['cca', 'svcca', 'pwcca', 'cka'];

export interface SimilarityOptions {
  /** Rank tolerance: drop directions with singular value < epsilon x the largest. Default 1e-10. */
  epsilon?: number;
  /** SVCCA keeps the fewest top directions whose squared singular values reach this share. Default 0.99. */
  svccaThreshold?: number;
  /** SVCCA keeps exactly this many top directions per side (capped by the rank) instead of a threshold. */
  svccaDims?: number;
  /** Which measures to compute. Default: all. CCA coefficients, rho and mean are always computed. */
  methods?: SimilarityMethod[];
  /**
   * 'full' (default): all coefficients. 'rho': only rho = ||Qx^T Qy||_F / sqrt(m), without the
   * per-pair decomposition; cca is then empty, mean is NaN and svcca/pwcca are null.
   */
  spectrum?: 'full' | 'rho';
}

export interface SvccaResult {
  rho: number;
  mean: number;
  /** Directions kept for x and y. */
  dims: [number, number];
  cca?: Float64Array;
}

export interface SimilarityResult {
  /** CCA coefficients, descending, clipped to [0, 1]; one per dimension of the smaller rank. */
  cca: Float64Array;
  /** sqrt(mean(cca^2)); 0 when a side has rank 0. */
  rho: number;
  /** mean(cca); 0 when a side has rank 0. */
  mean: number;
  svcca: SvccaResult | null;
  pwcca: number | null;
  cka: number | null;
  /** Ranks kept for x and y. */
  ranks: [number, number];
  warnings: string[];
}

export type SimilarityErrorCode = 'TOO_FEW_SAMPLES' | 'SAMPLE_MISMATCH' | 'NON_FINITE' | 'BAD_INPUT';

export class SimilarityError extends Error {
  readonly code: SimilarityErrorCode;
  constructor(code: SimilarityErrorCode, message: string) {
    super(message);
    this.name = 'SimilarityError';
    this.code = code;
  }
}

/** Eigen-directions of G below this fraction of its largest eigenvalue are re-measured on the data. */
const AMBIGUOUS = 1e-8;

// --- product requests: one algorithm, run synchronously (JS) or on an async GEMM engine ----------------

/** A product the algorithm needs: 'tn' = a^T b, 'nn' = a b, 'gram' = a^T a (b is a). */
export interface ProductRequest {
  kind: 'tn' | 'nn' | 'gram';
  a: Matrix2D;
  b: Matrix2D;
}
/**
 * A JS decomposition the algorithm needs, of the symmetric a [n, n] (not used by the algorithm
 * afterwards); see decompose() for the packed results.
 */
export interface DecompositionRequest {
  kind: DecompositionKind;
  a: Matrix2D;
}
/**
 * Column statistics of a raw representation a [n, d] ('colstats': columnStats()) or its centred live
 * columns scaled by a power of two ('centre': (a[:, keep] - mean) * scale, [n, keep.length]).
 */
export type CentringRequest =
  | { kind: 'colstats'; a: Matrix2D }
  | { kind: 'centre'; a: Matrix2D; keep: Int32Array; mean: Float64Array; scale: number };
/**
 * The eigendecomposition of the Gram matrix of a [p, q]'s smaller side (a a^T [p, p] when p <= q, else
 * a^T a [q, q]), packed as decompose()'s 'eig' (vectors) or 'eigvals': the squared singular values of a
 * (and its singular vectors on the smaller side). One engine call where the engine fuses it (native:
 * dsyrk + dsyevd), else a Gram product and a decomposition (gramEigSteps).
 */
export interface SpectrumRequest {
  kind: 'gramEig';
  a: Matrix2D;
  vectors: boolean;
}
export type StepRequest = ProductRequest | DecompositionRequest | CentringRequest | SpectrumRequest;
export type StepKind = StepRequest['kind'];
export type Steps<T> = Generator<StepRequest, T, Float64Array>;

/** SpectrumRequest as two steps: the smaller side's Gram (a product) and its decomposition. */
export function* gramEigSteps(a: Matrix2D, vectors: boolean): Steps<Float64Array> {
  const { rows: p, cols: q } = a;
  const small = Math.min(p, q);
  const side = p <= q ? mat(transpose(a.data as Float64Array, p, q), q, p) : a; // Gram = side^T side
  const gram = yield { kind: 'gram', a: side, b: side };
  symmetrise(gram, small);
  return yield { kind: vectors ? 'eig' : 'eigvals', a: mat(gram, small, small) };
}

export function runSync<T>(steps: Steps<T>): T {
  let step = steps.next();
  while (!step.done) {
    const r = step.value;
    let out: Float64Array;
    if (r.kind === 'tn' || r.kind === 'gram') out = jsMatmulTN(r.a, r.b);
    else if (r.kind === 'nn') out = jsMatmul(r.a, r.b);
    else if (r.kind === 'colstats') out = columnStats(r.a);
    else if (r.kind === 'centre') out = centreColumns(r.a, r.keep, r.mean, r.scale);
    else if (r.kind === 'gramEig') out = runSync(gramEigSteps(r.a, r.vectors));
    else out = decompose(r.kind, r.a.data as Float64Array, r.a.rows);
    step = steps.next(out);
  }
  return step.value;
}

export interface ProductEngine {
  /** a^T b: a [k, m], b [k, n] -> [m, n] row-major, accumulated in float64 unless the engine says otherwise. */
  matmulTN(a: Matrix2D, b: Matrix2D): Promise<Float64Array>;
  /** a b: a [m, k], b [k, n] -> [m, n] row-major. */
  matmul(a: Matrix2D, b: Matrix2D): Promise<Float64Array>;
  /** a^T a (symmetric, both triangles), when cheaper than matmulTN(a, a) (which runs when absent). */
  gram?(a: Matrix2D): Promise<Float64Array>;
  /** decompose() of linalg.ts (same packed results) elsewhere (LAPACK, a worker thread); in place when absent. */
  decompose?(kind: DecompositionKind, a: Float64Array, n: number): Promise<Float64Array>;
  /** A SpectrumRequest (smaller-side Gram of a, then its eigendecomposition) in one call; gramEigSteps() when absent. */
  gramEig?(a: Matrix2D, vectors: boolean): Promise<Float64Array>;
  /** columnStats() / centreColumns() elsewhere, bit for bit; computed in place when absent. */
  columnStats?(a: Matrix2D): Promise<Float64Array>;
  centreColumns?(a: Matrix2D, keep: Int32Array, mean: Float64Array, scale: number): Promise<Float64Array>;
}

/**
 * Runs the steps on `engine`. `observe`, when given, hears how long each synchronous stretch of the
 * algorithm took on this thread (seconds), with the kind of the step whose result it processed
 * ('start' before the first step).
 */
export async function runAsync<T>(
  steps: Steps<T>,
  engine: ProductEngine,
  observe?: (after: StepKind | 'start', seconds: number) => void,
): Promise<T> {
  let t0 = observe ? performance.now() : 0;
  let step = steps.next();
  let last: StepKind | 'start' = 'start';
  while (!step.done) {
    if (observe) observe(last, (performance.now() - t0) / 1000);
    const r = step.value;
    let out: Float64Array;
    if (r.kind === 'tn') out = await engine.matmulTN(r.a, r.b);
    else if (r.kind === 'gram') out = engine.gram ? await engine.gram(r.a) : await engine.matmulTN(r.a, r.a);
    else if (r.kind === 'colstats')
      out = engine.columnStats ? await engine.columnStats(r.a) : columnStats(r.a);
    else if (r.kind === 'centre') {
      out = engine.centreColumns
        ? await engine.centreColumns(r.a, r.keep, r.mean, r.scale)
        : centreColumns(r.a, r.keep, r.mean, r.scale);
    } else if (r.kind === 'nn') out = await engine.matmul(r.a, r.b);
    else if (r.kind === 'gramEig') {
      out = engine.gramEig
        ? await engine.gramEig(r.a, r.vectors)
        : await runAsync(gramEigSteps(r.a, r.vectors), engine, observe);
    } else {
      const a = r.a.data as Float64Array;
      out = engine.decompose ? await engine.decompose(r.kind, a, r.a.rows) : decompose(r.kind, a, r.a.rows);
    }
    last = r.kind;
    if (observe) t0 = performance.now();
    step = steps.next(out);
  }
  if (observe) observe(last, (performance.now() - t0) / 1000);
  return step.value;
}

const mat = (data: Float64Array, rows: number, cols: number): Matrix2D => ({ data, rows, cols });

// --- options ---------------------------------------------------------------------------------------------

export interface ResolvedOptions {
  epsilon: number;
  svccaThreshold: number;
  svccaDims: number | undefined;
  methods: ReadonlySet<SimilarityMethod>;
  spectrum: 'full' | 'rho';
}

export function resolveOptions(options: SimilarityOptions = {}): ResolvedOptions {
  const {
    epsilon = 1e-10,
    svccaThreshold = 0.99,
    svccaDims,
    methods = ALL_METHODS,
    spectrum = 'full',
  } = options;
  if (!(epsilon >= 0 && epsilon < 1))
    throw new SimilarityError('BAD_INPUT', `epsilon must be in [0, 1): ${epsilon}`);
  if (!(svccaThreshold > 0 && svccaThreshold <= 1)) {
    throw new SimilarityError('BAD_INPUT', `svccaThreshold must be in (0, 1]: ${svccaThreshold}`);
  }
  if (svccaDims !== undefined && !(Number.isInteger(svccaDims) && svccaDims > 0)) {
    throw new SimilarityError('BAD_INPUT', `svccaDims must be a positive integer: ${svccaDims}`);
  }
  for (const m of methods) {
    if (!ALL_METHODS.includes(m)) throw new SimilarityError('BAD_INPUT', `unknown method '${m}'`);
  }
  const chosen = new Set(methods);
  if (spectrum === 'rho') {
    chosen.delete('svcca');
    chosen.delete('pwcca');
  }
  return { epsilon, svccaThreshold, svccaDims, methods: chosen, spectrum };
}

// --- per-representation work -----------------------------------------------------------------------------

/** Everything about one representation that does not depend on the other side. */
export interface PreparedRepresentation {
  samples: number;
  width: number;
  /** Columns that are not constant (the others are exactly zero once centred). */
  live: number;
  rank: number;
  /** Centred live columns [samples, live]; kept only when the representation is the y side of pairs. */
  centred: Float64Array | null;
  /** Orthonormal basis Q = Xc W [samples, rank]; kept only when it is the x side of pairs. */
  basis: Float64Array | null;
  /** W [live, rank]. */
  whitening: Float64Array;
  /** W is upper triangular (R^-1 of the Cholesky factor; rank = live). */
  whiteningUpper?: boolean;
  /**
   * Squared singular values s2 [rank], descending, for the principal whitening; empty when the y side
   * was whitened through its Cholesky factor (no SVCCA requested).
   */
  sigma2: Float64Array;
  /** ||Xc^T Xc||_F, the CKA normaliser. */
  gramNorm: number;
  /** Q^T Xc = W^T G [rank, live]: how much of each neuron each direction carries (for PWCCA). */
  loadings: Float64Array | null;
  /** Directions SVCCA keeps (a prefix of the basis). */
  svccaDims: number;
}

export type Role = 'x' | 'y';

function validateShape(m: Matrix2D, label: string): void {
  const { data, rows, cols } = m;
  if (
    !Number.isInteger(rows) ||
    !Number.isInteger(cols) ||
    rows < 0 ||
    cols < 0 ||
    data.length !== rows * cols
  ) {
    throw new SimilarityError(
      'BAD_INPUT',
      `${label}: ${data.length} values do not form a ${rows}x${cols} matrix`,
    );
  }
  if (rows < 2)
    throw new SimilarityError('TOO_FEW_SAMPLES', `${label}: need at least 2 samples, got ${rows}`);
}

/** Throws NON_FINITE naming the first NaN or infinite value, if there is one. */
function validateValues(m: Matrix2D, label: string): void {
  const { data, cols } = m;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      const what = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
      throw new SimilarityError(
        'NON_FINITE',
        `${label} contains ${what} at sample ${Math.floor(i / cols)}, neuron ${i % cols}`,
      );
    }
  }
}

/**
 * Per column of m [n, d], [4d]: the sums (in row order), "varies" flags (1: some value differs from
 * the first row's), the smallest and the largest values (NaN-free only when the sums are finite).
 */
export function columnStats(m: Matrix2D): Float64Array {
  const { data, rows: n, cols: d } = m;
  const out = new Float64Array(4 * d);
  for (let j = 0; j < d; j++) {
    out[j] = data[j]!;
    out[2 * d + j] = data[j]!;
    out[3 * d + j] = data[j]!;
  }
  for (let i = 1; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) {
      const v = data[o + j]!;
      out[j]! += v;
      if (v !== data[j]) out[d + j] = 1;
      if (v < out[2 * d + j]!) out[2 * d + j] = v;
      if (v > out[3 * d + j]!) out[3 * d + j] = v;
    }
  }
  return out;
}

/** (m[:, keep] - mean) * scale, [n, keep.length] (scale a power of two: exact). */
export function centreColumns(m: Matrix2D, keep: Int32Array, mean: Float64Array, scale = 1): Float64Array {
  const { data, rows: n, cols: d } = m;
  const live = keep.length;
  const centred = new Float64Array(n * live);
  if (live === d) {
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) centred[o + j] = data[o + j]! - mean[j]!;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const o = i * d;
      const c = i * live;
      for (let j = 0; j < live; j++) centred[c + j] = data[o + keep[j]!]! - mean[j]!;
    }
  }
  if (scale !== 1) for (let i = 0; i < centred.length; i++) centred[i]! *= scale;
  return centred;
}

/**
 * The largest |x - mean_j| of the kept columns, from their extremes in `stats` (columnStats): the
 * rounded difference is monotone in x, so it is the centred data's largest magnitude bit for bit.
 * NaN when stats has no extremes (a native addon built before they were added).
 */
function centredMaxAbs(stats: Float64Array, d: number, keep: Int32Array, mean: Float64Array): number {
  if (stats.length < 4 * d) return Number.NaN;
  let m = 0;
  for (let k = 0; k < keep.length; k++) {
    const j = keep[k]!;
    m = Math.max(m, Math.abs(stats[3 * d + j]! - mean[k]!), Math.abs(stats[2 * d + j]! - mean[k]!));
  }
  return m;
}

/**
 * Validated, centred copy of the non-constant columns [n, live], scaled by a power of two so that its
 * largest magnitude lies in [1, 2). One pass sums the columns and finds the varying ones; a NaN or
 * infinite value makes its column's sum non-finite, and only then is every value checked (the error
 * names the first one).
 *
 * Scale invariance: every measure is invariant under a global rescaling of a representation, and the
 * Gram products of the centred data overflow (above ~1e154) or underflow (below ~1e-154) in float64.
 * Multiplying by a power of two is exact, so data in the normal range gives the same values, bit for
 * bit, as without it, and data scaled by any factor (1e300, 1e-200) gives the values of the unscaled
 * data. Huge values whose column sums or centred differences overflow are centred from a scaled copy.
 */
function* centre(m: Matrix2D, label: string): Steps<{ centred: Float64Array; live: number }> {
  validateShape(m, label);
  const { rows: n, cols: d } = m;
  const stats = yield { kind: 'colstats', a: m };
  let sumsFinite = true;
  for (let j = 0; j < d && sumsFinite; j++) {
    if (!Number.isFinite(stats[j]!)) {
      validateValues(m, label); // throws for NaN or infinite values
      sumsFinite = false; // finite values whose sum overflows
    }
  }
  const kept: number[] = [];
  for (let j = 0; j < d; j++) if (stats[d + j]) kept.push(j);
  const keep = Int32Array.from(kept);
  if (sumsFinite) {
    const mean = new Float64Array(keep.length);
    for (let j = 0; j < keep.length; j++) mean[j] = stats[keep[j]!]! / n;
    // the scale is known before centring (one pass over the data instead of three)
    const largest = centredMaxAbs(stats, d, keep, mean);
    if (Number.isFinite(largest)) {
      const scale = powerOfTwoBelow(largest);
      return { centred: yield { kind: 'centre', a: m, keep, mean, scale }, live: keep.length };
    }
    const centred = yield { kind: 'centre', a: m, keep, mean, scale: 1 };
    if (normalise(centred)) return { centred, live: keep.length };
  }
  // |values| near the float64 maximum: centre a copy scaled by a power of two (the columns that vary
  // are the ones found above; scaling keeps them distinct, except values that become subnormal)
  const s = powerOfTwoBelow(maxAbs(m.data));
  const copy = mat(
    Float64Array.from(m.data, (v) => v * s),
    n,
    d,
  );
  const scaledStats = yield { kind: 'colstats', a: copy };
  const mean = new Float64Array(keep.length);
  for (let j = 0; j < keep.length; j++) mean[j] = scaledStats[keep[j]!]! / n;
  const centred = yield { kind: 'centre', a: copy, keep, mean, scale: 1 };
  if (!normalise(centred)) throw new Error(`${label}: centring overflowed after scaling`);
  return { centred, live: keep.length };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]!);
    if (v > m) m = v;
  }
  return m;
}

/**
 * 2^-e with 2^e <= m < 2^(e+1), e clamped to [-1000, 1000] (so the factor is a normal number); 1 for
 * m = 0. m * result lies in [1, 2) unless m is subnormal or clamped.
 */
function powerOfTwoBelow(m: number): number {
  if (!(m > 0)) return 1;
  let e = Math.floor(Math.log2(m));
  // log2 can be off by one near powers of two: fix it exactly
  if (2 ** e > m) e--;
  else if (2 ** (e + 1) <= m) e++;
  e = Math.max(-1000, Math.min(1000, e));
  return 2 ** -e;
}

/** Scales a (in place) by a power of two to a largest magnitude in [1, 2); false when a is not finite. */
function normalise(a: Float64Array): boolean {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]!);
    if (!(v <= m)) {
      if (Number.isNaN(v)) return false;
      m = v;
    }
  }
  if (!Number.isFinite(m)) return false;
  const s = powerOfTwoBelow(m);
  if (s !== 1) for (let i = 0; i < a.length; i++) a[i]! *= s;
  return true;
}

function symmetrise(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (a[i * n + j]! + a[j * n + i]!);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
}

function frobenius(a: Float64Array): number {
  let scale = 0;
  let nan = false;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]!);
    if (v > scale) scale = v;
    else if (Number.isNaN(v)) nan = true;
  }
  if (nan) return Number.NaN;
  if (scale === 0) return 0;
  let s = 0;
  // squares of values within 1e±150 neither overflow nor underflow to zero: no scaling needed
  if (scale < 1e150 && scale > 1e-150) {
    for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
    return Math.sqrt(s);
  }
  const inv = 1 / scale;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]! * inv;
    s += v * v;
  }
  return scale * Math.sqrt(s);
}

/**
 * True when every eigenvalue of g is at least `threshold` x the largest, shown from X = R^-1
 * (g = R^T R): lambda_min = 1 / ||X||_2^2 >= 1 / ||X||_F^2 and lambda_max <= min(||g||_F, ||g||_inf).
 * A factor 4 of margin covers the rounding of X; borderline cases answer false.
 */
function provablyFullRank(inverse: Float64Array, g: Float64Array, n: number, threshold: number): boolean {
  const xf = frobenius(inverse);
  let rowMax = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.abs(g[i * n + j]!);
    rowMax = Math.max(rowMax, s);
  }
  const lambdaMax = Math.min(frobenius(g), rowMax);
  return Number.isFinite(xf) && 4 * threshold * lambdaMax * xf * xf <= 1;
}

/**
 * Centring, rank decision, orthonormal basis and the per-side quantities of every measure.
 * `role` says which side of pairs this representation will be: 'x' keeps the basis Q, 'y' keeps Xc.
 */
export function* prepareSteps(
  m: Matrix2D,
  label: string,
  role: Role,
  opts: ResolvedOptions,
): Steps<PreparedRepresentation> {
  const n = m.rows;
  const { centred, live } = yield* centre(m, label);
  const xc = mat(centred, n, live);

  // G = Xc^T Xc [live, live]
  const gram = yield { kind: 'gram', a: xc, b: xc };
  symmetrise(gram, live);
  const gramNorm = frobenius(gram);

  // The y side of pairs needs only some whitening W with Yc W orthonormal (the CCA coefficients, PWCCA
  // and CKA do not depend on which basis of the column space it spans; SVCCA does, it needs the
  // principal one). When the Cholesky factor G = R^T R proves every direction well resolved, W = R^-1
  // replaces the eigendecomposition (~10x cheaper) with the same rank (all live columns).
  if (role === 'y' && !opts.methods.has('svcca') && live > 0) {
    const inverse = yield { kind: 'cholinv', a: mat(gram, live, live) };
    if (inverse.length > 0 && provablyFullRank(inverse, gram, live, Math.max(AMBIGUOUS, opts.epsilon ** 2))) {
      const w = mat(inverse, live, live);
      const loadings = opts.methods.has('pwcca')
        ? yield { kind: 'tn', a: w, b: mat(gram, live, live) }
        : null;
      return {
        samples: n,
        width: m.cols,
        live,
        rank: live,
        centred,
        basis: null,
        whitening: inverse,
        whiteningUpper: true,
        sigma2: new Float64Array(0),
        gramNorm,
        loadings,
        svccaDims: live,
      };
    }
  }

  const packed = yield { kind: 'eig', a: mat(gram, live, live) };
  const lambda = packed.subarray(0, live);
  const v = packed.subarray(live); // rows: eigenvectors of G, descending eigenvalues
  const lambdaMax = live > 0 ? Math.max(lambda[0]!, 0) : 0;

  // Well-resolved directions: K = { i : lambda_i >= AMBIGUOUS * lambdaMax }.
  let nk = 0;
  while (nk < live && lambdaMax > 0 && lambda[nk]! >= AMBIGUOUS * lambdaMax) nk++;
  const kept: Array<{ w: Float64Array; s2: number }> = []; // columns of W with their s2
  for (let i = 0; i < nk; i++) {
    const w = new Float64Array(live);
    const scale = 1 / Math.sqrt(lambda[i]!);
    for (let j = 0; j < live; j++) w[j] = v[i * live + j]! * scale;
    kept.push({ w, s2: lambda[i]! });
  }

  // Ambiguous directions A (k of them): re-measure on the data, orthogonally to span(Xc V_K). Centred
  // data has rank at most n - 1 (its columns sum to zero over the samples), so when K already holds
  // that many directions the others are exactly zero and there is nothing to re-measure (the usual
  // case of fewer samples than neurons, where A would be most of the columns).
  const k = lambdaMax > 0 && nk < Math.min(live, n - 1) ? live - nk : 0;
  if (k > 0) {
    // Every product and decomposition here is a step (on the GEMM engine, off the main thread when
    // it has its own threads): with many neurons these are the largest computations of the pipeline.
    const vA = new Float64Array(live * k); // V_A [live, k]
    for (let a = 0; a < k; a++) for (let j = 0; j < live; j++) vA[j * k + a] = v[(nk + a) * live + j]!;
    const vK = mat(v.slice(0, nk * live), nk, live); // V_K^T [nk, live] (eigenvectors as rows)
    const yA = yield { kind: 'nn', a: xc, b: mat(vA, live, k) }; // Y_A = Xc V_A [n, k]
    const z = yield { kind: 'tn', a: xc, b: mat(yA, n, k) }; // Z = Xc^T Y_A [live, k]
    const yy = yield { kind: 'gram', a: mat(yA, n, k), b: mat(yA, n, k) }; // Y_A^T Y_A [k, k]
    // C = Lambda_K^-1 V_K^T Z [nk, k]; S = Y_A^T Y_A - (V_K^T Z)^T C = E^T E with E = Xc (V_A - V_K C).
    const c = yield { kind: 'nn', a: vK, b: mat(z, live, k) }; // V_K^T Z
    const d = new Float64Array(nk * k); // Lambda_K^-1/2 V_K^T Z
    for (let i = 0; i < nk; i++) {
      const scale = 1 / Math.sqrt(lambda[i]!);
      for (let a = 0; a < k; a++) d[i * k + a] = c[i * k + a]! * scale;
    }
    const dd = yield { kind: 'gram', a: mat(d, nk, k), b: mat(d, nk, k) };
    const s = Float64Array.from(yy);
    for (let q = 0; q < k * k; q++) s[q]! -= dd[q]!;
    for (let i = 0; i < nk; i++) for (let a = 0; a < k; a++) c[i * k + a]! /= lambda[i]!;
    symmetrise(s, k);
    const packedA = yield { kind: 'eig', a: mat(s, k, k) };
    const mu = packedA.subarray(0, k);
    const u = packedA.subarray(k); // rows: eigenvectors, descending eigenvalues
    const floor = opts.epsilon * opts.epsilon * lambdaMax; // singular value >= epsilon x the largest
    let kq = 0;
    while (kq < k && mu[kq]! > 0 && mu[kq]! >= floor) kq++;
    if (kq > 0) {
      // E's basis vectors V_A - V_K C, as rows [k, live]
      const e = yield { kind: 'tn', a: mat(c, nk, k), b: vK }; // C^T V_K^T [k, live]
      for (let a = 0; a < k; a++) {
        for (let j = 0; j < live; j++) e[a * live + j] = v[(nk + a) * live + j]! - e[a * live + j]!;
      }
      const us = new Float64Array(kq * k); // kept eigenvectors scaled by 1/sqrt(mu) [kq, k]
      for (let q = 0; q < kq; q++) {
        const scale = 1 / Math.sqrt(mu[q]!);
        for (let a = 0; a < k; a++) us[q * k + a] = u[q * k + a]! * scale;
      }
      const wq = yield { kind: 'nn', a: mat(us, kq, k), b: mat(e, k, live) }; // [kq, live]
      for (let q = 0; q < kq; q++) kept.push({ w: wq.slice(q * live, (q + 1) * live), s2: mu[q]! });
    }
  }

  // Directions below epsilon among the well-resolved ones only happen when epsilon > sqrt(AMBIGUOUS).
  const floor = opts.epsilon * opts.epsilon * lambdaMax;
  const directions = kept.filter((d) => d.s2 >= floor);
  const rank = directions.length;
  const whitening = new Float64Array(live * rank);
  const sigma2 = new Float64Array(rank);
  directions.forEach((d, q) => {
    sigma2[q] = d.s2;
    for (let j = 0; j < live; j++) whitening[j * rank + q] = d.w[j]!;
  });
  const w = mat(whitening, live, rank);

  let svccaDims = rank;
  if (opts.svccaDims !== undefined) svccaDims = Math.min(opts.svccaDims, rank);
  else if (rank > 0) {
    let total = 0;
    for (let j = 0; j < live; j++) total += gram[j * live + j]!; // ||Xc||_F^2 = sum of all s2
    let acc = 0;
    svccaDims = 0;
    while (svccaDims < rank && acc < opts.svccaThreshold * total) acc += sigma2[svccaDims++]!;
  }

  const loadings = opts.methods.has('pwcca') ? yield { kind: 'tn', a: w, b: mat(gram, live, live) } : null;
  const basis = role === 'x' ? yield { kind: 'nn', a: xc, b: w } : null;
  return {
    samples: n,
    width: m.cols,
    live,
    rank,
    centred: role === 'y' ? centred : null,
    basis,
    whitening,
    sigma2,
    gramNorm,
    loadings,
    svccaDims,
  };
}

// --- per-pair work -----------------------------------------------------------------------------------------

interface Spectrum {
  /** Singular values, descending, clipped to [0, 1]. */
  values: Float64Array;
  /** When requested: singular vectors of the smaller side as rows [m, side dimension]. */
  vectors?: Float64Array;
}

/** Singular values of b [p, q] via the eigenvalues of the smaller Gram (b b^T or b^T b). */
function* singularValues(b: Float64Array, p: number, q: number, wantVectors: boolean): Steps<Spectrum> {
  const small = Math.min(p, q);
  const packed = yield { kind: 'gramEig', a: mat(b, p, q), vectors: wantVectors };
  const values = packed.slice(0, small);
  const vectors = wantVectors ? packed.subarray(small) : undefined;
  for (let i = 0; i < small; i++) values[i] = Math.min(1, Math.sqrt(Math.max(0, values[i]!)));
  return { values, vectors };
}

function summary(c: Float64Array): { rho: number; mean: number } {
  if (c.length === 0) return { rho: 0, mean: 0 };
  let s = 0;
  let s2 = 0;
  for (const v of c) {
    s += v;
    s2 += v * v;
  }
  return { rho: Math.sqrt(s2 / c.length), mean: s / c.length };
}

/**
 * Coefficients closer than this are one block of equal coefficients for PWCCA (their canonical
 * variates are then any orthonormal basis of the block's span, numerically an arbitrary one).
 */
export const PWCCA_TIE = 1e-9;

/**
 * PWCCA weights from the side with fewer directions (x on a tie): the weight of coefficient i is
 * alpha_i = sum_j |<h_i, x_j>| over that side's centred neurons x_j, h_i its canonical variates, with
 * (h_i^T x_j)_j = (u_i^T R)_j, R = Q^T Xc. One convention for equal coefficients: a block S of
 * coefficients within PWCCA_TIE of their neighbours has canonical variates only up to a rotation of
 * the block, and the L1 weights depend on that rotation, so every coefficient of the block gets the
 * average of alpha_i over all orthonormal bases of the block (uniformly random rotations):
 *   alpha_i = c_k sum_j ||H_S^T x_j||_2,  c_k = E|u_1| for u uniform on the unit sphere of R^k
 *           = Gamma(k/2) / (sqrt(pi) Gamma((k+1)/2)),  k = |S|
 * which does not depend on the basis an eigensolver returns. For k = 1 (c_1 = 1) it is the usual
 * weight, bit for bit.
 */
function pwccaFrom(
  c: Float64Array,
  u: Float64Array,
  loadings: Float64Array,
  r: number,
  live: number,
): number {
  let num = 0;
  let den = 0;
  const count = c.length;
  const sq = new Float64Array(live); // sum over the block of (h_i^T x_j)^2, per neuron j
  const h = new Float64Array(live);
  for (let start = 0; start < count; ) {
    let end = start + 1; // c is descending
    while (end < count && c[end - 1]! - c[end]! <= PWCCA_TIE) end++;
    const k = end - start;
    sq.fill(0);
    for (let i = start; i < end; i++) {
      h.fill(0);
      for (let a = 0; a < r; a++) {
        const ua = u[i * r + a]!;
        if (ua === 0) continue;
        for (let j = 0; j < live; j++) h[j]! += ua * loadings[a * live + j]!;
      }
      if (k === 1) {
        // the usual weight (no rounding through a square and its root)
        let alpha = 0;
        for (const t of h) alpha += Math.abs(t);
        num += alpha * c[i]!;
        den += alpha;
      } else for (let j = 0; j < live; j++) sq[j]! += h[j]! * h[j]!;
    }
    if (k > 1) {
      let total = 0;
      for (let j = 0; j < live; j++) total += Math.sqrt(sq[j]!);
      const alpha = sphereMeanAbs(k) * total;
      for (let i = start; i < end; i++) {
        num += alpha * c[i]!;
        den += alpha;
      }
    }
    start = end;
  }
  return den > 0 ? num / den : 0;
}

/** E|u_1| for u uniform on the unit sphere of R^k: c_1 = 1, c_2 = 2/pi, c_(k+2) = c_k k / (k + 1). */
function sphereMeanAbs(k: number): number {
  let c = k % 2 === 1 ? 1 : 2 / Math.PI;
  for (let i = k % 2 === 1 ? 1 : 2; i + 2 <= k; i += 2) c *= i / (i + 1);
  return c;
}

/**
 * The checks and warnings of a pair (x prepared as role 'x', y as role 'y'), and its whole result when
 * a side has rank 0 (every measure 0, no product needed).
 */
export function pairPreamble(
  x: PreparedRepresentation,
  y: PreparedRepresentation,
  opts: ResolvedOptions,
): { warnings: string[]; trivial: SimilarityResult | null } {
  if (x.samples !== y.samples) {
    throw new SimilarityError('SAMPLE_MISMATCH', `x has ${x.samples} samples but y has ${y.samples}`);
  }
  const rx = x.rank;
  const ry = y.rank;
  const warnings: string[] = [];
  const wider = Math.max(rx, ry);
  if (x.samples < 10 * wider) {
    warnings.push(
      `few-samples: ${x.samples} samples for rank ${wider}; CCA needs about 10x more samples than ` +
        'neurons, with fewer even unrelated layers look similar (compare with randomBaseline)',
    );
  }
  if (rx > 0 && ry > 0) return { warnings, trivial: null };
  const which = rx === 0 && ry === 0 ? 'x and y are' : rx === 0 ? 'x is' : 'y is';
  warnings.push(`constant-layer: ${which} constant over the samples (rank 0); all measures are 0`);
  const m = opts.methods;
  return {
    warnings,
    trivial: {
      cca: new Float64Array(0),
      rho: 0,
      mean: 0,
      svcca: m.has('svcca') ? { rho: 0, mean: 0, dims: [0, 0], cca: new Float64Array(0) } : null,
      pwcca: m.has('pwcca') ? 0 : null,
      cka: m.has('cka') ? 0 : null,
      ranks: [rx, ry],
      warnings,
    },
  };
}

/** rho = ||B||_F / sqrt(min(rx, ry)) of B = Qx^T Qy [rx, ry] (no decomposition), at most 1. */
export function rhoFromProduct(b: Float64Array, rx: number, ry: number): number {
  return Math.min(1, frobenius(b) / Math.sqrt(Math.min(rx, ry)));
}

/** All measures for one pair; x must have been prepared as role 'x' and y as role 'y'. */
export function* pairSteps(
  x: PreparedRepresentation,
  y: PreparedRepresentation,
  opts: ResolvedOptions,
): Steps<SimilarityResult> {
  if (!x.basis || !y.centred) throw new Error('pairSteps: x needs its basis and y its centred data');
  const { warnings, trivial } = pairPreamble(x, y, opts);
  if (trivial) return trivial;
  const n = x.samples;
  // M = Qx^T Yc [rx, dy]; B = M Wy = Qx^T Qy [rx, ry]
  const mxy = yield { kind: 'tn', a: mat(x.basis, n, x.rank), b: mat(y.centred, n, y.live) };
  const b = yield { kind: 'nn', a: mat(mxy, x.rank, y.live), b: mat(y.whitening, y.live, y.rank) };
  return yield* pairMeasures(x, y, mxy, b, warnings, opts);
}

/**
 * The measures of a pair from its two products: mxy = M = Qx^T Yc [rx, y.live] and b = B = M Wy =
 * Qx^T Qy [rx, ry] (both only read; they may be views into larger arrays). Per-pair work: the spectrum
 * of B (one Gram of its smaller side and its eigenvalues), SVCCA's block, PWCCA's weights, CKA's sum.
 */
export function* pairMeasures(
  x: PreparedRepresentation,
  y: PreparedRepresentation,
  mxy: Float64Array,
  b: Float64Array,
  warnings: string[],
  opts: ResolvedOptions,
): Steps<SimilarityResult> {
  const rx = x.rank;
  const ry = y.rank;
  const wantPw = opts.methods.has('pwcca');
  const full = opts.spectrum === 'full' ? yield* singularValues(b, rx, ry, wantPw) : null;
  const cca = full?.values ?? new Float64Array(0);
  const { rho, mean } = full ? summary(cca) : { rho: rhoFromProduct(b, rx, ry), mean: Number.NaN };

  let svcca: SvccaResult | null = null;
  if (opts.methods.has('svcca')) {
    const kx = x.svccaDims;
    const ky = y.svccaDims;
    const block = new Float64Array(kx * ky); // B[:kx, :ky]
    for (let i = 0; i < kx; i++) block.set(b.subarray(i * ry, i * ry + ky), i * ky);
    const { values } = yield* singularValues(block, kx, ky, false);
    svcca = { ...summary(values), dims: [kx, ky], cca: values };
  }

  let pwcca: number | null = null;
  if (wantPw) {
    // Weights from the side with fewer kept directions (x on a tie, as the reference implementation).
    pwcca =
      rx <= ry
        ? pwccaFrom(cca, full!.vectors!, x.loadings!, rx, x.live)
        : pwccaFrom(cca, full!.vectors!, y.loadings!, ry, y.live);
  }

  let cka: number | null = null;
  if (opts.methods.has('cka')) {
    // ||Xc^T Yc||_F^2 = sum_i s2x_i ||M_i||^2, since Xc^T = Vx diag(s) Qx^T with orthonormal Vx.
    let num = 0;
    for (let i = 0; i < rx; i++) {
      let row = 0;
      for (let j = 0; j < y.live; j++) row += mxy[i * y.live + j]! ** 2;
      num += x.sigma2[i]! * row;
    }
    const den = x.gramNorm * y.gramNorm;
    cka = den > 0 ? Math.min(1, num / den) : 0;
  }

  return { cca, rho, mean, svcca, pwcca, cka, ranks: [rx, ry], warnings };
}

/**
 * A seeded permutation of 0..n-1 (Fisher-Yates on mulberry32): the same seed always gives the same
 * permutation, so a resumed tensor computes the same null.
 */
export function seededPermutation(n: number, seed: number): Int32Array {
  let a = (seed ^ 0x2545f491) >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296; // [0, 1)
  };
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    const v = p[i]!;
    p[i] = p[j]!;
    p[j] = v;
  }
  return p;
}

/** Rows of a [n, cols] matrix in the order `perm` (row r of the result is row perm[r]). */
export function permuteRows(data: Float64Array, n: number, cols: number, perm: Int32Array): Float64Array {
  const out = new Float64Array(n * cols);
  for (let r = 0; r < n; r++) out.set(data.subarray(perm[r]! * cols, perm[r]! * cols + cols), r * cols);
  return out;
}

/**
 * The permutation null of a pair: rho = ||Qx^T Qy[perm]||_F / sqrt(min(rx, ry)), where Qy[perm] =
 * Yc[perm] Wy is y's orthonormal basis with its rows (samples) shuffled: still orthonormal, with y's
 * own spectrum, but no longer aligned with x's samples. `permutedCentred` is y.centred with its rows
 * permuted (permuteRows). Costs the two products of rho, no decomposition.
 */
export function* nullPairSteps(
  x: PreparedRepresentation,
  y: PreparedRepresentation,
  permutedCentred: Float64Array,
): Steps<number> {
  if (!x.basis) throw new Error('nullPairSteps: x needs its basis');
  const rx = x.rank;
  const ry = y.rank;
  if (rx === 0 || ry === 0) return 0;
  const n = x.samples;
  const mxy = yield { kind: 'tn', a: mat(x.basis, n, rx), b: mat(permutedCentred, n, y.live) };
  const b = yield { kind: 'nn', a: mat(mxy, rx, y.live), b: mat(y.whitening, y.live, ry) };
  return rhoFromProduct(b, rx, ry);
}

function checkPair(x: Matrix2D, y: Matrix2D): void {
  if (x.rows !== y.rows) {
    throw new SimilarityError('SAMPLE_MISMATCH', `x has ${x.rows} samples but y has ${y.rows}`);
  }
}

/**
 * Similarity of two representations acts [samples, neurons] (same samples, in the same order).
 * Pure JS; inputs are never modified. Accuracy: coefficients to ~1e-12 for well-conditioned data,
 * ~1e-16 x cond(Xc) x cond(Yc) in general (1e-6 on the golden cases needs cond up to ~1e5).
 */
export function similarity(x: Matrix2D, y: Matrix2D, options?: SimilarityOptions): SimilarityResult {
  checkPair(x, y);
  const opts = resolveOptions(options);
  const px = runSync(prepareSteps(x, 'x', 'x', opts));
  const py = runSync(prepareSteps(y, 'y', 'y', opts));
  return runSync(pairSteps(px, py, opts));
}

/** Same as similarity(), with the large products on a GEMM engine (see gemm.ts). */
export async function similarityAsync(
  x: Matrix2D,
  y: Matrix2D,
  engine: ProductEngine,
  options?: SimilarityOptions,
): Promise<SimilarityResult> {
  checkPair(x, y);
  const opts = resolveOptions(options);
  const px = await runAsync(prepareSteps(x, 'x', 'x', opts), engine);
  const py = await runAsync(prepareSteps(y, 'y', 'y', opts), engine);
  return runAsync(pairSteps(px, py, opts), engine);
}

export { gaussian };

/**
 * The similarity of unrelated representations of the same shape: independent seeded Gaussian
 * x [samples, widthX] and y [samples, widthY] — the same matrices the service's summary.baseline
 * compares for a reference layer of widthX and a specimen layer of widthY (seed 0). With few
 * samples per neuron this is far above 0.
 */
export function randomBaseline(
  samples: number,
  widthX: number,
  widthY: number,
  options: SimilarityOptions & { seed?: number } = {},
): SimilarityResult {
  const { seed = 0, ...rest } = options;
  // the matrices the service's summary.baseline uses for these widths (core/analysis/baseline.ts)
  const x = { data: gaussian(samples * widthX, baselineSeed(seed, 1, widthX)), rows: samples, cols: widthX };
  const y = { data: gaussian(samples * widthY, baselineSeed(seed, 2, widthY)), rows: samples, cols: widthY };
  return similarity(x, y, rest);
}
