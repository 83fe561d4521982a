// The work queue (BullMQ on Redis). It only carries work: the experiment row in Postgres is the
// truth, and the job id is the experiment id, so re-enqueueing can never duplicate work.

import { Queue, type QueueOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { withTimeout } from '../core/timeout.ts';

export const EXPERIMENT_QUEUE = 'experiments';
export const EXPERIMENT_JOB = 'experiment';

export interface ExperimentJobData {
  experimentId: string;
}

export type ExperimentQueue = Queue<ExperimentJobData, void, typeof EXPERIMENT_JOB>;

export const JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: true,
  removeOnFail: true,
} as const;

export function createExperimentQueue(connection: Redis, prefix: string): ExperimentQueue {
  const options: QueueOptions = { connection, prefix, defaultJobOptions: JOB_OPTIONS };
  return new Queue<ExperimentJobData, void, typeof EXPERIMENT_JOB>(EXPERIMENT_QUEUE, options);
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
