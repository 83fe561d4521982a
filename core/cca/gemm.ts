// Matrix-product engines for the large products of the similarity engine (Gram matrices X^T X and
// cross products X^T Y over all samples). Everything else (decompositions, small products) stays in JS.
//
// Engines, in order of preference for 'auto':
// - 'blas': OpenBLAS through the optional native addon (native.ts): dgemm/dsyrk for the products and
//   LAPACK (dsyevd, dpotrf/dtrtri) for the decompositions, one single-threaded call per core.
// - 'onnx': onnxruntime-node on the CPU, a one-node ONNX Gemm graph built in memory (float64).
// - 'tfjs': @tensorflow/tfjs-node(-gpu) when it is installed (it is optional); float32 only, so it is
//   used only when a caller asks for it by name.
// - 'js':   plain loops (about 1-1.5 GFLOP/s), always available.

import { availableParallelism } from 'node:os';
import { jsMatmul, jsMatmulTN } from './linalg.ts';
import type { Matrix2D } from './matrix.ts';
import { limiter, loadNative, type NativeLinalg } from './native.ts';
import type { ProductEngine } from './similarity.ts';

/**
 * A matrix-product engine: the similarity steps' ProductEngine (similarity.ts: the products,
 * decompositions and column passes, each optional one when the engine has its own) plus what says
 * which engine it is and how many calls it runs at once.
 */
export interface GemmEngine extends ProductEngine {
  readonly name: 'blas' | 'onnx' | 'tfjs' | 'js';
  /** 'lapack' when decompose() runs LAPACK (native addon), 'js' when the caller decomposes in JS. */
  readonly linalg: 'lapack' | 'js';
  /**
   * Calls the engine runs at the same time (each single-threaded), when it runs a fixed number; callers
   * that keep no more than this many in flight never wait inside the engine.
   */
  readonly parallel?: number;
  /**
   * a w for a [m, n] and an upper triangular w [n, n] (its strict lower triangle zero), with half of
   * matmul()'s flops (m n (n + 1)); matmul() to rounding. Absent: callers use matmul().
   */
  matmulUpper?(a: Matrix2D, w: Matrix2D): Promise<Float64Array>;
  /**
   * Keeps the engine's large output buffers for reuse once collected (no fresh pages to fault in per
   * call) until the returned function is called; for a run of many similar calls, such as a tensor.
   * Absent: nothing to keep.
   */
  reuseOutputs?(): () => void;
  /** Frees native resources; the engine must not be used afterwards. */
  dispose(): Promise<void>;
}

export type GemmPreference = 'auto' | 'blas' | 'onnx' | 'tfjs' | 'js';

export interface GemmEngineOptions {
  /**
   * Threads for the native engine (onnx intra-op threads; blas: calls in flight, each single-threaded).
   * Default: os.availableParallelism().
   */
  threads?: number;
  /** Products with fewer multiply-adds run in JS (a native call costs more). Default 2^18. */
  minWork?: number;
  /** blas: matmulUpper() by dtrmm (default true; false: the engine has no matmulUpper). */
  triangular?: boolean;
}

export const jsEngine: GemmEngine = {
  name: 'js',
  linalg: 'js',
  matmulTN: async (a, b) => jsMatmulTN(a, b),
  matmul: async (a, b) => jsMatmul(a, b),
  dispose: async () => {},
};

/**
 * Returns a matrix-product engine. 'auto' tries the native OpenBLAS addon, then onnxruntime-node, and
 * falls back to JS; naming an engine that cannot load throws. Engines are cheap to create; callers own
 * and dispose them.
 */
export async function getGemmEngine(
  preference: GemmPreference = 'auto',
  options: GemmEngineOptions = {},
): Promise<GemmEngine> {
  if (preference === 'js') return jsEngine;
  if (preference === 'tfjs') return createTfjsEngine();
  if (preference === 'blas' || preference === 'auto') {
    const { lib, detail } = loadNative();
    if (lib) return createBlasEngine(lib, options);
    if (preference === 'blas') throw new Error(`native OpenBLAS engine unavailable: ${detail}`);
  }
  try {
    return await createOnnxEngine(options);
  } catch (err) {
    if (preference === 'onnx') throw err;
    return jsEngine;
  }
}

// --- OpenBLAS / LAPACK (native addon) ----------------------------------------------------------------

function createBlasEngine(lib: NativeLinalg, options: GemmEngineOptions): GemmEngine {
  const parallel = options.threads ?? availableParallelism();
  const run = limiter(parallel);
  // A native call costs ~20 us; smaller products stay in JS.
  const minWork = options.minWork ?? 1 << 15;
  return {
    name: 'blas',
    linalg: 'lapack',
    parallel,
    async matmulTN(a, b) {
      if (a.rows !== b.rows) throw new Error(`matmulTN: ${a.rows}x${a.cols}^T times ${b.rows}x${b.cols}`);
      if (a.rows * a.cols * b.cols < minWork) return jsMatmulTN(a, b);
      return run(() => lib.gemm(true, asFloat64(a), asFloat64(b), a.cols, b.cols, a.rows));
    },
    async matmul(a, b) {
      if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
      if (a.rows * a.cols * b.cols < minWork) return jsMatmul(a, b);
      return run(() => lib.gemm(false, asFloat64(a), asFloat64(b), a.rows, b.cols, a.cols));
    },
    async gram(a) {
      if (a.rows * a.cols * a.cols < minWork) return jsMatmulTN(a, a);
      return run(() => lib.syrk(asFloat64(a), a.rows, a.cols));
    },
    ...(typeof lib.trmmUpper === 'function' &&
      options.triangular !== false && {
        async matmulUpper(a: Matrix2D, w: Matrix2D): Promise<Float64Array> {
          if (a.cols !== w.rows || w.rows !== w.cols)
            throw new Error(`matmulUpper: ${a.rows}x${a.cols} times ${w.rows}x${w.cols}`);
          if (a.rows * a.cols * a.cols < minWork) return jsMatmul(a, w);
          return run(() => lib.trmmUpper!(asFloat64(a), asFloat64(w), a.rows, a.cols));
        },
      }),
    decompose: (kind, a, n) => run(() => lib[kind](a, n)),
    // (an addon built before gramEig existed lacks it: its Gram and decomposition then run as two calls)
    ...(typeof lib.gramEig === 'function' && {
      gramEig: (a: Matrix2D, vectors: boolean) =>
        run(() => lib.gramEig(asFloat64(a), a.rows, a.cols, vectors)),
    }),
    columnStats: (a) => run(() => lib.colstats(a.data, a.rows, a.cols)),
    async centreColumns(a, keep, mean, scale) {
      if (scale === 1 || lib.centreScaled) {
        return run(() => (lib.centreScaled ?? lib.centre)(a.data, a.rows, a.cols, keep, mean, scale));
      }
      // an addon built before the scale was added
      const centred = await run(() => lib.centre(a.data, a.rows, a.cols, keep, mean));
      for (let i = 0; i < centred.length; i++) centred[i]! *= scale;
      return centred;
    },
    ...(lib.useCache && {
      reuseOutputs() {
        lib.useCache!(1);
        let held = true;
        return () => {
          if (held) lib.useCache!(-1); // (the last user out frees the blocks kept)
          held = false;
        };
      },
    }),
    async dispose() {},
  };
}

// --- onnxruntime-node ------------------------------------------------------------------------------

/** Protocol-buffer writer for the handful of ONNX messages the Gemm graph needs. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const fieldVarint = (field: number, n: number) => [...varint(field << 3), ...varint(n)];
const fieldBytes = (field: number, bytes: number[]) => [
  ...varint((field << 3) | 2),
  ...varint(bytes.length),
  ...bytes,
];
const fieldString = (field: number, s: string) => fieldBytes(field, [...new TextEncoder().encode(s)]);

/** ValueInfoProto for a rank-2 float64 tensor with symbolic dimensions. */
function matrixValueInfo(name: string, rows: string, cols: string): number[] {
  const dim = (param: string) => fieldBytes(1, fieldString(2, param)); // TensorShapeProto.dim{dim_param}
  const shape = fieldBytes(2, [...dim(rows), ...dim(cols)]);
  const tensorType = fieldBytes(1, [...fieldVarint(1, 11 /* DOUBLE */), ...shape]);
  return [...fieldString(1, name), ...fieldBytes(2, tensorType)];
}

/** ModelProto for Y = A^T B (transA = 1) or Y = A B, float64, opset 13. */
export function gemmModel(transA: boolean): Uint8Array {
  const attr = [
    ...fieldString(1, 'transA'),
    ...fieldVarint(3, transA ? 1 : 0),
    ...fieldVarint(20, 2 /* INT */),
  ];
  const node = [
    ...fieldString(1, 'A'),
    ...fieldString(1, 'B'),
    ...fieldString(2, 'Y'),
    ...fieldString(3, 'gemm'),
    ...fieldString(4, 'Gemm'),
    ...fieldBytes(5, attr),
  ];
  const graph = [
    ...fieldBytes(1, node),
    ...fieldString(2, transA ? 'matmul_tn' : 'matmul_nn'),
    ...fieldBytes(11, matrixValueInfo('A', transA ? 'k' : 'm', transA ? 'm' : 'k')),
    ...fieldBytes(11, matrixValueInfo('B', 'k', 'n')),
    ...fieldBytes(12, matrixValueInfo('Y', 'm', 'n')),
  ];
  const opset = [...fieldString(1, ''), ...fieldVarint(2, 13)];
  return Uint8Array.from([
    ...fieldVarint(1, 8 /* ir_version */),
    ...fieldBytes(7, graph),
    ...fieldBytes(8, opset),
  ]);
}

function asFloat64(m: Matrix2D): Float64Array {
  return m.data instanceof Float64Array ? m.data : Float64Array.from(m.data);
}

async function createOnnxEngine(options: GemmEngineOptions): Promise<GemmEngine> {
  const ort = await import('onnxruntime-node');
  const { availableParallelism } = await import('node:os');
  const sessionOptions = {
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all' as const,
    // Idle pool threads sleep instead of spinning: the similarity engine runs JS decompositions on a
    // worker thread next to the products, and spinning threads would take its core.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const minWork = options.minWork ?? 1 << 18;
  const [tn, nn] = await Promise.all([
    ort.InferenceSession.create(gemmModel(true), sessionOptions),
    ort.InferenceSession.create(gemmModel(false), sessionOptions),
  ]);
  const run = async (session: typeof tn, a: Matrix2D, b: Matrix2D, m: number, n: number) => {
    const out = await session.run({
      A: new ort.Tensor('float64', asFloat64(a), [a.rows, a.cols]),
      B: new ort.Tensor('float64', asFloat64(b), [b.rows, b.cols]),
    });
    const y = out['Y']!;
    const data = y.data as Float64Array;
    y.dispose();
    if (data.length !== m * n) throw new Error(`onnx gemm returned ${data.length} values, expected ${m * n}`);
    return data;
  };
  return {
    name: 'onnx',
    linalg: 'js',
    async matmulTN(a, b) {
      if (a.rows !== b.rows) throw new Error(`matmulTN: ${a.rows}x${a.cols}^T times ${b.rows}x${b.cols}`);
      if (a.rows * a.cols * b.cols < minWork || a.rows === 0) return jsMatmulTN(a, b);
      return run(tn, a, b, a.cols, b.cols);
    },
    async matmul(a, b) {
      if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
      if (a.rows * a.cols * b.cols < minWork || a.cols === 0) return jsMatmul(a, b);
      return run(nn, a, b, a.rows, b.cols);
    },
    async dispose() {
      await Promise.all([tn.release(), nn.release()]);
    },
  };
}

// --- TensorFlow.js with a native backend --------------------------------------------------------------

/**
 * tfjs-node / tfjs-node-gpu, when installed (optional dependencies that fail to install offline).
 * The native backends compute in float32: expect ~1e-7 relative error in the products.
 */
async function createTfjsEngine(): Promise<GemmEngine> {
  let tf: typeof import('@tensorflow/tfjs');
  try {
    tf = (await import(/* optional */ '@tensorflow/tfjs-node-gpu' as string)) as typeof tf;
  } catch {
    tf = (await import(/* optional */ '@tensorflow/tfjs-node' as string)) as typeof tf;
  }
  const product = (a: Matrix2D, b: Matrix2D, transA: boolean) => {
    const y = tf.tidy(() =>
      tf.matMul(
        tf.tensor2d(Float32Array.from(a.data), [a.rows, a.cols]),
        tf.tensor2d(Float32Array.from(b.data), [b.rows, b.cols]),
        transA,
        false,
      ),
    );
    const data = Float64Array.from(y.dataSync());
    y.dispose();
    return data;
  };
  return {
    name: 'tfjs',
    linalg: 'js',
    matmulTN: async (a, b) => product(a, b, true),
    matmul: async (a, b) => product(a, b, false),
    dispose: async () => {},
  };
}
