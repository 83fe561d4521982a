// Who may read an experiment: a key of its team, or a valid share token (`?share=TOKEN`) for that
// experiment only. Anything else is 404, so other teams' ids are never revealed.
import type { FastifyRequest } from 'fastify';
import { hashSecret } from '../store/auth.ts';
import type { Db } from '../store/db.ts';
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
