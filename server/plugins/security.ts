// Security headers (helmet) and CORS for every route; the per-key rate limit for /v1.
//
// CSP: same-origin scripts, styles, fonts, images and fetches, plus data:/blob: images and inline
// styles (Swagger UI at /docs sets element styles and uses data: icons; the web page at / shows
// figures it fetched with the key as blob: images). No inline scripts or inline event handlers, no
// third-party origins, no framing by other sites, no plugins. HTTP is not upgraded to HTTPS (the
// service often runs on plain http://127.0.0.1).
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/index.ts';
import { hashSecret } from '../../store/auth.ts';
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

export async function registerSecurity(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    // HSTS only means something behind TLS; a reverse proxy that terminates TLS should set it.
    strictTransportSecurity: false,
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

/**
 * The bucket a request counts against: its API key (after authentication, so by key id), else its
 * share token (hashed), else its client address.
 */
/** Where the rate-limit counters live in Redis. */
export function rateLimitNamespace(config: Config): string {
  return `${config.queuePrefix}:rate-limit:`;
}

export function rateLimitKey(request: FastifyRequest): string {
  if (request.principal) return `key:${request.principal.keyId}`;
  if (request.shareToken) return `share:${Buffer.from(hashSecret(request.shareToken)).toString('hex')}`;
  return `ip:${request.ip}`;
}

/**
 * Per-key rate limit on the routes of `scope` (register it after the auth hook: its per-route hook
 * runs after the scope's, so the key is known). Counted in Redis (under the queue prefix), so every
 * API process shares one budget per key; while Redis is away requests are not throttled (reads keep
 * working) rather than refused. Without a Redis client: in memory, per process.
 */
export async function registerRateLimit(
  scope: FastifyInstance,
  config: Config,
  redis?: Redis,
): Promise<void> {
  if (config.rateLimit.max === 0) return;
  await scope.register(rateLimit, {
    ...(redis ? { redis, nameSpace: rateLimitNamespace(config), skipOnError: true } : {}),
    max: config.rateLimit.max,
    timeWindow: config.rateLimit.windowMs,
    hook: 'onRequest',
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
}
