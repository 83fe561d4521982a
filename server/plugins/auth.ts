// Bearer API keys for every /v1 route; read-only GET (and HEAD) routes also accept `?share=TOKEN` (checked per
// experiment by server/access.ts). The key itself is never logged (app.ts redacts the header).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type AccessCache, throughCache } from '../../store/access-cache.ts';
import { authenticate, hashSecret, type Principal } from '../../store/auth.ts';
import { type Db, poolOf } from '../../store/db.ts';
import { routeRole } from '../roles.ts';
import { HttpError } from '../schemas/error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    shareToken: string | null;
    /** the rate-limit bucket of a live share token: its minting key's (`key:ID`) or its team's */
    shareOwner: string | null;
    /** why authentication failed; thrown in preParsing, after the rate limit counted the request */
    authError: HttpError | null;
  }
}

/**
 * Authenticates in `onRequest` and refuses in `preParsing`: in between, the per-key rate limit
 * (a route-level onRequest hook, registered after this) counts the request against its key, share
 * token or, for a request without valid credentials, its client address. So failed
 * authentications are throttled too, and nothing is parsed or done for them.
 */
export function registerAuth(app: FastifyInstance, db: Db, cache: AccessCache | null = null): void {
  // (the access cache answers repeated keys and tokens without a query; store/access-cache.ts says
  // why that never serves a revoked one)
  const principalOf = (key: string) =>
    throughCache(
      cache,
      `key:${key}`,
      () => authenticate(db, key),
      (p) => p !== null,
    );
  const ownerOf = (token: string) =>
    throughCache(
      cache,
      `share:${token}`,
      () => shareOwner(db, token),
      (o) => o !== null,
    );
  app.decorateRequest('principal', null);
  app.decorateRequest('shareToken', null);
  app.decorateRequest('shareOwner', null);
  app.decorateRequest('authError', null);
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
        request.shareOwner = await ownerOf(share);
        return;
      }
      request.authError = new HttpError(401, 'MISSING_API_KEY', 'send Authorization: Bearer <api key>');
      return;
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const principal = m ? await principalOf(m[1]) : null;
    if (!principal) {
      request.authError = new HttpError(401, 'INVALID_API_KEY', 'the API key is unknown or revoked');
      return;
    }
    request.principal = principal;
  });
  app.addHook('preParsing', async (request: FastifyRequest) => {
    if (request.authError) throw request.authError;
    const needs = routeRole(request.method, request.routeOptions.url ?? '');
    if (needs === 'admin' && request.principal && request.principal.role !== 'admin') {
      throw new HttpError(
        403,
        'FORBIDDEN_ROLE',
        `${request.method} ${request.routeOptions.url} needs an admin key; this key's role is ${request.principal.role}`,
        { role: request.principal.role, required: 'admin' },
      );
    }
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new HttpError(401, 'MISSING_API_KEY', 'send Authorization: Bearer <api key>');
  return request.principal;
}

/** The rate-limit bucket of a live share token (see rateLimitKey), or null for an unknown one. */
async function shareOwner(db: Db, token: string): Promise<string | null> {
  const { rows } = await poolOf(db).query<{ keyId: string | null; teamId: string }>({
    name: 'repdyn-share-owner',
    text: `SELECT s."keyId", e."teamId" FROM "Share" s JOIN "Experiment" e ON e.id = s."experimentId"
           WHERE s."tokenHash" = $1 AND s."revokedAt" IS NULL`,
    values: [Buffer.from(hashSecret(token))],
  });
  const row = rows[0];
  if (!row) return null;
  return row.keyId ? `key:${row.keyId}` : `team:${row.teamId}`;
}
