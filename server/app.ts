// The HTTP API as a Fastify plugin. server/main.ts listens; tests build the same app and use inject().
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.ts';
import type { Db } from '../store/db.ts';
import type { ExperimentQueue } from '../store/queue.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerErrorHandling } from './plugins/errors.ts';
import { registerOpenapi } from './plugins/openapi.ts';
import { healthRoutes } from './routes/health.ts';
import { experimentRoutes } from './routes/v1/experiments/index.ts';
import { figureRoutes } from './routes/v1/experiments/results-figures.ts';
import { ErrorSchema } from './schemas/error.ts';
import { ExperimentSchema } from './schemas/experiment.ts';

export interface AppDeps {
  config: Config;
  db: Db;
  /** the API's Redis connection (fails fast while Redis is away) */
  redis: Redis;
  queue: ExperimentQueue;
}

export async function buildApp(deps: AppDeps, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: deps.config.limits.bodyBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    ...options,
  });
  app.addSchema(ErrorSchema);
  app.addSchema(ExperimentSchema);
  registerErrorHandling(app);
  await registerOpenapi(app);
  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(async (v1) => {
    registerAuth(v1, deps.db);
    await experimentRoutes(v1, deps);
    await figureRoutes(v1, deps);
  });
  return app;
}
