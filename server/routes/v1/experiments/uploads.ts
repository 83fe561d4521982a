// Experiments on uploaded activations (core/spec/upload.ts; created by POST /v1/experiments with
// "source": "upload", server/submission.ts): PUT …/activations/:network/:checkpoint/:layer (a .npy
// body streamed to the artifact store: validated and reduced on the fly, written to a temporary file
// and renamed into place only when complete and valid), GET …/uploads (what is stored) and POST
// …/complete (queues the tensor). The database side is store/uploads.ts.
//
// Each network of the experiment is a run of its own in the artifact store (key uploadRunKey), so
// once complete the worker, the slices, the activations download and the figures treat it like a
// trained run.
import type { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkTensorLimits, estimateTensor } from '../../../../core/estimate.ts';
import { IngestError, RepresentationIngest } from '../../../../core/ingest.ts';
import { resolveUploadCheckpoint } from '../../../../core/spec/upload.ts';
import { AWAITING } from '../../../../store/experiments.ts';
import { enqueueOrDefer } from '../../../../store/queue.ts';
import { findExperiment } from '../../../../store/repository.ts';
import {
  commitWhileAwaiting,
  completeUpload,
  findOwnedUpload,
  findUploadTarget,
  inventory,
  NotAwaitingRepresentations,
  uploadStores,
} from '../../../../store/uploads.ts';
import { readableExperiment } from '../../../access.ts';
import type { RouteDeps } from '../../../app.ts';
import { decompositionEngine } from '../../../engine.ts';
import { principalOf } from '../../../plugins/auth.ts';
import { errorResponses, HttpError } from '../../../schemas/error.ts';
import { IdParams, ShareQuery } from '../../../schemas/params.ts';
import { refuseViolations } from '../../../submission.ts';
import { experimentView } from '../../../views.ts';

const tags = ['experiments'];
export const UPLOAD_CONTENT_TYPES = ['application/octet-stream', 'application/x-npy'];

/** Resolves when `stream` ended, after `onChunk` handled every chunk in order; rejects on the first
 * failure (the rest of the body is then drained, so the answer still reaches the client) or when
 * the client goes away before the end of the body. */
function consume(stream: Readable, onChunk: (chunk: Uint8Array) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    // the client may have gone before the route got here (its 'close' event already fired)
    if (stream.destroyed && !(stream as Readable & { complete?: boolean }).complete) {
      reject(new Error('the client closed the connection before the end of the body'));
      return;
    }
    let settled = false;
    let ended = false;
    // chunks are handled one after another; 'end' can come while the last one is still being handled
    let pending = Promise.resolve();
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err);
      stream.resume(); // drain the rest so the answer still reaches the client
    };
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      stream.pause();
      pending = pending.then(() => (settled ? undefined : onChunk(chunk)));
      pending.then(
        () => {
          if (!settled) stream.resume();
        },
        (err) => fail(err),
      );
    });
    stream.on('end', () => {
      ended = true;
      pending.then(
        () => {
          if (!settled) {
            settled = true;
            resolve();
          }
        },
        (err) => fail(err),
      );
    });
    stream.on('error', (err) => fail(err));
    stream.on('close', () => {
      if (!ended) fail(new Error('the client closed the connection before the end of the body'));
    });
  });
}

export async function uploadRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = deps;
  const limit = config.limits.uploadBytes;
  /** uploads in flight per API key (MAX_UPLOADS_PER_KEY) */
  const inFlight = new Map<string, number>();

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
      const principal = principalOf(request);
      const running = inFlight.get(principal.keyId) ?? 0;
      if (running >= config.limits.uploadsPerKey) {
        reply.header('retry-after', '5');
        throw new HttpError(
          429,
          'LIMIT_CONCURRENT_UPLOADS',
          `this API key has ${running} uploads in progress (limit ${config.limits.uploadsPerKey}, MAX_UPLOADS_PER_KEY); wait for one to finish`,
          { field: 'key', limit: config.limits.uploadsPerKey, value: running },
        );
      }
      inFlight.set(principal.keyId, running + 1);
      try {
        return await receiveUpload(request, reply, request.params);
      } finally {
        const left = (inFlight.get(principal.keyId) ?? 1) - 1;
        if (left > 0) inFlight.set(principal.keyId, left);
        else inFlight.delete(principal.keyId);
      }
    },
  );

  async function receiveUpload(
    request: FastifyRequest,
    reply: FastifyReply,
    params: { id: string; network: string; checkpoint: string; layer: string },
  ) {
    const principal = principalOf(request);
    const { id, network, checkpoint, layer } = params;
    const { u, runKeys, status } = await findUploadTarget(db, principal.teamId, id);
    if (status !== AWAITING) throw new NotAwaitingRepresentations(status);
    if (network !== 'specimen' && network !== 'reference') {
      throw new HttpError(404, 'UNKNOWN_NETWORK', `network '${network}' is neither specimen nor reference`, {
        field: 'network',
      });
    }
    if (network === 'reference' && u.same) {
      throw new HttpError(
        404,
        'UNKNOWN_NETWORK',
        "specimen is \"same\": the reference representation of a layer is the specimen's last checkpoint; upload under 'specimen'",
        { field: 'network' },
      );
    }
    const resolved = resolveUploadCheckpoint(u, network, checkpoint);
    if ('error' in resolved) {
      throw new HttpError(404, 'UNKNOWN_CHECKPOINT', resolved.error, { field: 'checkpoint' });
    }
    if (!u.layers[network].includes(layer)) {
      throw new HttpError(
        404,
        'UNKNOWN_LAYER',
        `no ${network} layer '${layer}' (declared: ${u.layers[network].join(', ')})`,
        { field: 'layer', layers: u.layers[network] },
      );
    }
    const tooLarge = (value: number) =>
      new HttpError(
        413,
        'UPLOAD_TOO_LARGE',
        `the upload has ${value} bytes or more, above the limit of ${limit} (MAX_UPLOAD_BYTES)`,
        {
          limit,
          value,
        },
      );
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw tooLarge(declared);
    const body = request.body as Readable | undefined;
    if (!body || typeof (body as Readable).on !== 'function') {
      throw new HttpError(400, 'INVALID_BODY', `send the .npy file as ${UPLOAD_CONTENT_TYPES.join(' or ')}`);
    }

    const store = deps.artifacts.run(runKeys[network]);
    const ingest = new RepresentationIngest({
      samples: u.samples,
      convMode: u.similarity.convMode,
      maxFeatures: config.limits.representationFeatures,
      maxConvSamples: config.limits.convSamples,
    });
    // the temporary file is opened with the first data the ingest lets through (a valid header): a
    // body refused at its header, or one that never sends it, costs no file
    let out: Awaited<ReturnType<typeof store.writeRepresentation>> | undefined;
    const opened = async () => {
      out ??= await store.writeRepresentation(resolved.index, layer);
      return out;
    };
    let bytes = 0;
    let replaced = false;
    try {
      await consume(body, async (chunk) => {
        bytes += chunk.length;
        if (bytes > limit) throw tooLarge(bytes);
        for (const part of ingest.push(chunk)) await (await opened()).write(part);
      });
      for (const part of ingest.end()) await (await opened()).write(part);
      const file = await opened();
      replaced = await commitWhileAwaiting(db, id, () => file.commit());
    } catch (err) {
      await out?.abort();
      // the body timed out: the 408 is answered and the connection closed already
      if (request.bodyTimedOut && reply.sent) return reply;
      if (err instanceof IngestError) {
        throw new HttpError(
          422,
          err.code,
          `${network} ${layer} at checkpoint ${checkpoint}: ${err.message}`,
          {
            network,
            checkpoint,
            layer,
            ...err.details,
          },
        );
      }
      throw err;
    }
    const shape = ingest.shape!;
    const c =
      network === 'reference'
        ? { index: 0, step: u.checkpoints.at(-1)!.step, fraction: 1 }
        : u.checkpoints[resolved.index];
    return reply.status(replaced ? 200 : 201).send({
      network,
      checkpoint: c,
      layer,
      shape: [shape.rows, shape.cols],
      input: shape.input,
      replaced,
      bytes,
    });
  }

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
