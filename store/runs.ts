// Runs shared across experiments (and teams): adoption, removal and the orphan sweep.
//
// A Run (one training of one network definition, keyed by `key`) and its artifact directory
// (runs/<key> in the artifact store: a directory or a bucket, store/artifact-store.ts) are shared by every experiment that uses the same definition, whatever
// its team. Adoption (an experiment starts using a run: the row is created if missing and the
// experiment's referenceRunId/specimenRunId point at it) and removal (a run no experiment references
// is deleted with its artifacts) both run in a transaction holding the transaction-scoped advisory
// lock (RUN_KEY_LOCK_SPACE, hashtext(key)). So they are serialised per run key: a removal either sees
// the adopter's reference (and keeps the run) or finishes, files included, before the adopter creates
// a fresh row. There is no window in which a new experiment adopts a run being deleted.
//
// A run whose training lease (store/leases.ts) a live process holds is never removed here: that
// process collects it when it stops (collectRun after releasing the lease). What older versions (or a
// process killed at the wrong moment) left behind, the sweep removes: runs no experiment references and
// artifact directories that have no Run row, both older than a grace period.
import type { ArtifactStore } from './artifact-store.ts';
import type { Db, Prisma } from './db.ts';
import { ACTIVE } from './experiments.ts';
import { RUN_LOCK_SPACE } from './leases.ts';

/** First key of the transaction-scoped lock that serialises adopting and removing a run key. */
export const RUN_KEY_LOCK_SPACE = 0x5244594b;
/** The sweep leaves alone anything younger than this (a row or directory being set up). */
export const SWEEP_MIN_AGE_MS = 60_000;
const TX = { timeout: 120_000, maxWait: 60_000 };

/** The experiment is gone, finished or canceled: it adopts nothing. */
export class ExperimentGone extends Error {
  constructor(id: string) {
    super(`experiment ${id} is gone or finished`);
  }
}

async function lockKey(tx: Prisma.TransactionClient, key: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${RUN_KEY_LOCK_SPACE}::int4, hashtext(${key}))`;
}

/** True when a live process holds the training lease of this run key. */
async function trainingLeaseHeld(tx: Prisma.TransactionClient, key: string): Promise<boolean> {
  const rows = await tx.$queryRaw<Array<{ held: boolean }>>`
    SELECT EXISTS (
      SELECT 1 FROM pg_locks l
      WHERE l.locktype = 'advisory'
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = ${RUN_LOCK_SPACE}::int4::oid
        AND l.objid = hashtext(${key})::oid
        AND l.objsubid = 2
    ) AS held`;
  return rows[0]?.held ?? false;
}

export interface RunDefinition {
  key: string;
  spec: Prisma.InputJsonValue;
}

/**
 * Adopts the experiment's runs in one transaction: each run row is created when missing, and the
 * experiment points at them (reference, then specimen; the same run when both are one network).
 * Throws ExperimentGone (nothing adopted) when the experiment is no longer active (deleted, canceled).
 */
export async function adoptRuns(
  db: Db,
  experimentId: string,
  reference: RunDefinition,
  specimen: RunDefinition,
): Promise<{ referenceRunId: string; specimenRunId: string }> {
  return db.$transaction(async (tx) => {
    const keys = [...new Set([reference.key, specimen.key])].sort(); // one lock order: no deadlock
    for (const key of keys) await lockKey(tx, key);
    const ids = new Map<string, string>();
    for (const def of [reference, specimen]) {
      if (ids.has(def.key)) continue;
      const row = await tx.run.upsert({
        where: { key: def.key },
        create: { key: def.key, spec: def.spec },
        update: {},
        select: { id: true },
      });
      ids.set(def.key, row.id);
    }
    const referenceRunId = ids.get(reference.key)!;
    const specimenRunId = ids.get(specimen.key)!;
    const linked = await tx.experiment.updateMany({
      where: { id: experimentId, status: { in: [...ACTIVE] }, cancelRequested: false },
      data: { referenceRunId, specimenRunId },
    });
    if (linked.count !== 1) throw new ExperimentGone(experimentId);
    return { referenceRunId, specimenRunId };
  }, TX);
}

/**
 * Removes a run (row, checkpoints and artifact directory) if no experiment references it and no live
 * process holds its training lease; decided under the run key's lock (see the top of this file).
 * Returns true when it was removed.
 */
export async function collectRun(db: Db, artifacts: ArtifactStore, runId: string): Promise<boolean> {
  const run = await db.run.findUnique({ where: { id: runId }, select: { key: true } });
  if (!run) return false;
  return db.$transaction(async (tx) => {
    await lockKey(tx, run.key);
    const refs = await tx.experiment.count({
      where: { OR: [{ referenceRunId: runId }, { specimenRunId: runId }] },
    });
    if (refs > 0 || (await trainingLeaseHeld(tx, run.key))) return false;
    const gone = await tx.run.deleteMany({ where: { id: runId } });
    if (gone.count === 0) return false;
    // still under the lock: an adopter of this key waits until the files are gone too
    await artifacts.removeRun(run.key);
    return true;
  }, TX);
}

/**
 * Repairs what older versions (or a process killed at the wrong moment) left: runs no experiment
 * references and artifact directories without a Run row, both older than `minAgeMs`.
 */
export async function sweepOrphans(
  db: Db,
  artifacts: ArtifactStore,
  minAgeMs = SWEEP_MIN_AGE_MS,
): Promise<{ runs: number; dirs: number }> {
  const before = new Date(Date.now() - minAgeMs);
  const orphans = await db.run.findMany({
    where: { createdAt: { lt: before }, referenceOf: { none: {} }, specimenOf: { none: {} } },
    select: { id: true },
  });
  let runs = 0;
  for (const { id } of orphans) if (await collectRun(db, artifacts, id)) runs++;

  let dirs = 0;
  const candidates = await artifacts.listRuns();
  const known = new Set(
    (
      await db.run.findMany({ where: { key: { in: candidates.map((c) => c.key) } }, select: { key: true } })
    ).map((r) => r.key),
  );
  for (const { key, modified } of candidates) {
    if (known.has(key) || modified >= before) continue;
    const removed = await db.$transaction(async (tx) => {
      await lockKey(tx, key);
      if ((await tx.run.count({ where: { key } })) > 0 || (await trainingLeaseHeld(tx, key))) return false;
      await artifacts.removeRun(key);
      return true;
    }, TX);
    if (removed) dirs++;
  }
  return { runs, dirs };
}
