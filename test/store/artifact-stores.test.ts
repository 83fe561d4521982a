// The artifact-store contract, held by both implementations: the filesystem directory and an
// S3-compatible bucket (a real S3 endpoint on loopback, s3rver). Same round trips, same atomicity
// (nothing visible before commit, nothing left after abort), same removal and listing.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNpy } from '../../core/npy.ts';
import type { ArtifactStore } from '../../store/artifact-store.ts';
import { FsArtifactStore } from '../../store/artifacts.ts';
import { parseS3Url, S3ArtifactStore } from '../../store/artifacts-s3.ts';
import { openArtifactStore } from '../../store/open-artifacts.ts';
import { sampleRunState } from '../helpers/run-state.ts';
import { type LocalS3, startLocalS3 } from '../helpers/s3.ts';

const KEY = 'cd'.repeat(32);
const OTHER = 'ef'.repeat(16);

const state = sampleRunState;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

let dir: string;
let s3: LocalS3;
const stores: Array<[string, () => ArtifactStore]> = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'repdyn-stores-'));
  s3 = await startLocalS3();
});
after(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

stores.push(['filesystem', () => new FsArtifactStore(join(dir, 'fs'))]);
stores.push([
  's3',
  () =>
    new S3ArtifactStore({
      bucket: s3.bucket,
      prefix: 'contract/',
      endpoint: s3.endpoint,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      partBytes: 5 * 2 ** 20,
    }),
]);

for (const [name, make] of stores) {
  describe(`artifact store: ${name}`, () => {
    it('round-trips weights, optimizer states, representations (float32 and float64) and state', async () => {
      const store = make();
      try {
        const run = store.run(KEY);
        assert.equal(await run.loadState(), null);
        const bytes = Uint8Array.of(1, 2, 3, 250);
        await run.saveWeights(0, bytes);
        await run.saveOptimizerState(0, bytes);
        await run.saveOptimizerState(1, Uint8Array.of(9));
        assert.deepEqual(new Uint8Array(await run.loadWeights(0)), bytes);
        const m32 = { data: Float32Array.of(1, 2, 3, 4, 5, 6), rows: 3, cols: 2 };
        const m64 = { data: Float64Array.of(1e-160, 1e39, 1e300, 0.1, 1 + 2 ** -50, -3), rows: 3, cols: 2 };
        await run.saveRepresentation(0, 'fc1', m32);
        await run.saveRepresentation(0, 'fc2', m64);
        assert.deepEqual(await run.loadRepresentation(0, 'fc1'), m32);
        assert.deepEqual(await run.loadRepresentation(0, 'fc2'), m64);
        assert.deepEqual(await run.representationShape(0, 'fc2'), [3, 2]);
        assert.equal(await run.representationShape(0, 'fc9'), null);
        const opened = await run.openRepresentation(0, 'fc1');
        assert.ok(opened);
        assert.ok((await readAll(opened.stream)).equals(Buffer.from(encodeNpy(m32.data, [3, 2]))));
        assert.equal(await run.openRepresentation(1, 'fc1'), null);
        await run.saveState(state(false));
        assert.deepEqual(await run.loadState(), state(false));
        assert.equal(await run.hasCheckpoint(0), true);
        assert.equal(await run.hasCheckpoint(1), false);
        await run.pruneOptimizerStates(1);
        await assert.rejects(
          run.loadOptimizerState(0),
          (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
        );
        assert.deepEqual(new Uint8Array(await run.loadOptimizerState(1)), Uint8Array.of(9));
        await assert.rejects(run.loadWeights(5), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
        await assert.rejects(async () => run.saveRepresentation(0, '../x', m32), /invalid layer name/);
        assert.throws(() => store.run('../../etc'), /invalid run key/);
      } finally {
        await store.removeRun(KEY);
        store.close();
      }
    });

    it('a representation written in pieces appears only on commit, and not at all after abort', async () => {
      const store = make();
      try {
        const run = store.run(KEY);
        // 12 MiB of float64 in 1 MiB pieces: more than two multipart parts on S3
        const rows = 12 * 2 ** 14;
        const data = new Float64Array(rows * 8).map((_, i) => Math.sin(i));
        const npy = Buffer.from(encodeNpy(data, [rows, 8]));
        const w = await run.writeRepresentation(2, 'big');
        for (let o = 0; o < npy.length; o += 2 ** 20) await w.write(npy.subarray(o, o + 2 ** 20));
        assert.equal(await run.representationShape(2, 'big'), null, 'nothing visible before commit');
        assert.equal(await w.commit(), false, 'a new file');
        assert.deepEqual(await run.representationShape(2, 'big'), [rows, 8]);
        const back = await run.loadRepresentation(2, 'big');
        assert.deepEqual(back.data, data);
        const again = await run.writeRepresentation(2, 'big');
        await again.write(npy.subarray(0, 100));
        await again.abort();
        assert.deepEqual((await run.loadRepresentation(2, 'big')).data, data, 'an abort leaves the old file');
        const fresh = await run.writeRepresentation(3, 'gone');
        await fresh.write(npy.subarray(0, 4096));
        await fresh.abort();
        assert.equal(await run.representationShape(3, 'gone'), null, 'an abort leaves nothing');
      } finally {
        await store.removeRun(KEY);
        store.close();
      }
    });

    it('lists runs with their last modification and removes one run whole, leaving the others', async () => {
      const store = make();
      try {
        const t0 = Date.now() - 5_000;
        await store.run(KEY).saveState(state(true));
        await store.run(OTHER).saveWeights(0, Uint8Array.of(1));
        const listed = await store.listRuns();
        assert.deepEqual(listed.map((r) => r.key).sort(), [KEY, OTHER].sort());
        for (const r of listed)
          assert.ok(r.modified.getTime() >= t0, `${r.key}: ${r.modified.toISOString()}`);
        await store.removeRun(KEY);
        assert.equal(await store.run(KEY).loadState(), null);
        assert.deepEqual(
          (await store.listRuns()).map((r) => r.key),
          [OTHER],
        );
        await store.removeRun(KEY); // removing a run that is gone is fine
      } finally {
        await store.removeRun(OTHER);
        store.close();
      }
    });
  });
}

describe('choosing the artifact store', () => {
  it('ARTIFACT_URL selects the bucket and prefix; without it the directory', () => {
    assert.deepEqual(parseS3Url('s3://my-bucket/some/prefix/'), {
      bucket: 'my-bucket',
      prefix: 'some/prefix/',
    });
    assert.deepEqual(parseS3Url('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
    assert.throws(() => parseS3Url('http://x/y'), /ARTIFACT_URL/);
    const s3store = openArtifactStore({
      artifactDir: '/tmp/x',
      artifactUrl: 's3://bkt/p',
      s3: {
        endpoint: 'http://127.0.0.1:1',
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: undefined,
      },
    });
    assert.equal(s3store.location, 's3://bkt/p/');
    s3store.close();
    const fs = openArtifactStore({
      artifactDir: '/tmp/x',
      artifactUrl: undefined,
      s3: { endpoint: undefined, region: 'us-east-1', forcePathStyle: undefined, credentials: undefined },
    });
    assert.equal(fs.location, '/tmp/x');
  });
});
