// `npm run bench:api`: a bounded load test of the tensor-slice endpoint on a finished experiment.
// Starts its own API and worker (private queue prefix, temporary artifact directory, a fresh team),
// runs a tiny experiment to `succeeded`, stops the worker, then drives GET /v1/experiments/:id/tensor
// with autocannon at a fixed rate (default 500 requests/s for 12 s, after a 2 s warm-up) over a few
// different slices, and prints one JSON line:
//   {"rps":…,"p50_ms":…,"p99_ms":…,"errors":…, …}
// errors = connection errors + timeouts + non-2xx answers. Everything it made is removed at exit.
// Options (env): BENCH_RATE (requests/s), BENCH_SECONDS, BENCH_CONNECTIONS.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig, repoRoot } from '../config/index.ts';
import { createTeam } from '../store/auth.ts';
import { createDb } from '../store/db.ts';
import { EXPERIMENT_QUEUE } from '../store/queue.ts';
import { freePort } from './lib/free-port.ts';

const RATE = Number(process.env['BENCH_RATE'] ?? 500);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 12);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 16);
const WARMUP_SECONDS = 2;

const spec = {
  name: 'bench-api',
  reference: {
    dataset: 'mnist',
    architecture: { type: 'mlp', hidden: [32, 32], activation: 'relu' },
    training: { epochs: 1, batchSize: 64, trainExamples: 512, seed: 1 },
    checkpoints: { count: 6, spacing: 'log' },
  },
  specimen: 'same',
  probe: { split: 'test', examples: 256, seed: 0 },
  similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
};

function log(message: string): void {
  process.stderr.write(`bench:api: ${message}\n`);
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stop(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc; null where unavailable. */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function main(): Promise<number> {
  const config = loadConfig();
  const migrate = spawnSync('npm', ['run', '--silent', 'db:migrate'], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (migrate.status !== 0) throw new Error('db:migrate failed; is PostgreSQL running?');

  const tag = randomBytes(4).toString('hex');
  const artifactDir = mkdtempSync(join(tmpdir(), `repdyn-bench-${tag}-`));
  const queuePrefix = `repdyn-bench-${tag}`;
  const db = createDb(config.databaseUrl, { poolSize: 2 });
  const { key, teamId } = await createTeam(db, `bench-${tag}`);
  const port = await freePort();
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    QUEUE_PREFIX: queuePrefix,
    ARTIFACT_DIR: artifactDir,
    LOG_LEVEL: 'warn',
    // the bench drives one key far above the default per-key budget; the limiter still runs
    RATE_LIMIT_MAX: String(10 * RATE * (SECONDS + WARMUP_SECONDS + 60)),
  };
  const launch = (entry: string) =>
    spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  let api: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  const cleanup = async () => {
    await stop(worker, 'SIGKILL');
    await stop(api);
    const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(EXPERIMENT_QUEUE, { connection, prefix: queuePrefix });
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    const counters = await connection.keys(`${queuePrefix}:rate-limit:*`).catch(() => []);
    if (counters.length > 0) await connection.del(...counters).catch(() => undefined);
    connection.disconnect();
    const exps = await db.experiment.findMany({
      where: { teamId },
      select: { referenceRunId: true, specimenRunId: true },
    });
    await db.team.delete({ where: { id: teamId } });
    const runIds = exps.flatMap((e) => [e.referenceRunId, e.specimenRunId]).filter((x): x is string => !!x);
    await db.run.deleteMany({
      where: { id: { in: runIds }, referenceOf: { none: {} }, specimenOf: { none: {} } },
    });
    await db.$disconnect();
    rmSync(artifactDir, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    api = launch('server/main.ts');
    worker = launch('worker/main.ts');
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    await until('the API', 60_000, async () => ((await fetch(`${base}/ready`)).ok ? true : undefined));
    const submitted = await fetch(`${base}/v1/experiments`, {
      method: 'POST',
      headers,
      body: JSON.stringify(spec),
    });
    if (submitted.status !== 202) throw new Error(`submit: ${submitted.status} ${await submitted.text()}`);
    const { id } = (await submitted.json()) as { id: string };
    log(`experiment ${id} submitted; waiting for it to succeed`);
    const done = await until('the experiment to finish', 300_000, async () => {
      const body = (await (await fetch(`${base}/v1/experiments/${id}`, { headers })).json()) as {
        status: string;
        error: unknown;
        layers: { reference: string[] };
        checkpoints: unknown[];
      };
      if (['failed', 'canceled'].includes(body.status)) throw new Error(JSON.stringify(body.error));
      return body.status === 'succeeded' ? body : undefined;
    });
    await stop(worker, 'SIGKILL'); // idle from here on; keep its CPU out of the measurement
    const last = done.checkpoints.length - 1;
    const slice = (q: string) => ({ method: 'GET' as const, path: `/v1/experiments/${id}/tensor?${q}` });
    // a mix of the slices a client reads: one checkpoint, the full rho tensor, one layer pair over
    // time, the SVCCA heatmap at the end, a coefficient vector
    const requests = [
      slice(`measure=rho&checkpoint=${last}`),
      slice('measure=rho'),
      slice(`measure=rho&refLayer=fc1&specLayer=fc1`),
      slice(`measure=svcca&fraction=1`),
      slice(`measure=coefficients&refLayer=fc2&specLayer=fc2&checkpoint=0`),
    ];
    for (const r of requests) {
      const res = await fetch(`${base}${r.path}`, { headers });
      if (res.status !== 200) throw new Error(`${r.path}: ${res.status} ${await res.text()}`);
    }
    const common = {
      url: base,
      connections: CONNECTIONS,
      overallRate: RATE,
      headers: { authorization: `Bearer ${key}` },
      requests,
      timeout: 10,
    };
    log(
      `warm-up ${WARMUP_SECONDS} s, then ${SECONDS} s at ${RATE} requests/s over ${CONNECTIONS} connections`,
    );
    await run({ ...common, duration: WARMUP_SECONDS });
    const loadBefore = readFileSync('/proc/loadavg', 'utf8').trim();
    const cpuBefore = cpuSeconds(api.pid);
    const result = await run({ ...common, duration: SECONDS });
    const cpuAfter = cpuSeconds(api.pid);
    const loadAfter = readFileSync('/proc/loadavg', 'utf8').trim();
    const errors = result.errors + result.timeouts + result.non2xx;
    console.log(
      JSON.stringify({
        rps: Math.round((result.requests.total / result.duration) * 10) / 10,
        p50_ms: result.latency.p50,
        p99_ms: result.latency.p99,
        errors,
        p90_ms: result.latency.p90,
        max_ms: result.latency.max,
        requests: result.requests.total,
        non2xx: result.non2xx,
        target_rps: RATE,
        seconds: result.duration,
        connections: CONNECTIONS,
        api_cpu_ms_per_request:
          cpuBefore !== null && cpuAfter !== null && result.requests.total > 0
            ? Math.round(((cpuAfter - cpuBefore) * 1000 * 1000) / result.requests.total) / 1000
            : null,
        loadavg_before: loadBefore,
        loadavg_after: loadAfter,
      }),
    );
    return errors === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(String(err instanceof Error ? err.message : err));
    process.exit(1);
  },
);
