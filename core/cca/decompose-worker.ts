// Entry of the decomposition pool's worker threads (pool.ts): runs linalg.ts's decompose() on the
// matrices the pool posts and posts the packed results back (transferred, not copied).

import { parentPort } from 'node:worker_threads';
import { type DecompositionKind, decompose } from './linalg.ts';

export interface DecompositionMessage {
  id: number;
  op: DecompositionKind;
  /** The matrix's buffer (transferred), [n, n] float64. */
  a: ArrayBuffer;
  n: number;
}
export type DecompositionReply =
  | { ready: boolean }
  | { id: number; out: Float64Array }
  | { id: number; error: string };

const port = parentPort;
if (port) {
  port.on('message', ({ id, op, a, n }: DecompositionMessage) => {
    try {
      const out = decompose(op, new Float64Array(a), n);
      port.postMessage({ id, out } satisfies DecompositionReply, [out.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ id, error: String((err as Error)?.message ?? err) } satisfies DecompositionReply);
    }
  });
  // Self-test: the worker computes what it should before it is given work.
  const check = decompose('eig', new Float64Array([2, 1, 1, 2]), 2);
  const inv = decompose('cholinv', new Float64Array([4, 0, 0, 1]), 2);
  port.postMessage({ ready: Math.abs(check[0]! - 3) < 1e-12 && inv[0] === 0.5 } satisfies DecompositionReply);
}
