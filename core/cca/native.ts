// Optional native linear algebra: native/linalg.c, an N-API addon over the system's OpenBLAS (BLAS and
// its LAPACK), built by `npm install` when a C compiler and libopenblas-dev are there (see
// scripts/build-native.mjs). Everything that uses it falls back to the JS/onnxruntime path when the
// addon is missing or does not load; REPDYN_NATIVE=0 turns it off.
//
// Threads: each call runs single-threaded on libuv's pool (OpenBLAS threads = 1) and the engines keep
// at most one call per core in flight, which measured faster than OpenBLAS's own threading here
// (independent products and decompositions are always available in the tensor builder).

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/** The addon's operations, in the order of opStats(). */
export const NATIVE_OPS = [
  'gemm_tn',
  'gemm_nn',
  'syrk',
  'eig',
  'eigvals',
  'cholinv',
  'svdvals',
  'svd',
  'colstats',
  'centre',
  'gram_eig',
  'gram_eigvals',
  'trmm_upper',
] as const;

/** opStats() as a record: per operation, its calls, wall seconds and thread-CPU seconds. */
export function nativeOpStats(
  lib: NativeLinalg,
): Record<(typeof NATIVE_OPS)[number], { calls: number; wall_s: number; cpu_s: number }> | null {
  if (typeof lib.opStats !== 'function') return null;
  const raw = lib.opStats();
  return Object.fromEntries(
    NATIVE_OPS.map((op, i) => [op, { calls: raw[3 * i]!, wall_s: raw[3 * i + 1]!, cpu_s: raw[3 * i + 2]! }]),
  ) as ReturnType<typeof nativeOpStats> & object;
}

export interface NativeLinalg {
  /** transA ? a^T b (a [k, m]) : a b (a [m, k]); b [k, n]; -> [m, n]. Row-major float64 throughout. */
  gemm(
    transA: boolean,
    a: Float64Array,
    b: Float64Array,
    m: number,
    n: number,
    k: number,
  ): Promise<Float64Array>;
  /** a b for a [m, n] and an upper triangular b [n, n] (dtrmm; half of gemm's flops). Absent from older addons. */
  trmmUpper?(a: Float64Array, b: Float64Array, m: number, n: number): Promise<Float64Array>;
  /** a^T a for a [k, m] -> [m, m] (both triangles). */
  syrk(a: Float64Array, k: number, m: number): Promise<Float64Array>;
  /** Symmetric a [n, n]: eigenvalues descending, then the eigenvectors as rows (dsyevd). */
  eig(a: Float64Array, n: number): Promise<Float64Array>;
  eigvals(a: Float64Array, n: number): Promise<Float64Array>;
  /** R^-1 for a = R^T R (R upper), row-major [n, n]; empty when a is not positive definite. */
  cholinv(a: Float64Array, n: number): Promise<Float64Array>;
  /**
   * b [p, q]: the eigendecomposition of the Gram of its smaller side (b b^T when p <= q, else b^T b;
   * dsyrk then dsyevd), packed as eig()/eigvals() (vectors or not).
   */
  gramEig(b: Float64Array, p: number, q: number, vectors: boolean): Promise<Float64Array>;
  /** Singular values of a [m, n], descending (dgesdd). */
  svdvals(a: Float64Array, m: number, n: number): Promise<Float64Array>;
  /** dgesdd of a [m, n], r = min(m, n): values [r], then U [m, r] and Vt [r, n], row-major. */
  svd(a: Float64Array, m: number, n: number): Promise<Float64Array>;
  /**
   * Column sums (row order), 1/0 "varies" flags, minima and maxima of a [n, d], [4d]; as columnStats()
   * in JS (an addon built before the extremes were added returns the first [2d]).
   */
  colstats(a: Float32Array | Float64Array, n: number, d: number): Promise<Float64Array>;
  /** a[:, keep] - mean, [n, keep.length]; as centreColumns() in JS. */
  centre(
    a: Float32Array | Float64Array,
    n: number,
    d: number,
    keep: Int32Array,
    mean: Float64Array,
    scale?: number,
  ): Promise<Float64Array>;
  /** (a[:, keep] - mean) * scale: centre() with its scale (absent from addons built before it). */
  centreScaled?: NativeLinalg['centre'];
  setThreads(n: number): void;
  config(): string;
  /** Per operation (NATIVE_OPS order): calls, wall seconds, thread-CPU seconds, since the addon loaded. */
  opStats?(): Float64Array;
  /**
   * Output blocks are kept for reuse while at least one engine uses the cache: +1 when an engine is
   * made, -1 when it is disposed (at 0 the kept blocks are freed). Returns the users now. (Absent from
   * addons built before it.)
   */
  useCache?(delta: number): number;
  /** [users, blocks kept, bytes kept, blocks reused since the addon loaded]. */
  cacheStats?(): Float64Array;
}

export interface NativeStatus {
  lib: NativeLinalg | null;
  /** Where it was loaded from, or why not. */
  detail: string;
}

const ADDON = 'native/build/Release/repdyn_linalg.node';

/** Candidate locations: the repository root seen from core/cca (source) or dist/core/cca (build). */
function candidates(): string[] {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return ['../../', '../../../'].map((up) => fileURLToPath(new URL(up + ADDON, `file://${here}`)));
}

/**
 * The OpenBLAS kernels for the addon: REPDYN_OPENBLAS_CORETYPE when set, else SkylakeX when the CPU has
 * every AVX-512 subset those kernels use (OpenBLAS 0.3.21, Debian 12, does not recognise recent
 * AVX-512 CPUs such as AMD Zen 4/5 and falls back to its AVX2 kernels; SkylakeX's measured ~1.5x faster
 * for float64 GEMM here), else OpenBLAS's own choice. An inherited OPENBLAS_CORETYPE (the development
 * machines pin Haswell for numpy) is not used for the addon; it is restored once the library is loaded.
 */
function kernelChoice(): string | undefined {
  const chosen = process.env.REPDYN_OPENBLAS_CORETYPE;
  if (chosen) return chosen;
  if (process.platform !== 'linux') return undefined;
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
    const needed = ['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'];
    return needed.every((f) => flags.includes(f)) ? 'SkylakeX' : undefined;
  } catch {
    return undefined; // no /proc/cpuinfo: OpenBLAS's own choice
  }
}

/** Loads the addon with OPENBLAS_CORETYPE = kernelChoice() (OpenBLAS reads it once, when it loads). */
function requireWithKernels(path: string): NativeLinalg {
  const inherited = process.env.OPENBLAS_CORETYPE;
  const kernels = kernelChoice();
  if (kernels) process.env.OPENBLAS_CORETYPE = kernels;
  else delete process.env.OPENBLAS_CORETYPE;
  try {
    return createRequire(import.meta.url)(path) as NativeLinalg;
  } finally {
    if (inherited === undefined) delete process.env.OPENBLAS_CORETYPE;
    else process.env.OPENBLAS_CORETYPE = inherited;
  }
}

let status: NativeStatus | undefined;

/** The addon, loaded once; lib is null (with the reason in detail) when it is unavailable. */
export function loadNative(): NativeStatus {
  if (status) return status;
  if (process.env.REPDYN_NATIVE === '0') {
    status = { lib: null, detail: 'disabled by REPDYN_NATIVE=0' };
    return status;
  }
  const path = candidates().find((p) => existsSync(p));
  if (!path) {
    status = {
      lib: null,
      detail: `${ADDON} not built (npm install builds it when libopenblas-dev is installed)`,
    };
    return status;
  }
  try {
    const lib = requireWithKernels(path);
    lib.setThreads(1);
    status = { lib, detail: `${path}: ${lib.config()}` };
  } catch (err) {
    status = { lib: null, detail: `${path} did not load: ${(err as Error).message}` };
  }
  return status;
}

/** Runs at most `size` tasks at a time, in call order. */
export function limiter(size = availableParallelism()): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running < size) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve)); // the slot is handed over
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
