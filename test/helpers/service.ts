// Starts the real API and worker processes against the test database, with a private queue prefix
// and artifact directory, and creates a team with an API key. stop() removes everything it made.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createTeam } from '../../store/auth.ts';
import { createDb, type Db } from '../../store/db.ts';
import { EXPERIMENT_QUEUE } from '../../store/queue.ts';
import { freePort, repoRoot, stopProcess, testConfig, waitFor } from './env.ts';
import type { LocalS3 } from './s3.ts';

export interface Service {
  base: string;
  db: Db;
  env: Record<string, string>;
  key: string;
  teamId: string;
  queue: Queue;
  workers: ChildProcess[];
  api: ChildProcess;
  output: () => string;
  /** starts one more worker process and resolves once it is taking jobs */
  startWorker(): Promise<ChildProcess>;
  /** kills a worker process (SIGKILL by default: no clean-up of any kind) and forgets it */
  killWorker(worker?: ChildProcess, signal?: NodeJS.Signals): Promise<void>;
  newTeam(): Promise<{ key: string; teamId: string }>;
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

export async function startService(
  options: { workers?: number; env?: Record<string, string>; s3?: LocalS3 } = {},
): Promise<Service> {
  const tag = randomBytes(4).toString('hex');
  const artifactDir = mkdtempSync(join(tmpdir(), `repdyn-art-${tag}-`));
  const port = await freePort();
  const config = testConfig(options.env);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    QUEUE_PREFIX: `repdyn-test-${tag}`,
    ARTIFACT_DIR: artifactDir,
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
    // artifacts in a bucket of a local S3 endpoint (a prefix of this service's own) instead of the directory
    ...(options.s3 ? options.s3.env(`svc-${tag}`) : {}),
    ...options.env,
  };
  let output = '';
  const launch = (entry: string, onOutput?: (text: string) => void) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (d: Buffer) => {
      output += d;
      onOutput?.(String(d));
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    return child;
  };
  const db = createDb(config.databaseUrl, { poolSize: 4 });
  const teams: string[] = [];
  const newTeam = async () => {
    const t = await createTeam(db, `test-${tag}-${teams.length}`);
    teams.push(t.teamId);
    return t;
  };
  const { key, teamId } = await newTeam();
  const api = launch('server/main.ts');
  const base = `http://127.0.0.1:${port}`;
  const workers: ChildProcess[] = [];
  // A start that fails (a loaded machine, a crash) must not leave the API or a worker running: an
  // orphaned child keeps the test file, and so the whole runner, alive forever.
  const abandon = async (err: unknown): Promise<never> => {
    await Promise.all([api, ...workers].map((c) => stopProcess(c, 'SIGKILL')));
    await db.team.deleteMany({ where: { id: { in: teams } } }).catch(() => undefined);
    await db.$disconnect();
    rmSync(artifactDir, { recursive: true, force: true });
    throw new Error(`${err}\n${output}`);
  };
  await waitFor(async () => (await fetch(`${base}/health`)).ok, { timeoutMs: 120_000, what: 'API up' }).catch(
    abandon,
  );
  const startWorker = async () => {
    let own = '';
    const w = launch('worker/main.ts', (text) => {
      own += text;
    });
    workers.push(w);
    await waitFor(() => own.includes('repdyn worker: tfjs backend') || w.exitCode !== null, {
      timeoutMs: 120_000,
      what: 'worker up',
    });
    if (w.exitCode !== null) throw new Error(`worker exited with ${w.exitCode}:\n${own}`);
    return w;
  };
  const killWorker = async (w = workers[0], signal: NodeJS.Signals = 'SIGKILL') => {
    if (!w) throw new Error('no worker to kill');
    await stopProcess(w, signal);
    workers.splice(workers.indexOf(w), 1);
  };
  for (let i = 0; i < (options.workers ?? 1); i++) await startWorker().catch(abandon);
  const queueRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  queueRedis.on('error', () => {}); // a test may stop its private Redis
  const queue = new Queue(EXPERIMENT_QUEUE, {
    connection: queueRedis,
    prefix: env['QUEUE_PREFIX'],
  });
  queue.on('error', () => {});
  return {
    base,
    db,
    env,
    key,
    teamId,
    queue,
    workers,
    api,
    output: () => output,
    startWorker,
    killWorker,
    newTeam,
    request(path, init = {}) {
      const { key: k = key, headers, ...rest } = init;
      return fetch(`${base}${path}`, {
        ...rest,
        headers: {
          ...(k ? { authorization: `Bearer ${k}` } : {}),
          ...(rest.body ? { 'content-type': 'application/json' } : {}),
          ...(headers as Record<string, string>),
        },
      });
    },
    async stop() {
      await Promise.all(workers.map((w) => stopProcess(w, 'SIGKILL')));
      await stopProcess(api);
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      const counters = await queueRedis.keys(`${env['QUEUE_PREFIX']}:rate-limit:*`).catch(() => []);
      if (counters.length > 0) await queueRedis.del(...counters).catch(() => undefined);
      queueRedis.disconnect();
      const runs = await db.experiment.findMany({
        where: { teamId: { in: teams } },
        select: { referenceRunId: true, specimenRunId: true },
      });
      await db.team.deleteMany({ where: { id: { in: teams } } });
      const runIds = runs.flatMap((r) => [r.referenceRunId, r.specimenRunId]).filter((x): x is string => !!x);
      await db.run.deleteMany({
        where: { id: { in: runIds }, referenceOf: { none: {} }, specimenOf: { none: {} } },
      });
      await db.$disconnect();
      rmSync(artifactDir, { recursive: true, force: true });
    },
  };
}

/** The example body: a tiny MLP on MNIST, Net_S = Net_R. */
export function tinySpec(overrides: Record<string, unknown> = {}) {
  return {
    name: 'tiny',
    reference: {
      dataset: 'mnist',
      architecture: { type: 'mlp', hidden: [32, 32], activation: 'relu' },
      training: {
        epochs: 1,
        batchSize: 64,
        trainExamples: 512,
        seed: 1,
        optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 },
      },
      checkpoints: { count: 4, spacing: 'log' },
    },
    specimen: 'same',
    probe: { split: 'test', examples: 256, seed: 0 },
    similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
    ...overrides,
  };
}
