// Starts the real API and worker processes against the test database, with a private queue prefix
// and artifact directory, and creates a team with an API key (scripts/lib/service.ts, the launcher
// the benchmarks and the chaos drill use too). stop() removes everything it made.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { launchService } from '../../scripts/lib/service.ts';
import type { Db } from '../../store/db.ts';
import { EXPERIMENT_QUEUE } from '../../store/queue.ts';
import { testConfig } from './env.ts';
import { type LocalS3, startLocalS3 } from './s3.ts';

export { tinySpec } from './spec.ts';

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
  /** starts one more worker process (with `env` on top of the service's) once it is taking jobs */
  startWorker(env?: Record<string, string>): Promise<ChildProcess>;
  /** kills a worker process (SIGKILL by default: no clean-up of any kind) and forgets it */
  killWorker(worker?: ChildProcess, signal?: NodeJS.Signals): Promise<void>;
  newTeam(): Promise<{ key: string; teamId: string }>;
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

export async function startService(
  options: { workers?: number; env?: Record<string, string>; s3?: LocalS3 } = {},
): Promise<Service> {
  const config = testConfig(options.env);
  // TEST_ARTIFACT_STORE=s3 runs every service of a test file on a local S3 endpoint of its own
  // (e.g. `TEST_ARTIFACT_STORE=s3 npm test e2e/experiments`): the same tests against object storage
  const ownS3 = !options.s3 && process.env['TEST_ARTIFACT_STORE'] === 's3' ? await startLocalS3() : null;
  const s3 = options.s3 ?? ownS3;
  const svc = await launchService({
    env: {
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
      // artifacts in a bucket of a local S3 endpoint (a prefix of this service's own) instead of the directory
      ...(s3 ? s3.env(`svc-${randomBytes(4).toString('hex')}`) : {}),
      ...options.env,
    },
  });
  // A start that fails (a loaded machine, a crash) must not leave the API or a worker running: an
  // orphaned child keeps the test file, and so the whole runner, alive forever.
  const abandon = async (err: unknown): Promise<never> => {
    await svc.stop({ apiSignal: 'SIGKILL' }).catch(() => undefined);
    await ownS3?.close();
    throw new Error(`${err}\n${svc.output()}`);
  };
  const api = await svc.startApi().catch(abandon);
  for (let i = 0; i < (options.workers ?? 1); i++) await svc.startWorker().catch(abandon);
  const queueRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  queueRedis.on('error', () => {}); // a test may stop its private Redis
  const queue = new Queue(EXPERIMENT_QUEUE, { connection: queueRedis, prefix: svc.queuePrefix });
  queue.on('error', () => {});
  return {
    base: svc.base,
    db: svc.db,
    env: svc.env,
    key: svc.key,
    teamId: svc.teamId,
    queue,
    workers: svc.workers,
    api,
    output: svc.output,
    startWorker: (env?: Record<string, string>) => svc.startWorker(env ? { env } : {}),
    killWorker: svc.killWorker,
    newTeam: svc.newTeam,
    request(path, init = {}) {
      const { key: k = svc.key, headers, ...rest } = init;
      return fetch(`${svc.base}${path}`, {
        ...rest,
        headers: {
          ...(k ? { authorization: `Bearer ${k}` } : {}),
          ...(rest.body ? { 'content-type': 'application/json' } : {}),
          ...(headers as Record<string, string>),
        },
      });
    },
    async stop() {
      await queue.close().catch(() => undefined);
      queueRedis.disconnect();
      await svc.stop();
      await ownS3?.close();
    },
  };
}
