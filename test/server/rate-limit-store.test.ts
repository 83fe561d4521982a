// The rate-limit store (server/plugins/security.ts) against the real Redis: far from a bucket's limit
// requests are answered at once and reach Redis in batches (one INCRBY per bucket per flush, not a
// round trip per request); near the limit every request is counted in Redis itself, so the budget
// holds exactly; two stores (two API processes) share one count.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  BATCH_FLUSH_MS,
  BatchedRateLimitStore,
  batchHeadroom,
  GuardedRedisStore,
} from '../../server/plugins/security.ts';
import { testConfig, waitFor } from '../helpers/env.ts';

const WINDOW_MS = 60_000;

/** The real guarded store, counting the commands it sends. */
class CountingStore extends GuardedRedisStore {
  commands = 0;
  override incrBy(...args: Parameters<GuardedRedisStore['incrBy']>): void {
    this.commands++;
    super.incrBy(...args);
  }
}

describe('batched rate-limit store', () => {
  let redis: Redis;
  const namespace = `repdyn-test-rl-${randomBytes(4).toString('hex')}:`;
  const store = () => {
    const inner = new CountingStore(redis, namespace, 1_000, 1_000);
    // as registerRateLimit: batched while 50 or a tenth of the budget remain
    const outer = new BatchedRateLimitStore(inner, batchHeadroom, BATCH_FLUSH_MS, WINDOW_MS);
    return { inner, outer };
  };
  const incr = (s: BatchedRateLimitStore, key: string, max: number) =>
    new Promise<{ current: number; ttl: number }>((resolve, reject) =>
      s.incr(key, (err, res) => (err || !res ? reject(err) : resolve(res)), WINDOW_MS, max),
    );
  const stored = async (key: string) => Number((await redis.get(namespace + key)) ?? 0);
  /** `n` requests one after another: the counts the store answered them with. */
  const countsOf = async (s: BatchedRateLimitStore, key: string, max: number, n: number) => {
    const counts: number[] = [];
    for (let i = 0; i < n; i++) counts.push((await incr(s, key, max)).current);
    return counts;
  };
  const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  before(async () => {
    redis = new Redis(testConfig().redisUrl, { maxRetriesPerRequest: 1 });
    await waitFor(() => redis.status === 'ready', { what: 'redis ready' });
  });
  after(async () => {
    const keys = await redis.keys(`${namespace}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('far from the limit: exact counts at once, sent to Redis in batches', async () => {
    const { inner, outer } = store();
    assert.deepEqual(await countsOf(outer, 'far', 10_000, 300), oneTo(300));
    await waitFor(async () => (await stored('far')) === 300, { what: 'the batches to reach Redis' });
    // the first request asked Redis (a new bucket); the other 299 went in batches, every 100 ms
    assert.ok(inner.commands >= 2 && inner.commands < 30, `${inner.commands} commands for 300 requests`);
    assert.ok(
      (await redis.pttl(`${namespace}far`)) > WINDOW_MS - 10_000,
      'the window set by the first count',
    );
    outer.close();
  });

  it('near the limit: every request counted in Redis, the limit exact', async () => {
    const { inner, outer } = store();
    assert.deepEqual(await countsOf(outer, 'near', 50, 50), oneTo(50));
    assert.equal(inner.commands, 50, 'a budget of 50 is never more than the headroom (50) away: no batching');
    assert.equal((await incr(outer, 'near', 50)).current, 51, 'the 51st request is over the limit');
    assert.equal(await stored('near'), 51);
    outer.close();
  });

  it('two processes share one budget; near its end every count asks Redis', async () => {
    const a = store();
    const b = store();
    for (let i = 0; i < 100; i++) await incr(a.outer, 'shared', 1_000);
    await waitFor(async () => (await stored('shared')) === 100, { what: "a's batches in Redis" });
    assert.equal((await incr(b.outer, 'shared', 1_000)).current, 101, "b's first request sees a's 100");
    for (let i = 0; i < 50; i++) await incr(b.outer, 'shared', 1_000);
    await waitFor(async () => (await stored('shared')) === 151, { what: "b's batches in Redis" });
    // a learns b's counts with its next batch
    await waitFor(async () => (await incr(a.outer, 'shared', 1_000)).current > 152, {
      what: "a to learn b's counts",
    });
    // another process brings the count near the limit (900 of 1,000 leaves the headroom of 100)
    await redis.set(`${namespace}shared`, 950, 'KEEPTTL');
    await waitFor(async () => (await incr(a.outer, 'shared', 1_000)).current > 950, {
      what: 'a to learn the count near the limit',
    });
    const before = a.inner.commands;
    const next = await incr(a.outer, 'shared', 1_000);
    assert.equal(a.inner.commands, before + 1, 'near the limit: counted in Redis');
    assert.equal(next.current, await stored('shared'), 'and exactly');
    a.outer.close();
    b.outer.close();
  });
});
