// Entry of the decomposition pool's worker threads (pool.ts) when repdyn runs from its TypeScript
// sources (tsx: development, tests, scripts): Node 20 does not apply the parent's --import loader to
// worker threads (privatenumber/tsx#354), so this plain module registers tsx's loader in the worker,
// then imports the worker module (decompose-worker.ts). A build runs decompose-worker.js directly.
import { workerData } from 'node:worker_threads';

const { register } = await import('tsx/esm/api');
register();
await import(workerData.module);
