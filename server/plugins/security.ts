// Security headers (helmet) and CORS for every route; the per-key rate limit for /v1.
//
// CSP: same-origin scripts, styles, fonts, images and fetches, plus data:/blob: images and inline
// styles (Swagger UI at /docs sets element styles and uses data: icons; the web page at / shows
// figures it fetched with the key as blob: images). No inline scripts or inline event handlers, no
// third-party origins, no framing by other sites, no plugins. HTTP is not upgraded to HTTPS (the
// service often runs on plain http://127.0.0.1).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmetMiddleware from 'helmet';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/index.ts';
import { HttpError } from '../schemas/error.ts';

export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  upgradeInsecureRequests: null,
};

const HELMET_OPTIONS = {
  contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
  // HSTS only means something behind TLS; a reverse proxy that terminates TLS should set it.
  strictTransportSecurity: false,
} as const;

/**
 * Helmet's headers, computed once by helmet itself: with no CSP nonces they are the same on every
 * answer. (@fastify/helmet built helmet's middleware again for every request, parsing and checking
 * the CSP directives each time: a measurable share of a cheap request under load.)
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = (() => {
  const headers: Record<string, string> = {};
  const collect = {
    setHeader: (k: string, v: string | number) => {
      headers[k.toLowerCase()] = String(v);
    },
    removeHeader: () => {},
  };
  helmetMiddleware(HELMET_OPTIONS)({} as IncomingMessage, collect as unknown as ServerResponse, () => {});
  return Object.freeze(headers);
})();

/**
 * Sets the same security headers on a raw response: for the answers Fastify gives before any hook
 * runs (a malformed URL, a path parameter too long), see server/plugins/errors.ts.
 */
export function applySecurityHeaders(_req: IncomingMessage, res: ServerResponse): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
}

/** The security headers as header lines, for answers written straight to a socket. */
export function securityHeaderLines(): string {
  return Object.entries(SECURITY_HEADERS)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
}

export async function registerSecurity(app: FastifyInstance, config: Config): Promise<void> {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    done();
  });
  // Without CORS_ORIGINS no Access-Control-* header is sent: browsers allow same-origin only.
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins[0] === '*' ? '*' : config.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'if-none-match'],
      exposedHeaders: [
        'etag',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
        'x-repdyn-shape',
        'x-repdyn-axes',
      ],
      maxAge: 600,
    });
  }
}

/** Where the rate-limit counters live in Redis. */
export function rateLimitNamespace(config: Config): string {
  return `${config.queuePrefix}:rate-limit:`;
}

/**
 * The bucket a request counts against: its API key (after authentication, so by key id); for a
 * share token, the budget of the key that minted it (or of its team, for tokens minted before keys
 * were recorded), so minting more tokens buys no more requests; else its client address.
 */
export function rateLimitKey(request: FastifyRequest): string {
  if (request.principal) return `key:${request.principal.keyId}`;
  if (request.shareOwner) return request.shareOwner;
  return `ip:${request.ip}`;
}

/** Counts a request against its bucket; throws the 429 HttpError when the bucket is spent. */
export type RateLimitHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

interface StoreResult {
  current: number;
  ttl: number;
}
type StoreCallback = (err: Error | null, res: StoreResult | null) => void;
interface RateLimitStore {
  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void;
}
// @fastify/rate-limit's own Redis store (its Lua script), wrapped below with a timeout and a breaker
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  nameSpace: string,
) => RateLimitStore;

/** Far from a bucket's limit (more than 50 requests or a tenth of the budget left), requests are
 * counted in batches, sent to Redis every 100 ms (BatchedRateLimitStore). */
export const BATCH_FLUSH_MS = 100;
/** How many requests from its limit a bucket is counted in Redis one by one. */
export const batchHeadroom = (max: number): number => Math.max(50, Math.ceil(max / 10));

/** INCRBY with @fastify/rate-limit's window rule (the window starts at the bucket's first count). */
const INCR_BY_LUA = `
  local n = tonumber(ARGV[1])
  local window = tonumber(ARGV[2])
  local current = redis.call('INCRBY', KEYS[1], n)
  if current == n then
    redis.call('PEXPIRE', KEYS[1], window)
  else
    window = redis.call('PTTL', KEYS[1])
  end
  return {current, window}
`;

type RedisWithIncrBy = Redis & {
  rateLimitIncrBy?: (
    key: string,
    n: number,
    window: number,
    cb: (err: Error | null, r?: number[]) => void,
  ) => void;
};

/**
 * The rate-limit store in Redis, guarded so that a slow, hung or lost Redis never slows a request:
 * a count that takes longer than `timeoutMs` is given up (the request goes through uncounted), and
 * after a failure the store stops asking Redis for `cooldownMs` (circuit open); then one request
 * probes it again (half-open) and a prompt answer closes the circuit.
 */
export class GuardedRedisStore implements RateLimitStore {
  private readonly inner: RateLimitStore;
  private openUntil = 0;
  private probing = false;
  constructor(
    private readonly redis: Redis,
    private readonly nameSpace: string,
    private readonly timeoutMs: number,
    private readonly cooldownMs: number,
    private readonly onTrip: (reason: string) => void = () => {},
  ) {
    this.inner = new RedisStore(false, false, redis, nameSpace);
    const r = redis as RedisWithIncrBy;
    if (!r.rateLimitIncrBy) redis.defineCommand('rateLimitIncrBy', { numberOfKeys: 1, lua: INCR_BY_LUA });
  }

  /** open: Redis is not being asked (requests are not counted) */
  get open(): boolean {
    return this.openUntil > Date.now();
  }

  private trip(reason: string): void {
    const wasClosed = this.openUntil === 0;
    this.openUntil = Date.now() + this.cooldownMs;
    this.probing = false;
    if (wasClosed) this.onTrip(reason);
  }

  /** Runs one Redis command under the timeout and the circuit breaker. */
  private guarded(send: (cb: StoreCallback) => void, cb: StoreCallback): void {
    if (this.redis.status !== 'ready') {
      cb(new Error(`redis ${this.redis.status}`), null);
      return;
    }
    if (this.openUntil !== 0) {
      // open: skip; after the cooldown one request at a time probes Redis
      if (this.open || this.probing) {
        cb(new Error('rate-limit store circuit open'), null);
        return;
      }
      this.probing = true;
    }
    let settled = false;
    const timer = setTimeout(() => {
      // An answer that arrived while the event loop was busy is read in the poll phase, before
      // setImmediate callbacks: only a count still unanswered after that is given up.
      setImmediate(() => {
        if (settled) return;
        settled = true;
        this.trip(`no answer within ${this.timeoutMs} ms`);
        cb(new Error('rate-limit store timeout'), null);
      });
    }, this.timeoutMs);
    send((err, res) => {
      if (settled) return; // a late answer: the circuit stays open until a probe succeeds
      settled = true;
      clearTimeout(timer);
      if (err) this.trip(err.message);
      else {
        this.openUntil = 0;
        this.probing = false;
      }
      cb(err, res);
    });
  }

  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
    this.guarded((done) => this.inner.incr(key, done, timeWindow, max), cb);
  }

  /** Adds `n` counts to `key` at once (a batch; see BatchedRateLimitStore). */
  incrBy(key: string, n: number, cb: StoreCallback, timeWindow: number): void {
    this.guarded(
      (done) =>
        (this.redis as RedisWithIncrBy).rateLimitIncrBy!(this.nameSpace + key, n, timeWindow, (err, r) =>
          err || !r ? done(err ?? new Error('no answer'), null) : done(null, { current: r[0]!, ttl: r[1]! }),
        ),
      cb,
    );
  }

  child(): GuardedRedisStore {
    return this;
  }
}

interface Bucket {
  /** the count Redis last returned, and when its window ends (epoch ms) */
  counted: number;
  resetAt: number;
  /** counted here, not yet sent; sent, not yet answered */
  pending: number;
  sending: number;
}

/**
 * A Redis round trip per request is the largest cost of a cheap request (a share-link slice, a
 * refused upload): this store saves it while a bucket is far from its limit. The first request of a
 * bucket, and every request while fewer than `headroom` remain (as last counted in Redis plus what
 * this process counted since), is counted in Redis itself: near the limit it holds exactly across
 * API processes. Far from it, requests are counted here and the sum is added to Redis every
 * `flushMs` (one INCRBY per bucket), which also brings back what the other processes counted; the
 * answer is then known without waiting for Redis. Redis trouble is handled by GuardedRedisStore: a
 * failed batch is kept and sent again.
 */
export class BatchedRateLimitStore implements RateLimitStore {
  private readonly buckets = new Map<string, Bucket>();
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly redis: GuardedRedisStore,
    private readonly headroom: (max: number) => number,
    private readonly flushMs: number,
    private readonly timeWindow: number,
  ) {}

  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
    const now = Date.now();
    const bucket = this.buckets.get(key);
    if (bucket && bucket.resetAt > now) {
      const current = bucket.counted + bucket.sending + bucket.pending + 1;
      if (max - current >= this.headroom(max)) {
        bucket.pending++;
        this.schedule();
        cb(null, { current, ttl: bucket.resetAt - now });
        return;
      }
    }
    // counted in Redis now (a new bucket, an ended window, or near the limit), with whatever this
    // process counted and has not sent yet
    this.send(key, 1, timeWindow, cb);
  }

  /**
   * Adds the bucket's pending counts, plus `extra` (the request asking), to Redis. Counts whose batch
   * is still unanswered are added to what Redis returns: when Redis already has them they count
   * twice until the next answer, which errs towards the limit.
   */
  private send(key: string, extra: number, timeWindow: number, cb?: StoreCallback): void {
    let b = this.buckets.get(key);
    if (!b) {
      b = { counted: 0, resetAt: 0, pending: 0, sending: 0 };
      this.buckets.set(key, b);
    }
    const bucket = b;
    const n = bucket.pending + extra;
    bucket.pending = 0;
    bucket.sending += n;
    this.redis.incrBy(
      key,
      n,
      (err, res) => {
        bucket.sending -= n;
        if (err || !res) {
          // kept for the next batch (the asking request itself goes through uncounted: skipOnError)
          bucket.pending += n - extra;
          if (bucket.pending > 0) this.schedule();
          cb?.(err, null);
          return;
        }
        bucket.counted = res.current;
        bucket.resetAt = Date.now() + Math.max(0, res.ttl);
        cb?.(null, { current: res.current + bucket.sending + bucket.pending, ttl: res.ttl });
      },
      timeWindow,
    );
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.flushMs);
    this.timer.unref();
  }

  /** Sends every bucket's pending counts (one command each); forgets buckets whose window ended. */
  flush(): void {
    const now = Date.now();
    for (const [key, b] of this.buckets) {
      if (b.pending > 0) this.send(key, 0, this.timeWindow);
      else if (b.sending === 0 && b.resetAt <= now) this.buckets.delete(key);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
  }

  child(): BatchedRateLimitStore {
    return this;
  }
}

/**
 * The per-key rate limit, registered on the root instance and applied where the returned hook is
 * added: every /v1 route (after the auth hook, so the key is known), the 404 handler and Fastify's
 * own early errors (bad URL, parameter too long), so no answer is free. Counted in Redis (under
 * the queue prefix), so every API process shares one budget per key: exactly near the limit, in
 * batches far from it (BatchedRateLimitStore); while Redis is away, slow or hung, requests are not
 * throttled (reads keep working) rather than refused or delayed (see GuardedRedisStore). Without a
 * Redis client: in memory, per process. Null when the limit is off.
 */
export async function registerRateLimit(
  app: FastifyInstance,
  config: Config,
  redis?: Redis,
): Promise<RateLimitHook | null> {
  if (config.rateLimit.max === 0) return null;
  const namespace = rateLimitNamespace(config);
  const { timeoutMs, cooldownMs } = config.rateLimit.redis;
  const onTrip = (reason: string) =>
    app.log.warn(`rate-limit store (Redis): ${reason}; not counting requests for ${cooldownMs} ms`);
  await app.register(rateLimit, {
    ...(redis
      ? {
          // @fastify/rate-limit constructs the store with `new`: a function returning the instance
          store: function batchedStore() {
            return new BatchedRateLimitStore(
              new GuardedRedisStore(redis, namespace, timeoutMs, cooldownMs, onTrip),
              batchHeadroom,
              BATCH_FLUSH_MS,
              config.rateLimit.windowMs,
            );
          } as never,
          skipOnError: true,
        }
      : {}),
    global: false,
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    keyGenerator: rateLimitKey,
    enableDraftSpec: true, // RateLimit-Limit / -Remaining / -Reset (+ Retry-After on 429)
    cache: 100_000,
    errorResponseBuilder: (_request, ctx) =>
      new HttpError(
        429,
        'RATE_LIMITED',
        `more than ${ctx.max} requests in ${Math.round(config.rateLimit.windowMs / 1000)} s for this key; retry in ${ctx.after}`,
        { limit: ctx.max, windowMs: config.rateLimit.windowMs, retryAfterSeconds: Math.ceil(ctx.ttl / 1000) },
      ),
  });
  return app.rateLimit() as RateLimitHook;
}
