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
