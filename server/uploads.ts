// Receiving one uploaded representation (PUT …/activations/:network/:checkpoint/:layer, routes in
// server/routes/v1/experiments/uploads.ts): the target checked against the experiment's declaration,
// the .npy body streamed through RepresentationIngest (validated and reduced on the fly) into a
// temporary file of the artifact store, renamed into place only when complete and valid, while the
// experiment still awaits its representations. The database side is store/uploads.ts.
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IngestError, type IngestedShape, RepresentationIngest } from '../core/ingest.ts';
import { type NormalisedUpload, resolveUploadCheckpoint, type UploadNetwork } from '../core/spec/upload.ts';
import type { PieceWriter, RunArtifacts } from '../store/artifact-store.ts';
import { AWAITING } from '../store/experiments.ts';
import { commitWhileAwaiting, findUploadTarget, NotAwaitingRepresentations } from '../store/uploads.ts';
import type { RouteDeps } from './app.ts';
import { principalOf } from './plugins/auth.ts';
import { HttpError } from './schemas/error.ts';

export const UPLOAD_CONTENT_TYPES = ['application/octet-stream', 'application/x-npy'];

/** The path parameters of an upload. */
export interface UploadParams {
  id: string;
  network: string;
  checkpoint: string;
  layer: string;
}

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

/** The declared network and checkpoint index the parameters name; 404 naming what is not declared. */
function resolveTarget(u: NormalisedUpload, params: UploadParams): { network: UploadNetwork; index: number } {
  const { network, checkpoint, layer } = params;
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
  return { network, index: resolved.index };
}

const tooLarge = (limit: number, value: number) =>
  new HttpError(
    413,
    'UPLOAD_TOO_LARGE',
    `the upload has ${value} bytes or more, above the limit of ${limit} (MAX_UPLOAD_BYTES)`,
    {
      limit,
      value,
    },
  );

/** The request's body stream; 413 when its declared length is over `limit`, 400 when there is none. */
function bodyOf(request: FastifyRequest, limit: number): Readable {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit, declared);
  const body = request.body as Readable | undefined;
  if (!body || typeof (body as Readable).on !== 'function') {
    throw new HttpError(400, 'INVALID_BODY', `send the .npy file as ${UPLOAD_CONTENT_TYPES.join(' or ')}`);
  }
  return body;
}

/**
 * Streams `body` through `ingest` into the representation's temporary file and commits it while the
 * experiment awaits its representations; the bytes received and whether an earlier upload was
 * replaced, with the stored shape. On failure the temporary file is removed.
 */
async function ingestInto(
  deps: RouteDeps,
  target: { id: string; store: RunArtifacts; index: number; layer: string },
  u: NormalisedUpload,
  body: Readable,
): Promise<{ bytes: number; replaced: boolean; shape: IngestedShape }> {
  const { limits } = deps.config;
  const limit = limits.uploadBytes;
  const ingest = new RepresentationIngest({
    samples: u.samples,
    convMode: u.similarity.convMode,
    maxFeatures: limits.representationFeatures,
    maxConvSamples: limits.convSamples,
  });
  // the temporary file is opened with the first data the ingest lets through (a valid header): a
  // body refused at its header, or one that never sends it, costs no file
  let out: PieceWriter | undefined;
  const opened = async () => {
    out ??= await target.store.writeRepresentation(target.index, target.layer);
    return out;
  };
  let bytes = 0;
  try {
    await consume(body, async (chunk) => {
      bytes += chunk.length;
      if (bytes > limit) throw tooLarge(limit, bytes);
      for (const part of ingest.push(chunk)) await (await opened()).write(part);
    });
    for (const part of ingest.end()) await (await opened()).write(part);
    const file = await opened();
    const replaced = await commitWhileAwaiting(deps.db, target.id, () => file.commit());
    return { bytes, replaced, shape: ingest.shape! };
  } catch (err) {
    await out?.abort();
    throw err;
  }
}

/** An IngestError as the 422 naming the representation; any other failure as it is. */
function ingestFailure(err: unknown, params: UploadParams): unknown {
  if (!(err instanceof IngestError)) return err;
  const { network, checkpoint, layer } = params;
  return new HttpError(422, err.code, `${network} ${layer} at checkpoint ${checkpoint}: ${err.message}`, {
    network,
    checkpoint,
    layer,
    ...err.details,
  });
}

/** One upload: 201 stored, 200 replaced an earlier one; the answer names what was stored. */
async function receiveUpload(
  deps: RouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  params: UploadParams,
) {
  const { u, runKeys, status } = await findUploadTarget(deps.db, principalOf(request).teamId, params.id);
  if (status !== AWAITING) throw new NotAwaitingRepresentations(status);
  const { network, index } = resolveTarget(u, params);
  const body = bodyOf(request, deps.config.limits.uploadBytes);
  const target = { id: params.id, store: deps.artifacts.run(runKeys[network]), index, layer: params.layer };
  let received: Awaited<ReturnType<typeof ingestInto>>;
  try {
    received = await ingestInto(deps, target, u, body);
  } catch (err) {
    // the body timed out: the 408 is answered and the connection closed already
    if (request.bodyTimedOut && reply.sent) return reply;
    throw ingestFailure(err, params);
  }
  const { shape, replaced, bytes } = received;
  const c =
    network === 'reference'
      ? { index: 0, step: u.checkpoints.at(-1)!.step, fraction: 1 }
      : u.checkpoints[index];
  return reply.status(replaced ? 200 : 201).send({
    network,
    checkpoint: c,
    layer: params.layer,
    shape: [shape.rows, shape.cols],
    input: shape.input,
    replaced,
    bytes,
  });
}

/**
 * The PUT handler's work: at most MAX_UPLOADS_PER_KEY uploads in flight per API key (429
 * LIMIT_CONCURRENT_UPLOADS with retry-after beyond), then the upload received.
 */
export function uploadReceiver(deps: RouteDeps) {
  const { uploadsPerKey } = deps.config.limits;
  /** uploads in flight per API key (MAX_UPLOADS_PER_KEY) */
  const inFlight = new Map<string, number>();
  return async (request: FastifyRequest, reply: FastifyReply, params: UploadParams) => {
    const principal = principalOf(request);
    const running = inFlight.get(principal.keyId) ?? 0;
    if (running >= uploadsPerKey) {
      reply.header('retry-after', '5');
      throw new HttpError(
        429,
        'LIMIT_CONCURRENT_UPLOADS',
        `this API key has ${running} uploads in progress (limit ${uploadsPerKey}, MAX_UPLOADS_PER_KEY); wait for one to finish`,
        { field: 'key', limit: uploadsPerKey, value: running },
      );
    }
    inFlight.set(principal.keyId, running + 1);
    try {
      return await receiveUpload(deps, request, reply, params);
    } finally {
      const left = (inFlight.get(principal.keyId) ?? 1) - 1;
      if (left > 0) inFlight.set(principal.keyId, left);
      else inFlight.delete(principal.keyId);
    }
  };
}
