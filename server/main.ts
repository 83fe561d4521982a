// API entrypoint: validate config, check Postgres and Redis once, listen, close gracefully.
import { describeStartupError, loadConfigOrExit } from '../config/startup.ts';
import { AccessCache } from '../store/access-cache.ts';
import { createDb, pingDb } from '../store/db.ts';
import { ensureDatabase } from '../store/ensure-db.ts';
import { createExperimentQueue } from '../store/queue.ts';
import { createRedis, pingRedis } from '../store/redis.ts';
import { buildApp, loggerOptions } from './app.ts';

async function waitForRedisOnce(redis: ReturnType<typeof createRedis>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (redis.status !== 'ready') {
    if (Date.now() > deadline) throw new Error('connection refused');
    await new Promise((r) => setTimeout(r, 50));
  }
  await pingRedis(redis);
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const db = createDb(config.databaseUrl);
  const redis = createRedis(config.redisUrl, 'api');
  try {
    await ensureDatabase(config.databaseUrl);
    await pingDb(db, 5_000);
  } catch (err) {
    console.error(describeStartupError(err, config, 'postgres'));
    process.exit(1);
  }
  try {
    await waitForRedisOnce(redis, 3_000);
  } catch (err) {
    console.error(describeStartupError(err, config, 'redis'));
    process.exit(1);
  }
  const queue = createExperimentQueue(redis, config.queuePrefix);
  queue.on('error', () => {}); // reported through /ready and submissions (503), not as crashes
  let warn = (message: string) => console.warn(message); // the app's logger once it exists
  const accessCache = new AccessCache(config.databaseUrl, {
    onLost: (err) =>
      warn(`access cache: LISTEN connection lost (${err.message}); checks query until it is back`),
  });
  await accessCache.start();
  const app = await buildApp(
    { config, db, redis, queue, accessCache },
    { logger: loggerOptions(config.logLevel) },
  );
  warn = (message) => app.log.warn(message);
  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'closing');
    await app.close();
    await accessCache.stop();
    await queue.close().catch(() => undefined);
    redis.disconnect();
    await db.$disconnect();
    process.exit(0);
  };
  process.on('SIGINT', () => void close('SIGINT'));
  process.on('SIGTERM', () => void close('SIGTERM'));
  await app.listen({ host: config.host, port: config.port });
}

await main();
