// Read-only share links of an experiment: mint (any key of the team), list (any key of the team)
// and revoke (admin keys, server/roles.ts). Live links per experiment are capped (MAX_SHARE_TOKENS);
// a link's requests count against the rate-limit budget of the key that minted it.
import { randomBytes } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { hashSecret } from '../../../../store/auth.ts';
import type { RouteDeps } from '../../../app.ts';
import { principalOf } from '../../../plugins/auth.ts';
import { errorResponses, HttpError } from '../../../schemas/error.ts';
import { IdParams } from '../../../schemas/params.ts';
import { pageShareUrl } from '../../web.ts';

const tags = ['experiments'];

const ShareSchema = Type.Object({
  id: Type.String(),
  token: Type.Optional(Type.String({ description: 'shown once, at creation' })),
  url: Type.Optional(Type.String({ description: 'the experiment over the API, readable without a key' })),
  pageUrl: Type.Optional(
    Type.String({ description: 'the web page opened on this experiment: /#/experiments/ID?share=TOKEN' }),
  ),
  keyId: Type.Union([Type.String(), Type.Null()], {
    description: 'the key that minted it (its requests count against that key)',
  }),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

export async function shareRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = deps;
  const cap = config.limits.shareTokens;

  /** The experiment if it belongs to the key's team (404 otherwise; share tokens are refused). */
  async function owned(teamId: string, id: string) {
    const row = await db.experiment.findFirst({ where: { id, teamId }, select: { id: true } });
    if (!row) throw new HttpError(404, 'EXPERIMENT_NOT_FOUND', `no experiment ${id}`);
    return row;
  }

  app.post(
    '/v1/experiments/:id/shares',
    {
      schema: {
        tags,
        summary: 'Create a read-only share link (token of 192 random bits; only its hash is stored)',
        description: `At most MAX_SHARE_TOKENS (${cap} here) live links per experiment (429 LIMIT_SHARE_TOKENS; revoke one first). The link's requests count against the rate-limit budget of the key that created it.`,
        params: IdParams,
        response: { 201: ShareSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const row = await owned(principal.teamId, request.params.id);
      const token = randomBytes(24).toString('base64url');
      const share = await db.$transaction(async (tx) => {
        // one minting at a time per experiment, so concurrent requests cannot overshoot the cap
        await tx.$queryRaw`SELECT id FROM "Experiment" WHERE id = ${row.id}::uuid FOR UPDATE`;
        const live = await tx.share.count({ where: { experimentId: row.id, revokedAt: null } });
        if (live >= cap) {
          throw new HttpError(
            429,
            'LIMIT_SHARE_TOKENS',
            `the experiment has ${live} live share links (limit ${cap}, MAX_SHARE_TOKENS); revoke one first`,
            { field: 'shares', limit: cap, live },
          );
        }
        return tx.share.create({
          data: { experimentId: row.id, tokenHash: hashSecret(token), keyId: principal.keyId },
        });
      });
      return reply.status(201).send({
        id: share.id,
        token,
        url: `/v1/experiments/${row.id}?share=${token}`,
        pageUrl: pageShareUrl(row.id, token),
        keyId: share.keyId,
        createdAt: share.createdAt.toISOString(),
        revokedAt: null,
      });
    },
  );

  app.get(
    '/v1/experiments/:id/shares',
    {
      schema: {
        tags,
        summary: "The experiment's live share links (never their tokens), newest first",
        params: IdParams,
        response: {
          200: Type.Object({ items: Type.Array(ShareSchema), limit: Type.Integer() }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const row = await owned(principal.teamId, request.params.id);
      const shares = await db.share.findMany({
        where: { experimentId: row.id, revokedAt: null },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: cap,
      });
      return {
        items: shares.map((s) => ({
          id: s.id,
          keyId: s.keyId,
          createdAt: s.createdAt.toISOString(),
          revokedAt: null,
        })),
        limit: cap,
      };
    },
  );

  app.delete(
    '/v1/experiments/:id/shares/:shareId',
    {
      schema: {
        tags,
        summary: 'Revoke a share link (admin keys)',
        params: Type.Object({
          id: Type.String({ format: 'uuid' }),
          shareId: Type.String({ format: 'uuid' }),
        }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const row = await owned(principal.teamId, request.params.id);
      const res = await db.share.updateMany({
        where: { id: request.params.shareId, experimentId: row.id, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      if (res.count === 0) throw new HttpError(404, 'SHARE_NOT_FOUND', 'no active share with this id');
      return reply.status(204).send(null);
    },
  );
}
