// Experiments on uploaded activations (core/spec/upload.ts; created by POST /v1/experiments with
// "source": "upload", server/submission.ts): PUT …/activations/:network/:checkpoint/:layer (a .npy
// body streamed to the artifact store: validated and reduced on the fly, written to a temporary file
// and renamed into place only when complete and valid; server/uploads.ts), GET …/uploads (what is
// stored) and POST …/complete (queues the tensor). The database side is store/uploads.ts.
//
// Each network of the experiment is a run of its own in the artifact store (key uploadRunKey), so
// once complete the worker, the slices, the activations download and the figures treat it like a
// trained run.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { checkTensorLimits, estimateTensor } from '../../../../core/estimate.ts';
import { enqueueOrDefer } from '../../../../store/queue.ts';
import { findExperiment } from '../../../../store/repository.ts';
import { completeUpload, findOwnedUpload, inventory, uploadStores } from '../../../../store/uploads.ts';
import { readableExperiment } from '../../../access.ts';
import type { RouteDeps } from '../../../app.ts';
import { decompositionEngine } from '../../../engine.ts';
import { principalOf } from '../../../plugins/auth.ts';
import { errorResponses } from '../../../schemas/error.ts';
import { IdParams, ShareQuery } from '../../../schemas/params.ts';
import { refuseViolations } from '../../../submission.ts';
import { UPLOAD_CONTENT_TYPES, uploadReceiver } from '../../../uploads.ts';
import { experimentView } from '../../../views.ts';

const tags = ['experiments'];

export async function uploadRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = deps;
  const limit = config.limits.uploadBytes;
  const receive = uploadReceiver(deps);

  // The route reads the raw body stream itself (bodyLimit does not apply to a stream: it counts).
  scope.addContentTypeParser(UPLOAD_CONTENT_TYPES, (_request, payload, done) => done(null, payload));

  const UploadedSchema = Type.Object({
    network: Type.String(),
    checkpoint: Type.Object({ index: Type.Integer(), step: Type.Integer(), fraction: Type.Number() }),
    layer: Type.String(),
    shape: Type.Array(Type.Integer(), {
      description: 'stored [samples, features], in the uploaded dtype (float32 or float64)',
    }),
    input: Type.Object({ dtype: Type.String(), shape: Type.Array(Type.Integer()) }),
    replaced: Type.Boolean({
      description: 'true when an earlier upload of this representation was replaced',
    }),
    bytes: Type.Integer({ description: 'bytes received' }),
  });

  app.put(
    '/v1/experiments/:id/activations/:network/:checkpoint/:layer',
    {
      bodyLimit: limit,
      attachValidation: true,
      schema: {
        tags,
        summary: 'Upload one representation (.npy) of an experiment awaiting its representations',
        description:
          'Body: a .npy array [samples, …], float32 or float64 (little-endian, C order; stored in its own dtype, ' +
          'every value checked finite as stored), content-type ' +
          'application/octet-stream or application/x-npy. [samples, h, w, c] is a conv layer, reduced by ' +
          "similarity.convMode like a trained run's; other ranks are flattened to [samples, features]. " +
          ':network is specimen, or reference when the specimen is a separate network. :checkpoint is the ' +
          "index in the declared checkpoints, step-<step>, or final (the reference's only one). Sizes above " +
          'MAX_UPLOAD_BYTES answer 413; a wrong sample count, dtype or shape, or a NaN/Inf answers 422 naming it. ' +
          'Nothing is stored unless the whole body arrived and was valid. Uploading again replaces the ' +
          'representation until POST …/complete.',
        params: Type.Object({
          ...IdParams.properties,
          network: Type.String({ description: 'specimen | reference' }),
          checkpoint: Type.String({ description: 'index, step-<step> or final' }),
          layer: Type.String({ description: 'a declared layer name' }),
        }),
        consumes: UPLOAD_CONTENT_TYPES,
        body: Type.Unsafe<unknown>({ type: 'string', format: 'binary', description: 'a .npy file' }),
        response: { 200: UploadedSchema, 201: UploadedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      // the body is a stream: only the path parameters' validation counts
      const invalid = request.validationError as (Error & { validationContext?: string }) | undefined;
      if (invalid && invalid.validationContext !== 'body') throw invalid;
      return receive(request, reply, request.params);
    },
  );

  app.get(
    '/v1/experiments/:id/uploads',
    {
      schema: {
        tags,
        summary: 'Which representations of an upload experiment are stored and which are missing',
        description:
          'Every declared (network, checkpoint, layer) representation with its stored shape ' +
          '([samples, features], in the uploaded dtype) or null when it is not uploaded yet: resume an interrupted ' +
          'batch of uploads from here. 409 NOT_AN_UPLOAD_EXPERIMENT for trained experiments.',
        params: IdParams,
        querystring: Type.Object(ShareQuery),
        response: {
          200: Type.Object({
            status: Type.String(),
            required: Type.Integer({ description: 'declared representations' }),
            stored: Type.Integer({ description: 'representations uploaded so far' }),
            representations: Type.Array(
              Type.Object({
                network: Type.String(),
                checkpoint: Type.Integer({ description: 'index in the declared checkpoints' }),
                step: Type.Integer(),
                layer: Type.String(),
                shape: Type.Union([Type.Array(Type.Integer()), Type.Null()]),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const row = await readableExperiment(db, request, request.params.id);
      const { u, stores } = await uploadStores(db, deps.artifacts, row);
      const representations = await inventory(u, stores);
      return {
        status: row.status,
        required: representations.length,
        stored: representations.filter((r) => r.shape).length,
        representations,
      };
    },
  );

  app.post(
    '/v1/experiments/:id/complete',
    {
      schema: {
        tags,
        summary: 'Every representation is uploaded: queue the tensor',
        description:
          'Checks that every declared (network, checkpoint, layer) representation is stored and that they ' +
          'share one sample count, estimates memory and time from their shapes, then queues the experiment. ' +
          '422 REPRESENTATIONS_MISSING lists what is missing.',
        params: IdParams,
        response: { 202: Type.Ref('Experiment'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const upload = await findOwnedUpload(db, principalOf(request).teamId, request.params.id);
      await completeUpload(db, deps.artifacts, upload, (reference, specimen, checkpoints) => {
        const estimate = estimateTensor(reference, specimen, checkpoints, decompositionEngine(config));
        refuseViolations(checkTensorLimits(estimate, config.limits), estimate);
        return estimate;
      });
      const failed = await enqueueOrDefer(deps.queue, upload.row.id);
      if (failed) {
        request.log.warn(
          { err: failed, experimentId: upload.row.id },
          'enqueue failed; the reconciler will retry',
        );
      }
      return reply.status(202).send(experimentView(await findExperiment(db, upload.row.id)));
    },
  );
}
