// The API built in-process (buildApp + inject) on the real test Postgres and Redis, with a private
// queue prefix and its own teams; no worker. For fast HTTP-level tests. close() removes what it made.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/index.ts';
import { buildApp } from '../../server/app.ts';
import { createTeam } from '../../store/auth.ts';
import { createDb, type Db } from '../../store/db.ts';
import { createExperimentQueue, type ExperimentQueue } from '../../store/queue.ts';
import { createRedis } from '../../store/redis.ts';
import { testConfig, waitFor } from './env.ts';

export interface TestApp {
  app: FastifyInstance;
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
): Promise<TestApp> {
  const tag = randomBytes(4).toString('hex');
  const config = testConfig({ QUEUE_PREFIX: `repdyn-test-${tag}`, ...env });
  const db = createDb(config.databaseUrl, { poolSize: 4 });
  const redis = createRedis(config.redisUrl, 'api');
  await waitFor(() => redis.status === 'ready', { what: 'redis ready' });
  const queue = createExperimentQueue(redis, config.queuePrefix);
  const app = await buildApp({ config, db, redis, queue }, options);
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
    config,
    db,
    redis,
    queue,
    key,
    teamId,
    newTeam,
    async close() {
      await app.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      redis.disconnect();
      await db.team.deleteMany({ where: { id: { in: teams } } });
      await db.$disconnect();
    },
  };
}
