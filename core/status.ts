// The experiment statuses, once: the database enum (prisma/schema.prisma, checked against this list
// in store/experiments.ts), the API schemas and GET /v1/meta all read these lists.

/** Every status in lifecycle order (uploads start awaiting their representations). */
export const EXPERIMENT_STATUSES = [
  'awaiting_representations',
  'queued',
  'training',
  'capturing',
  'computing',
  'succeeded',
  'failed',
  'canceled',
] as const;
export type ExperimentStatusName = (typeof EXPERIMENT_STATUSES)[number];

/** Statuses an experiment never leaves. */
export const TERMINAL_STATUSES = [
  'succeeded',
  'failed',
  'canceled',
] as const satisfies readonly ExperimentStatusName[];

/** Statuses a worker owns (the reconciler re-enqueues them). */
export const ACTIVE_STATUSES = [
  'queued',
  'training',
  'capturing',
  'computing',
] as const satisfies readonly ExperimentStatusName[];

/**
 * What happens in each status, in words. The stored names are kept for compatibility; 'capturing'
 * is the phase that reads the recorded representations' shapes and computes the random baseline.
 */
export const STATUS_PHASES: Record<ExperimentStatusName, string> = {
  awaiting_representations:
    'waiting for the uploaded representations (PUT …/activations/…, then POST …/complete)',
  queued: 'waiting for a worker',
  training: 'training the networks and recording every layer at each checkpoint',
  capturing:
    'computing the random baseline (every measure on Gaussian data of each pair’s samples and widths)',
  computing: 'computing the CCA tensor, cell by cell',
  succeeded: 'finished: the tensor, summary and analysis are ready',
  failed: 'stopped by an error (see error)',
  canceled: 'canceled or deleted before it finished',
};
