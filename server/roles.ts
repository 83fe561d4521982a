// What each key role may do (README "Security"). Members read, submit (and upload), cancel, share
// and list shares; admins also delete experiments, revoke share links and mint, list and revoke
// keys. Share tokens read (GET) their one experiment only (server/plugins/auth.ts, server/access.ts).
// Enforced in the auth plugin's preParsing hook for every /v1 route, before any body is read.

export type Role = 'admin' | 'member';

/** Routes only an admin key may call ("METHOD /url pattern"). Every other /v1 route: any key. */
export const ADMIN_ROUTES: ReadonlySet<string> = new Set([
  'DELETE /v1/experiments/:id',
  'DELETE /v1/experiments/:id/shares/:shareId',
  'GET /v1/keys',
  'POST /v1/keys',
  'DELETE /v1/keys/:keyId',
]);

/** The role a route needs (HEAD as its GET). */
export function routeRole(method: string, url: string): Role {
  return ADMIN_ROUTES.has(`${method === 'HEAD' ? 'GET' : method} ${url}`) ? 'admin' : 'member';
}
