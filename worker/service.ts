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
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Config } from '../config/index.ts';
import { getGemmEngine } from '../core/cca/index.ts';
import { initBackend } from '../core/tf/backend.ts';
import { type Db, isDbUnavailable, pingDb } from '../store/db.ts';
import { advance, isTerminal } from '../store/experiments.ts';
import { type Lease, tryLeaseExperiment, unleasedActiveExperiments } from '../store/leases.ts';
import { openArtifactStore } from '../store/open-artifacts.ts';
import {
  createExperimentQueue,
  EXPERIMENT_QUEUE,
  type ExperimentJobData,
  enqueueExperiment,
  JOB_OPTIONS,
} from '../store/queue.ts';
import { createRedis } from '../store/redis.ts';
import { sweepOrphans } from '../store/runs.ts';
import {
  classify,
  failExperiment,
  type PipelineContext,
  processExperiment,
} from './processors/experiment.ts';

const CANCEL_POLL_MS = 500;
/** The orphan sweep (runs and artifact directories nothing refers to) runs at start, then this often. */
const SWEEP_EVERY_MS = 60_000;
/** Postgres outages a job rides out (waiting, then continuing) before they count as a failure. */
const MAX_DB_OUTAGES = 20;
const DB_RETRY_MS = 500;

/** Resolves once Postgres answers again; rejects if `signal` aborts first. */
async function waitForDb(db: Db, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    try {
      await pingDb(db, 2_000);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, DB_RETRY_MS));
    }
  }
}

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
  const ctx: PipelineContext = { config, db, artifacts, backend: backend.name, gemm, log };
  const connection = createRedis(config.redisUrl, 'worker');
  const queueConnection = createRedis(config.redisUrl, 'worker');
  const queue = createExperimentQueue(queueConnection, config.queuePrefix);
  queue.on('error', () => {});
  const controllers = new Map<string, AbortController>();

  const processor = async (job: Job<ExperimentJobData>, token?: string) => {
    const id = job.data?.experimentId;
    if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) {
      throw new UnrecoverableError('job data has no valid experimentId');
    }
    const controller = new AbortController();
    controllers.set(id, controller);
    // Cancellation (and deletion) arrive through Postgres; polled so any API instance can cancel.
    const watcher = setInterval(() => {
      db.experiment
        .findUnique({ where: { id }, select: { cancelRequested: true, status: true } })
        .then((row) => {
          if (!row || row.cancelRequested || isTerminal(row.status)) controller.abort(new Error('canceled'));
        })
        .catch(() => undefined);
    }, CANCEL_POLL_MS);
    try {
      for (let outages = 0; ; outages++) {
        let lease: Lease | null;
        try {
          lease = await tryLeaseExperiment(config.databaseUrl, id);
        } catch (err) {
          if (!isDbUnavailable(err) || outages >= MAX_DB_OUTAGES) throw err;
          await waitForDb(db, controller.signal);
          continue;
        }
        if (!lease) {
          log(`experiment ${id}: another live worker holds it; leaving it to that one`);
          return;
        }
        try {
          await processExperiment(ctx, id, AbortSignal.any([controller.signal, lease.lost]));
          return;
        } catch (err) {
          // (an error from a dropped connection can arrive before the lease notices: ask Postgres)
          const outage =
            lease.lost.aborted ||
            isDbUnavailable(err) ||
            (await pingDb(db, 2_000).then(
              () => false,
              () => true,
            ));
          if (controller.signal.aborted || !outage || outages >= MAX_DB_OUTAGES) throw err;
          log(`experiment ${id}: PostgreSQL unreachable; continuing when it answers`);
        } finally {
          await lease.release();
        }
        await waitForDb(db, controller.signal);
      }
    } catch (err) {
      if (
        controller.signal.aborted &&
        controller.signal.reason instanceof Error &&
        controller.signal.reason.message === 'canceled'
      ) {
        await advance(db, id, 'canceled', { message: 'canceled' });
        log(`experiment ${id}: canceled`);
        return;
      }
      if (controller.signal.aborted && controller.signal.reason === 'shutdown') {
        // A graceful stop (deploy, scale-down) hands the job back without spending an attempt; the next
        // worker continues from the last checkpoint and the cells already stored.
        if (token) {
          await job.moveToDelayed(Date.now(), token);
          log(`experiment ${id}: worker shutting down; handed back to the queue`);
          throw new DelayedError();
        }
        throw new Error('worker shut down; another attempt continues from the last checkpoint');
      }
      const permanent = classify(err);
      const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? JOB_OPTIONS.attempts);
      if (permanent || finalAttempt) {
        const code = permanent?.code ?? 'INTERNAL';
        const message = permanent?.message ?? `failed after ${job.attemptsMade + 1} attempts: ${String(err)}`;
        await failExperiment(db, id, code, message);
        log(`experiment ${id}: failed ${code}: ${message}`);
        throw new UnrecoverableError(message);
      }
      log(`experiment ${id}: attempt ${job.attemptsMade + 1} failed, will retry: ${String(err)}`);
      throw err;
    } finally {
      clearInterval(watcher);
      controllers.delete(id);
    }
  };

  const worker = new Worker<ExperimentJobData>(EXPERIMENT_QUEUE, processor, {
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
  const reconcileTimer = setInterval(() => {
    reconcile()
      .then((n) => n > 0 && log(`repdyn worker: reconciler re-enqueued ${n} experiment(s)`))
      .catch(() => undefined);
    sweep().catch((err) => log(`repdyn worker: orphan sweep failed: ${String(err)}`));
  }, config.reconcileIntervalMs);
  await reconcile().catch(() => undefined);
  await sweep().catch((err) => log(`repdyn worker: orphan sweep failed: ${String(err)}`));

  return {
    backend: backend.name,
    gemm: gemm.name,
    reconcile,
    async close() {
      clearInterval(reconcileTimer);
      for (const c of controllers.values()) c.abort('shutdown');
      await worker.close();
      await queue.close();
      connection.disconnect();
      queueConnection.disconnect();
      await gemm.dispose().catch(() => undefined);
    },
  };
}
