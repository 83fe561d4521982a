// Read-only share links of an experiment: mint (any key of the team), list (any key of the team)
// and revoke (admin keys, server/roles.ts). Live links per experiment are capped (MAX_SHARE_TOKENS);
// a link's requests count against the rate-limit budget of the key that minted it.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { liveShares, mintShare, revokeShare } from '../../../../store/shares.ts';
import type { RouteDeps } from '../../../app.ts';
import { principalOf } from '../../../plugins/auth.ts';
import { errorResponses } from '../../../schemas/error.ts';
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

/** A share as created: its token and links, which are shown this once. */
const CreatedShareSchema = Type.Object({
  ...ShareSchema.properties,
  token: Type.String({ description: 'shown once, here' }),
  url: Type.String({ description: 'the experiment over the API, readable without a key' }),
  pageUrl: Type.String({
    description: 'the web page opened on this experiment: /#/experiments/ID?share=TOKEN',
  }),
});

export async function shareRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = deps;
  const cap = config.limits.shareTokens;

  app.post(
    '/v1/experiments/:id/shares',
    {
      schema: {
        tags,
        summary: 'Create a read-only share link (token of 192 random bits; only its hash is stored)',
        description: `At most MAX_SHARE_TOKENS (${cap} here) live links per experiment (429 LIMIT_SHARE_TOKENS; revoke one first). The link's requests count against the rate-limit budget of the key that created it.`,
        params: IdParams,
        response: { 201: CreatedShareSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { id } = request.params;
      const { share, token } = await mintShare(db, principal.teamId, id, principal.keyId, cap);
      return reply.status(201).send({
        id: share.id,
        token,
        url: `/v1/experiments/${id}?share=${token}`,
        pageUrl: pageShareUrl(id, token),
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
      const shares = await liveShares(db, principal.teamId, request.params.id, cap);
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
      await revokeShare(db, principal.teamId, request.params.id, request.params.shareId);
      return reply.status(204).send(null);
    },
  );
}
