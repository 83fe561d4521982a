// The HTTP API as a Fastify plugin. server/main.ts listens; tests build the same app and use inject().
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.ts';
import { EstimateSchema, UploadEstimateSchema } from '../core/contracts/estimate.ts';
import { SliceSchema } from '../core/contracts/slice.ts';
import { ExperimentSummarySchema } from '../core/contracts/summary.ts';
import { ExperimentSpecSchema } from '../core/spec/experiment.ts';
import type { AccessCache } from '../store/access-cache.ts';
import type { ArtifactStore } from '../store/artifact-store.ts';
import type { Db } from '../store/db.ts';
import { openArtifactStore } from '../store/open-artifacts.ts';
import type { ExperimentQueue } from '../store/queue.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerBodyTimeout } from './plugins/body-timeout.ts';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './plugins/errors.ts';
import { registerOpenapi } from './plugins/openapi.ts';
import { type RateLimitHook, registerRateLimit, registerSecurity } from './plugins/security.ts';
import { redactQuery } from './redact.ts';
import { healthRoutes } from './routes/health.ts';
import { experimentRoutes } from './routes/v1/experiments/index.ts';
import { figureRoutes } from './routes/v1/experiments/results-figures.ts';
import { keyRoutes } from './routes/v1/keys.ts';
import { metaRoutes } from './routes/v1/meta.ts';
import { webRoutes } from './routes/web.ts';
import { ErrorSchema, HttpError } from './schemas/error.ts';
import { ExperimentSchema, UploadExperimentSpecComponent, WarningSchema } from './schemas/experiment.ts';

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: ReadonlyArray<{ method: string; url: string }>;
  }
}

export interface AppDeps {
  config: Config;
  db: Db;
  /** the API's Redis connection (fails fast while Redis is away) */
  redis: Redis;
  queue: ExperimentQueue;
  /** where run artifacts live; from the configuration when not given (store/open-artifacts.ts) */
  artifacts?: ArtifactStore;
  /** in-memory answers of the access checks (store/access-cache.ts); none: every check queries */
  accessCache?: AccessCache;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the access checks' cache, when the API runs one (store/access-cache.ts) */
    accessCache: AccessCache | null;
  }
}

/** What the routes get: the dependencies with the artifact store resolved. */
export type RouteDeps = AppDeps & { artifacts: ArtifactStore };

/**
 * The API's pino options: secrets never reach the log. The Authorization header is redacted and
 * request URLs are logged without their share token, in any spelling (server/redact.ts).
 */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    serializers: {
      req: (req: { method: string; url: string; host?: string; ip?: string }) => ({
        method: req.method,
        url: redactQuery(req.url),
        host: req.host,
        remoteAddress: req.ip,
      }),
    },
  };
}

export async function buildApp(
  appDeps: AppDeps,
  options: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const deps: RouteDeps = { ...appDeps, artifacts: appDeps.artifacts ?? openArtifactStore(appDeps.config) };
  // the rate-limit hook, known once registered below; the 404 handler and frameworkErrors use it
  let rateLimitHook: RateLimitHook | null = null;
  const rateLimit = () => rateLimitHook;
  const maxParamLength = 100;
  const app = Fastify({
    bodyLimit: deps.config.limits.bodyBytes,
    routerOptions: { maxParamLength },
    frameworkErrors: frameworkErrorHandler(rateLimit, maxParamLength),
    clientErrorHandler,
    trustProxy: deps.config.trustProxy as boolean, // or a hop count or address list (same option)
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false, strictNumbers: true },
    },
    ...options,
  });
  app.addSchema(ErrorSchema);
  app.addSchema(WarningSchema);
  app.addSchema(ExperimentSpecSchema);
  app.addSchema(UploadExperimentSpecComponent);
  app.addSchema(EstimateSchema);
  app.addSchema(UploadEstimateSchema);
  app.addSchema(ExperimentSummarySchema);
  app.addSchema(SliceSchema);
  app.addSchema(ExperimentSchema);
  registerErrorHandling(app, rateLimit);
  registerBodyTimeout(app, deps.config.limits.bodyIdleMs);
  // Ajv coerces "Infinity" / "1e400" in a query string to ±Infinity and then skips minimum/maximum
  // (it checks ranges only for finite numbers): refuse such values after validation.
  app.addHook('preHandler', async (request) => {
    const query = request.query as Record<string, unknown> | undefined;
    if (!query || typeof query !== 'object') return;
    for (const [name, value] of Object.entries(query)) {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw new HttpError(400, 'INVALID_REQUEST', `querystring.${name}: must be a finite number`, {
          field: `querystring.${name}`,
        });
      }
    }
  });
  // every registered route, for tests that must cover all of them (test/server/security.test.ts)
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  app.decorate('registeredRoutes', routes);
  const accessCache = deps.accessCache ?? null;
  app.decorate('accessCache', accessCache);
  if (accessCache) {
    // A write (revoke, delete, re-role, ...) forgets every cached access answer before its answer is
    // sent, so this process's next request sees the change; other processes hear of it by NOTIFY.
    // A refused write (4xx: validation, authorisation, limits, a body that never came) changed
    // nothing and clears nothing, or hostile requests would keep the cache empty.
    app.addHook('onSend', async (request, reply) => {
      const refused = reply.statusCode >= 400 && reply.statusCode < 500;
      if (!refused && request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS') {
        accessCache.invalidate();
      }
    });
  }
  await registerSecurity(app, deps.config);
  rateLimitHook = await registerRateLimit(app, deps.config, deps.redis);
  await registerOpenapi(app);
  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(webRoutes);
  await app.register(async (v1) => {
    registerAuth(v1, deps.db, accessCache);
    // after the auth hook, so the request counts against its key
    if (rateLimitHook) v1.addHook('onRequest', rateLimitHook);
    await experimentRoutes(v1, deps);
    await figureRoutes(v1, deps);
    await keyRoutes(v1, deps);
    await metaRoutes(v1);
  });
  return app;
}
