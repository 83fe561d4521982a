// `npm run chaos`: a crash-recovery drill on loopback, under load if asked (`npm run chaos -- --hog`).
//
// It starts its own redis-servers on free ports and uses the normal PostgreSQL (DATABASE_URL's
// server) with two dedicated databases, recreated on every run: CHAOS_DB (default `repdyn_chaos`) for
// the drill and `<CHAOS_DB>_clean` for the reference. The drill runs the API and 2 workers as child
// processes (fast take-over settings: JOB_LOCK_MS=3000, STALLED_INTERVAL_MS=500,
// RECONCILE_INTERVAL_MS=1000), submits CHAOS_EXPERIMENTS (default 6) small experiments with different
// seeds, SIGKILLs a random worker every 3-6 s and starts a new one in its place, and FLUSHALLs Redis
// once (after the first experiment has succeeded or a third of the fault phase has passed). The fault
// phase lasts CHAOS_SECONDS (default 180, counted from the submissions) or until every experiment has
// finished. At the same time a
// clean service (its own API, one worker, database, redis-server and artifact directory; no faults)
// computes the same specs from scratch.
//
// Start-up waits (databases, servers, workers) allow 3 minutes each: a loaded machine is slow to start.
//
// Load: `--hog[=N]` or CHAOS_HOG=N runs N busy processes (default 2 with a bare --hog: the 2 cores of
// the development machine) beside the drill, from the submissions to the verdict.
//
// After the fault phase the drill stops killing and waits for the work that is left, drill and clean
// runs both, so that every succeeded tensor gets compared. The wait is bounded by what it measured: 3 x
// the mean seconds an experiment has taken so far (finishedAt - queuedAt over the experiments already
// finished, or the whole time so far when none has) x the experiments left per worker, x the load
// (1-minute loadavg per core, at least 1); at most CHAOS_MAX_WAIT_SECONDS (default 3600). Then it
// compares, and prints exactly one JSON line:
//
//   submitted   experiments the drill's API accepted (202)
//   succeeded   of those, experiments whose status is `succeeded` at the end
//   lost        failed, canceled or gone (the row is missing): data the drill lost
//   unfinished  still queued or running when the bounded wait ended: slow, not lost
//               (submitted = succeeded + lost + unfinished)
//   duplicated  (a) experiment rows beyond one per submission (idempotency key) +
//               (b) successes recorded more than once (every worker logs `experiment ID: succeeded`
//                   only when its own write moved the row to succeeded) +
//               (c) stored cells beyond the tensor's size (summary.cells)
//   mismatched  succeeded experiments whose tensor differs from the clean run of the same spec in
//               any cell: any metric, rank, or a single byte of the CCA coefficients
//   uncompared  succeeded experiments that could not be compared: the clean run of the same spec did
//               not succeed (or not in time)
//   compared    succeeded experiments compared byte for byte with their clean run
//
// plus what it measured: hog, kills, loadavg, seconds, waitBoundSeconds. Diagnostics (kills, flush,
// timings) go to stderr. Exit status 0 only when lost = duplicated = mismatched = unfinished =
// uncompared = 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../config/index.ts';
import type { Db } from '../store/db.ts';
import { freePort } from './lib/free-port.ts';
import { launchService, migrateDatabase } from './lib/service.ts';

const SECONDS = Number(process.env['CHAOS_SECONDS'] ?? 180);
const EXPERIMENTS = Number(process.env['CHAOS_EXPERIMENTS'] ?? 6);
const MAX_WAIT_SECONDS = Number(process.env['CHAOS_MAX_WAIT_SECONDS'] ?? 3600);
const DB_NAME = process.env['CHAOS_DB'] ?? 'repdyn_chaos';
if (!/^[a-z_][a-z0-9_]{0,40}$/.test(DB_NAME))
  throw new Error(`CHAOS_DB: not a plain database name: ${DB_NAME}`);
const HOG = (() => {
  const arg = process.argv.slice(2).find((a) => a === '--hog' || a.startsWith('--hog='));
  const value = arg ? (arg.includes('=') ? arg.split('=')[1] : '2') : (process.env['CHAOS_HOG'] ?? '0');
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new Error(`--hog / CHAOS_HOG: not a count: ${value}`);
  return n;
})();
const WORKERS = 2;
/** End of the fault phase (set once the experiments are submitted) and of the bounded wait after it. */
let faultsEnd = Number.POSITIVE_INFINITY;
let deadline = Number.POSITIVE_INFINITY;
const t0 = Date.now();
const note = (msg: string) =>
  process.stderr.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 180_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A small experiment: MLP 784-16-10, 512 training examples, 4 checkpoints, 64 probe examples. */
function spec(i: number) {
  return {
    name: `chaos-${i}`,
    reference: {
      dataset: 'mnist',
      architecture: { type: 'mlp', hidden: [16], activation: 'relu' },
      training: {
        epochs: 1,
        batchSize: 16,
        trainExamples: 512,
        seed: 100 + i,
        optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 },
      },
      checkpoints: { count: 4, spacing: 'linear' },
    },
    specimen: 'same',
    probe: { split: 'test', examples: 64, seed: i },
    similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
  };
}

const children = new Set<ChildProcess>();

/** The API and workers of one service (own database, queue prefix and artifact directory). */
async function service(name: string, databaseUrl: string, redisUrl: string) {
  const svc = await launchService({
    queuePrefix: `repdyn-chaos-${name}`,
    artifactPrefix: `repdyn-chaos-${name}-`,
    teamName: () => `chaos-${name}`,
    startTimeoutMs: 180_000,
    // the databases are recreated on every run; what the drill leaves stays for a look afterwards
    keepData: true,
    onChild: (child) => {
      children.add(child);
      child.once('exit', () => children.delete(child));
    },
    env: {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      JOB_LOCK_MS: '3000',
      STALLED_INTERVAL_MS: '500',
      RECONCILE_INTERVAL_MS: '1000',
      MAX_ACTIVE_EXPERIMENTS: '1000',
      RATE_LIMIT_MAX: '0',
    },
  });
  await svc.startApi();
  const { db, base, key, workers } = svc;
  return {
    db,
    base,
    key,
    workers,
    log: svc.output,
    async startWorker(): Promise<void> {
      await svc.startWorker().catch((err) => note(`${name}: ${String(err)}`));
    },
    kill(w: ChildProcess) {
      void svc.killWorker(w);
    },
    async submit(body: unknown, idempotencyKey: string): Promise<string | null> {
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          const res = await fetch(`${base}/v1/experiments`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${key}`,
              'content-type': 'application/json',
              'idempotency-key': idempotencyKey,
            },
            body: JSON.stringify(body),
          });
          if (res.status === 202) return ((await res.json()) as { id: string }).id;
          note(`${name}: submission answered ${res.status}: ${await res.text()}`);
        } catch (err) {
          note(`${name}: submission failed: ${String(err)}`);
        }
        await sleep(200);
      }
      return null;
    },
    async close() {
      await svc.stop({ apiSignal: 'SIGKILL' });
    },
  };
}

async function recreateDatabase(base: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

type Cell = Awaited<ReturnType<typeof cellsOf>>[number];
function cellsOf(db: Db, experimentId: string) {
  return db.cell.findMany({
    where: { experimentId },
    orderBy: [{ refLayer: 'asc' }, { specLayer: 'asc' }, { checkpoint: 'asc' }],
    omit: { experimentId: true },
  });
}

function sameCells(a: Cell[], b: Cell[]): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  return a.every((x, k) => {
    const y = b[k]!;
    const { coefficients: xc, ...xs } = x;
    const { coefficients: yc, ...ys } = y;
    return JSON.stringify(xs) === JSON.stringify(ys) && Buffer.from(xc).equals(Buffer.from(yc));
  });
}

async function main(): Promise<number> {
  const base = loadConfig().databaseUrl;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const [chaosUrl, cleanUrl] = await Promise.all([
    recreateDatabase(admin.toString(), DB_NAME),
    recreateDatabase(admin.toString(), `${DB_NAME}_clean`),
  ]);
  await Promise.all([migrateDatabase(chaosUrl), migrateDatabase(cleanUrl)]);

  // Two private redis-servers: the drill's (flushed once) and the clean service's (never touched).
  const startRedis = async () => {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    children.add(child);
    const url = `redis://127.0.0.1:${port}`;
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    await until('redis-server', async () => (await client.ping()) === 'PONG');
    return { url, client };
  };
  const [drillRedis, cleanRedis] = await Promise.all([startRedis(), startRedis()]);
  cleanRedis.client.disconnect();
  const redisAdmin = drillRedis.client;

  const chaos = await service('drill', chaosUrl, drillRedis.url);
  const clean = await service('clean', cleanUrl, cleanRedis.url);
  try {
    await Promise.all([...Array.from({ length: WORKERS }, () => chaos.startWorker()), clean.startWorker()]);
    // The load: busy processes beside the drill until the verdict (killed with the other children).
    for (let i = 0; i < HOG; i++) {
      const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
      children.add(hog);
      hog.once('exit', () => children.delete(hog));
    }
    if (HOG > 0) note(`${HOG} CPU hog process(es) running`);
    note(`services up; submitting ${EXPERIMENTS} experiments to each`);
    const specs = Array.from({ length: EXPERIMENTS }, (_, i) => spec(i));
    const ids = await Promise.all(specs.map((s, i) => chaos.submit(s, `chaos-${i}`)));
    const cleanIds = await Promise.all(specs.map((s, i) => clean.submit(s, `clean-${i}`)));
    const submitted = ids.filter((x): x is string => x !== null);
    // The fault phase starts now, however long a loaded machine took to start everything.
    const faultsStart = Date.now();
    faultsEnd = faultsStart + SECONDS * 1000;
    deadline = faultsEnd;

    const unfinished = async (db: Db, list: string[]) =>
      db.experiment.count({
        where: { id: { in: list }, status: { in: ['queued', 'training', 'capturing', 'computing'] } },
      });
    const succeededCount = async () =>
      chaos.db.experiment.count({ where: { id: { in: submitted }, status: 'succeeded' } });

    // The drill: a random worker killed every 3-6 s (and replaced), one FLUSHALL.
    let flushed = false;
    let kills = 0;
    let nextKill = Date.now() + 3_000 + Math.random() * 3_000;
    while (Date.now() < faultsEnd - 5_000) {
      const left = await unfinished(chaos.db, submitted).catch(() => submitted.length);
      if (left === 0) break;
      if (!flushed && ((await succeededCount()) > 0 || Date.now() - faultsStart > (SECONDS * 1000) / 3)) {
        await redisAdmin.flushall();
        flushed = true;
        note(`FLUSHALL (${left} experiments unfinished)`);
      }
      if (Date.now() >= nextKill && chaos.workers.length > 0) {
        const victim = chaos.workers[Math.floor(Math.random() * chaos.workers.length)]!;
        chaos.kill(victim);
        kills++;
        note(`SIGKILL worker ${victim.pid} (${left} unfinished)`);
        await chaos.startWorker();
        nextKill = Date.now() + 3_000 + Math.random() * 3_000;
      }
      await sleep(200);
    }
    if (!flushed) {
      await redisAdmin.flushall();
      flushed = true;
      note('FLUSHALL (at the end of the fault phase)');
    }
    note(`fault phase over after ${kills} kills; waiting for the work that is left`);

    // The bounded wait: no more faults; the drill's and the clean service's remaining experiments get a
    // time that scales with what an experiment has measured to take here, under this load.
    const cleanSubmitted = cleanIds.filter((x): x is string => x !== null);
    const remaining = async () =>
      (await unfinished(chaos.db, submitted)) + (await unfinished(clean.db, cleanSubmitted));
    const meanSeconds = async (): Promise<number> => {
      const done = [
        ...(await chaos.db.experiment.findMany({
          where: { id: { in: submitted }, finishedAt: { not: null } },
          select: { queuedAt: true, finishedAt: true },
        })),
        ...(await clean.db.experiment.findMany({
          where: { id: { in: cleanSubmitted }, finishedAt: { not: null } },
          select: { queuedAt: true, finishedAt: true },
        })),
      ];
      if (done.length === 0) return (Date.now() - faultsStart) / 1000;
      return (
        done.reduce((a, r) => a + (r.finishedAt!.getTime() - r.queuedAt.getTime()) / 1000, 0) / done.length
      );
    };
    const loadFactor = () => Math.max(1, loadavg()[0]! / availableParallelism());
    let waitBound = 0;
    for (;;) {
      const left = await remaining().catch(() => Number.POSITIVE_INFINITY);
      if (left === 0) break;
      const drillLeft = await unfinished(chaos.db, submitted).catch(() => submitted.length);
      const cleanLeft = await unfinished(clean.db, cleanSubmitted).catch(() => cleanSubmitted.length);
      // per service: experiments left per worker (the clean service has one worker, the drill WORKERS)
      const rounds = Math.max(Math.ceil(drillLeft / WORKERS), cleanLeft);
      const bound = Math.min(MAX_WAIT_SECONDS, 3 * (await meanSeconds()) * rounds * loadFactor());
      // the bound is re-measured as experiments finish; it never shrinks below what was granted
      deadline = Math.max(deadline, Math.min(faultsEnd + MAX_WAIT_SECONDS * 1000, Date.now() + bound * 1000));
      waitBound = Math.round((deadline - faultsEnd) / 1000);
      if (Date.now() >= deadline) {
        note(`wait bound reached (${waitBound} s after the fault phase) with ${left} experiments unfinished`);
        break;
      }
      await sleep(1_000);
    }

    // The verdict.
    const rows = await chaos.db.experiment.findMany({
      where: { team: { name: 'chaos-drill' } },
      select: {
        id: true,
        status: true,
        idempotencyKey: true,
        summary: true,
        errorCode: true,
        attempts: true,
      },
    });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const succeeded = submitted.filter((id) => byId.get(id)?.status === 'succeeded');
    let lost = 0;
    let unfinishedAtEnd = 0;
    for (const id of submitted) {
      const r = byId.get(id);
      if (r?.status === 'succeeded') continue;
      if (r && !['failed', 'canceled'].includes(r.status)) {
        unfinishedAtEnd++;
        note(`unfinished ${id}: still ${r.status} when the wait ended`);
      } else {
        lost++;
        note(`lost ${id}: ${r ? `${r.status} ${r.errorCode ?? ''}` : 'gone'}`);
      }
    }
    const extraRows = rows.length - new Set(rows.map((r) => r.idempotencyKey)).size;
    const workerLog = chaos.log();
    let extraSuccesses = 0;
    let extraCells = 0;
    let mismatched = 0;
    let uncompared = 0;
    let compared = 0;
    for (const [i, id] of ids.entries()) {
      const row = id ? byId.get(id) : undefined;
      if (!id || !row || row.status !== 'succeeded') continue;
      extraSuccesses += Math.max(0, workerLog.split(`experiment ${id}: succeeded`).length - 2);
      const cells = await cellsOf(chaos.db, id);
      extraCells += Math.max(0, cells.length - (row.summary as { cells: number }).cells);
      const reference = cleanIds[i];
      const cleanRow = reference ? await clean.db.experiment.findUnique({ where: { id: reference } }) : null;
      if (!reference || cleanRow?.status !== 'succeeded') {
        note(`uncompared ${id}: its clean run is ${cleanRow?.status ?? 'missing'}`);
        uncompared++;
        continue;
      }
      compared++;
      if (!sameCells(cells, await cellsOf(clean.db, reference))) {
        note(`mismatched ${id}: its tensor differs from its clean run`);
        mismatched++;
      }
    }
    const result = {
      submitted: submitted.length,
      succeeded: succeeded.length,
      lost,
      unfinished: unfinishedAtEnd,
      duplicated: extraRows + extraSuccesses + extraCells,
      mismatched,
      uncompared,
      compared,
      hog: HOG,
      kills,
      loadavg: Number(loadavg()[0]!.toFixed(2)),
      seconds: Math.round((Date.now() - t0) / 1000),
      waitBoundSeconds: waitBound,
    };
    const retaken = rows.filter((r) => r.attempts > 1).length;
    note(
      `kills ${kills}, flushed ${flushed}, ${retaken} experiments taken over at least once, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
    const bad = result.lost + result.unfinished + result.duplicated + result.mismatched + result.uncompared;
    return bad === 0 && result.submitted === EXPERIMENTS ? 0 : 1;
  } finally {
    await chaos.close();
    await clean.close();
    redisAdmin.disconnect();
    for (const c of children) c.kill('SIGKILL');
  }
}

// an interrupted drill leaves nothing running (servers, workers, hogs)
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(130);
  });
}

let code = 1;
try {
  code = await main();
} catch (err) {
  note(`failed: ${err instanceof Error ? err.stack : String(err)}`);
  for (const c of children) c.kill('SIGKILL');
}
process.exit(code);
