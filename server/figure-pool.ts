// Figures render in a small pool of worker threads (FIGURE_WORKERS, default 1), never on the API's
// event loop: a large figure takes seconds of CPU, during which the API keeps answering. Renders
// queue behind the busy threads; a full queue answers 503 FIGURE_RENDER_BUSY and a render that runs
// past its time limit is stopped (its thread replaced) with 503 FIGURE_RENDER_TIMEOUT. Where no
// thread can start, figures render in place (the old behaviour), with a warning.
import { Worker } from 'node:worker_threads';
import type { TopLevelSpec } from 'vega-lite';
import { type SvgRenderer, useSvgRenderer } from '../core/figures/render.ts';
import { HttpError } from './schemas/error.ts';

/** Renders waiting per thread before new ones are refused. */
const QUEUE_PER_WORKER = 8;
/** Longest one render may take. */
const RENDER_TIMEOUT_MS = 60_000;

interface Job {
  id: number;
  spec: TopLevelSpec;
  resolve: (svg: string) => void;
  reject: (err: Error) => void;
}

class Slot {
  worker: Worker | null = null;
  job: Job | null = null;
  timer: NodeJS.Timeout | null = null;
  ready: Promise<boolean> | null = null;
}

let warned = false;
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./figure-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);

/** A worker thread on figure-worker; run from TypeScript sources (tsx), the thread registers tsx's
 * loader first (a worker does not inherit the parent's module hooks). */
function spawnWorker(): Worker {
  if (!fromSource) return new Worker(workerUrl);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
  return new Worker(boot, { eval: true });
}

export class FigurePool {
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(size: number) {
    this.slots = Array.from({ length: size }, () => new Slot());
  }

  render: SvgRenderer = (spec) =>
    new Promise<string>((resolve, reject) => {
      if (this.closed) return reject(new Error('the figure pool is closed'));
      if (this.queue.length >= this.slots.length * QUEUE_PER_WORKER) {
        return reject(
          new HttpError(503, 'FIGURE_RENDER_BUSY', 'too many figures are being rendered; try again shortly', {
            queued: this.queue.length,
          }),
        );
      }
      this.queue.push({ id: this.nextId++, spec, resolve, reject });
      this.dispatch();
    });

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the figure pool is closed'));
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.timer) clearTimeout(slot.timer);
        slot.job?.reject(new Error('the figure pool is closed'));
        slot.job = null;
        await slot.worker?.terminate();
        slot.worker = null;
      }),
    );
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      void this.run(slot, job);
    }
  }

  private start(slot: Slot): Promise<boolean> {
    const worker = spawnWorker();
    worker.unref();
    slot.worker = worker;
    let started = false;
    slot.ready = new Promise<boolean>((resolve) => {
      const onFirst = (msg: { ready?: boolean }) => {
        started = msg.ready === true;
        resolve(started);
      };
      worker.once('message', onFirst);
      worker.once('error', () => resolve(false));
      worker.once('exit', () => resolve(false));
    });
    worker.on('message', (msg: { id?: number; svg?: string; error?: string }) => {
      if (msg.id === undefined || !slot.job || slot.job.id !== msg.id) return;
      this.finish(slot, msg.error === undefined ? null : new Error(msg.error), msg.svg ?? '');
    });
    // a thread that failed to start is handled by run() (rendering in place)
    worker.on('error', (err) => {
      if (started && slot.worker === worker && slot.job) this.finish(slot, err, '');
    });
    worker.on('exit', () => {
      if (slot.worker !== worker) return;
      slot.worker = null;
      if (started && slot.job) this.finish(slot, new Error('the figure thread stopped'), '');
    });
    return slot.ready;
  }

  private async run(slot: Slot, job: Job): Promise<void> {
    const ok = slot.worker ? await slot.ready : await this.start(slot);
    if (slot.job !== job) return;
    if (!ok || !slot.worker) {
      // no thread: render here rather than not at all
      if (slot.worker) void slot.worker.terminate();
      slot.worker = null;
      if (!warned) {
        warned = true;
        process.emitWarning('figure worker threads could not start; figures render on the main thread');
      }
      const { renderSvgHere } = await import('../core/figures/render.ts');
      renderSvgHere(job.spec).then(
        (svg) => this.finish(slot, null, svg),
        (err) => this.finish(slot, err as Error, ''),
      );
      return;
    }
    slot.timer = setTimeout(() => {
      const worker = slot.worker;
      slot.worker = null;
      this.finish(
        slot,
        new HttpError(
          503,
          'FIGURE_RENDER_TIMEOUT',
          `the figure took more than ${RENDER_TIMEOUT_MS / 1000} s to render`,
        ),
        '',
      );
      void worker?.terminate();
    }, RENDER_TIMEOUT_MS);
    slot.timer.unref();
    slot.worker.postMessage({ id: job.id, spec: job.spec });
  }

  private finish(slot: Slot, err: Error | null, svg: string): void {
    const job = slot.job;
    if (!job) return;
    slot.job = null;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    if (err) job.reject(err);
    else job.resolve(svg);
    this.dispatch();
  }
}

let shared: { pool: FigurePool; users: number } | null = null;

/**
 * The process's figure pool, installed as the renderer of every figure; release() when the app
 * closes (the last user stops the threads and restores rendering in place).
 */
export function acquireFigurePool(size: number): { pool: FigurePool; release: () => Promise<void> } {
  if (!shared) {
    shared = { pool: new FigurePool(size), users: 0 };
    useSvgRenderer(shared.pool.render);
  }
  shared.users++;
  const mine = shared;
  let released = false;
  return {
    pool: mine.pool,
    release: async () => {
      if (released) return;
      released = true;
      mine.users--;
      if (mine.users === 0 && shared === mine) {
        shared = null;
        useSvgRenderer(null);
        await mine.pool.close();
      }
    },
  };
}
