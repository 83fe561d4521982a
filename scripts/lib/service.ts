// One launcher for a private repdyn service: the API and worker processes (`node --import tsx
// server/main.ts`, `worker/main.ts`) on a free loopback port, with their own queue prefix, temporary
// artifact directory and team with an API key, plus the clean-up that removes all of it. Used by the
// test helpers (test/helpers/service.ts), the benchmarks (bench-api, bench-abuse, bench-cancel) and the
// chaos drill, which differ only in the options below.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig, repoRoot } from '../../config/index.ts';
import { createTeam } from '../../store/auth.ts';
import { createDb, type Db } from '../../store/db.ts';
import { EXPERIMENT_QUEUE } from '../../store/queue.ts';
import { freePort } from './free-port.ts';
import { stopProcess, waitFor } from './process.ts';

export { stopProcess, waitFor };

/** What a worker prints once it is taking jobs. */
export const WORKER_READY = 'repdyn worker: tfjs backend';

/** `npm run db:migrate` against `databaseUrl`; rejects with its error output when it fails. */
export function migrateDatabase(
  databaseUrl: string,
  { stderr = 'capture' }: { stderr?: 'inherit' | 'capture' } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'db:migrate'], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'ignore', stderr === 'inherit' ? 'inherit' : 'pipe'],
    });
    let err = '';
    child.stderr?.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`db:migrate failed; is PostgreSQL running? ${err}`)),
    );
  });
}

export interface ServiceOptions {
  /** The queue prefix (default `repdyn-test-<random tag>`). */
  queuePrefix?: string;
  /** The temporary artifact directory's name prefix (default `repdyn-art-<tag>-`). */
  artifactPrefix?: string;
  /** The team's name; `n` counts the teams made so far (default `test-<tag>-<n>`). */
  teamName?: (n: number) => string;
  /** Environment of the API and workers, over process.env and the launcher's own settings. */
  env?: Record<string, string>;
  /** Extra node flags for the API process (e.g. --cpu-prof). */
  apiNodeArgs?: string[];
  /** The route that says the API is up (default /health), and how long to wait for it and a worker. */
  readyPath?: string;
  startTimeoutMs?: number;
  /** Copy the processes' stderr to this process's stderr (it is collected in output() either way). */
  echoStderr?: boolean;
  /** Leave the teams, rows, queue and artifacts in place at stop() (the caller drops the database). */
  keepData?: boolean;
  /** Called with every process started (e.g. to kill them all on exit). */
  onChild?: (child: ChildProcess) => void;
}

export interface LaunchedService {
  base: string;
  port: number;
  db: Db;
  /** The environment the API and workers run with (PORT, QUEUE_PREFIX, ARTIFACT_DIR, …). */
  env: Record<string, string>;
  queuePrefix: string;
  artifactDir: string;
  key: string;
  teamId: string;
  teamName: string;
  /** The API process, once startApi() resolved. */
  api: ChildProcess | undefined;
  /** The live worker processes (killWorker removes one). */
  workers: ChildProcess[];
  /** Everything the processes printed so far. */
  output(): string;
  /** Starts the API and resolves once `readyPath` answers 200. */
  startApi(): Promise<ChildProcess>;
  /**
   * Starts a worker (with `env` on top of the service's); with `ready` (default) resolves once it is
   * taking jobs, else at once.
   */
  startWorker(options?: { ready?: boolean; env?: Record<string, string> }): Promise<ChildProcess>;
  /** Kills a worker process (SIGKILL by default: no clean-up of any kind) and forgets it. */
  killWorker(worker?: ChildProcess, signal?: NodeJS.Signals): Promise<void>;
  newTeam(): Promise<{ key: string; teamId: string }>;
  /** Stops every process (workers with SIGKILL, the API with `apiSignal`) and removes what it made. */
  stop(options?: { apiSignal?: NodeJS.Signals }): Promise<void>;
}

/**
 * Makes the artifact directory, the database connection and the team; processes start with
 * startApi()/startWorker(). `databaseUrl`/`redisUrl` come from DATABASE_URL/REDIS_URL (or `env`).
 */
export async function launchService(options: ServiceOptions = {}): Promise<LaunchedService> {
  const tag = randomBytes(4).toString('hex');
  const config = loadConfig({ ...process.env, ...options.env });
  const queuePrefix = options.queuePrefix ?? `repdyn-test-${tag}`;
  const artifactDir = mkdtempSync(join(tmpdir(), options.artifactPrefix ?? `repdyn-art-${tag}-`));
  const teamName = options.teamName ?? ((n: number) => `test-${tag}-${n}`);
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    QUEUE_PREFIX: queuePrefix,
    ARTIFACT_DIR: artifactDir,
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  let output = '';
  const launch = (entry: string, nodeArgs: string[] = [], extraEnv: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
      cwd: repoRoot,
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let own = '';
    const collect = (d: Buffer) => {
      output += d;
      own += d;
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', (d: Buffer) => {
      collect(d);
      if (options.echoStderr) process.stderr.write(d);
    });
    options.onChild?.(child);
    return { child, printed: () => own };
  };
  const db = createDb(config.databaseUrl, { poolSize: 4 });
  const teams: string[] = [];
  const newTeam = async () => {
    const t = await createTeam(db, teamName(teams.length));
    teams.push(t.teamId);
    return t;
  };
  const { key, teamId } = await newTeam();
  const base = `http://127.0.0.1:${port}`;
  const workers: ChildProcess[] = [];

  const service: LaunchedService = {
    base,
    port,
    db,
    env,
    queuePrefix,
    artifactDir,
    key,
    teamId,
    teamName: teamName(0),
    api: undefined,
    workers,
    output: () => output,
    async startApi() {
      const { child } = launch('server/main.ts', options.apiNodeArgs);
      service.api = child;
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`the API exited with ${child.exitCode}`);
          return (await fetch(`${base}${options.readyPath ?? '/health'}`)).ok;
        },
        { timeoutMs: startTimeoutMs, intervalMs: 100, what: 'API up' },
      );
      return child;
    },
    async startWorker({ ready = true, env: workerEnv = {} } = {}) {
      const w = launch('worker/main.ts', [], workerEnv);
      workers.push(w.child);
      if (!ready) return w.child;
      await waitFor(() => w.printed().includes(WORKER_READY) || w.child.exitCode !== null, {
        timeoutMs: startTimeoutMs,
        what: 'worker up',
      });
      if (w.child.exitCode !== null)
        throw new Error(`worker exited with ${w.child.exitCode}:\n${w.printed()}`);
      return w.child;
    },
    async killWorker(w = workers[0], signal = 'SIGKILL') {
      if (!w) throw new Error('no worker to kill');
      workers.splice(workers.indexOf(w), 1);
      await stopProcess(w, signal);
    },
    newTeam,
    async stop({ apiSignal = 'SIGTERM' } = {}) {
      await Promise.all(workers.map((w) => stopProcess(w, 'SIGKILL')));
      await stopProcess(service.api, apiSignal, 10_000);
      if (!options.keepData) {
        const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
        connection.on('error', () => {}); // a test may have stopped its private Redis
        const queue = new Queue(EXPERIMENT_QUEUE, { connection, prefix: queuePrefix });
        queue.on('error', () => {});
        await queue.obliterate({ force: true }).catch(() => undefined);
        await queue.close().catch(() => undefined);
        const counters = await connection.keys(`${queuePrefix}:rate-limit:*`).catch(() => []);
        if (counters.length > 0) await connection.del(...counters).catch(() => undefined);
        connection.disconnect();
        const runs = await db.experiment.findMany({
          where: { teamId: { in: teams } },
          select: { referenceRunId: true, specimenRunId: true },
        });
        await db.team.deleteMany({ where: { id: { in: teams } } });
        const runIds = runs
          .flatMap((r) => [r.referenceRunId, r.specimenRunId])
          .filter((x): x is string => !!x);
        await db.run.deleteMany({
          where: { id: { in: runIds }, referenceOf: { none: {} }, specimenOf: { none: {} } },
        });
      }
      await db.$disconnect();
      rmSync(artifactDir, { recursive: true, force: true });
    },
  };
  return service;
}
