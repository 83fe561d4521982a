// The work queue (BullMQ on Redis). It only carries work: the experiment row in Postgres is the
// truth, and the job id is the experiment id, so re-enqueueing can never duplicate work.

import { Queue, type QueueOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Baseline, PartResult } from '../core/contracts/summary.ts';
import { withTimeout } from '../core/timeout.ts';

export const EXPERIMENT_QUEUE = 'experiments';
export const EXPERIMENT_JOB = 'experiment';
/** Parts of a spread experiment, children of its job (BullMQ flows): one run's training, or a block. */
export const RUN_PART_JOB = 'run';
export const BLOCK_PART_JOB = 'block';
export type JobName = typeof EXPERIMENT_JOB | typeof RUN_PART_JOB | typeof BLOCK_PART_JOB;

/** The baseline an earlier entry of a spread experiment computed (kept with its job, not redone). */
export type SavedBaseline = Baseline;

export interface ExperimentJobData {
  experimentId: string;
  /** kind of part (absent: the experiment itself) */
  part?: 'run' | 'block';
  /** run part: which run of the experiment */
  runId?: string;
  network?: 'reference' | 'specimen';
  /** block part: checkpoints [from, to) of the specimen */
  from?: number;
  to?: number;
  /** experiment job of a spread experiment: what its earlier entries computed */
  baseline?: SavedBaseline;
  /** experiment job: it has handed parts to the workers (a later entry continues the same attempt) */
  delegated?: boolean;
}

/** A part's job id: stable, so handing the same part out again adds nothing. */
export function partJobId(part: ExperimentJobData): string {
  return part.part === 'run'
    ? `${part.experimentId}.run.${part.network}`
    : `${part.experimentId}.block.${part.from}-${part.to}`;
}

/** What a part job returns (its parent's summary lists them: who did what, when). */
export type { PartResult };

export type ExperimentQueue = Queue<ExperimentJobData, PartResult | undefined, JobName>;

export const JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: true,
  removeOnFail: true,
} as const;

export function createExperimentQueue(connection: Redis, prefix: string): ExperimentQueue {
  const options: QueueOptions = { connection, prefix, defaultJobOptions: JOB_OPTIONS };
  return new Queue<ExperimentJobData, PartResult | undefined, JobName>(EXPERIMENT_QUEUE, options);
}

export async function enqueueExperiment(queue: ExperimentQueue, experimentId: string): Promise<void> {
  await queue.add(EXPERIMENT_JOB, { experimentId }, { jobId: experimentId });
}

/**
 * Enqueues within `timeoutMs`; answers the failure instead of throwing. The experiment row is the
 * truth: when Redis does not answer, the workers' reconciler enqueues it from Postgres later.
 */
export async function enqueueOrDefer(
  queue: ExperimentQueue,
  experimentId: string,
  timeoutMs = 2_000,
): Promise<unknown | null> {
  try {
    await withTimeout(enqueueExperiment(queue, experimentId), timeoutMs, 'enqueue');
    return null;
  } catch (err) {
    return err ?? new Error('enqueue failed');
  }
}
