// `npm run bench:abuse`: the hostile requests of issue 14 against a local API, bounded in time,
// while /health and a normal tensor-slice read are measured. Starts its own API (private queue
// prefix, temporary artifact directory, a fresh team; no worker: nothing is computed) on a seeded
// finished experiment (12 × 12 layers × 8 checkpoints) and a larger one (30 × 30 × 12) for figures,
// plus an upload experiment awaiting its representations. A separate attacker process (this script
// with --attack, so that its own work never delays the measurements) then, for BENCH_SECONDS
// (default 30):
//   - reads slices through a share link with indices repeated 600 times, and slices above the caps;
//   - uploads fake .npy headers (a v2 header announcing 4 GB followed by 4 MB of spaces; one nested
//     60,000 '[' deep);
//   - asks for figures: 12-panel heatmaps of the large experiment (above MAX_FIGURE_CELLS, set to
//     4,000 here so that a seeded experiment is large enough), and one-panel
//     heatmaps at random fractions (rendered, on the worker thread);
//   - holds 500 open /events streams (and asks for more than the process allows);
//   - opens half-sent uploads and JSON bodies that stop sending (BODY_IDLE_TIMEOUT_MS = 3 s here).
// Meanwhile the parent probes GET /health and a normal slice read every 50 ms each. One JSON line:
//   {"health_p99_ms":…,"slice_p99_ms":…,"hostile_requests":…,"status_5xx":…, …}
// status_5xx counts 5xx answers except the documented 503s (LIMIT_EVENT_STREAMS, FIGURE_RENDER_BUSY,
// FIGURE_RENDER_TIMEOUT), which are reported apart. Exit status 0 when /health p99 ≤ 100 ms, the
// slice p99 ≤ 50 ms and status_5xx is 0. Everything it made is removed at exit.
// Options (env): BENCH_SECONDS, BENCH_STREAMS (open /events streams, default 500), BENCH_HOSTILE=0
// (the same measurements without the hostile load: the machine's own baseline).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadConfig, repoRoot } from '../config/index.ts';
import { createKey } from '../store/auth.ts';
import type { Db } from '../store/db.ts';
import { encodeCoefficients } from '../store/experiments.ts';
import { launchService, migrateDatabase, stopProcess } from './lib/service.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 30);
const STREAMS = Number(process.env['BENCH_STREAMS'] ?? 500);
const BODY_IDLE_MS = 3_000;
const FIGURE_CELLS = 4_000;
/** answers ≥ 500 that the README documents (capacity, not failure) */
const DOCUMENTED_503 = ['LIMIT_EVENT_STREAMS', 'FIGURE_RENDER_BUSY', 'FIGURE_RENDER_TIMEOUT'];

function log(message: string): void {
  process.stderr.write(`bench:abuse: ${message}\n`);
}

interface AttackPlan {
  base: string;
  port: number;
  seconds: number;
  streams: number;
  key: string;
  attackerKey: string;
  share: string;
  bigShare: string;
  small: string;
  big: string;
  upload: string;
  checkpoints: number;
}

interface AttackReport {
  hostile_requests: number;
  by_status: Record<string, number>;
  codes_5xx: Record<string, number>;
  sse_opened: number;
  slow_bodies: number;
}

// --- the attacker (child process) ----------------------------------------------------------------

async function attack(plan: AttackPlan): Promise<AttackReport> {
  const deadline = Date.now() + plan.seconds * 1000;
  if (process.env['BENCH_HOSTILE'] === '0') {
    // baseline: the same measurements without the hostile load (what the machine gives anyway)
    await new Promise((r) => setTimeout(r, plan.seconds * 1000));
    return { hostile_requests: 0, by_status: {}, codes_5xx: {}, sse_opened: 0, slow_bodies: 0 };
  }
  const report: AttackReport = {
    hostile_requests: 0,
    by_status: {},
    codes_5xx: {},
    sse_opened: 0,
    slow_bodies: 0,
  };
  const count = (status: number, code?: string) => {
    report.hostile_requests++;
    report.by_status[status] = (report.by_status[status] ?? 0) + 1;
    if (status >= 500) {
      const k = code ?? 'unknown';
      report.codes_5xx[k] = (report.codes_5xx[k] ?? 0) + 1;
    }
  };
  const request = async (path: string, init: RequestInit = {}) => {
    try {
      const res = await fetch(`${plan.base}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { code?: string }).code;
      } catch {}
      count(res.status, code);
    } catch {
      count(0);
    }
  };
  const loop = async (fn: () => Promise<void>) => {
    while (Date.now() < deadline) await fn();
  };
  const many = (v: string, n: number) => Array.from({ length: n }, () => v).join(',');
  const bearer = { authorization: `Bearer ${plan.attackerKey}` };

  // repeated indices and oversized slices, through a share link
  const slices = [
    `refLayer=${many('0', 600)}&specLayer=${many('0', 600)}&checkpoint=${many('0', 600)}`,
    `refLayer=${many('1', 200)}&specLayer=0&checkpoint=0`,
    'measure=coefficients&format=csv',
    `checkpoint=${many('1', 600)}`,
  ];
  let s = 0;
  const sliceLoop = () =>
    request(`/v1/experiments/${plan.small}/tensor?share=${plan.share}&${slices[s++ % slices.length]}`);

  // fake .npy headers
  const preamble = (len: number) => {
    const b = Buffer.alloc(12);
    b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
    b.writeUInt32LE(len, 8);
    return b;
  };
  const huge = Buffer.concat([preamble(0xfffffff0), Buffer.alloc(4 * 1024 * 1024, 0x20)]);
  const deepText = `{'shape': ${'['.repeat(60_000)}`;
  const deep = Buffer.concat([preamble(deepText.length), Buffer.from(deepText, 'latin1')]);
  let n = 0;
  const npyLoop = () =>
    request(`/v1/experiments/${plan.upload}/activations/specimen/0/fc1`, {
      method: 'PUT',
      headers: { ...bearer, 'content-type': 'application/octet-stream' },
      body: n++ % 2 === 0 ? huge : deep,
    });

  // figures: above the cap (12 panels of 40 × 40), and rendered ones at random fractions
  let f = 0;
  const twelve = Array.from({ length: 12 }, (_, i) => (i / 11).toFixed(3)).join(',');
  const figureLoop = () =>
    f++ % 2 === 0
      ? request(`/v1/experiments/${plan.big}/figures/heatmaps.svg?share=${plan.bigShare}&fractions=${twelve}`)
      : request(
          `/v1/experiments/${plan.big}/figures/heatmaps.svg?share=${plan.bigShare}&fractions=${Math.random().toFixed(4)}`,
        );

  // open /events streams, held until the end; then more than the process allows
  const controllers: AbortController[] = [];
  const openStream = async (id: string) => {
    const controller = new AbortController();
    try {
      const res = await fetch(`${plan.base}/v1/experiments/${id}/events`, {
        headers: bearer,
        signal: controller.signal,
      });
      if (res.status === 200) {
        controllers.push(controller);
        report.sse_opened++;
        report.hostile_requests++;
        report.by_status[200] = (report.by_status[200] ?? 0) + 1;
        void res.body
          ?.pipeTo(new WritableStream())
          .catch(() => undefined)
          .finally(() => undefined);
        return;
      }
      const text = await res.text();
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { code?: string }).code;
      } catch {}
      count(res.status, code);
    } catch {
      count(0);
    }
  };
  const streams = (async () => {
    for (let i = 0; i < plan.streams && Date.now() < deadline; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, plan.streams - i) }, (_, k) =>
          openStream(k % 2 === 0 ? plan.upload : plan.small),
        ),
      );
    }
    for (let i = 0; i < 20; i++) await openStream(plan.upload); // over MAX_EVENT_STREAMS: 503
  })();

  // slow bodies: half-sent uploads and JSON bodies, reopened as the server cuts them off
  const slowBody = (kind: 'upload' | 'json') =>
    new Promise<void>((resolve) => {
      const socket = connect(plan.port, '127.0.0.1');
      let answer = '';
      socket.on('data', (d) => {
        answer += d.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
        const code = /"code":"([A-Z_]+)"/.exec(answer)?.[1];
        count(m ? Number(m[1]) : 0, code);
        report.slow_bodies++;
        resolve();
      });
      const head =
        kind === 'upload'
          ? `PUT /v1/experiments/${plan.upload}/activations/specimen/1/fc1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${plan.attackerKey}\r\ncontent-type: application/octet-stream\r\ncontent-length: 100000000\r\n\r\n`
          : `POST /v1/experiments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${plan.attackerKey}\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{"name":`;
      socket.write(head);
      if (kind === 'upload') socket.write(preamble(118));
      const stop = setTimeout(() => socket.destroy(), Math.max(0, deadline - Date.now()) + 15_000);
      socket.on('close', () => clearTimeout(stop));
    });
  const slowLoop = (kind: 'upload' | 'json') => () => slowBody(kind);

  await Promise.all([
    ...Array.from({ length: 3 }, () => loop(sliceLoop)),
    loop(npyLoop),
    loop(figureLoop),
    ...Array.from({ length: 60 }, (_, i) => loop(slowLoop(i % 2 === 0 ? 'upload' : 'json'))),
    streams,
  ]);
  for (const c of controllers) c.abort();
  return report;
}

// --- the orchestrator --------------------------------------------------------------------------

/** A succeeded experiment written straight to Postgres: `layers` × `layers` × `checkpoints` cells. */
async function seed(
  db: Db,
  teamId: string,
  layers: number,
  checkpoints: number,
  coefficients: boolean,
): Promise<string> {
  const run = await db.run.create({
    data: {
      key: randomBytes(16).toString('hex'),
      spec: {},
      status: 'done',
      checkpoints: {
        create: Array.from({ length: checkpoints }, (_, i) => ({
          index: i,
          step: 2 ** i - 1,
          fraction: (2 ** i - 1) / (2 ** (checkpoints - 1) - 1),
        })),
      },
    },
  });
  const names = Array.from({ length: layers }, (_, i) => (i === 0 ? 'input' : `fc${i}`));
  const exp = await db.experiment.create({
    data: {
      teamId,
      name: `bench-abuse-${layers}`,
      spec: { name: 'seeded by bench:abuse' },
      specHash: randomBytes(8).toString('hex'),
      status: 'succeeded',
      finishedAt: new Date(),
      checkpointCount: checkpoints,
      referenceRunId: run.id,
      specimenRunId: run.id,
      layers: {
        create: (['reference', 'specimen'] as const).flatMap((network) =>
          names.map((name, index) => ({ network, index, name, kind: 'dense', features: 32, samples: 256 })),
        ),
      },
    },
  });
  const cells = [];
  for (let i = 0; i < layers; i++)
    for (let j = 0; j < layers; j++)
      for (let c = 0; c < checkpoints; c++) {
        const rho = 1 / (1 + Math.abs(i - j)) - 0.01 * (checkpoints - 1 - c);
        cells.push({
          experimentId: exp.id,
          refLayer: i,
          specLayer: j,
          checkpoint: c,
          rho,
          mean: rho,
          svcca: rho,
          pwcca: rho,
          cka: rho,
          rankRef: 32,
          rankSpec: 32,
          coefficients: coefficients
            ? new Uint8Array(encodeCoefficients(Array.from({ length: 32 }, (_, k) => rho / (k + 1))))
            : new Uint8Array(0),
        });
      }
  for (let k = 0; k < cells.length; k += 5000) await db.cell.createMany({ data: cells.slice(k, k + 5000) });
  return exp.id;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (v: number) => Math.round(v * 10) / 10;

async function main(): Promise<number> {
  await migrateDatabase(loadConfig().databaseUrl, { stderr: 'inherit' });
  const tag = randomBytes(4).toString('hex');
  const teamName = `bench-abuse-${tag}`;
  const svc = await launchService({
    queuePrefix: `repdyn-abuse-${tag}`,
    artifactPrefix: `repdyn-abuse-${tag}-`,
    teamName: () => teamName,
    readyPath: '/ready',
    startTimeoutMs: 60_000,
    echoStderr: true,
    // BENCH_API_NODE_ARGS: extra node flags for the API (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`)
    apiNodeArgs: (process.env['BENCH_API_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
    env: {
      // the attacker is one key far above the default per-key budget; the limiter still runs
      RATE_LIMIT_MAX: '10000000',
      BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_MS),
      // one key holds all the streams: the per-process cap is what is exercised
      MAX_EVENT_STREAMS_PER_KEY: String(STREAMS + 100),
      MAX_EVENT_STREAMS: String(STREAMS),
      // the large experiment's 12-panel heatmap (10,800 cells) is above this, one panel (900) below
      MAX_FIGURE_CELLS: String(FIGURE_CELLS),
    },
  });
  const { db, key, teamId, port, base } = svc;
  const attacker = await createKey(db, teamName, { name: 'attacker', role: 'admin' });
  let child: ChildProcess | undefined;
  const cleanup = async () => {
    await stopProcess(child, 'SIGKILL');
    await svc.stop();
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    log('seeding experiments');
    const small = await seed(db, teamId, 12, 8, true);
    const big = await seed(db, teamId, 30, 12, false);
    await svc.startApi();
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const shareOf = async (id: string) => {
      const res = await fetch(`${base}/v1/experiments/${id}/shares`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
      });
      if (res.status !== 201) throw new Error(`share: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    };
    const created = await fetch(`${base}/v1/experiments`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'bench-abuse-upload',
        source: 'upload',
        samples: 256,
        reference: { layers: ['fc1'] },
        specimen: 'same',
        checkpoints: [{ step: 0 }, { step: 10 }],
      }),
    });
    if (created.status !== 201)
      throw new Error(`upload experiment: ${created.status} ${await created.text()}`);
    const upload = ((await created.json()) as { id: string }).id;
    const plan: AttackPlan = {
      base,
      port,
      seconds: SECONDS,
      streams: STREAMS,
      key,
      attackerKey: attacker.key,
      share: await shareOf(small),
      bigShare: await shareOf(big),
      small,
      big,
      upload,
      checkpoints: 8,
    };
    // the normal read the measurements make: one checkpoint of the rho tensor, with the team key
    const normal = `${base}/v1/experiments/${small}/tensor?measure=rho&checkpoint=7`;
    const warm = await fetch(normal, { headers });
    if (warm.status !== 200) throw new Error(`normal slice: ${warm.status} ${await warm.text()}`);
    await warm.arrayBuffer();

    log(`hostile load for ${SECONDS} s (${STREAMS} /events streams, 60 slow bodies, slices, npy, figures)`);
    const loadBefore = readFileSync('/proc/loadavg', 'utf8').trim();
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench-abuse.ts', '--attack'], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_ABUSE_PLAN: JSON.stringify(plan) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let childOut = '';
    child.stdout?.on('data', (d) => {
      childOut += String(d);
    });
    const childDone = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
    const started = Date.now();
    const health: number[] = [];
    const slice: number[] = [];
    /** probes slower than 50 ms, by the second of the run they started in (when the stalls happen) */
    const slowBySecond: Record<number, number> = {};
    let probeErrors = 0;
    const probe = async (url: string, into: number[], init?: RequestInit) => {
      while (Date.now() - started < SECONDS * 1000) {
        const second = Math.floor((Date.now() - started) / 1000);
        const t0 = performance.now();
        try {
          const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
          await res.arrayBuffer();
          if (res.status !== 200) probeErrors++;
        } catch {
          probeErrors++;
        }
        const ms = performance.now() - t0;
        into.push(ms);
        if (ms > 50) slowBySecond[second] = (slowBySecond[second] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await Promise.all([probe(`${base}/health`, health), probe(normal, slice, { headers })]);
    await childDone;
    const loadAfter = readFileSync('/proc/loadavg', 'utf8').trim();
    const report = JSON.parse(childOut.trim().split('\n').at(-1) ?? '{}') as AttackReport;
    const alive = await fetch(`${base}/health`)
      .then((r) => r.status === 200)
      .catch(() => false);
    health.sort((a, b) => a - b);
    slice.sort((a, b) => a - b);
    const documented = Object.entries(report.codes_5xx ?? {})
      .filter(([code]) => DOCUMENTED_503.includes(code))
      .reduce((a, [, v]) => a + v, 0);
    const all5xx = Object.values(report.codes_5xx ?? {}).reduce((a, v) => a + v, 0);
    const result = {
      health_p99_ms: round(percentile(health, 99)),
      slice_p99_ms: round(percentile(slice, 99)),
      hostile_requests: report.hostile_requests,
      status_5xx: all5xx - documented,
      status_503_documented: documented,
      health_p50_ms: round(percentile(health, 50)),
      health_max_ms: round(health.at(-1) ?? Number.NaN),
      slice_p50_ms: round(percentile(slice, 50)),
      slice_max_ms: round(slice.at(-1) ?? Number.NaN),
      probes: health.length + slice.length,
      probe_errors: probeErrors,
      slow_probes_by_second: slowBySecond,
      by_status: report.by_status,
      codes_5xx: report.codes_5xx,
      sse_opened: report.sse_opened,
      slow_bodies: report.slow_bodies,
      api_alive_after: alive,
      seconds: SECONDS,
      settings: {
        BODY_IDLE_TIMEOUT_MS: BODY_IDLE_MS,
        MAX_EVENT_STREAMS: STREAMS,
        MAX_FIGURE_CELLS: FIGURE_CELLS,
      },
      loadavg_before: loadBefore,
      loadavg_after: loadAfter,
    };
    console.log(JSON.stringify(result));
    const ok =
      result.health_p99_ms <= 100 &&
      result.slice_p99_ms <= 50 &&
      result.status_5xx === 0 &&
      probeErrors === 0 &&
      alive;
    return ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

if (process.argv.includes('--attack')) {
  attack(JSON.parse(process.env['BENCH_ABUSE_PLAN'] ?? '{}') as AttackPlan).then(
    (report) => {
      console.log(JSON.stringify(report));
      process.exit(0);
    },
    (err) => {
      log(`attacker: ${String(err instanceof Error ? err.message : err)}`);
      process.exit(1);
    },
  );
} else {
  main().then(
    (code) => process.exit(code),
    (err) => {
      log(String(err instanceof Error ? err.message : err));
      process.exit(1);
    },
  );
}
