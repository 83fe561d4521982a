// One error handler: every failure answers the Error schema; 5xx never leak internals.
import type { FastifyError, FastifyInstance } from 'fastify';
import { isDbUnavailable } from '../../store/db.ts';
import { type ErrorBody, HttpError } from '../schemas/error.ts';

function validationField(err: FastifyError): string | undefined {
  const first = err.validation?.[0];
  if (!first) return undefined;
  const path = (first.instancePath || '').replace(/^\//, '').replace(/\//g, '.');
  const missing = (first.params as { missingProperty?: string } | undefined)?.missingProperty;
  const field = [err.validationContext, path, missing].filter(Boolean).join('.');
  return field || undefined;
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let body: ErrorBody;
    if (err instanceof HttpError) {
      body = { statusCode: err.statusCode, code: err.code, message: err.message };
      if (err.details !== undefined) body.details = err.details;
    } else if (err.validation) {
      const field = validationField(err);
      body = {
        statusCode: 400,
        code: 'INVALID_REQUEST',
        message: field ? `${field}: ${err.validation[0]?.message ?? 'invalid'}` : err.message,
        details: { field, errors: err.validation.slice(0, 10) },
      };
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      const code = err.code?.startsWith('FST_ERR_CTP_BODY_TOO_LARGE')
        ? 'BODY_TOO_LARGE'
        : err.code?.startsWith('FST_ERR_CTP_INVALID_MEDIA_TYPE')
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : err.code?.startsWith('FST_ERR_CTP')
            ? 'INVALID_BODY'
            : 'BAD_REQUEST';
      body = { statusCode: err.statusCode, code, message: err.message };
    } else if (isDbUnavailable(err)) {
      // Postgres is stopped or restarting: the pool reconnects on the next request.
      body = {
        statusCode: 503,
        code: 'POSTGRES_UNAVAILABLE',
        message: 'the database (PostgreSQL) is unreachable; try again shortly',
      };
      reply.header('retry-after', '5');
    } else {
      request.log.error({ err }, 'unhandled error');
      body = { statusCode: 500, code: 'INTERNAL', message: 'internal error; see the server log' };
    }
    if (body.statusCode >= 500 && body.code !== 'INTERNAL')
      request.log.warn({ code: body.code }, body.message);
    reply.status(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      statusCode: 404,
      code: 'NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    });
  });
}
