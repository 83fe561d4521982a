// Server-Sent Events of an experiment's progress. Postgres is polled (every API instance can serve
// any stream); an event is sent whenever status, fraction or message change, and the stream ends
// with an `end` event at a terminal state.
import type { FastifyReply } from 'fastify';
import type { Db } from '../../../../store/db.ts';
import { isTerminal } from '../../../../store/experiments.ts';

const POLL_MS = 250;
const HEARTBEAT_MS = 15_000;

/**
 * Streams progress until a terminal state. `open` holds a closer per live stream so that the API's
 * shutdown can end them (a hijacked stream would otherwise hold `app.close()` until the experiment
 * finishes); clients see the stream end without an `end` event and reconnect.
 */
export function streamEvents(reply: FastifyReply, db: Db, id: string, open?: Set<() => void>): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    // headers set by hooks so far (security headers, CORS, rate limit) still apply
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let last = '';
  let closed = false;
  let seq = 0;
  let lastWrite = Date.now();
  const close = () => {
    open?.delete(close);
    if (closed) return;
    closed = true;
    clearInterval(timer);
    res.end();
  };
  open?.add(close);
  res.on('close', () => {
    open?.delete(close);
    closed = true;
    clearInterval(timer);
  });
  const tick = async () => {
    if (closed) return;
    const row = await db.experiment
      .findUnique({
        where: { id },
        select: {
          status: true,
          progress: true,
          message: true,
          etaSeconds: true,
          errorCode: true,
          errorMessage: true,
        },
      })
      .catch(() => undefined); // Postgres away: try again next tick
    if (closed || row === undefined) return;
    if (row === null) {
      res.write(`event: end\ndata: ${JSON.stringify({ status: 'deleted' })}\n\n`);
      return close();
    }
    const payload = JSON.stringify({
      status: row.status,
      fraction: row.progress,
      message: row.message,
      etaSeconds: row.etaSeconds,
      ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage } } : {}),
    });
    if (payload !== last) {
      last = payload;
      res.write(`id: ${seq++}\nevent: progress\ndata: ${payload}\n\n`);
      lastWrite = Date.now();
    } else if (Date.now() - lastWrite > HEARTBEAT_MS) {
      res.write(': keep-alive\n\n');
      lastWrite = Date.now();
    }
    if (isTerminal(row.status)) {
      res.write(`event: end\ndata: ${payload}\n\n`);
      close();
    }
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void tick().finally(() => {
      busy = false;
    });
  }, POLL_MS);
  void tick();
}
