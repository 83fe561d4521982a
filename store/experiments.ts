// Experiment rows: the source of truth for status, progress, layers and cells.
import { ACTIVE_STATUSES, type EXPERIMENT_STATUSES, TERMINAL_STATUSES } from '../core/status.ts';
import { type Db, type ExperimentStatus, type Prisma, poolOf } from './db.ts';
import { TooManyActiveExperiments } from './errors.ts';

export { TooManyActiveExperiments };

// core/status.ts and the database enum name the same statuses (a compile error otherwise)
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statusesMatch: Same<ExperimentStatus, (typeof EXPERIMENT_STATUSES)[number]> = true;
void statusesMatch;

export const TERMINAL: readonly ExperimentStatus[] = TERMINAL_STATUSES;
/** States a worker owns (the reconciler re-enqueues them). */
export const ACTIVE: readonly ExperimentStatus[] = ACTIVE_STATUSES;
/** An experiment on uploaded activations before POST …/complete: not queued, no worker involved. */
export const AWAITING: ExperimentStatus = 'awaiting_representations';
const ORDER: readonly ExperimentStatus[] = [
  AWAITING,
  'queued',
  'training',
  'capturing',
  'computing',
  'succeeded',
];

export function isTerminal(status: ExperimentStatus): boolean {
  return TERMINAL.includes(status);
}

const PHASE_STAMP: Partial<
  Record<ExperimentStatus, 'trainingAt' | 'capturingAt' | 'computingAt' | 'finishedAt'>
> = {
  training: 'trainingAt',
  capturing: 'capturingAt',
  computing: 'computingAt',
  succeeded: 'finishedAt',
  failed: 'finishedAt',
  canceled: 'finishedAt',
};

/**
 * Moves an experiment forward to `to` (never backwards, never out of a terminal state) and stamps
 * the phase time. Returns false when the row is gone or already at/after `to` or terminal.
 */
export async function advance(
  db: Db | Prisma.TransactionClient,
  id: string,
  to: ExperimentStatus,
  data: Prisma.ExperimentUpdateManyMutationInput = {},
): Promise<boolean> {
  const from = TERMINAL.includes(to)
    ? [AWAITING, ...ACTIVE]
    : ORDER.slice(0, ORDER.indexOf(to)).filter((s) => !TERMINAL.includes(s));
  const stamp = PHASE_STAMP[to];
  const res = await db.experiment.updateMany({
    where: { id, status: { in: from } },
    data: { ...data, status: to, ...(stamp ? { [stamp]: new Date() } : {}) },
  });
  return res.count === 1;
}

/** Progress of a running experiment; ignored once it is terminal. Fraction never decreases. */
export async function reportProgress(
  db: Db,
  id: string,
  p: { fraction: number; message: string; etaSeconds?: number | null },
): Promise<void> {
  await db.experiment.updateMany({
    where: { id, status: { in: [...ACTIVE] }, progress: { lte: p.fraction } },
    data: { progress: p.fraction, message: p.message, etaSeconds: p.etaSeconds ?? null },
  });
}

export interface CellRow {
  refLayer: number;
  specLayer: number;
  checkpoint: number;
  rho: number;
  mean: number;
  svcca: number | null;
  pwcca: number | null;
  cka: number | null;
  /** permutation null's rho (null: not computed) */
  rhoNull?: number | null;
  /** (rho - rhoNull) / (1 - rhoNull) */
  rhoAdjusted?: number | null;
  rankRef: number;
  rankSpec: number;
  /** encodeCoefficients() of the CCA coefficients (float64) */
  coefficients: Uint8Array;
}

/** Writes a batch of cells; a cell already stored (same key) is left as it is (idempotent). */
export async function writeCells(db: Db, experimentId: string, cells: CellRow[]): Promise<void> {
  if (cells.length === 0) return;
  await db.cell.createMany({
    data: cells.map((c) => ({ ...c, experimentId, coefficients: new Uint8Array(c.coefficients) })),
    skipDuplicates: true,
  });
}

/**
 * Coefficients as bytes: a leading byte 8 then little-endian float64 values (1 + 8k bytes). Cells of
 * older versions hold bare little-endian float32 values (4k bytes, never 1 more than a multiple of 4),
 * which decodeCoefficients still reads.
 */
export function encodeCoefficients(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(1 + values.length * 8);
  out[0] = 8;
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(1 + i * 8, values[i], true);
  return out;
}

export function decodeCoefficients(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength % 8 === 1 && bytes[0] === 8) {
    const out = new Float64Array((bytes.byteLength - 1) / 8);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(1 + i * 8, true);
    return out;
  }
  const out = new Float64Array(Math.floor(bytes.byteLength / 4));
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Creates an experiment unless its team already has `limit` unfinished (non-terminal) ones. The
 * count and the insert run in one transaction under a per-team advisory lock, so concurrent
 * submissions cannot overshoot the limit.
 */
export async function createWithinTeamLimit(
  db: Db,
  teamId: string,
  limit: number,
  data: Omit<Prisma.ExperimentUncheckedCreateInput, 'teamId'>,
): Promise<{ id: string; status: ExperimentStatus }> {
  return db.$transaction(async (tx) => {
    await checkTeamLimit(tx, teamId, limit);
    return tx.experiment.create({ data: { ...data, teamId }, select: { id: true, status: true } });
  });
}

/**
 * Inside a transaction: takes the team's advisory lock and throws TooManyActiveExperiments when the
 * team already has `limit` unfinished experiments (awaiting representations counts as unfinished).
 */
export async function checkTeamLimit(
  tx: Prisma.TransactionClient,
  teamId: string,
  limit: number,
): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`experiments:${teamId}`}, 0))`;
  const active = await tx.experiment.count({ where: { teamId, status: { in: [AWAITING, ...ACTIVE] } } });
  if (active >= limit) throw new TooManyActiveExperiments(active, limit);
}

/** The cells' scalar fields that figures, the summary and the analysis read (no coefficients). */
export interface FigureCell {
  refLayer: number;
  specLayer: number;
  checkpoint: number;
  rho: number;
  rhoNull: number | null;
  rankRef: number;
  rankSpec: number;
}

/**
 * Every cell's scalar fields (figures, the summary, the analysis). A named statement on the pool, not
 * the ORM: a 30 × 30 × 12 tensor is 10,800 rows, which Prisma's result mapping took 100-300 ms of the
 * API's event loop to unpack (measured in bench:abuse's profile); pg parses them in a few.
 */
export async function figureCells(db: Db, experimentId: string): Promise<FigureCell[]> {
  const { rows } = await poolOf(db).query<FigureCell>({
    name: 'repdyn-figure-cells',
    text: `SELECT "refLayer", "specLayer", checkpoint, rho, "rhoNull", "rankRef", "rankSpec"
           FROM "Cell" WHERE "experimentId" = $1`,
    values: [experimentId],
  });
  return rows;
}
