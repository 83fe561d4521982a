// Slow request bodies: a body (an upload included) that sends nothing for BODY_IDLE_TIMEOUT_MS is
// answered 408 BODY_TIMEOUT (the standard error body, when nothing was answered yet) and its
// connection is closed, so a half-sent request never holds a socket, a parser or an upload's
// temporary file. Progress is read from the socket's byte counter: nothing is added to the body
// stream itself (a 'data' listener would change how handlers read it).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../schemas/error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** set when the body timed out: handlers that still run find the answer already given */
    bodyTimedOut: boolean;
  }
}

function hasBody(request: FastifyRequest): boolean {
  const h = request.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const length = Number(h['content-length']);
  return Number.isFinite(length) && length > 0;
}

export function registerBodyTimeout(app: FastifyInstance, idleMs: number): void {
  app.decorateRequest('bodyTimedOut', false);
  app.addHook('onRequest', (request, reply, done) => {
    if (!hasBody(request)) return done();
    const raw = request.raw;
    const socket = raw.socket;
    let lastBytes = socket.bytesRead;
    let lastProgress = Date.now();
    const tick = Math.max(25, Math.min(1000, Math.floor(idleMs / 4)));
    const timer = setInterval(() => {
      if (raw.complete || raw.destroyed || socket.destroyed) return stop();
      if (socket.bytesRead !== lastBytes) {
        lastBytes = socket.bytesRead;
        lastProgress = Date.now();
        return;
      }
      if (Date.now() - lastProgress < idleMs) return;
      stop();
      timeOut(request, reply, idleMs);
    }, tick);
    timer.unref();
    const stop = () => clearInterval(timer);
    raw.once('end', stop);
    raw.once('close', stop);
    done();
  });
}

function timeOut(request: FastifyRequest, reply: FastifyReply, idleMs: number): void {
  request.bodyTimedOut = true;
  const socket = request.raw.socket;
  // the body stream itself is destroyed (its readers see 'close'; an upload removes its temporary
  // file), then the socket: after the answer, Node no longer ties the request to its socket
  const close = () => {
    request.raw.destroy();
    // (light-my-request's stand-in socket, under inject(), has no destroy())
    if (typeof socket.destroy === 'function') socket.destroy();
  };
  request.log.info({ idleMs }, 'request body timed out; closing the connection');
  if (reply.sent || reply.raw.headersSent) {
    close();
    return;
  }
  reply.raw.once('finish', close);
  reply.header('connection', 'close');
  reply.send(
    new HttpError(
      408,
      'BODY_TIMEOUT',
      `the request body sent nothing for ${idleMs} ms (BODY_IDLE_TIMEOUT_MS); the connection is closed`,
      { limit: idleMs, field: 'body' },
    ),
  );
  // a response that cannot be flushed (the client reads nothing either) must not hold the socket
  setTimeout(close, 1000).unref();
}
