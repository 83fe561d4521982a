// GET /health: the process is alive. GET /ready: Postgres and Redis answer (503 names the one that does not).
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { pingDb } from '../../store/db.ts';
import { pingRedis } from '../../store/redis.ts';
import type { RouteDeps } from '../app.ts';

const Dependency = Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) });

export async function healthRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok'), uptimeSeconds: Type.Number() }) },
      },
    },
    async () => ({ status: 'ok' as const, uptimeSeconds: process.uptime() }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: Postgres and Redis reachable',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), postgres: Dependency, redis: Dependency }),
          503: Type.Ref('Error'),
        },
      },
    },
    async (_request, reply) => {
      const check = async (fn: () => Promise<void>) => {
        try {
          await fn();
          return { ok: true };
        } catch (err) {
          return { ok: false, error: err instanceof Error ? err.message : String(err) };
        }
      };
      const [postgres, redis] = await Promise.all([
        check(() => pingDb(deps.db)),
        check(() => pingRedis(deps.redis)),
      ]);
      if (postgres.ok && redis.ok) return { status: 'ready' as const, postgres, redis };
      const down = [!postgres.ok && 'postgres', !redis.ok && 'redis'].filter(Boolean) as string[];
      return reply.status(503).send({
        statusCode: 503,
        code: down.length === 2 ? 'DEPENDENCIES_UNAVAILABLE' : `${down[0]?.toUpperCase()}_UNAVAILABLE`,
        message: `not ready: ${down.join(' and ')} unreachable`,
        details: { postgres, redis },
      });
    },
  );
}
