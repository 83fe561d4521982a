// Benchmark of the CCA tensor at the paper's MNIST-FC scale: reference widths 784/500/500/500/10,
// 20 checkpoints, 10,000 probe samples, all 5 x 5 x 20 = 500 cells with full coefficient spectra
// (methods cca + cka; SVCCA/PWCCA would add per-pair decompositions). Activations are seeded and
// synthetic: the input has ~15% constant pixels, hidden layers are ReLU, the last layer linear;
// specimen layers at checkpoint t mix the final activations with fixed noise (the input layer is the
// same at every checkpoint). Prints one JSON line; CCA_BENCH_FULL_ONLY=1 runs only the full spectra;
// GEMM_ENGINE=blas|onnx|js picks the engine (default auto: blas when the native addon loads).
import { availableParallelism } from 'node:os';
import { buildTensor, type GemmPreference, getGemmEngine, type Matrix2D } from '../core/cca/index.ts';
import { gaussian } from '../core/cca/similarity.ts';

const SAMPLES = 10_000;
const WIDTHS = [784, 500, 500, 500, 10];
const CHECKPOINTS = 20;

const engine = await getGemmEngine((process.env.GEMM_ENGINE as GemmPreference | undefined) ?? 'auto');

/** Forward pass of a random 784-500-500-500-10 ReLU network on seeded inputs: acts [SAMPLES, width]. */
async function referenceActivations(): Promise<Matrix2D[]> {
  const input = new Float64Array(SAMPLES * WIDTHS[0]!);
  const pixels = gaussian(SAMPLES * WIDTHS[0]!, 1);
  for (let j = 0; j < WIDTHS[0]!; j++) {
    const constant = j % 7 === 0; // 112 of 784 pixels (14%) never change
    for (let i = 0; i < SAMPLES; i++)
      input[i * WIDTHS[0]! + j] = constant ? 0 : Math.max(0, pixels[i * WIDTHS[0]! + j]!);
  }
  const layers: Matrix2D[] = [{ data: input, rows: SAMPLES, cols: WIDTHS[0]! }];
  for (let l = 1; l < WIDTHS.length; l++) {
    const prev = layers[l - 1]!;
    const w = gaussian(prev.cols * WIDTHS[l]!, 10 + l).map((v) => v / Math.sqrt(prev.cols));
    const z = await engine.matmul(prev, { data: w, rows: prev.cols, cols: WIDTHS[l]! });
    if (l < WIDTHS.length - 1) for (let i = 0; i < z.length; i++) z[i] = Math.max(0, z[i]!);
    layers.push({ data: z, rows: SAMPLES, cols: WIDTHS[l]! });
  }
  return layers;
}

const refs = await referenceActivations();
const noise = refs.map((r, l) => gaussian(r.data.length, 100 + l));
function specimen(j: number, t: number): Matrix2D {
  if (j === 0) return refs[0]!;
  const ref = refs[j]!.data as Float64Array;
  const mix = noise[j]!;
  const w = (t + 1) / CHECKPOINTS;
  const data = new Float64Array(ref.length);
  if (j < WIDTHS.length - 1) {
    for (let i = 0; i < data.length; i++) {
      const v = w * ref[i]! + (1 - w) * mix[i]!;
      data[i] = Math.max(0, v);
    }
  } else for (let i = 0; i < data.length; i++) data[i] = w * ref[i]! + (1 - w) * mix[i]!;
  return { data, rows: SAMPLES, cols: refs[j]!.cols };
}

async function run(spectrum: 'full' | 'rho'): Promise<{ pairs: number; seconds: number; cpu: number }> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  let pairs = 0;
  for await (const cell of buildTensor({
    refLayers: refs.map((m, i) => ({ name: `ref${i}`, load: async () => m })),
    specLayers: refs.map((_, j) => ({ name: `spec${j}` })),
    checkpoints: CHECKPOINTS,
    loadSpecimen: async (j, t) => specimen(j, t),
    options: { engine, methods: ['cca', 'cka'], spectrum },
  })) {
    if (!(cell.result.rho >= 0)) throw new Error('bad cell');
    pairs++;
  }
  const used = process.cpuUsage(cpu);
  return { pairs, seconds: (performance.now() - start) / 1000, cpu: (used.user + used.system) / 1e6 };
}

/**
 * Throughput of [10000, 500]^T [10000, 500] products. The blas engine runs one single-threaded product
 * per core, so it gets as many at a time as it has cores; onnxruntime threads each product itself.
 */
async function gemmRate(): Promise<number> {
  const a = { data: gaussian(SAMPLES * 500, 7), rows: SAMPLES, cols: 500 };
  const b = { data: gaussian(SAMPLES * 500, 8), rows: SAMPLES, cols: 500 };
  const parallel = engine.name === 'blas' ? availableParallelism() : 1;
  const round = () => Promise.all(Array.from({ length: parallel }, () => engine.matmulTN(a, b)));
  await round();
  const start = performance.now();
  for (let i = 0; i < 3; i++) await round();
  return (3 * parallel * 2 * SAMPLES * 500 * 500) / ((performance.now() - start) / 1000) / 1e9;
}

// CCA_BENCH_FULL_ONLY=1 skips the rho-only run (seconds_rho_only is then null).
const full = await run('full');
const rhoOnly = process.env.CCA_BENCH_FULL_ONLY === '1' ? null : await run('rho');
const gflops = await gemmRate();
await engine.dispose();
console.log(
  JSON.stringify({
    pairs: full.pairs,
    seconds: Number(full.seconds.toFixed(2)),
    seconds_rho_only: rhoOnly ? Number(rhoOnly.seconds.toFixed(2)) : null,
    // CPU seconds (all threads) of the full run: with a loaded machine, cpu_seconds / cores bounds the
    // idle wall time from below.
    cpu_seconds: Number(full.cpu.toFixed(2)),
    gemm_gflops: Number(gflops.toFixed(1)),
    gemm_engine: engine.name,
    linalg_engine: engine.linalg,
  }),
);
