// `npm run bench:cancel`: how long a cancel (and a graceful stop) takes to be honoured in each phase,
// and how the estimate compares with the time an experiment then takes. Starts its own API and worker
// (private queue prefix, temporary artifact directory, a fresh team; DATABASE_URL's database), with a
// short job lock (JOB_LOCK_MS=5000) so that a main thread blocked for more than a few seconds shows up
// as a lost lock. The case is issue #15's: an upload experiment with 256 samples x 4096 features,
// 2 layers, 2 checkpoints (BENCH_SAMPLES, BENCH_FEATURES override). It
//   1. runs one to the end and times its phases (capturing = the random baseline, computing = the tensor);
//   2. cancels one in each phase (training: a trained experiment; baseline; tensor), 1 s into the phase,
//      and measures from the cancel request to the status `canceled`;
//   3. stops the worker gracefully (SIGTERM) 1 s into the tensor phase and measures until it exits.
// Prints one JSON line: {"estimateSeconds":…,"seconds":{…},"workerCpuSeconds":…,"cancelSeconds":{…},
//   "stopSeconds":…,"lockErrors":…,"loadavg":…} (workerCpuSeconds: the worker's CPU time for the full run,
//   all its threads; on a loaded machine the wall time is larger by the share of the cores it got).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/index.ts';
import { gaussianMatrix } from '../core/analysis/baseline.ts';
import { encodeNpy } from '../core/npy.ts';
import { launchService, migrateDatabase, stopProcess } from './lib/service.ts';

const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 256);
const FEATURES = Number(process.env['BENCH_FEATURES'] ?? 4096);
const LAYERS = ['a', 'b'];
const CHECKPOINTS = 2;
const t0 = Date.now();
const log = (m: string) =>
  process.stderr.write(`bench:cancel ${((Date.now() - t0) / 1000).toFixed(1)}s: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc; NaN where unavailable. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<number> {
  await migrateDatabase(loadConfig().databaseUrl, { stderr: 'inherit' });
  const tag = randomBytes(4).toString('hex');
  const svc = await launchService({
    queuePrefix: `repdyn-bench-cancel-${tag}`,
    artifactPrefix: `repdyn-bench-cancel-${tag}-`,
    teamName: () => `bench-cancel-${tag}`,
    readyPath: '/ready',
    startTimeoutMs: 60_000,
    env: { JOB_LOCK_MS: '5000', STALLED_INTERVAL_MS: '1000', RATE_LIMIT_MAX: '0' },
  });
  const { key } = svc;
  let worker: ChildProcess | undefined;

  const base = svc.base;
  const headers = { authorization: `Bearer ${key}` };
  const json = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, {
      ...init,
      headers: { ...headers, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const status = async (id: string) => (await json(`/v1/experiments/${id}`)).body as Record<string, never>;

  // One upload experiment with Gaussian float32 activations, completed (queued).
  const layerData = LAYERS.map((_, l) =>
    Array.from({ length: CHECKPOINTS }, (_, t) => {
      const m = gaussianMatrix(SAMPLES, FEATURES, 1000 + 10 * l + t);
      return encodeNpy(Float32Array.from(m.data), [SAMPLES, FEATURES]);
    }),
  );
  const uploadExperiment = async (name: string): Promise<{ id: string; estimate: number }> => {
    const created = await json('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify({
        name,
        source: 'upload',
        samples: SAMPLES,
        reference: { layers: LAYERS },
        specimen: 'same',
        checkpoints: Array.from({ length: CHECKPOINTS }, (_, t) => ({ step: t * 100 })),
        similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
      }),
    });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
    const id = created.body['id'] as string;
    for (const [l, layer] of LAYERS.entries()) {
      for (let t = 0; t < CHECKPOINTS; t++) {
        const res = await fetch(`${base}/v1/experiments/${id}/activations/specimen/${t}/${layer}`, {
          method: 'PUT',
          headers: { ...headers, 'content-type': 'application/octet-stream' },
          body: layerData[l]![t]!,
        });
        if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
      }
    }
    const done = await json(`/v1/experiments/${id}/complete`, { method: 'POST' });
    if (done.status !== 202) throw new Error(`complete: ${done.status} ${JSON.stringify(done.body)}`);
    const estimate = (done.body['estimate'] as { seconds: { total: number } }).seconds.total;
    return { id, estimate };
  };
  const trainedExperiment = async (): Promise<string> => {
    const res = await json('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify({
        name: 'bench-cancel training',
        reference: {
          dataset: 'mnist',
          architecture: { type: 'mlp', hidden: [256, 256], activation: 'relu' },
          training: { epochs: 2, batchSize: 32, trainExamples: 20000, seed: 5 },
          checkpoints: { count: 4, spacing: 'linear' },
        },
        specimen: 'same',
        probe: { split: 'test', examples: 256, seed: 0 },
      }),
    });
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body['id'] as string;
  };
  /** Waits for `phase`, waits `into` ms, cancels; seconds from the cancel request to `canceled`. */
  const cancelIn = async (id: string, phase: string, into = 1_000): Promise<number | null> => {
    await until(`${id} in ${phase}`, 1_800_000, async () => {
      const s = (await status(id)).status as string;
      if (['succeeded', 'failed', 'canceled'].includes(s))
        throw new Error(`${id} ended (${s}) before ${phase}`);
      return s === phase ? true : undefined;
    });
    await sleep(into);
    const now = (await status(id)).status as string;
    if (now !== phase) {
      log(`${id}: ${phase} ended within ${into} ms; not measured`);
      return null;
    }
    const asked = Date.now();
    const res = await json(`/v1/experiments/${id}/cancel`, { method: 'POST' });
    if (res.status !== 202) throw new Error(`cancel: ${res.status} ${JSON.stringify(res.body)}`);
    await until(`${id} canceled`, 1_800_000, async () =>
      (await status(id)).status === 'canceled' ? true : undefined,
    );
    const seconds = (Date.now() - asked) / 1000;
    log(`${id}: cancel in ${phase} honoured in ${seconds.toFixed(2)} s`);
    return seconds;
  };

  try {
    await svc.startApi();
    worker = await svc.startWorker();

    // 1. one experiment to the end: its phases against its estimate
    const full = await uploadExperiment('bench-cancel full');
    log(`full run ${full.id}: estimate ${full.estimate} s`);
    const stamps: Record<string, number> = {};
    const queuedAt = Date.now();
    const cpuBefore = cpuSeconds(worker?.pid);
    await until('the full run', 3_600_000, async () => {
      const s = (await status(full.id)).status as string;
      stamps[s] ??= Date.now();
      if (s === 'failed' || s === 'canceled') throw new Error(`full run ${s}`);
      return s === 'succeeded' ? true : undefined;
    });
    const workerCpuSeconds = Math.round((cpuSeconds(worker?.pid) - cpuBefore) * 10) / 10;
    const at = (s: string) => stamps[s] ?? Number.NaN;
    const seconds = {
      queued: (at('capturing') - queuedAt) / 1000,
      capturing: (at('computing') - at('capturing')) / 1000,
      computing: (at('succeeded') - at('computing')) / 1000,
      total: (at('succeeded') - queuedAt) / 1000,
    };
    log(`full run: ${JSON.stringify(seconds)}`);

    // 2. a cancel in each phase
    const cancelSeconds: Record<string, number | null> = {};
    cancelSeconds['training'] = await cancelIn(await trainedExperiment(), 'training', 3_000);
    cancelSeconds['baseline'] = await cancelIn(
      (await uploadExperiment('bench-cancel baseline')).id,
      'capturing',
    );
    cancelSeconds['tensor'] = await cancelIn((await uploadExperiment('bench-cancel tensor')).id, 'computing');

    // 3. a graceful stop (SIGTERM) in the tensor phase
    const stopped = await uploadExperiment('bench-cancel stop');
    await until('the tensor phase', 1_800_000, async () =>
      (await status(stopped.id)).status === 'computing' ? true : undefined,
    );
    await sleep(1_000);
    const asked = Date.now();
    await stopProcess(worker, 'SIGTERM');
    const stopSeconds = (Date.now() - asked) / 1000;
    log(`graceful stop in the tensor phase: ${stopSeconds.toFixed(2)} s`);

    const lockLines = svc
      .output()
      .split('\n')
      .filter((l) => /could not renew lock|stalled|missing lock/i.test(l));
    for (const line of [...new Set(lockLines)].slice(0, 10)) log(`lock: ${line.slice(0, 300)}`);
    const lockErrors = lockLines.length;
    const result = {
      case: `upload ${SAMPLES}x${FEATURES}, ${LAYERS.length} layers, ${CHECKPOINTS} checkpoints`,
      estimateSeconds: full.estimate,
      seconds,
      workerCpuSeconds,
      cancelSeconds,
      stopSeconds,
      lockErrors,
      loadavg: (await import('node:fs'))
        .readFileSync('/proc/loadavg', 'utf8')
        .split(' ')
        .slice(0, 3)
        .join(' '),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (err) {
    log(`failed: ${err instanceof Error ? err.stack : String(err)}\n${svc.output().slice(-4000)}`);
    return 1;
  } finally {
    await svc.stop({ apiSignal: 'SIGKILL' });
  }
}

process.exit(await main());
