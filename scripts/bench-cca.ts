// Benchmark of the CCA tensor at the paper's MNIST-FC scale: reference widths 784/500/500/500/10,
// 20 checkpoints, 10,000 probe samples, all 5 x 5 x 20 = 500 cells with full coefficient spectra
// (methods cca + cka; SVCCA/PWCCA would add per-pair decompositions). Activations are seeded and
// synthetic: the input has ~15% constant pixels, hidden layers are ReLU, the last layer linear;
// specimen layers at checkpoint t mix the final activations with fixed noise (the input layer is the
// same at every checkpoint). Before the timed runs, every representation is written as a .npy file in
// a temporary run artifact store, in the dtype the worker records (float32; CCA_BENCH_DTYPE=float64
// for float64 files); the timed runs load them the worker's way (FsRunArtifactStore.loadRepresentation:
// read, decode), so `loading` is the real cost of reading representations, not of making them.
//
// Prints one JSON line: the full run's seconds, CPU seconds and peak memory, where its time went phase
// by phase (core/cca/profile.ts: wall seconds, thread seconds, share of the thread seconds), and the
// throughput of its pair products against a dgemm of the same size measured in the same run.
//
//   CCA_BENCH_FULL_ONLY=1   skip the rho-only run (seconds_rho_only is then null)
//   CCA_BENCH_CHECKPOINTS=k only the first k checkpoints (e.g. for the slow JS fallback)
//   GEMM_ENGINE=blas|onnx|js picks the engine (default auto: blas when the native addon loads)
//   CCA_BENCH_DTYPE=float64 the representations' files in float64 (default float32, as recorded)
//   CCA_BENCH_TRMM=0        B = M Wy by dgemm even where Wy is upper triangular (default: dtrmm there;
//                           the pair products' flops count the calls made: m n (n + 1) for dtrmm)
//   CCA_BENCH_REUSE=0       every output buffer fresh (default: the engine reuses them, reuseOutputs)
//   --vs-svcca[=PAIRS]      then google/svcca's get_cca_similarity (a re-implementation,
//                           scripts/svcca-reference.py, numpy with the machine's OpenBLAS pins unset)
//                           on the same tensor: every pair, or PAIRS pairs spread over it with the time
//                           extrapolated to all; adds svcca_seconds and the ratio to the line.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildTensor,
  type GemmEngine,
  type GemmPreference,
  getGemmEngine,
  type Matrix2D,
} from '../core/cca/index.ts';
import { loadNative, nativeOpStats } from '../core/cca/native.ts';
import { PHASES, PhaseProfile } from '../core/cca/profile.ts';
import { gaussian } from '../core/cca/similarity.ts';
import { encodeNpy } from '../core/npy.ts';
import { FsRunArtifactStore } from '../store/artifacts.ts';

const SAMPLES = 10_000;
const WIDTHS = [784, 500, 500, 500, 10];
const CHECKPOINTS = Number(process.env.CCA_BENCH_CHECKPOINTS ?? 20);
const DTYPE = process.env.CCA_BENCH_DTYPE === 'float64' ? 'float64' : 'float32';
const vsArg = process.argv.slice(2).find((a) => a.startsWith('--vs-svcca'));
const svccaPairs = vsArg?.includes('=') ? Number(vsArg.split('=')[1]) : null;

const loadBefore = loadavg()[0]!;
const baseEngine = await getGemmEngine((process.env.GEMM_ENGINE as GemmPreference | undefined) ?? 'auto', {
  ...(process.env.CCA_BENCH_TRMM === '0' && { triangular: false }),
});
// CCA_BENCH_REUSE=0: every output buffer fresh (no reuseOutputs), for A/B
const engine: GemmEngine =
  process.env.CCA_BENCH_REUSE === '0' ? { ...baseEngine, reuseOutputs: undefined } : baseEngine;

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
/** Specimen layer j at checkpoint t (scripts/svcca-reference.py builds the same). */
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

// The representations as the worker finds them: .npy files of a reference run (checkpoint 0) and a
// specimen run (checkpoints 0..N-1) in a temporary artifact store, removed at exit.
const artifactRoot = mkdtempSync(join(tmpdir(), 'repdyn-bench-cca-'));
process.once('exit', () => rmSync(artifactRoot, { recursive: true, force: true }));
const referenceRun = new FsRunArtifactStore(artifactRoot, randomBytes(8).toString('hex'));
const specimenRun = new FsRunArtifactStore(artifactRoot, randomBytes(8).toString('hex'));
const asStored = (m: Matrix2D): Matrix2D =>
  DTYPE === 'float32' ? { ...m, data: Float32Array.from(m.data) } : m;
for (const [l, r] of refs.entries()) await referenceRun.saveRepresentation(0, `ref${l}`, asStored(r));
for (let t = 0; t < CHECKPOINTS; t++) {
  for (let j = 0; j < WIDTHS.length; j++)
    await specimenRun.saveRepresentation(t, `spec${j}`, asStored(specimen(j, t)));
}

const nativeLib = engine.name === 'blas' ? loadNative().lib : null;
type OpStats = NonNullable<ReturnType<typeof nativeOpStats>>;
/** The native operations' calls and seconds between two opStats() readings (null without the addon). */
function nativeDelta(before: OpStats | null, after: OpStats | null) {
  if (!before || !after) return null;
  const out: Record<string, { calls: number; wall_s: number; cpu_s: number }> = {};
  for (const [op, a] of Object.entries(after)) {
    const b = before[op as keyof OpStats];
    if (a.calls === b.calls) continue;
    out[op] = {
      calls: a.calls - b.calls,
      wall_s: Number((a.wall_s - b.wall_s).toFixed(3)),
      cpu_s: Number((a.cpu_s - b.cpu_s).toFixed(3)),
    };
  }
  return out;
}

interface Run {
  /** Per native operation: calls, wall and thread-CPU seconds inside the addon (blas engine only). */
  native: ReturnType<typeof nativeDelta>;
  pairs: number;
  seconds: number;
  cpu: number;
  profile: PhaseProfile;
  /** Ranks of the reference layers (from the cells). */
  refRanks: number[];
}

async function run(spectrum: 'full' | 'rho'): Promise<Run> {
  const profile = new PhaseProfile();
  const start = performance.now();
  const cpu = process.cpuUsage();
  const nativeBefore = nativeLib && nativeOpStats(nativeLib);
  let pairs = 0;
  const refRanks: number[] = [];
  let batch: object[] = [];
  for await (const cell of buildTensor({
    refLayers: refs.map((_, i) => ({
      name: `ref${i}`,
      load: () => referenceRun.loadRepresentation(0, `ref${i}`),
    })),
    specLayers: refs.map((_, j) => ({ name: `spec${j}` })),
    checkpoints: CHECKPOINTS,
    loadSpecimen: (j, t) => specimenRun.loadRepresentation(t, `spec${j}`),
    options: { engine, methods: ['cca', 'cka'], spectrum },
    profile,
    ...(process.env.CCA_BENCH_IN_FLIGHT && { inFlight: Number(process.env.CCA_BENCH_IN_FLIGHT) }),
  })) {
    // "writing": what the worker does with a cell before its database write, in batches of 25 rows
    const begin = PhaseProfile.now();
    if (!(cell.result.rho >= 0)) throw new Error('bad cell');
    refRanks[cell.refLayer] = cell.result.ranks[0];
    const r = cell.result;
    batch.push({ ...cell, result: undefined, rho: r.rho, mean: r.mean, cka: r.cka, cca: Array.from(r.cca) });
    if (batch.length === 25) {
      JSON.stringify(batch);
      batch = [];
    }
    pairs++;
    profile.record('writing', begin, PhaseProfile.now());
  }
  const used = process.cpuUsage(cpu);
  return {
    native: nativeDelta(nativeBefore, nativeLib && nativeOpStats(nativeLib)),
    pairs,
    seconds: (performance.now() - start) / 1000,
    cpu: (used.user + used.system) / 1e6,
    profile,
    refRanks,
  };
}

/**
 * GFLOP/s of the tensor's big product, M = QT Yc with QT [R, SAMPLES] (R = the reference ranks
 * stacked) and Yc [SAMPLES, 500], run the way the builder runs it: `parallel` single-threaded calls at
 * once on the blas engine (one at a time on the others).
 */
async function gemmRate(rows: number): Promise<{ gflops: number; parallel: number }> {
  const a = { data: gaussian(rows * SAMPLES, 7), rows, cols: SAMPLES };
  const b = { data: gaussian(SAMPLES * 500, 8), rows: SAMPLES, cols: 500 };
  const parallel = engine.parallel ?? 1;
  const round = () => Promise.all(Array.from({ length: parallel }, () => engine.matmul(a, b)));
  await round();
  const start = performance.now();
  const rounds = 2;
  for (let i = 0; i < rounds; i++) await round();
  const seconds = (performance.now() - start) / 1000;
  return { gflops: (rounds * parallel * 2 * rows * SAMPLES * 500) / seconds / 1e9, parallel };
}

// The same-size dgemm is measured before and after the tensor (the machine's load changes), averaged.
const refRows = 672 + 3 * 500 + 10; // the reference ranks stacked (784 - 112 constant pixels)
const rateBefore = await gemmRate(refRows);
const full = await run('full');
const rhoOnly = process.env.CCA_BENCH_FULL_ONLY === '1' ? null : await run('rho');
const rateAfter = await gemmRate(refRows);
await engine.dispose();
if (full.refRanks.reduce((s, v) => s + v, 0) !== refRows) throw new Error(`ranks ${full.refRanks}`);
const rate = { gflops: (rateBefore.gflops + rateAfter.gflops) / 2, parallel: rateBefore.parallel };
const phases = full.profile.summary();
const flops = (phases.pair_products.gflop ?? 0) * 1e9;
const productThreadSeconds = phases.pair_products.thread_s;
const perThread = productThreadSeconds > 0 ? flops / productThreadSeconds / 1e9 : 0;
const result: Record<string, unknown> = {
  pairs: full.pairs,
  seconds: Number(full.seconds.toFixed(2)),
  seconds_rho_only: rhoOnly ? Number(rhoOnly.seconds.toFixed(2)) : null,
  // CPU seconds (all threads) of the full run: with a loaded machine, cpu_seconds / cores bounds the
  // idle wall time from below.
  cpu_seconds: Number(full.cpu.toFixed(2)),
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  phases,
  // inside the native addon, per operation: calls, wall seconds, thread-CPU seconds (what the engine's
  // threads did, without waits), and the CPU seconds of everything else (the JS thread, GC, I/O)
  native_ops: full.native,
  cpu_seconds_outside_native: full.native
    ? Number((full.cpu - Object.values(full.native).reduce((s, o) => s + o.cpu_s, 0)).toFixed(2))
    : null,
  // seconds with exactly k engine calls running at once (k = 0, 1, 2, …): every phase but the loading
  // and the writing, which run on this thread
  engine_concurrency_s: full.profile.concurrency(PHASES.filter((p) => p !== 'loading' && p !== 'writing')),
  gemm: {
    pair_product_tflop: Number((flops / 1e12).toFixed(3)),
    // per thread: the products' flops over their thread seconds, against the same-size dgemm's rate
    // per thread (parallel calls at once)
    pair_products_gflops_per_thread: Number(perThread.toFixed(1)),
    dgemm_same_size_gflops: Number(rate.gflops.toFixed(1)),
    dgemm_same_size_gflops_before_after: [
      Number(rateBefore.gflops.toFixed(1)),
      Number(rateAfter.gflops.toFixed(1)),
    ],
    dgemm_same_size_gflops_per_thread: Number((rate.gflops / rate.parallel).toFixed(1)),
    efficiency: Number((perThread / (rate.gflops / rate.parallel)).toFixed(3)),
    // B = M Wy by dtrmm where Wy is upper triangular (R^-1 of a full-rank Cholesky factor)
    trmm: engine.matmulUpper !== undefined,
  },
  gemm_engine: engine.name,
  linalg_engine: engine.linalg,
  checkpoints: CHECKPOINTS,
  dtype: DTYPE,
  cores: availableParallelism(),
  load_avg_before: Number(loadBefore.toFixed(2)),
  load_avg_after: Number(loadavg()[0]!.toFixed(2)),
};

if (vsArg) Object.assign(result, compareWithSvcca());
console.log(JSON.stringify(result));

/**
 * Writes the reference activations and the noise as .npy files and times svcca's get_cca_similarity
 * on the same 500 pairs (scripts/svcca-reference.py builds the specimen representations the same way).
 */
function compareWithSvcca(): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'repdyn-svcca-'));
  try {
    for (const [l, r] of refs.entries()) {
      writeFileSync(join(dir, `ref${l}.npy`), encodeNpy(r.data as Float64Array, [r.rows, r.cols]));
      if (l > 0) writeFileSync(join(dir, `noise${l}.npy`), encodeNpy(noise[l]!, [r.rows, r.cols]));
    }
    const script = fileURLToPath(new URL('./svcca-reference.py', import.meta.url));
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE; // numpy on its best kernels (the machines pin these for other tools)
    delete env.OPENBLAS_L2_SIZE;
    const args = [script, dir, String(CHECKPOINTS), ...(svccaPairs ? [String(svccaPairs)] : [])];
    const py = spawnSync('python3', args, { env, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (py.status !== 0) throw new Error(`svcca-reference.py failed: ${py.stderr}`);
    const svcca = JSON.parse(py.stdout.trim().split('\n').at(-1)!) as {
      pairs_timed: number;
      seconds_timed: number;
      seconds_all_pairs: number;
      cpu_seconds_all_pairs: number;
      numpy: string;
    };
    return {
      svcca: svcca,
      svcca_seconds: svcca.seconds_all_pairs,
      svcca_extrapolated: svcca.pairs_timed < full.pairs,
      ratio: Number((svcca.seconds_all_pairs / full.seconds).toFixed(2)),
      // CPU seconds on both sides (less sensitive to other work on the machine than wall seconds)
      cpu_ratio: Number((svcca.cpu_seconds_all_pairs / full.cpu).toFixed(2)),
      load_avg_after_svcca: Number(loadavg()[0]!.toFixed(2)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
