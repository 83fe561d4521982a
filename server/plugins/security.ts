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
import helmet from '@fastify/helmet';
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

const setSecurityHeaders = helmetMiddleware(HELMET_OPTIONS);

/**
 * Sets the same security headers on a raw response: for the answers Fastify gives before any hook
 * runs (a malformed URL, a path parameter too long), see server/plugins/errors.ts.
 */
export function applySecurityHeaders(req: IncomingMessage, res: ServerResponse): void {
  setSecurityHeaders(req, res, () => {});
}

/** The security headers as header lines, for answers written straight to a socket. */
export function securityHeaderLines(): string {
  const headers = new Map<string, string>();
  const fake = { setHeader: (k: string, v: string) => headers.set(k, v), removeHeader: () => {} };
  setSecurityHeaders({} as IncomingMessage, fake as unknown as ServerResponse, () => {});
  return [...headers].map(([k, v]) => `${k}: ${v}\r\n`).join('');
}

export async function registerSecurity(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(helmet, HELMET_OPTIONS);
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
    nameSpace: string,
    private readonly timeoutMs: number,
    private readonly cooldownMs: number,
    private readonly onTrip: (reason: string) => void = () => {},
  ) {
    this.inner = new RedisStore(false, false, redis, nameSpace);
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

  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
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
    this.inner.incr(
      key,
      (err, res) => {
        if (settled) return; // a late answer: the circuit stays open until a probe succeeds
        settled = true;
        clearTimeout(timer);
        if (err) this.trip(err.message);
        else {
          this.openUntil = 0;
          this.probing = false;
        }
        cb(err, res);
      },
      timeWindow,
      max,
    );
  }

  child(): GuardedRedisStore {
    return this;
  }
}

/**
 * The per-key rate limit, registered on the root instance and applied where the returned hook is
 * added: every /v1 route (after the auth hook, so the key is known), the 404 handler and Fastify's
 * own early errors (bad URL, parameter too long), so no answer is free. Counted in Redis (under
 * the queue prefix), so every API process shares one budget per key; while Redis is away, slow or
 * hung, requests are not throttled (reads keep working) rather than refused or delayed (see
 * GuardedRedisStore). Without a Redis client: in memory, per process. Null when the limit is off.
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
          store: function guardedStore() {
            return new GuardedRedisStore(redis, namespace, timeoutMs, cooldownMs, onTrip);
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
