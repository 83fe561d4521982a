// The BullMQ processor of an experiment job: checks the job, holds the experiment's lease
// (store/leases.ts) while processExperiment runs, rides out PostgreSQL outages, and turns the outcome
// into the experiment's state: canceled (a cancel or delete seen through Postgres), handed back (the
// worker shuts down), retried, or failed for good (a permanent failure or the last attempt).
// A spread experiment's parts (its runs' training, blocks of its tensor) are child jobs of its job
// (BullMQ flows): added here (Spread), processed by processPart without the experiment's lease, while
// the experiment's job waits holding no worker (WaitingChildrenError) and then runs again.
import { DelayedError, type Job, UnrecoverableError, WaitingChildrenError } from 'bullmq';
import { type Db, isDbUnavailable, pingDb } from '../../store/db.ts';
import { advance, isTerminal } from '../../store/experiments.ts';
import { type Lease, tryLeaseExperiment } from '../../store/leases.ts';
import {
  BLOCK_PART_JOB,
  type ExperimentJobData,
  type ExperimentQueue,
  JOB_OPTIONS,
  type PartResult,
  partJobId,
  RUN_PART_JOB,
} from '../../store/queue.ts';
import {
  classify,
  failExperiment,
  type PipelineContext,
  processExperiment,
  processPart,
  type Spread,
  WaitingForParts,
} from './experiment.ts';

/** Why a job's controller aborted: its experiment was canceled or deleted (seen in Postgres). */
export class CancelRequested extends Error {
  constructor() {
    super('canceled');
    this.name = 'CancelRequested';
  }
}

/** Why a job's controller aborted: the worker is shutting down (the job is handed back). */
export class WorkerShutdown extends Error {
  constructor() {
    super('worker shutting down');
    this.name = 'WorkerShutdown';
  }
}

const CANCEL_POLL_MS = 500;
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

/** A spread experiment's parts as child jobs of its job (see Spread in experiment.ts). */
function spreadOf(
  ctx: PipelineContext,
  queue: ExperimentQueue,
  job: Job<ExperimentJobData>,
  token: string,
): Spread {
  return {
    minCells: ctx.config.spreadMinCells,
    blocks: ctx.config.tensorBlocks,
    savedBaseline: job.data.baseline,
    reentry: job.data.delegated === true,
    async delegate(parts, baseline) {
      await job.updateData({ ...job.data, ...(baseline ? { baseline } : {}), delegated: true });
      for (const part of parts) {
        await queue.add(part.part === 'run' ? RUN_PART_JOB : BLOCK_PART_JOB, part, {
          jobId: partJobId(part),
          parent: { id: job.id!, queue: job.queueQualifiedName },
          // a part that fails for good leaves its work to the experiment's own job
          ignoreDependencyOnFailure: true,
        });
      }
      ctx.log(`experiment ${job.data.experimentId}: ${parts.length} part(s) handed to the workers`);
      return job.moveToWaitingChildren(token);
    },
    async results() {
      const values = await job.getChildrenValues<PartResult | undefined>();
      return Object.values(values)
        .filter((v): v is PartResult => Boolean(v))
        .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    },
  };
}

/** Aborts `controller` with CancelRequested once Postgres says the experiment is canceled, deleted or finished. */
function watchForCancel(db: Db, id: string, controller: AbortController): NodeJS.Timeout {
  // Cancellation (and deletion) arrive through Postgres; polled so any API instance can cancel.
  return setInterval(() => {
    db.experiment
      .findUnique({ where: { id }, select: { cancelRequested: true, status: true } })
      .then((row) => {
        if (!row || row.cancelRequested || isTerminal(row.status)) controller.abort(new CancelRequested());
      })
      .catch(() => undefined);
  }, CANCEL_POLL_MS);
}

/**
 * Runs the experiment while holding its lease; a PostgreSQL outage (the lease lost, or the database
 * unreachable) is waited out and the experiment continued, up to MAX_DB_OUTAGES times. Returns at
 * once when another live worker holds the experiment.
 */
async function runLeased(
  ctx: PipelineContext,
  id: string,
  controller: AbortController,
  spread: Spread | undefined,
): Promise<void> {
  const { db, log } = ctx;
  for (let outages = 0; ; outages++) {
    let lease: Lease | null;
    try {
      lease = await tryLeaseExperiment(ctx.config.databaseUrl, id);
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
      await processExperiment(ctx, id, AbortSignal.any([controller.signal, lease.lost]), spread);
      return;
    } catch (err) {
      if (err instanceof WaitingForParts) throw err;
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
}

/**
 * What a job's error becomes: a wait for its parts, a canceled experiment (returns), a job handed
 * back (the worker shuts down), a failed part (left to the experiment's job), a failed experiment
 * (permanent failures and the last attempt), or a retry. Throws in every case but the cancel.
 */
async function settleFailure(
  ctx: PipelineContext,
  job: Job<ExperimentJobData>,
  token: string | undefined,
  signal: AbortSignal,
  err: unknown,
): Promise<undefined> {
  const { db, log } = ctx;
  const id = job.data.experimentId;
  // the experiment's job waits, holding no worker, until its parts are done; then it runs again
  if (err instanceof WaitingForParts) throw new WaitingChildrenError();
  if (signal.aborted && signal.reason instanceof CancelRequested) {
    await advance(db, id, 'canceled', { message: 'canceled' });
    log(`experiment ${id}: canceled`);
    return;
  }
  if (signal.aborted && signal.reason instanceof WorkerShutdown) {
    // A graceful stop (deploy, scale-down) hands the job back without spending an attempt; the next
    // worker continues from the last checkpoint and the cells already stored.
    if (token) {
      await job.moveToDelayed(Date.now(), token);
      log(`experiment ${id}: worker shutting down; handed back to the queue`);
      throw new DelayedError();
    }
    throw new Error('worker shut down; another attempt continues from the last checkpoint');
  }
  if (job.data.part) {
    // a failed part leaves its work to the experiment's own job, which reports any failure
    log(`experiment ${id}: part ${job.id} failed (attempt ${job.attemptsMade + 1}): ${String(err)}`);
    throw classify(err) ? new UnrecoverableError(String(err)) : err;
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
}

/**
 * The processor for BullMQ's Worker. `controllers` holds each running job's AbortController by job
 * id, so the worker's close() can abort them with WorkerShutdown. With `queue`, experiments of at
 * least SPREAD_MIN_CELLS cells are spread over the workers as part jobs.
 */
export function experimentJobProcessor(
  ctx: PipelineContext,
  controllers: Map<string, AbortController>,
  queue?: ExperimentQueue,
) {
  return async (job: Job<ExperimentJobData>, token?: string): Promise<PartResult | undefined> => {
    const id = job.data?.experimentId;
    if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) {
      throw new UnrecoverableError('job data has no valid experimentId');
    }
    const controller = new AbortController();
    const key = job.id ?? id;
    controllers.set(key, controller);
    const watcher = watchForCancel(ctx.db, id, controller);
    try {
      // a part of a spread experiment: no experiment lease (the experiment's job is waiting for it)
      if (job.data.part) return await processPart(ctx, job.data, controller.signal);
      await runLeased(ctx, id, controller, queue && token ? spreadOf(ctx, queue, job, token) : undefined);
      return undefined;
    } catch (err) {
      return await settleFailure(ctx, job, token, controller.signal, err);
    } finally {
      clearInterval(watcher);
      controllers.delete(key);
    }
  };
}
