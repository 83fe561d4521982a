// Bearer API keys for every /v1 route; read-only GET (and HEAD) routes also accept `?share=TOKEN` (checked per
// experiment by server/access.ts). The key itself is never logged (app.ts redacts the header).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate, type Principal } from '../../store/auth.ts';
import type { Db } from '../../store/db.ts';
import { HttpError } from '../schemas/error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    shareToken: string | null;
  }
}

export function registerAuth(app: FastifyInstance, db: Db): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('shareToken', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header) {
      const share = (request.query as Record<string, unknown> | undefined)?.['share'];
      if (
        (request.method === 'GET' || request.method === 'HEAD') &&
        typeof share === 'string' &&
        share.length > 0
      ) {
        request.shareToken = share;
        return;
      }
      throw new HttpError(401, 'MISSING_API_KEY', 'send Authorization: Bearer <api key>');
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const principal = m ? await authenticate(db, m[1]) : null;
    if (!principal) throw new HttpError(401, 'INVALID_API_KEY', 'the API key is unknown or revoked');
    request.principal = principal;
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new HttpError(401, 'MISSING_API_KEY', 'send Authorization: Bearer <api key>');
  return request.principal;
}
