// One error handler: every failure answers the Error schema; 5xx never leak internals. Fastify's
// own early answers (a malformed URL, a path parameter too long, a request timeout or a malformed
// request) use the same body and the same security headers, and the URL ones count toward the rate
// limit like any other request.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SliceError } from '../../core/slice.ts';
import { isDbUnavailable } from '../../store/db.ts';
import { DomainError, type DomainErrorKind } from '../../store/errors.ts';
import { type ErrorBody, HttpError } from '../schemas/error.ts';
import { describeValidation } from '../validation.ts';
import { applySecurityHeaders, type RateLimitHook, securityHeaderLines } from './security.ts';

/** The schema the failed part of the request was validated against (for unknown-property hints). */
function validatedSchema(request: FastifyRequest, context: string | undefined): unknown {
  const schema = request.routeOptions.schema as Record<string, unknown> | undefined;
  return context && schema ? schema[context] : undefined;
}

/** Ajv's errors without what they may carry of the request or the schema (verbose fields). */
function plainErrors(errors: NonNullable<FastifyError['validation']>) {
  return errors.slice(0, 10).map(({ instancePath, schemaPath, keyword, params, message }) => ({
    instancePath,
    schemaPath,
    keyword,
    params,
    message,
  }));
}

/** The HTTP status of each kind of domain error (store/errors.ts): decided here, once. */
const DOMAIN_STATUS: Record<DomainErrorKind, number> = {
  'not-found': 404,
  conflict: 409,
  limit: 429,
  unprocessable: 422,
};

/**
 * Whether the client went away before its request body was complete (a disconnect mid-upload):
 * the failure is the client's, not the database's, whatever the socket error looks like.
 */
function clientAborted(request: FastifyRequest): boolean {
  const raw = request.raw;
  if (request.bodyTimedOut) return false; // cut off by the server (plugins/body-timeout.ts), answered
  return !raw.complete && (raw.aborted || raw.destroyed || Boolean(raw.socket?.destroyed));
}

export function registerErrorHandling(app: FastifyInstance, rateLimit: () => RateLimitHook | null): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let body: ErrorBody;
    if (err instanceof HttpError) {
      body = { statusCode: err.statusCode, code: err.code, message: err.message };
      if (err.details !== undefined) body.details = err.details;
    } else if (err instanceof DomainError) {
      body = { statusCode: DOMAIN_STATUS[err.kind], code: err.code, message: err.message };
      if (err.details !== undefined) body.details = err.details;
    } else if (err instanceof SliceError) {
      // a slice the query cannot select (400) or that is over the slice limits (422): core/slice.ts
      body = { statusCode: err.status, code: err.code, message: err.message, details: err.details };
    } else if (err.validation) {
      const described = describeValidation(
        err.validation,
        err.validationContext,
        validatedSchema(request, err.validationContext),
      );
      const field = described?.field || undefined;
      body = {
        statusCode: 400,
        code: 'INVALID_REQUEST',
        message: described && field ? `${field}: ${described.message}` : err.message,
        details: { field, errors: plainErrors(err.validation) },
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
    } else if (clientAborted(request)) {
      // Nobody reads this answer; the log says what happened (not a database or server failure).
      const what = request.method === 'PUT' ? 'upload' : 'request';
      request.log.info(
        { code: 'CLIENT_ABORTED', bytesReceived: request.raw.socket?.bytesRead },
        `${what} aborted by the client before its body was complete`,
      );
      body = { statusCode: 400, code: 'CLIENT_ABORTED', message: `the client aborted the ${what}` };
      return reply.status(400).send(body);
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
  app.setNotFoundHandler(
    {
      // a 404 counts toward the rate limit like any request (by client address: no key is checked)
      preHandler: async (request: FastifyRequest, reply: FastifyReply) => {
        await rateLimit()?.(request, reply);
      },
    },
    (request, reply) => {
      reply.status(404).send({
        statusCode: 404,
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      });
    },
  );
}

/**
 * Fastify's `frameworkErrors`: the answers it gives before routing (no hook runs for them), with
 * the standard body, the security headers, and counted toward the rate limit.
 */
export function frameworkErrorHandler(rateLimit: () => RateLimitHook | null, maxParamLength: number) {
  return async (err: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    applySecurityHeaders(request.raw, reply.raw);
    let body: ErrorBody;
    try {
      await rateLimit()?.(request, reply);
      body =
        err.code === 'FST_ERR_BAD_URL'
          ? {
              statusCode: 400,
              code: 'BAD_URL',
              message: 'the URL path is malformed (an invalid percent-encoding)',
            }
          : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? {
                statusCode: 414,
                code: 'PARAM_TOO_LONG',
                message: `a path parameter is longer than ${maxParamLength} characters`,
                details: { limit: maxParamLength },
              }
            : { statusCode: err.statusCode ?? 400, code: 'BAD_REQUEST', message: 'the request was refused' };
    } catch (limited) {
      if (!(limited instanceof HttpError)) throw limited;
      body = { statusCode: limited.statusCode, code: limited.code, message: limited.message };
      if (limited.details !== undefined) body.details = limited.details;
    }
    reply.status(body.statusCode).send(body);
  };
}

/**
 * Fastify's `clientErrorHandler`: a request timed out (headers or body not received in time), its
 * headers are too large, or it is not HTTP. Answered on the socket with the standard body and the
 * security headers, then the connection is closed. (A request that reached a route was counted
 * toward the rate limit when it arrived.)
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'the request (headers and body) did not arrive in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'the request headers are too large']
        : [400, 'BAD_REQUEST', 'the request is not valid HTTP'];
  this.log.debug({ code, err: err.message }, 'client error');
  // a response already under way on this connection cannot be replaced: just close it
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify({ statusCode: status, code, message });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${securityHeaderLines()}\r\n${body}`,
      () => socket.destroy(),
    );
  } else {
    socket.destroy();
  }
}
