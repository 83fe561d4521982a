// Worker threads for the JS decompositions of the tensor builder (per-pair spectra, eigendecompositions
// and Cholesky whitening of representations), so that they run concurrently with the products, which
// onnxruntime-node computes on the calling (main) thread. Each worker runs decompose-worker.ts, which
// imports linalg.ts like any module (from the sources through decompose-worker-entry.mjs, which
// registers tsx in the worker; a build runs decompose-worker.js). Where a worker cannot start or
// fails, the work is done in place, with the same code.

import { Worker } from 'node:worker_threads';
import type { DecompositionReply } from './decompose-worker.ts';
import { type DecompositionKind, decompose } from './linalg.ts';

export interface DecompositionPool {
  /** decompose(kind, a, n) on a worker thread; a is copied, never modified. */
  decompose(kind: DecompositionKind, a: Float64Array, n: number): Promise<Float64Array>;
  close(): Promise<void>;
}

/** A worker thread running decompose-worker (from the sources through tsx, or built). */
function newWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./decompose-worker.js', import.meta.url));
  const module = new URL('./decompose-worker.ts', import.meta.url).href;
  return new Worker(new URL('./decompose-worker-entry.mjs', import.meta.url), { workerData: { module } });
}

interface Pending {
  resolve: (v: Float64Array) => void;
  reject: (e: Error) => void;
}

/** Starts `size` worker threads; null when none can start (callers then compute in place). */
export async function startDecompositionPool(size: number): Promise<DecompositionPool | null> {
  const started = (await Promise.all(Array.from({ length: size }, () => startWorker()))).filter(
    (w): w is Counted => w !== null,
  );
  if (started.length === 0) return null;
  const run = (op: DecompositionKind, a: Float64Array, n: number) => {
    let best = started[0]!;
    for (const w of started) if (w.load() < best.load()) best = w;
    return best.run(op, a, n);
  };
  return {
    decompose: run,
    async close() {
      await Promise.all(started.map((w) => w.close()));
    },
  };
}

interface Counted {
  load(): number;
  run(op: DecompositionKind, a: Float64Array, n: number): Promise<Float64Array>;
  close(): Promise<void>;
}

/** Starts one worker thread; resolves to null when it cannot start. */
async function startWorker(): Promise<Counted | null> {
  let worker: Worker;
  try {
    worker = newWorker();
  } catch {
    return null;
  }
  const ok = await new Promise<boolean>((resolve) => {
    worker.once('message', (m: DecompositionReply) => resolve('ready' in m && m.ready));
    worker.once('error', () => resolve(false));
    worker.once('exit', () => resolve(false));
  });
  if (!ok) {
    await worker.terminate();
    return null;
  }
  worker.unref();
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let broken = false;
  const failAll = (err: Error) => {
    broken = true;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (m: DecompositionReply) => {
    if (!('id' in m)) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if ('out' in m) p.resolve(m.out);
    else p.reject(new Error(m.error));
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', () => failAll(new Error('decomposition worker exited')));
  return {
    load: () => pending.size,
    run(op, a, n) {
      if (broken) return Promise.resolve(decompose(op, a, n));
      const id = nextId++;
      const copy = Float64Array.from(a);
      return new Promise<Float64Array>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, op, a: copy.buffer, n }, [copy.buffer]);
      });
    },
    async close() {
      broken = true;
      await worker.terminate();
    },
  };
}
