// What the API asks of the database about experiments, in domain terms: a team's experiment, a new
// experiment (trained or on uploaded activations) behind an Idempotency-Key, a page of the list, a
// cancel, a delete with its runs and their artifacts. Failures are domain errors (store/errors.ts);
// no HTTP here.
import { withTimeout } from '../core/timeout.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { uploadRunKey } from './artifacts.ts';
import {
  type Cell,
  type Checkpoint,
  type Db,
  type Experiment,
  type ExperimentStatus,
  type Layer,
  type Prisma,
  poolOf,
} from './db.ts';
import { ExperimentFinished, ExperimentNotFound, IdempotencyKeyReused, isUniqueViolation } from './errors.ts';
import { ACTIVE, AWAITING, advance, checkTeamLimit, isTerminal } from './experiments.ts';
import type { ExperimentQueue } from './queue.ts';
import { collectRun } from './runs.ts';

export type ExperimentRow = Experiment & {
  layers: Layer[];
  specimenRun: { checkpoints: Checkpoint[] } | null;
};

/** What an experiment view needs: its layers in order and the specimen run's checkpoints. */
export const experimentInclude = {
  layers: { orderBy: [{ network: 'asc' }, { index: 'asc' }] },
  specimenRun: { include: { checkpoints: { orderBy: { index: 'asc' } } } },
} satisfies Prisma.ExperimentInclude;

/** The experiment if it belongs to the team; ExperimentNotFound otherwise (other teams' ids are not revealed). */
export async function findOwned(db: Db, teamId: string, id: string): Promise<ExperimentRow> {
  const row = await db.experiment.findFirst({ where: { id, teamId }, include: experimentInclude });
  if (!row) throw new ExperimentNotFound(id);
  return row;
}

/** The experiment by id (access decided by the caller), or ExperimentNotFound. */
export async function findExperiment(db: Db, id: string): Promise<ExperimentRow> {
  const row = await db.experiment.findUnique({ where: { id }, include: experimentInclude });
  if (!row) throw new ExperimentNotFound(id);
  return row;
}

/** A page of the team's experiments, newest first; nextCursor: the id to continue after, or null. */
export async function listExperiments(
  db: Db,
  teamId: string,
  page: { status?: ExperimentStatus; limit: number; cursor?: string },
): Promise<{ items: ExperimentRow[]; nextCursor: string | null }> {
  const rows = await db.experiment.findMany({
    where: { teamId, ...(page.status ? { status: page.status } : {}) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: page.limit + 1,
    ...(page.cursor ? { cursor: { id: page.cursor }, skip: 1 } : {}),
    include: experimentInclude,
  });
  const items = rows.slice(0, page.limit);
  return { items, nextCursor: rows.length > page.limit ? items[items.length - 1].id : null };
}

/** A stored layer of a new experiment (its matrix [samples, features] and how it was reduced). */
export interface NewLayer {
  network: 'reference' | 'specimen';
  index: number;
  name: string;
  kind: string;
  features: number;
  samples: number;
  reduction?: string | null;
  reductionDetail?: string | null;
}

interface NewExperimentBase {
  teamId: string;
  /** unfinished experiments the team may have (MAX_ACTIVE_EXPERIMENTS) */
  activeLimit: number;
  name: string;
  /** the spec as submitted */
  spec: Prisma.InputJsonValue;
  specHash: string;
  idempotencyKey?: string;
  estimate: Prisma.InputJsonValue;
  checkpointCount: number;
  layers: NewLayer[];
}

/** A trained experiment (queued; the caller enqueues it). */
export interface NewTrainedExperiment extends NewExperimentBase {
  kind: 'trained';
}

/** An experiment on uploaded activations: created awaiting its representations, with a run per network. */
export interface NewUploadExperiment extends NewExperimentBase {
  kind: 'upload';
  id: string;
  /** Net_S = Net_R: one run */
  same: boolean;
  /** the run spec stored for each network */
  runSpecs: Record<'reference' | 'specimen', Prisma.InputJsonValue>;
  checkpoints: Record<'reference' | 'specimen', Array<{ index: number; step: number; fraction: number }>>;
  message: string;
}

export type NewExperiment = NewTrainedExperiment | NewUploadExperiment;

export interface Created {
  id: string;
  status: ExperimentStatus;
  estimate: Prisma.JsonValue;
  /** true: an earlier request with the same Idempotency-Key and body created it */
  replayed: boolean;
  /** its stored layers when replayed (the warnings known at submission are derived from them) */
  layers: Layer[];
}

/**
 * `create()` unless the Idempotency-Key already created an experiment of the team: that one is
 * answered (replayed) when the body hash matches, else IdempotencyKeyReused. Two identical requests
 * racing end with the one row the unique index let through.
 */
export async function withIdempotency(
  db: Db,
  teamId: string,
  key: string | undefined,
  hash: string,
  create: () => Promise<{ id: string; status: ExperimentStatus; estimate: Prisma.JsonValue }>,
): Promise<Created> {
  const existing = async () => {
    if (!key) return null;
    const row = await db.experiment.findUnique({
      where: { teamId_idempotencyKey: { teamId, idempotencyKey: key } },
      include: { layers: { orderBy: [{ network: 'asc' }, { index: 'asc' }] } },
    });
    if (row && row.specHash !== hash) throw new IdempotencyKeyReused();
    return row
      ? { id: row.id, status: row.status, estimate: row.estimate, replayed: true, layers: row.layers }
      : null;
  };
  const before = await existing();
  if (before) return before;
  try {
    return { ...(await create()), replayed: false, layers: [] };
  } catch (err) {
    if (key && isUniqueViolation(err)) {
      const raced = await existing();
      if (raced) return raced;
    }
    throw err;
  }
}

/**
 * Creates an experiment within the team's limit of unfinished ones (TooManyActiveExperiments),
 * behind its Idempotency-Key (withIdempotency). `beforeCreate` runs only when a row is about to be
 * created (not for a replay): the API checks the queue there.
 */
export function createExperiment(
  db: Db,
  e: NewExperiment,
  beforeCreate: () => Promise<void> = async () => {},
): Promise<Created> {
  return withIdempotency(db, e.teamId, e.idempotencyKey, e.specHash, async () => {
    await beforeCreate();
    return db.$transaction(async (tx) => {
      await checkTeamLimit(tx, e.teamId, e.activeLimit);
      const common = {
        teamId: e.teamId,
        name: e.name,
        spec: e.spec,
        specHash: e.specHash,
        idempotencyKey: e.idempotencyKey ?? null,
        estimate: e.estimate,
        checkpointCount: e.checkpointCount,
        layers: { create: e.layers },
      };
      const select = { id: true, status: true, estimate: true } as const;
      if (e.kind === 'trained') {
        return tx.experiment.create({ data: { ...common, message: 'waiting for a worker' }, select });
      }
      const run = (network: 'reference' | 'specimen') =>
        tx.run.create({
          data: {
            key: uploadRunKey(e.id, network),
            spec: e.runSpecs[network],
            checkpoints: { create: e.checkpoints[network] },
          },
        });
      const specimen = await run('specimen');
      const reference = e.same ? specimen : await run('reference');
      return tx.experiment.create({
        data: {
          ...common,
          id: e.id,
          status: AWAITING,
          message: e.message,
          referenceRunId: reference.id,
          specimenRunId: specimen.id,
        },
        select,
      });
    });
  });
}

/** Removes a job from the queue if it is there; a slow or unreachable Redis is not waited for. */
async function dequeue(queue: ExperimentQueue, id: string): Promise<void> {
  await withTimeout(queue.remove(id), 1_000, 'queue remove').catch(() => undefined);
}

/**
 * Asks the experiment to stop. Not started yet (queued, awaiting representations): canceled here,
 * and a worker that picks the job up anyway sees the terminal state. Finished: ExperimentFinished.
 */
export async function cancelExperiment(db: Db, queue: ExperimentQueue, row: Experiment): Promise<void> {
  if (isTerminal(row.status)) throw new ExperimentFinished(row.status);
  await db.experiment.update({ where: { id: row.id }, data: { cancelRequested: true } });
  if (row.status === 'queued' || row.status === AWAITING) {
    await advance(db, row.id, 'canceled', { message: 'canceled before it started' });
    await dequeue(queue, row.id);
  }
}

/**
 * Deletes the experiment (canceled first if unfinished) with its cells, then its runs that no
 * experiment of any team references any more, with their artifacts — decided under the run key's
 * lock that adoption takes too (store/runs.ts). A run its worker is still training is collected by
 * that worker when it stops (within a second or so of this delete).
 */
export async function deleteExperiment(
  db: Db,
  queue: ExperimentQueue,
  artifacts: ArtifactStore,
  row: Experiment,
): Promise<void> {
  if (ACTIVE.includes(row.status) || row.status === AWAITING) {
    await db.experiment.update({ where: { id: row.id }, data: { cancelRequested: true } });
    await advance(db, row.id, 'canceled', { message: 'deleted' });
    await dequeue(queue, row.id);
  }
  const runIds = [row.referenceRunId, row.specimenRunId].filter((x): x is string => Boolean(x));
  await db.experiment.delete({ where: { id: row.id } });
  for (const runId of new Set(runIds)) await collectRun(db, artifacts, runId);
}

export interface ProgressRow {
  id: string;
  status: ExperimentStatus;
  progress: number;
  message: string;
  etaSeconds: number | null;
  errorCode: string | null;
  errorMessage: string | null;
}

/**
 * The progress columns of the given experiments (a live stream's poll: one query for all streams).
 * A named statement on the pool, not Prisma: the ORM compiles a query shape per list length on the
 * event loop, and this one runs four times a second while streams are open.
 */
export async function progressOf(db: Db, ids: string[]): Promise<ProgressRow[]> {
  const { rows } = await poolOf(db).query<ProgressRow>({
    name: 'repdyn-progress-of',
    text: `SELECT id, status::text AS status, progress, message, "etaSeconds", "errorCode", "errorMessage"
           FROM "Experiment" WHERE id = ANY($1::uuid[])`,
    values: [ids],
  });
  return rows;
}

/**
 * The cells of an experiment in the given layers and checkpoints (a tensor slice). A named statement
 * on the pool: the ORM compiled a new query shape for every length of the three lists and unpacked
 * the rows on the event loop several times slower than pg does.
 */
export async function sliceCells(
  db: Db,
  experimentId: string,
  select: { refLayers: number[]; specLayers: number[]; checkpoints: number[] },
): Promise<Cell[]> {
  const { rows } = await poolOf(db).query<Cell>({
    name: 'repdyn-slice-cells',
    text: `SELECT * FROM "Cell" WHERE "experimentId" = $1 AND "refLayer" = ANY($2::int[])
           AND "specLayer" = ANY($3::int[]) AND checkpoint = ANY($4::int[])`,
    values: [experimentId, select.refLayers, select.specLayers, select.checkpoints],
  });
  return rows;
}

/** A run by id, or null. */
export function findRun(db: Db, id: string | null) {
  return id ? db.run.findUnique({ where: { id } }) : Promise.resolve(null);
}
