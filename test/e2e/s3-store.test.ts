// Artifacts in object storage (ARTIFACT_URL=s3://…), end to end against a real S3 endpoint on
// loopback: a trained experiment and an uploaded one store the same tensors, byte for byte, as with
// the filesystem store; nothing lands in the artifact directory; a worker killed during training and
// during the tensor is taken over and the tensor is unchanged; a delete removes the run's objects.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNpy } from '../../core/npy.ts';
import { captureOptions, normaliseExperimentSpec } from '../../core/spec/experiment.ts';
import { runKey } from '../../core/spec/run.ts';
import type { ArtifactStore } from '../../store/artifact-store.ts';
import { openArtifactStore } from '../../store/open-artifacts.ts';
import { testConfig, waitFor } from '../helpers/env.ts';
import { type LocalS3, startLocalS3 } from '../helpers/s3.ts';
import { type Service, startService } from '../helpers/service.ts';
import {
  assertSameTensor,
  FAST_RECOVERY,
  finished,
  killWorkerWhen,
  smallSpec,
  submit,
} from '../recovery/helpers.ts';

// 96 steps, 6 checkpoints: 3 x 3 x 6 = 54 cells
const spec = smallSpec('s3 store', { trainExamples: 1536, batchSize: 16, seed: 31 }, 6);
const TOTAL = 3 * 3 * 6;

function referenceKey(): string {
  const e = normaliseExperimentSpec(spec as never);
  return runKey(e.reference, e.probe, captureOptions(e, testConfig().limits));
}

/** Deterministic float64 activations of an upload experiment: [samples, features]. */
function activations(seed: number, samples: number, features: number): Uint8Array {
  const data = new Float64Array(samples * features);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    data[i] = s / 2 ** 31 - 0.5 + (i % features) * 0.01;
  }
  return encodeNpy(data, [samples, features]);
}

async function uploadExperiment(svc: Service): Promise<string> {
  const res = await svc.request('/v1/experiments', {
    method: 'POST',
    body: JSON.stringify({
      name: 's3 upload',
      source: 'upload',
      samples: 300,
      reference: { layers: ['a', 'b'] },
      specimen: { layers: ['a', 'b'] },
      checkpoints: [{ step: 0 }, { step: 10 }],
      similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
    }),
  });
  const body = (await res.json()) as { id: string };
  assert.equal(res.status, 201, JSON.stringify(body));
  const put = async (path: string, bytes: Uint8Array) => {
    const r = await svc.request(`/v1/experiments/${body.id}/activations/${path}`, {
      method: 'PUT',
      body: bytes as RequestInit['body'],
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(r.status, 201, await r.text());
  };
  await put('reference/final/a', activations(1, 300, 20));
  await put('reference/final/b', activations(2, 300, 12));
  for (const t of [0, 1]) {
    await put(`specimen/${t}/a`, activations(10 + t, 300, 20));
    await put(`specimen/${t}/b`, activations(20 + t, 300, 12));
  }
  const done = await svc.request(`/v1/experiments/${body.id}/complete`, { method: 'POST' });
  assert.equal(done.status, 202, await done.text());
  return body.id;
}

async function filesUnder(dir: string): Promise<string[]> {
  return readdir(dir, { recursive: true }).catch(() => []);
}

describe('artifacts in an S3 bucket', () => {
  let s3: LocalS3;
  let svc: Service;
  let store: ArtifactStore;
  const ids = { trained: '', upload: '' };

  before(async () => {
    s3 = await startLocalS3();
    svc = await startService({ s3, env: { ...FAST_RECOVERY } });
    store = openArtifactStore(testConfig(svc.env));
  });

  after(async () => {
    store?.close();
    await svc?.stop();
    await s3?.close();
  });

  it('trains and uploads into the bucket: nothing in the artifact directory', async () => {
    assert.match(store.location, /^s3:\/\//);
    ids.trained = await submit(svc, spec);
    ids.upload = await uploadExperiment(svc);
    await finished(svc.db, ids.trained, 120_000);
    await finished(svc.db, ids.upload, 120_000);
    const state = await store.run(referenceKey()).loadState();
    assert.equal(state?.complete, true, 'the run state is in the bucket');
    assert.equal(state?.checkpoints.length, 6);
    const runs = (await filesUnder(join(svc.env['ARTIFACT_DIR']!, 'runs'))).filter((f) => !f.includes('/'));
    assert.deepEqual(runs, [], 'no run directory on the local disk');
    // the API serves a stored representation from the bucket
    const res = await svc.request(
      `/v1/experiments/${ids.trained}/activations?network=specimen&checkpoint=2&layer=fc1`,
    );
    assert.equal(res.status, 200, await res.clone().text());
    const npy = Buffer.from(await res.arrayBuffer());
    assert.equal(npy.subarray(1, 6).toString('latin1'), 'NUMPY');
  });

  it('a worker killed during training and again during the tensor: same tensor as the clean run', async () => {
    assert.ok(ids.trained, 'the clean run of the first test');
    const key = referenceKey();
    await store.removeRun(key); // so the next experiment trains again, into the bucket
    const id = await submit(svc, spec);
    await killWorkerWhen(
      svc,
      svc.workers[0]!,
      async () => {
        const s = await store.run(key).loadState();
        return !!s && !s.complete && s.checkpoints.length >= 2;
      },
      'training between two checkpoints (state in the bucket)',
    );
    await svc.startWorker();
    let stored = 0;
    await killWorkerWhen(
      svc,
      svc.workers[0]!,
      async () => {
        stored = await svc.db.cell.count({ where: { experimentId: id } });
        return stored > 0 && stored < TOTAL;
      },
      'part of the tensor stored',
    ).catch(async (err) => {
      // a fast machine may finish the 54 cells between two looks: then there is no "during"
      const row = await svc.db.experiment.findUniqueOrThrow({ where: { id } });
      if (row.status !== 'succeeded') throw err;
    });
    if (svc.workers.length === 0) await svc.startWorker();
    const done = await finished(svc.db, id, 120_000);
    assert.ok(done.attempts >= 2, `attempts ${done.attempts}`);
    assert.equal(await assertSameTensor(svc.db, id, ids.trained), TOTAL);
  });

  it('stores the same tensors, byte for byte, as the filesystem store', async () => {
    assert.ok(ids.trained && ids.upload, 'the experiments of the first test');
    // (workers take any unfinished experiment of the database: the bucket's workers stop meanwhile)
    while (svc.workers.length > 0) await svc.killWorker(svc.workers[0]);
    const fsSvc = await startService();
    try {
      const trained = await submit(fsSvc, spec);
      const upload = await uploadExperiment(fsSvc);
      await finished(fsSvc.db, trained, 120_000);
      await finished(fsSvc.db, upload, 120_000);
      assert.equal(await assertSameTensor(svc.db, trained, ids.trained), TOTAL);
      assert.equal(await assertSameTensor(svc.db, upload, ids.upload), 2 * 2 * 2);
    } finally {
      await fsSvc.stop();
    }
  });

  it("a delete removes the run's objects from the bucket", async () => {
    const res = await svc.request(`/v1/experiments/${ids.upload}`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    await waitFor(
      async () => {
        const keys = (await store.listRuns()).map((r) => r.key);
        const rows = await svc.db.run.findMany({ select: { key: true } });
        const live = new Set(rows.map((r) => r.key));
        return keys.every((k) => live.has(k));
      },
      { timeoutMs: 30_000, what: 'the deleted experiment’s objects to go' },
    );
  });
});
