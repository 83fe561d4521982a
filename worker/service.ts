// The BullMQ worker around the experiment pipeline, plus the reconciler that re-enqueues every
// non-terminal experiment Postgres knows about (after a Redis flush, a lost enqueue or a crash).
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Config } from '../config/index.ts';
import { getGemmEngine } from '../core/cca/index.ts';
import { initBackend } from '../core/tf/backend.ts';
import type { Db } from '../store/db.ts';
import { ACTIVE, advance, isTerminal } from '../store/experiments.ts';
import {
  createExperimentQueue,
  EXPERIMENT_QUEUE,
  type ExperimentJobData,
  enqueueExperiment,
  JOB_OPTIONS,
} from '../store/queue.ts';
import { createRedis } from '../store/redis.ts';
import {
  classify,
  failExperiment,
  type PipelineContext,
  processExperiment,
} from './processors/experiment.ts';

const CANCEL_POLL_MS = 500;
const RECONCILE_MS = 15_000;

export interface WorkerHandle {
  backend: string;
  gemm: string;
  reconcile(): Promise<number>;
  close(): Promise<void>;
}

export async function startWorker(config: Config, db: Db, log = console.log): Promise<WorkerHandle> {
  const backend = await initBackend(config.tfjsBackend);
  const gemm = await getGemmEngine(config.gemmEngine);
  log(`repdyn worker: tfjs backend ${backend.name} (${backend.tfBackend}), GEMM engine ${gemm.name}`);
  const ctx: PipelineContext = { config, db, backend: backend.name, gemm, log };
  const connection = createRedis(config.redisUrl, 'worker');
  const queueConnection = createRedis(config.redisUrl, 'worker');
  const queue = createExperimentQueue(queueConnection, config.queuePrefix);
  queue.on('error', () => {});
  const controllers = new Map<string, AbortController>();

  const processor = async (job: Job<ExperimentJobData>) => {
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
      await processExperiment(ctx, id, controller.signal);
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
    lockDuration: 60_000,
    stalledInterval: 30_000,
    maxStalledCount: 3,
  });
  worker.on('error', (err) => log(`repdyn worker: queue error: ${err.message}`));

  async function reconcile(): Promise<number> {
    const rows = await db.experiment.findMany({
      where: { status: { in: [...ACTIVE] } },
      select: { id: true },
    });
    let added = 0;
    for (const { id } of rows) {
      if (await queue.getJob(id)) continue;
      await enqueueExperiment(queue, id);
      added++;
    }
    return added;
  }
  const reconcileTimer = setInterval(() => {
    reconcile()
      .then((n) => n > 0 && log(`repdyn worker: reconciler re-enqueued ${n} experiment(s)`))
      .catch(() => undefined);
  }, RECONCILE_MS);
  await reconcile().catch(() => undefined);

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
