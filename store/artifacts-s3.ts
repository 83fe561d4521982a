// Object-storage artifact store (S3 protocol: AWS S3, MinIO, or any compatible endpoint), the same
// layout as the filesystem store (store/artifacts.ts) under a bucket and prefix:
//   s3://<bucket>/<prefix>runs/<runKey>/state.json
//   s3://<bucket>/<prefix>runs/<runKey>/ckpt-0003/{weights.rdw, optimizer.rdw, <layer>.npy}
// Atomicity comes from the protocol: a PUT, or a multipart upload on its completion, makes an object
// appear whole or not at all, and state.json (the commit point of a checkpoint) is written last. An
// aborted multipart upload leaves no object. Large representations are written in parts
// (@aws-sdk/lib-storage), so an upload streams through without being held whole in memory.
import { PassThrough, Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Matrix2D } from '../core/cca/matrix.ts';
import { decodeNpy, encodeNpy, parseNpyHeader } from '../core/npy.ts';
import type { RunState } from '../core/train/store.ts';
import {
  type ArtifactStore,
  checkLayerName,
  checkpointName,
  checkRunKey,
  isRunKey,
  type PieceWriter,
  type RunArtifacts,
  type RunListing,
} from './artifact-store.ts';

export interface S3Location {
  bucket: string;
  /** '' or a prefix ending in '/' */
  prefix: string;
}

/** `s3://bucket/some/prefix` → { bucket, prefix: 'some/prefix/' }. Throws on anything else. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`ARTIFACT_URL must look like s3://bucket or s3://bucket/prefix, got '${url}'`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1]!, prefix: prefix ? `${prefix}/` : '' };
}

export interface S3StoreOptions extends S3Location {
  /** e.g. http://127.0.0.1:9000 (MinIO, s3rver); unset: AWS's own endpoints */
  endpoint?: string;
  region?: string;
  /** path-style addressing (MinIO, s3rver): on by default when an endpoint is given */
  forcePathStyle?: boolean;
  /** credentials; unset: the SDK's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles…) */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** part size of multipart uploads (≥ 5 MiB, S3's minimum) */
  partBytes?: number;
}

const notFound = (err: unknown) =>
  err instanceof NoSuchKey ||
  (err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NotFound'));

async function bodyBytes(body: unknown): Promise<Uint8Array> {
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> } | undefined;
  if (!b?.transformToByteArray) throw new Error('S3 answered without a body');
  return b.transformToByteArray();
}

export class S3ArtifactStore implements ArtifactStore {
  readonly client: S3Client;
  readonly location: string;
  private readonly partBytes: number;

  constructor(readonly options: S3StoreOptions) {
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // plain PUTs with a Content-Length: what every S3-compatible server accepts (no aws-chunked
      // streaming checksums, which MinIO versions and s3rver differ on)
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.location = `s3://${options.bucket}/${options.prefix}`;
    this.partBytes = Math.max(options.partBytes ?? 8 * 2 ** 20, 5 * 2 ** 20);
  }

  /** Object key of a path under the store's prefix. */
  objectKey(path: string): string {
    return `${this.options.prefix}${path}`;
  }

  run(key: string): RunArtifacts {
    return new S3RunArtifacts(this, checkRunKey(key));
  }

  async get(path: string, range?: string): Promise<Uint8Array | null> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.options.bucket,
          Key: this.objectKey(path),
          ...(range ? { Range: range } : {}),
        }),
      );
      return await bodyBytes(out.Body);
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  async getStream(path: string): Promise<{ stream: Readable; bytes: number } | null> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(path) }),
      );
      if (!(out.Body instanceof Readable)) throw new Error('S3 answered without a stream body');
      return { stream: out.Body, bytes: out.ContentLength ?? 0 };
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.client.send(
        new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(path) }),
      );
      return true;
    } catch (err) {
      if (notFound(err)) return false;
      throw err;
    }
  }

  async put(path: string, bytes: Uint8Array | string): Promise<void> {
    const body = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    if (body.byteLength <= this.partBytes) {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(path), Body: body }),
      );
      return;
    }
    await new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: this.objectKey(path), Body: body },
      partSize: this.partBytes,
      queueSize: 2,
    }).done();
  }

  /** A multipart upload fed piece by piece; the object appears only on commit(). */
  writer(path: string): PieceWriter {
    const body = new PassThrough();
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: this.objectKey(path), Body: body },
      partSize: this.partBytes,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const done = upload.done();
    done.catch(() => undefined); // awaited in commit(); abort() ends it
    const existedBefore = this.exists(path);
    existedBefore.catch(() => undefined);
    return {
      async write(bytes) {
        if (!body.write(bytes)) await new Promise<void>((resolve) => body.once('drain', () => resolve()));
      },
      async commit() {
        const existed = await existedBefore;
        body.end();
        await done;
        return existed;
      },
      async abort() {
        await upload.abort().catch(() => undefined);
        body.destroy();
        await done.catch(() => undefined);
      },
    };
  }

  /** Every object key (relative to the prefix) under `path`, with its last-modified time. */
  async list(path: string): Promise<Array<{ path: string; modified: Date }>> {
    const out: Array<{ path: string; modified: Date }> = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: this.objectKey(path),
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key)
          out.push({
            path: o.Key.slice(this.options.prefix.length),
            modified: o.LastModified ?? new Date(0),
          });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async deletePaths(paths: string[]): Promise<void> {
    for (let i = 0; i < paths.length; i += 1000) {
      const batch = paths.slice(i, i + 1000);
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.options.bucket,
          Delete: { Objects: batch.map((p) => ({ Key: this.objectKey(p) })), Quiet: true },
        }),
      );
    }
  }

  async removeRun(key: string): Promise<void> {
    const paths = (await this.list(`runs/${checkRunKey(key)}/`)).map((o) => o.path);
    // state.json first: a half-removed run is never taken for a complete one
    const state = paths.filter((p) => p.endsWith('/state.json'));
    await this.deletePaths(state);
    await this.deletePaths(paths.filter((p) => !p.endsWith('/state.json')));
  }

  async listRuns(): Promise<RunListing[]> {
    const byKey = new Map<string, Date>();
    for (const o of await this.list('runs/')) {
      const key = o.path.split('/')[1];
      if (!key || !isRunKey(key)) continue;
      const seen = byKey.get(key);
      if (!seen || o.modified > seen) byKey.set(key, o.modified);
    }
    return [...byKey].map(([key, modified]) => ({ key, modified }));
  }

  close(): void {
    this.client.destroy();
  }
}

class S3RunArtifacts implements RunArtifacts {
  constructor(
    private readonly s3: S3ArtifactStore,
    readonly key: string,
  ) {}

  private path(checkpoint: number | null, name: string): string {
    return checkpoint === null
      ? `runs/${this.key}/${name}`
      : `runs/${this.key}/${checkpointName(checkpoint)}/${name}`;
  }

  private layerPath(checkpoint: number, layer: string): string {
    return this.path(checkpoint, `${checkLayerName(layer)}.npy`);
  }

  private async must(path: string): Promise<Uint8Array> {
    const bytes = await this.s3.get(path);
    if (!bytes) {
      const err = new Error(`artifact ${this.s3.location}${path} not found`) as NodeJS.ErrnoException;
      err.code = 'ENOENT';
      throw err;
    }
    return bytes;
  }

  async representationShape(checkpoint: number, layer: string): Promise<number[] | null> {
    const path = this.layerPath(checkpoint, layer);
    for (let size = 512; ; size *= 4) {
      const head = await this.s3.get(path, `bytes=0-${size - 1}`);
      if (!head) return null;
      const header = parseNpyHeader(head);
      if (header) return header.shape;
      if (head.byteLength < size)
        throw new Error(`${layer} at checkpoint ${checkpoint}: truncated .npy header`);
    }
  }

  openRepresentation(checkpoint: number, layer: string) {
    return this.s3.getStream(this.layerPath(checkpoint, layer));
  }

  async writeRepresentation(checkpoint: number, layer: string): Promise<PieceWriter> {
    return this.s3.writer(this.layerPath(checkpoint, layer));
  }

  saveWeights(checkpoint: number, bytes: Uint8Array) {
    return this.s3.put(this.path(checkpoint, 'weights.rdw'), bytes);
  }

  loadWeights(checkpoint: number) {
    return this.must(this.path(checkpoint, 'weights.rdw'));
  }

  saveOptimizerState(checkpoint: number, bytes: Uint8Array) {
    return this.s3.put(this.path(checkpoint, 'optimizer.rdw'), bytes);
  }

  loadOptimizerState(checkpoint: number) {
    return this.must(this.path(checkpoint, 'optimizer.rdw'));
  }

  async pruneOptimizerStates(keep: number): Promise<void> {
    const keepPath = this.path(keep, 'optimizer.rdw');
    const all = await this.s3.list(`runs/${this.key}/`);
    await this.s3.deletePaths(
      all.map((o) => o.path).filter((p) => p.endsWith('/optimizer.rdw') && p !== keepPath),
    );
  }

  saveRepresentation(checkpoint: number, layer: string, matrix: Matrix2D) {
    return this.s3.put(this.layerPath(checkpoint, layer), encodeNpy(matrix.data, [matrix.rows, matrix.cols]));
  }

  async loadRepresentation(checkpoint: number, layer: string): Promise<Matrix2D> {
    const { data, shape } = decodeNpy(await this.must(this.layerPath(checkpoint, layer)));
    if (shape.length !== 2)
      throw new Error(`${layer} at checkpoint ${checkpoint}: expected a 2-D array, got [${shape}]`);
    return { data, rows: shape[0]!, cols: shape[1]! };
  }

  saveState(state: RunState) {
    return this.s3.put(this.path(null, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  }

  async loadState(): Promise<RunState | null> {
    const bytes = await this.s3.get(this.path(null, 'state.json'));
    return bytes ? (JSON.parse(Buffer.from(bytes).toString('utf8')) as RunState) : null;
  }

  async hasCheckpoint(checkpoint: number): Promise<boolean> {
    const state = await this.loadState();
    return state?.checkpoints.some((c) => c.index === checkpoint) ?? false;
  }
}
