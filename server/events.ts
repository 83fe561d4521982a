// Server-Sent Events of an experiment's progress. Postgres is polled (every API instance can serve
// any stream) by one shared poller per API process: one query per tick for every experiment that
// has open streams, however many streams follow it; streams opened in one turn of the event loop
// get their first event from one query too. An event is sent whenever status, fraction or
// message change; a comment line (`: keep-alive`) after EVENT_HEARTBEAT_MS without one; the stream
// ends with an `end` event at a terminal state.
//
// Bounded: at most MAX_EVENT_STREAMS_PER_KEY open streams per API key or share token (429
// LIMIT_EVENT_STREAMS_PER_KEY) and MAX_EVENT_STREAMS per process (503 LIMIT_EVENT_STREAMS); a stream
// lives at most EVENT_STREAM_MAX_SECONDS (then it closes without an `end` event and EventSource
// clients reconnect) — so streams on experiments that never finish (awaiting uploads) end too.
import type { FastifyReply } from 'fastify';
import type { Db } from '../store/db.ts';
import { isTerminal } from '../store/experiments.ts';
import { type ProgressRow, progressOf } from '../store/repository.ts';
import { HttpError } from './schemas/error.ts';

const POLL_MS = 250;

export interface EventStreamLimits {
  perKey: number;
  total: number;
  maxSeconds: number;
  heartbeatMs: number;
}

interface Stream {
  experimentId: string;
  owner: string;
  write: (text: string) => void;
  close: () => void;
  last: string;
  seq: number;
  lastWrite: number;
  endsAt: number;
}

/** Takes the response over from Fastify and sends the event stream's headers. */
function startEventStream(reply: FastifyReply) {
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
  return res;
}

export class EventStreams {
  private readonly streams = new Set<Stream>();
  private readonly perOwner = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  /** streams opened since the last turn of the event loop: their first poll is one query for all */
  private fresh: Stream[] = [];

  constructor(
    private readonly db: Db,
    private readonly limits: EventStreamLimits,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  /** Refuses (429/503) before anything is written when a cap is reached. */
  admit(owner: string): void {
    const mine = this.perOwner.get(owner) ?? 0;
    if (mine >= this.limits.perKey) {
      throw new HttpError(
        429,
        'LIMIT_EVENT_STREAMS_PER_KEY',
        `${mine} progress streams are open with this key or share link (limit ${this.limits.perKey}, MAX_EVENT_STREAMS_PER_KEY); close one`,
        { field: 'key', limit: this.limits.perKey, value: mine },
      );
    }
    if (this.streams.size >= this.limits.total) {
      throw new HttpError(
        503,
        'LIMIT_EVENT_STREAMS',
        `this API process serves ${this.streams.size} progress streams (limit ${this.limits.total}, MAX_EVENT_STREAMS); try again later or poll GET /v1/experiments/ID`,
        { limit: this.limits.total, value: this.streams.size },
      );
    }
  }

  /** Streams progress until a terminal state, the maximum lifetime, the client leaving or close(). */
  open(reply: FastifyReply, experimentId: string, owner: string): void {
    this.admit(owner);
    const res = startEventStream(reply);
    let closed = false;
    const stream: Stream = {
      experimentId,
      owner,
      write: (text) => {
        if (!closed) res.write(text);
      },
      close: () => {
        if (!closed) res.end();
        forget();
      },
      last: '',
      seq: 0,
      lastWrite: Date.now(),
      endsAt: Date.now() + this.limits.maxSeconds * 1000,
    };
    const forget = () => {
      if (closed) return;
      closed = true;
      this.streams.delete(stream);
      const left = (this.perOwner.get(owner) ?? 1) - 1;
      if (left > 0) this.perOwner.set(owner, left);
      else this.perOwner.delete(owner);
      if (this.streams.size === 0) this.stop();
    };
    res.on('close', forget);
    this.streams.add(stream);
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    this.start();
    if (this.fresh.push(stream) === 1) {
      setImmediate(() => {
        void this.poll(this.fresh.splice(0));
      });
    }
  }

  /** Ends every open stream (the API shuts down); clients see the stream end and reconnect. */
  closeAll(): void {
    for (const s of [...this.streams]) s.close();
    this.stop();
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void this.poll([...this.streams]).finally(() => {
        this.busy = false;
      });
    }, POLL_MS);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(streams: Stream[]): Promise<void> {
    const live = expire(streams, Date.now());
    if (live.length === 0) return;
    const ids = [...new Set(live.map((s) => s.experimentId))];
    const rows = await progressOf(this.db, ids).catch(() => undefined); // Postgres away: try again next tick
    if (rows === undefined) return;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const at = Date.now();
    for (const s of live) this.deliver(s, byId.get(s.experimentId), at);
  }

  /** One stream's event for its experiment's progress `row` (none: the experiment was deleted). */
  private deliver(s: Stream, row: ProgressRow | undefined, at: number): void {
    if (!row) {
      s.write(`event: end\ndata: ${JSON.stringify({ status: 'deleted' })}\n\n`);
      s.close();
      return;
    }
    const payload = JSON.stringify({
      status: row.status,
      fraction: row.progress,
      message: row.message,
      etaSeconds: row.etaSeconds,
      ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage } } : {}),
    });
    if (payload !== s.last) {
      s.last = payload;
      s.write(`id: ${s.seq++}\nevent: progress\ndata: ${payload}\n\n`);
      s.lastWrite = at;
    } else if (at - s.lastWrite >= this.limits.heartbeatMs) {
      s.write(': keep-alive\n\n');
      s.lastWrite = at;
    }
    if (isTerminal(row.status)) {
      s.write(`event: end\ndata: ${payload}\n\n`);
      s.close();
    }
  }
}

/** Closes the streams past their maximum lifetime; returns the others. */
function expire(streams: Stream[], now: number): Stream[] {
  const live: Stream[] = [];
  for (const s of streams) {
    if (now >= s.endsAt) {
      s.write(': the stream reached its maximum lifetime (EVENT_STREAM_MAX_SECONDS); reconnect\n\n');
      s.close();
    } else live.push(s);
  }
  return live;
}
