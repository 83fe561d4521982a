// Who may read an experiment: a key of its team, or a valid share token (`?share=TOKEN`) for that
// experiment only. Anything else is 404, so other teams' ids are never revealed.
import type { FastifyRequest } from 'fastify';
import { throughCache } from '../store/access-cache.ts';
import { hashSecret } from '../store/auth.ts';
import { type Db, poolOf } from '../store/db.ts';
import { ExperimentNotFound } from '../store/errors.ts';
import { type ExperimentRow, findExperiment } from '../store/repository.ts';
import { LruCache } from './lru.ts';
import { HttpError } from './schemas/error.ts';

/** Finished experiments' rows (layers, checkpoints, summary: they no longer change), 256 kept. */
const finishedRows = new LruCache<ExperimentRow>(256, 256);

/**
 * The experiment of `head` (from experimentHead: the request may read it); a finished one from
 * memory after its first read, so that hot reads of results (slices, figures) cost no ORM query.
 */
export async function readableRow(db: Db, head: ExperimentHead): Promise<ExperimentRow> {
  if (head.status !== 'succeeded') return findExperiment(db, head.id);
  const key = `${head.id}|${head.finishedAt?.toISOString()}`;
  const hit = finishedRows.get(key);
  if (hit) return hit;
  const row = await findExperiment(db, head.id);
  if (row.status === 'succeeded') finishedRows.set(key, row, 1);
  return row;
}

/** The experiment, if the request may read it (the rule of experimentHead, the only one). */
export async function readableExperiment(
  db: Db,
  request: FastifyRequest,
  id: string,
): Promise<ExperimentRow> {
  const head = await experimentHead(db, request, id);
  return findExperiment(db, head.id);
}

export interface ExperimentHead {
  id: string;
  status: string;
  finishedAt: Date | null;
}

/**
 * Who may read experiment `id`, in one indexed SQL query without loading the experiment (hot read
 * paths answer from a cache after it): a key of its team, or a live share token of that experiment.
 */
export async function experimentHead(db: Db, request: FastifyRequest, id: string): Promise<ExperimentHead> {
  const pool = poolOf(db);
  let load: () => Promise<ExperimentHead | null>;
  let key: string;
  if (request.principal) {
    const { teamId } = request.principal;
    key = `head:${teamId}:${id}`;
    load = async () =>
      (
        await pool.query<ExperimentHead>({
          name: 'repdyn-experiment-head',
          text: 'SELECT id, status::text AS status, "finishedAt" FROM "Experiment" WHERE id = $1 AND "teamId" = $2',
          values: [id, teamId],
        })
      ).rows[0] ?? null;
  } else if (request.shareToken) {
    const token = request.shareToken;
    key = `head-share:${token}:${id}`;
    load = async () =>
      (
        await pool.query<ExperimentHead>({
          name: 'repdyn-experiment-head-share',
          text: `SELECT e.id, e.status::text AS status, e."finishedAt" FROM "Share" s JOIN "Experiment" e ON e.id = s."experimentId"
             WHERE s."tokenHash" = $1 AND s."revokedAt" IS NULL AND e.id = $2`,
          values: [Buffer.from(hashSecret(token)), id],
        })
      ).rows[0] ?? null;
  } else {
    throw new HttpError(401, 'MISSING_API_KEY', 'send Authorization: Bearer <api key>');
  }
  // a finished experiment's head never changes (only a delete or a revocation ends it, and those
  // clear the cache); a running one's status does, so it is always read
  const row = await throughCache(request.server.accessCache, key, load, (h) => h?.status === 'succeeded');
  if (!row) throw new ExperimentNotFound(id);
  return row;
}
