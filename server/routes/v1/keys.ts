// The team's API keys over HTTP, for admin keys only (server/roles.ts): list, mint (member or admin)
// and revoke. Operators can do the same with `repdyn admin` (Postgres directly).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Text } from '../../../core/spec/text.ts';
import { createTeamKey, revokeTeamKey, teamKeys } from '../../../store/auth.ts';
import type { RouteDeps } from '../../app.ts';
import { principalOf } from '../../plugins/auth.ts';
import { errorResponses } from '../../schemas/error.ts';

const tags = ['keys'];
const Role = Type.Union([Type.Literal('admin'), Type.Literal('member')], {
  description: 'member: read, submit, upload, cancel, share; admin: also delete, revoke shares, manage keys',
});
const KeySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  role: Role,
  prefix: Type.String({ description: 'rdk_<prefix>_…: identifies the key without revealing it' }),
  key: Type.Optional(Type.String({ description: 'the key itself: shown once, at creation' })),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

interface KeyRow {
  id: string;
  name: string;
  role: 'admin' | 'member';
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const view = (k: KeyRow) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  prefix: k.prefix,
  createdAt: k.createdAt.toISOString(),
  revokedAt: k.revokedAt?.toISOString() ?? null,
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
});

export async function keyRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;

  app.get(
    '/v1/keys',
    {
      schema: {
        tags,
        summary: "The team's API keys (never the keys themselves), newest first (admin keys)",
        response: { 200: Type.Object({ items: Type.Array(KeySchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const { teamId } = principalOf(request);
      const keys = await teamKeys(db, teamId);
      return { items: keys.map(view) };
    },
  );

  app.post(
    '/v1/keys',
    {
      schema: {
        tags,
        summary: 'Mint an API key for the team (admin keys); the key is shown once',
        body: Type.Object(
          {
            name: Text({ minLength: 1, maxLength: 100, description: 'a label for people' }),
            role: Type.Optional(Role),
          },
          { additionalProperties: false },
        ),
        response: { 201: KeySchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { teamId } = principalOf(request);
      const { key, row } = await createTeamKey(db, teamId, {
        name: request.body.name,
        role: request.body.role ?? 'member',
      });
      return reply.status(201).send({ ...view(row), key });
    },
  );

  app.delete(
    '/v1/keys/:keyId',
    {
      schema: {
        tags,
        summary: "Revoke one of the team's API keys (admin keys)",
        params: Type.Object({ keyId: Type.String({ format: 'uuid' }) }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { teamId } = principalOf(request);
      await revokeTeamKey(db, teamId, request.params.keyId);
      return reply.status(204).send(null);
    },
  );
}
