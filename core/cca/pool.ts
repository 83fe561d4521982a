// Worker threads for the JS decompositions of the tensor builder (per-pair eigenvalues, Cholesky
// whitening of specimen layers), so that they run concurrently with the products, which
// onnxruntime-node computes on the calling (main) thread. The workers run linalg.ts's own functions
// (their transpiled text); where a worker cannot start or fails, the work is done in place, with the
// same code.

import { Worker } from 'node:worker_threads';
import { type DecompositionKind, decompose, decompositionSource } from './linalg.ts';

export interface DecompositionPool {
  /** decompose(kind, a, n) on a worker thread; a is copied, never modified. */
  decompose(kind: DecompositionKind, a: Float64Array, n: number): Promise<Float64Array>;
  close(): Promise<void>;
}

function workerSource(): string {
  return `
const { parentPort } = require('node:worker_threads');
${decompositionSource()}
parentPort.on('message', ({ id, op, a, n }) => {
  try {
    const m = new Float64Array(a);
    const out = decompose(op, m, n);
    parentPort.postMessage({ id, out }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
// Self-test: every function the worker needs is there.
const check = decompose('eig', new Float64Array([2, 1, 1, 2]), 2);
const inv = decompose('cholinv', new Float64Array([4, 0, 0, 1]), 2);
parentPort.postMessage({ ready: Math.abs(check[0] - 3) < 1e-12 && inv[0] === 0.5 });
`;
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
    worker = new Worker(workerSource(), { eval: true });
  } catch {
    return null;
  }
  const ok = await new Promise<boolean>((resolve) => {
    worker.once('message', (m: { ready?: boolean }) => resolve(m.ready === true));
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
  worker.on('message', (m: { id: number; out?: Float64Array; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.out) p.resolve(m.out);
    else p.reject(new Error(m.error ?? 'decomposition worker failed'));
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
