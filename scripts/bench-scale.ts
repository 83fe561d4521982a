// `npm run bench:scale`: one experiment spread over workers (BullMQ flows, worker/service.ts). The
// reference-sized tensor — the paper's MNIST widths 784/500/500/500/10, 5 × 5 layers × 20 checkpoints
// = 500 cells, n = 10,000 — as an experiment on uploaded activations, computed by the real API and
// worker processes: once with 1 worker pinned to one core, once with 2 workers pinned to one core each
// (taskset; one BLAS thread per worker). Prints one JSON line:
//   {"seconds_1_worker":…,"seconds_2_workers":…,"speedup":…,"cells":500,"blocks":…, …}
// Activations are seeded and synthetic (ReLU layers of a random network, specimen checkpoints mixing
// the final activations with fixed noise), written as float32 .npy straight into the artifact
// directory the API inventories at POST …/complete. Options (env): BENCH_SAMPLES (10000),
// BENCH_CHECKPOINTS (20), TENSOR_BLOCKS (the service's default). Everything it made is removed at exit.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, repoRoot } from '../config/index.ts';
import { getGemmEngine, type Matrix2D } from '../core/cca/index.ts';
import { gaussian } from '../core/cca/similarity.ts';
import { encodeNpy } from '../core/npy.ts';
import { uploadRunKey } from '../store/artifacts.ts';
import { createTeam } from '../store/auth.ts';
import { createDb } from '../store/db.ts';
import { freePort } from './lib/free-port.ts';

const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 10_000);
const CHECKPOINTS = Number(process.env['BENCH_CHECKPOINTS'] ?? 20);
const WIDTHS = [784, 500, 500, 500, 10];
const LAYERS = ['input', 'fc1', 'fc2', 'fc3', 'logits'];

function log(message: string): void {
  process.stderr.write(`bench:scale: ${message}\n`);
}

/** Seeded activations: [SAMPLES, width] float32 per layer of a random ReLU network. */
async function finalActivations(): Promise<Float32Array[]> {
  const engine = await getGemmEngine('auto');
  const input = gaussian(SAMPLES * WIDTHS[0]!, 1).map((v, k) =>
    (k % WIDTHS[0]!) % 7 === 0 ? 0 : Math.max(0, v),
  );
  const out: Float32Array[] = [Float32Array.from(input)];
  let prev: Matrix2D = { data: input, rows: SAMPLES, cols: WIDTHS[0]! };
  for (let l = 1; l < WIDTHS.length; l++) {
    const w = gaussian(prev.cols * WIDTHS[l]!, 10 + l).map((v) => v / Math.sqrt(prev.cols));
    const z = await engine.matmul(prev, { data: w, rows: prev.cols, cols: WIDTHS[l]! });
    if (l < WIDTHS.length - 1) for (let i = 0; i < z.length; i++) z[i] = Math.max(0, z[i]!);
    out.push(Float32Array.from(z));
    prev = { data: z, rows: SAMPLES, cols: WIDTHS[l]! };
  }
  await engine.dispose();
  return out;
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const config = loadConfig();
const tag = randomBytes(4).toString('hex');
const artifactDir = mkdtempSync(join(tmpdir(), `repdyn-scale-${tag}-`));
const port = await freePort();
const env = {
  ...process.env,
  PORT: String(port),
  QUEUE_PREFIX: `repdyn-scale-${tag}`,
  ARTIFACT_DIR: artifactDir,
  LOG_LEVEL: 'warn',
  GEMM_ENGINE: process.env['GEMM_ENGINE'] ?? 'blas',
  OPENBLAS_NUM_THREADS: '1',
  OMP_NUM_THREADS: '1',
  SPREAD_MIN_CELLS: '0',
  MAX_UPLOAD_BYTES: String(2 ** 30),
};
const migrate = spawnSync('npm', ['run', '--silent', 'db:migrate'], { cwd: repoRoot, env, stdio: 'inherit' });
if (migrate.status !== 0) throw new Error('migrations failed');
const db = createDb(config.databaseUrl);
const { key, teamId } = await createTeam(db, `bench-scale-${tag}`);
const children: ChildProcess[] = [];
const launch = (args: string[], onOutput?: (text: string) => void) => {
  const child = spawn(args[0]!, args.slice(1), { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout?.on('data', (d: Buffer) => onOutput?.(String(d)));
  children.push(child);
  return child;
};
const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};

try {
  const cores = availableParallelism();
  if (cores < 2) throw new Error(`bench:scale needs 2 cores (this machine has ${cores})`);
  log(`generating activations: ${LAYERS.length} layers × ${CHECKPOINTS} checkpoints, n = ${SAMPLES}`);
  const finals = await finalActivations();
  const noise = finals.map((f, l) => gaussian(f.length, 100 + l));

  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  launch([process.execPath, '--import', 'tsx', 'server/main.ts']);
  await until('the API', 120_000, async () => ((await fetch(`${base}/ready`)).ok ? true : undefined));

  /** An upload experiment whose representations are written straight into the artifact directory. */
  const prepare = async (name: string): Promise<string> => {
    const res = await fetch(`${base}/v1/experiments`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name,
        source: 'upload',
        samples: SAMPLES,
        reference: { layers: LAYERS },
        specimen: { layers: LAYERS },
        checkpoints: Array.from({ length: CHECKPOINTS }, (_, t) => ({ step: t * 50 })),
        similarity: { methods: ['cca', 'cka'] },
      }),
    });
    const body = (await res.json()) as { id: string };
    if (res.status !== 201) throw new Error(`create: ${res.status} ${JSON.stringify(body)}`);
    const write = (network: 'reference' | 'specimen', t: number, layer: number, data: Float32Array) => {
      const dir = join(
        artifactDir,
        'runs',
        uploadRunKey(body.id, network),
        `ckpt-${String(t).padStart(4, '0')}`,
      );
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${LAYERS[layer]}.npy`), encodeNpy(data, [SAMPLES, WIDTHS[layer]!]));
    };
    for (let l = 0; l < LAYERS.length; l++) write('reference', 0, l, finals[l]!);
    for (let t = 0; t < CHECKPOINTS; t++) {
      const w = (t + 1) / CHECKPOINTS;
      for (let l = 0; l < LAYERS.length; l++) {
        const f = finals[l]!;
        const n = noise[l]!;
        const data = new Float32Array(f.length);
        for (let i = 0; i < f.length; i++) {
          const v = l === 0 ? f[i]! : w * f[i]! + (1 - w) * n[i]!;
          data[i] = l > 0 && l < LAYERS.length - 1 ? Math.max(0, v) : v;
        }
        write('specimen', t, l, data);
      }
    }
    return body.id;
  };

  /** Submits (POST …/complete) and returns the seconds until the experiment succeeded. */
  const measure = async (id: string) => {
    const start = performance.now();
    const res = await fetch(`${base}/v1/experiments/${id}/complete`, {
      method: 'POST',
      headers: { authorization: headers.authorization },
    });
    if (res.status !== 202) throw new Error(`complete: ${res.status} ${await res.text()}`);
    const row = await until('the experiment', 3_600_000, async () => {
      const r = await db.experiment.findUniqueOrThrow({ where: { id } });
      if (r.status === 'failed' || r.status === 'canceled') throw new Error(`${r.status}: ${r.errorMessage}`);
      return r.status === 'succeeded' ? r : undefined;
    });
    const summary = row.summary as { parts?: Array<{ part: string; worker: string }> };
    const blocks = (summary.parts ?? []).filter((p) => p.part === 'block');
    return {
      seconds: (performance.now() - start) / 1000,
      blocks: blocks.length,
      workers: new Set(blocks.map((b) => b.worker)).size,
    };
  };

  /** n workers, worker i pinned to core i; resolves once each is taking jobs. */
  const startWorkers = async (n: number) => {
    const started: ChildProcess[] = [];
    for (let i = 0; i < n; i++) {
      let out = '';
      const w = launch(
        ['taskset', '-c', String(i), process.execPath, '--import', 'tsx', 'worker/main.ts'],
        (t) => {
          out += t;
        },
      );
      started.push(w);
      await until('a worker', 120_000, async () => {
        if (w.exitCode !== null) throw new Error(`worker exited ${w.exitCode}`);
        return out.includes('repdyn worker: tfjs backend') ? true : undefined;
      });
    }
    return started;
  };

  log('writing the activations of two experiments');
  const one = await prepare('bench:scale 1 worker');
  const two = await prepare('bench:scale 2 workers');

  log('1 worker pinned to core 0');
  let workers = await startWorkers(1);
  const single = await measure(one);
  for (const w of workers) await stop(w);
  log(`1 worker: ${single.seconds.toFixed(1)} s; 2 workers pinned to cores 0 and 1`);
  workers = await startWorkers(2);
  const double = await measure(two);
  for (const w of workers) await stop(w);

  const line = {
    seconds_1_worker: Number(single.seconds.toFixed(2)),
    seconds_2_workers: Number(double.seconds.toFixed(2)),
    speedup: Number((single.seconds / double.seconds).toFixed(3)),
    cells: LAYERS.length * LAYERS.length * CHECKPOINTS,
    samples: SAMPLES,
    blocks: double.blocks,
    block_workers_2: double.workers,
    gemm_engine: env.GEMM_ENGINE,
    blas_threads_per_worker: 1,
    loadavg_after: readFileSync('/proc/loadavg', 'utf8').trim(),
  };
  console.log(JSON.stringify(line));
} finally {
  for (const c of children) await stop(c);
  const runs = await db.experiment
    .findMany({ where: { teamId }, select: { referenceRunId: true, specimenRunId: true } })
    .catch(() => []);
  await db.team.deleteMany({ where: { id: teamId } }).catch(() => undefined);
  const ids = runs.flatMap((r) => [r.referenceRunId, r.specimenRunId]).filter((x): x is string => !!x);
  await db.run.deleteMany({ where: { id: { in: ids } } }).catch(() => undefined);
  await db.$disconnect();
  rmSync(artifactDir, { recursive: true, force: true });
}
