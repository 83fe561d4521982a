// The API built in-process (buildApp + inject) on the real test Postgres and Redis, with a private
// queue prefix and its own teams; no worker. For fast HTTP-level tests. close() removes what it made.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/index.ts';
import { buildApp } from '../../server/app.ts';
import { rateLimitNamespace } from '../../server/plugins/security.ts';
import { AccessCache } from '../../store/access-cache.ts';
import { createTeam } from '../../store/auth.ts';
import { createDb, type Db, type ExperimentStatus } from '../../store/db.ts';
import { encodeCoefficients } from '../../store/experiments.ts';
import { createExperimentQueue, type ExperimentQueue } from '../../store/queue.ts';
import { createRedis } from '../../store/redis.ts';
import { testConfig, waitFor } from './env.ts';
import { tinySpec } from './service.ts';

export interface TestApp {
  app: FastifyInstance;
  /** the access checks' cache, with `startApp(…, { accessCache: true })` */
  accessCache: AccessCache | null;
  config: Config;
  db: Db;
  redis: Redis;
  queue: ExperimentQueue;
  key: string;
  teamId: string;
  newTeam(): Promise<{ key: string; teamId: string }>;
  close(): Promise<void>;
}

export async function startApp(
  env: Record<string, string> = {},
  options: FastifyServerOptions = { logger: false },
  extras: { accessCache?: boolean } = {},
): Promise<TestApp> {
  const tag = randomBytes(4).toString('hex');
  const config = testConfig({ QUEUE_PREFIX: `repdyn-test-${tag}`, ...env });
  const db = createDb(config.databaseUrl, { poolSize: 4 });
  const redis = createRedis(config.redisUrl, 'api');
  await waitFor(() => redis.status === 'ready', { what: 'redis ready' });
  const queue = createExperimentQueue(redis, config.queuePrefix);
  const accessCache = extras.accessCache ? new AccessCache(config.databaseUrl) : null;
  if (accessCache) {
    await accessCache.start();
    if (!accessCache.live) throw new Error('access cache: LISTEN did not start');
  }
  const app = await buildApp({ config, db, redis, queue, ...(accessCache && { accessCache }) }, options);
  await app.ready();
  const teams: string[] = [];
  const newTeam = async () => {
    const t = await createTeam(db, `test-${tag}-${teams.length}`);
    teams.push(t.teamId);
    return t;
  };
  const { key, teamId } = await newTeam();
  return {
    app,
    accessCache,
    config,
    db,
    redis,
    queue,
    key,
    teamId,
    newTeam,
    async close() {
      await app.close();
      await accessCache?.stop();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      const counters = await redis.keys(`${rateLimitNamespace(config)}*`).catch(() => []);
      if (counters.length > 0) await redis.del(...counters).catch(() => undefined);
      redis.disconnect();
      await db.team.deleteMany({ where: { id: { in: teams } } });
      await db.$disconnect();
    },
  };
}

export const SEED_LAYERS = ['input', 'fc1', 'fc2', 'logits'];

/**
 * An experiment written straight to the database (no worker): 4 x 4 layers x 4 checkpoints, every
 * cell stored with rho = 1 on the diagonal at the last checkpoint, else 0.2 + 0.05 (i + j + t).
 * Its run is removed by `cleanup` (experiments go with their team).
 */
export async function seedExperiment(
  t: TestApp,
  options: { status?: ExperimentStatus; cells?: boolean } = {},
): Promise<{ id: string; runId: string; cleanup: () => Promise<void> }> {
  const status = options.status ?? 'succeeded';
  const run = await t.db.run.create({
    data: {
      key: randomBytes(16).toString('hex'),
      spec: {},
      status: 'done',
      checkpoints: {
        create: [0, 1, 2, 3].map((i) => ({
          index: i,
          step: [0, 3, 9, 27][i],
          fraction: [0, 0.1, 0.33, 1][i],
        })),
      },
    },
  });
  const exp = await t.db.experiment.create({
    data: {
      teamId: t.teamId,
      name: 'seeded',
      spec: tinySpec(),
      specHash: 'seeded',
      status,
      finishedAt: status === 'succeeded' ? new Date() : null,
      checkpointCount: 4,
      referenceRunId: run.id,
      specimenRunId: run.id,
      layers: {
        create: (['reference', 'specimen'] as const).flatMap((network) =>
          SEED_LAYERS.map((name, index) => ({
            network,
            index,
            name,
            kind: 'dense',
            features: 8,
            samples: 16,
          })),
        ),
      },
    },
  });
  const cells = [];
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++)
      for (let c = 0; c < 4; c++) {
        const rho = i === j && c === 3 ? 1 : 0.2 + 0.05 * (i + j + c);
        cells.push({
          experimentId: exp.id,
          refLayer: i,
          specLayer: j,
          checkpoint: c,
          rho,
          mean: rho,
          svcca: rho,
          pwcca: null,
          cka: rho,
          rankRef: 8,
          rankSpec: 8,
          coefficients: new Uint8Array(encodeCoefficients([rho, rho / 2])),
        });
      }
  if (options.cells !== false) await t.db.cell.createMany({ data: cells });
  return {
    id: exp.id,
    runId: run.id,
    cleanup: async () => {
      await t.db.experiment.deleteMany({ where: { id: exp.id } });
      await t.db.run.deleteMany({ where: { id: run.id } });
    },
  };
}
