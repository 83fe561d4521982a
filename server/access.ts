// Who may read an experiment: a key of its team, or a valid share token (`?share=TOKEN`) for that
// experiment only. Anything else is 404, so other teams' ids are never revealed.
import type { FastifyRequest } from 'fastify';
import { hashSecret } from '../store/auth.ts';
import { type Db, poolOf } from '../store/db.ts';
import { HttpError } from './schemas/error.ts';
import { type ExperimentRow, experimentInclude } from './views.ts';

export async function readableExperiment(
  db: Db,
  request: FastifyRequest,
  id: string,
): Promise<ExperimentRow> {
  const notFound = () => new HttpError(404, 'EXPERIMENT_NOT_FOUND', `no experiment ${id}`);
  if (request.principal) {
    const row = await db.experiment.findFirst({
      where: { id, teamId: request.principal.teamId },
      include: experimentInclude,
    });
    if (!row) throw notFound();
    return row;
  }
  if (request.shareToken) {
    const share = await db.share.findUnique({ where: { tokenHash: hashSecret(request.shareToken) } });
    if (!share || share.revokedAt || share.experimentId !== id) throw notFound();
    const row = await db.experiment.findUnique({ where: { id }, include: experimentInclude });
    if (!row) throw notFound();
    return row;
  }
  throw new HttpError(401, 'MISSING_API_KEY', 'send Authorization: Bearer <api key>');
}

export interface ExperimentHead {
  id: string;
  status: string;
  finishedAt: Date | null;
}

/**
 * The same access rule as readableExperiment, answered with one indexed SQL query and without
 * loading the experiment: for hot read paths that can often answer from a cache.
 */
export async function experimentHead(db: Db, request: FastifyRequest, id: string): Promise<ExperimentHead> {
  const pool = poolOf(db);
  let rows: ExperimentHead[];
  if (request.principal) {
    ({ rows } = await pool.query<ExperimentHead>({
      name: 'repdyn-experiment-head',
      text: 'SELECT id, status::text AS status, "finishedAt" FROM "Experiment" WHERE id = $1 AND "teamId" = $2',
      values: [id, request.principal.teamId],
    }));
  } else if (request.shareToken) {
    ({ rows } = await pool.query<ExperimentHead>({
      name: 'repdyn-experiment-head-share',
      text: `SELECT e.id, e.status::text AS status, e."finishedAt" FROM "Share" s JOIN "Experiment" e ON e.id = s."experimentId"
             WHERE s."tokenHash" = $1 AND s."revokedAt" IS NULL AND e.id = $2`,
      values: [Buffer.from(hashSecret(request.shareToken)), id],
    }));
  } else {
    throw new HttpError(401, 'MISSING_API_KEY', 'send Authorization: Bearer <api key>');
  }
  const row = rows[0];
  if (!row) throw new HttpError(404, 'EXPERIMENT_NOT_FOUND', `no experiment ${id}`);
  return row;
}
