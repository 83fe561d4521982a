// The BullMQ worker around the experiment pipeline, plus the reconciler that re-enqueues every
// non-terminal experiment Postgres knows about (after a Redis flush, a lost enqueue or a crash).
//
// Recovery: Postgres is the truth, Redis only carries work. A job runs only while its worker holds
// the experiment's lease (store/leases.ts); a job whose experiment is leased elsewhere completes at
// once (the holder is alive and on it). A killed worker's job is taken over when its BullMQ lock
// expires (JOB_LOCK_MS, checked every STALLED_INTERVAL_MS), and the reconciler (every
// RECONCILE_INTERVAL_MS) re-enqueues experiments that are non-terminal, unleased and have no job
// (job id = experiment id, so a re-enqueue never duplicates). The pipeline itself resumes: training
// from the last saved checkpoint, the tensor without the cells already stored. While Postgres is
// away, a running job waits for it and continues without spending a retry attempt.
import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import type { Config } from '../config/index.ts';
import { getGemmEngine } from '../core/cca/index.ts';
import { initBackend } from '../core/tf/backend.ts';
import type { Db } from '../store/db.ts';
import { unleasedActiveExperiments } from '../store/leases.ts';
import { openArtifactStore } from '../store/open-artifacts.ts';
import {
  createExperimentQueue,
  EXPERIMENT_QUEUE,
  type ExperimentJobData,
  enqueueExperiment,
} from '../store/queue.ts';
import { createRedis } from '../store/redis.ts';
import { sweepOrphans } from '../store/runs.ts';
import type { PipelineContext } from './processors/experiment.ts';
import { experimentJobProcessor, WorkerShutdown } from './processors/job.ts';

/** The orphan sweep (runs and artifact directories nothing refers to) runs at start, then this often. */
const SWEEP_EVERY_MS = 60_000;

export interface WorkerHandle {
  backend: string;
  gemm: string;
  reconcile(): Promise<number>;
  close(): Promise<void>;
}

export async function startWorker(config: Config, db: Db, log = console.log): Promise<WorkerHandle> {
  const backend = await initBackend(config.tfjsBackend);
  const gemm = await getGemmEngine(config.gemmEngine);
  log(
    `repdyn worker: tfjs backend ${backend.name} (${backend.tfBackend}), GEMM engine ${gemm.name}, decompositions ${gemm.linalg}`,
  );
  const artifacts = openArtifactStore(config);
  const workerName = `${hostname()}:${process.pid}`;
  const ctx: PipelineContext = { config, db, artifacts, backend: backend.name, gemm, log, workerName };
  const connection = createRedis(config.redisUrl, 'worker');
  const queueConnection = createRedis(config.redisUrl, 'worker');
  const queue = createExperimentQueue(queueConnection, config.queuePrefix);
  queue.on('error', () => {});
  const controllers = new Map<string, AbortController>();

  const processor = experimentJobProcessor(ctx, controllers, queue);

  const worker = new Worker<ExperimentJobData>(EXPERIMENT_QUEUE, processor, {
    // stored with each job it takes (job.processedBy): which worker holds a job, seen from the queue
    name: workerName,
    connection,
    prefix: config.queuePrefix,
    concurrency: config.workerConcurrency,
    lockDuration: config.jobLockMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: 3,
  });
  worker.on('error', (err) => log(`repdyn worker: queue error: ${err.message}`));

  /** Enqueues every non-terminal, unleased experiment that has no live job; returns how many. */
  async function reconcile(): Promise<number> {
    let added = 0;
    for (const id of await unleasedActiveExperiments(db)) {
      const job = await queue.getJob(id);
      if (job) {
        const state = await job.getState();
        // a finished job record left behind while the row is still active: replace it
        if (state !== 'completed' && state !== 'failed' && state !== 'unknown') continue;
        await job.remove().catch(() => undefined);
      }
      await enqueueExperiment(queue, id);
      added++;
    }
    return added;
  }
  /** Removes orphan runs and artifact directories (store/runs.ts), at most once a minute. */
  let lastSweep = 0;
  async function sweep(): Promise<void> {
    if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = Date.now();
    const { runs, dirs } = await sweepOrphans(db, artifacts);
    if (runs + dirs > 0) {
      log(`repdyn worker: removed ${runs} orphan run(s) and ${dirs} orphan artifact director(ies)`);
    }
  }
  const reconcileFailed = (err: unknown) => log(`repdyn worker: reconciler failed: ${String(err)}`);
  const reconcileTimer = setInterval(() => {
    reconcile()
      .then((n) => n > 0 && log(`repdyn worker: reconciler re-enqueued ${n} experiment(s)`))
      .catch(reconcileFailed);
    sweep().catch((err) => log(`repdyn worker: orphan sweep failed: ${String(err)}`));
  }, config.reconcileIntervalMs);
  await reconcile().catch(reconcileFailed);
  await sweep().catch((err) => log(`repdyn worker: orphan sweep failed: ${String(err)}`));

  return {
    backend: backend.name,
    gemm: gemm.name,
    reconcile,
    async close() {
      clearInterval(reconcileTimer);
      for (const c of controllers.values()) c.abort(new WorkerShutdown());
      await worker.close();
      await queue.close();
      connection.disconnect();
      queueConnection.disconnect();
      await gemm.dispose().catch(() => undefined);
    },
  };
}
