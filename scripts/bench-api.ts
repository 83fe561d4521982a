// `npm run bench:api`: a bounded load test of the tensor-slice endpoint on a finished experiment.
// Starts its own API and worker (private queue prefix, temporary artifact directory, a fresh team),
// runs a tiny experiment to `succeeded`, stops the worker, then drives GET /v1/experiments/:id/tensor
// with autocannon at a fixed rate (default 500 requests/s for 12 s, after a 2 s warm-up) over a few
// different slices, and prints one JSON line:
//   {"rps":…,"p50_ms":…,"p99_ms":…,"errors":…, …}
// errors = connection errors + timeouts + non-2xx answers. Everything it made is removed at exit.
// Options (env): BENCH_RATE (requests/s), BENCH_SECONDS, BENCH_CONNECTIONS.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { loadConfig } from '../config/index.ts';
import { launchService, migrateDatabase } from './lib/service.ts';

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
  await migrateDatabase(loadConfig().databaseUrl, { stderr: 'inherit' });
  const tag = randomBytes(4).toString('hex');
  const svc = await launchService({
    queuePrefix: `repdyn-bench-${tag}`,
    artifactPrefix: `repdyn-bench-${tag}-`,
    teamName: () => `bench-${tag}`,
    readyPath: '/ready',
    startTimeoutMs: 60_000,
    echoStderr: true,
    // the bench drives one key far above the default per-key budget; the limiter still runs
    env: { RATE_LIMIT_MAX: String(10 * RATE * (SECONDS + WARMUP_SECONDS + 60)) },
  });
  const { key, base } = svc;
  const onSignal = () => {
    void svc.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const api = await svc.startApi();
    const worker = await svc.startWorker({ ready: false });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
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
    await svc.killWorker(worker); // idle from here on; keep its CPU out of the measurement
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
    await svc.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(String(err instanceof Error ? err.message : err));
    process.exit(1);
  },
);
