// ioredis connections. Workers need `maxRetriesPerRequest: null` (BullMQ); the API's connections
// fail fast while Redis is away (no offline queue) and keep reconnecting in the background.
import { Redis } from 'ioredis';
import { withTimeout } from '../core/timeout.ts';

export function createRedis(redisUrl: string, role: 'api' | 'worker'): Redis {
  const redis = new Redis(redisUrl, {
    lazyConnect: false,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    connectTimeout: 2_000,
    // the API never waits on a hung Redis (workers use blocking commands, so no timeout there)
    ...(role === 'api' ? { commandTimeout: 2_000 } : {}),
    retryStrategy: (attempt) => Math.min(250 * attempt, 2_000),
  });
  // Connection errors are reported through readiness checks and job failures, not as crashes.
  redis.on('error', () => {});
  return redis;
}

export async function pingRedis(redis: Redis, timeoutMs = 1_000): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
  await withTimeout(redis.ping(), timeoutMs, 'redis ping');
}

/**
 * BullMQ waits for a connection that is reconnecting, so the API bounds every queue call with
 * withTimeout (core/timeout.ts) instead of hanging a request.
 */
export { withTimeout };
