// Results of an experiment: any sub-block of the 4-D tensor as JSON, .npy or CSV; the activation
// matrices the cells were computed from (share links: shares.ts).
import { createHash } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SliceRef } from '../../../../core/contracts/slice.ts';
import { SLICE_MEASURES } from '../../../../core/slice.ts';
import { findRun } from '../../../../store/repository.ts';
import { type ExperimentHead, experimentHead, readableExperiment } from '../../../access.ts';
import type { RouteDeps } from '../../../app.ts';
import { redactQuery } from '../../../redact.ts';
import { errorResponses, HttpError } from '../../../schemas/error.ts';
import { IdParams, ShareQuery } from '../../../schemas/params.ts';
import { sliceKey, tensorSlice } from '../../../slices.ts';

const tags = ['results'];
const SliceQuerySchema = Type.Object({
  refLayer: Type.Optional(Type.String()),
  specLayer: Type.Optional(Type.String()),
  checkpoint: Type.Optional(Type.String({ pattern: '^\\d+(,\\d+)*$' })),
  step: Type.Optional(Type.Integer({ minimum: 0 })),
  fraction: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  measure: Type.Optional(
    Type.Union(
      SLICE_MEASURES.map((m) => Type.Literal(m)),
      { default: 'rho' },
    ),
  ),
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('npy'), Type.Literal('csv')], { default: 'json' }),
  ),
  ...ShareQuery,
});

/** Finished tensors never change: strong ETag + long caching; If-None-Match answers 304. */
function cacheable(request: FastifyRequest, reply: FastifyReply, row: ExperimentHead, key: string): boolean {
  if (row.status !== 'succeeded') {
    reply.header('cache-control', 'no-store');
    return false;
  }
  const etag = `"${createHash('sha1').update(key).digest('hex')}"`;
  reply.header('etag', etag);
  reply.header('cache-control', 'private, max-age=31536000, immutable');
  if (request.headers['if-none-match'] === etag) {
    reply.status(304).send();
    return true;
  }
  return false;
}

export async function resultRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = deps;

  app.get(
    '/v1/experiments/:id/tensor',
    {
      schema: {
        tags,
        summary: 'Any sub-block of the tensor [refLayer, specLayer, checkpoint(, coefficient)]',
        description:
          'Layers by index or name (one, a comma list, or omitted = all). One checkpoint (checkpoint=K, step=S or ' +
          'fraction=F, nearest) drops the checkpoint axis; a list or none keeps it. measure=coefficients adds a ' +
          'coefficient axis, NaN-padded (JSON: null) with `counts` giving each vector length. measure=rho_null: each ' +
          "cell's permutation null (rho with the specimen's rows shuffled); measure=rho_adjusted: (rho - null) / " +
          '(1 - null), comparable across widths (null/NaN for cells computed before the null existed, or a null of 1). npy: float32 with ' +
          'exactly the announced shape, NaN for cells not computed yet. csv: long form, one row per value.',
        params: IdParams,
        querystring: SliceQuerySchema,
        response: {
          200: {
            description: 'format=json: the slice (Slice); format=npy: float32 .npy; format=csv: long form',
            content: {
              'application/json': { schema: SliceRef },
              'application/octet-stream': {
                schema: Type.String({ format: 'binary', description: '.npy (float32), C order' }),
              },
              'text/csv': {
                schema: Type.String({
                  description:
                    'refLayer,specLayer,checkpoint,step,fraction,measure(,coefficient),value — one row per value',
                }),
              },
            },
          },
          304: Type.Null(),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      // Cheap access check first; a finished tensor never changes, so its slices are answered from
      // the ETag (304) or the in-memory cache without loading the experiment.
      const head = await experimentHead(db, request, request.params.id);
      const key = sliceKey(head, redactQuery(request.url, 'drop'));
      if (cacheable(request, reply, head, key)) return reply;
      const slice = await tensorSlice(db, config.limits, head, key, request.query);
      for (const [name, value] of Object.entries(slice.headers)) reply.header(name, value);
      return reply.send(slice.body);
    },
  );

  app.get(
    '/v1/experiments/:id/activations',
    {
      schema: {
        tags,
        summary:
          'The representation a cell was computed from, as .npy [samples, features] (float32; float64 for a float64 upload)',
        params: IdParams,
        querystring: Type.Object({
          network: Type.Union([Type.Literal('reference'), Type.Literal('specimen')]),
          checkpoint: Type.Integer({ minimum: 0 }),
          layer: Type.String({ minLength: 1 }),
          ...ShareQuery,
        }),
        response: {
          200: {
            description: 'the representation as .npy [samples, features]',
            content: {
              'application/octet-stream': { schema: Type.String({ format: 'binary', description: '.npy' }) },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const row = await readableExperiment(db, request, request.params.id);
      const { network, checkpoint, layer } = request.query;
      const runId = network === 'reference' ? row.referenceRunId : row.specimenRunId;
      const run = await findRun(db, runId);
      if (!run)
        throw new HttpError(
          409,
          'NOT_CAPTURED_YET',
          'the representations of this experiment are not captured yet',
        );
      if (!row.layers.some((l) => l.network === network && l.name === layer)) {
        throw new HttpError(400, 'UNKNOWN_LAYER', `layer: no ${network} layer '${layer}'`, {
          field: 'layer',
        });
      }
      const stored = await deps.artifacts.run(run.key).openRepresentation(checkpoint, layer);
      if (!stored) {
        throw new HttpError(
          404,
          'REPRESENTATION_NOT_FOUND',
          `no ${network} representation of ${layer} at checkpoint ${checkpoint}`,
        );
      }
      reply.header('content-type', 'application/octet-stream');
      reply.header('content-length', stored.bytes);
      reply.header('content-disposition', `attachment; filename="${network}-${checkpoint}-${layer}.npy"`);
      return reply.send(stored.stream);
    },
  );
}
