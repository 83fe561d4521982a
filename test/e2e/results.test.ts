// Slices of a finished tensor as JSON, .npy (checked with numpy) and CSV; activations; caching;
// share links that read but cannot write, and stop working when revoked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeNpy } from '../../core/npy.ts';
import { waitFor } from '../helpers/env.ts';
import {
  type CreatedShare,
  type ErrorBody,
  type Experiment,
  readJson,
  type SliceOf,
  type Submitted,
} from '../helpers/json.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

/** numpy.load of the bytes → { shape, values (flattened, NaN as null) }. */
function numpyLoad(bytes: Uint8Array): { shape: number[]; values: (number | null)[] } {
  const dir = mkdtempSync(join(tmpdir(), 'repdyn-npy-'));
  try {
    const file = join(dir, 'x.npy');
    writeFileSync(file, bytes);
    const py =
      'import json,sys,numpy as np\na=np.load(sys.argv[1])\n' +
      'print(json.dumps({"shape":list(a.shape),"dtype":str(a.dtype),"values":[None if np.isnan(v) else float(v) for v in a.ravel()]}))';
    const res = spawnSync('python3', ['-c', py, file], { encoding: 'utf8' });
    assert.equal(res.status, 0, `python3/numpy failed: ${res.stderr}`);
    const out = JSON.parse(res.stdout);
    assert.equal(out.dtype, 'float32');
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const flatten = (v: unknown): unknown[] => (Array.isArray(v) ? v.flatMap(flatten) : [v]);
const close = (a: number | null, b: number | null) =>
  a === null || b === null ? a === b : Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a));

describe('results', () => {
  let svc: Service;
  let id: string;

  before(async () => {
    svc = await startService();
    const res = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify(tinySpec({ name: 'results' })),
    });
    id = (await readJson<Submitted>(res)).id;
    const done = await waitFor(
      async () => {
        const b = await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`));
        return ['succeeded', 'failed', 'canceled'].includes(b.status) ? b : undefined;
      },
      { timeoutMs: 120_000, what: 'experiment' },
    );
    assert.equal(done.status, 'succeeded');
  });

  after(async () => {
    await svc?.stop();
  });

  it('serves the whole tensor and sub-blocks; npy and CSV carry the JSON values', async () => {
    const all = await readJson<SliceOf<3>>(await svc.request(`/v1/experiments/${id}/tensor?measure=cka`));
    assert.deepEqual(all.shape, [4, 4, 4]);
    assert.deepEqual(all.axes, ['refLayer', 'specLayer', 'checkpoint']);
    assert.equal(all.labels.checkpoint.length, 4);

    const q = `/v1/experiments/${id}/tensor?refLayer=fc1,2&specLayer=logits&checkpoint=1,3&measure=rho`;
    const json = await readJson<SliceOf<3>>(await svc.request(q));
    assert.deepEqual(json.shape, [2, 1, 2]);
    assert.deepEqual(json.labels.refLayer, ['fc1', 'fc2']);
    assert.deepEqual(json.labels.specLayer, ['logits']);
    assert.deepEqual(
      json.labels.checkpoint.map((c) => c.index),
      [1, 3],
    );
    const rhoAll = await readJson<SliceOf<3>>(await svc.request(`/v1/experiments/${id}/tensor?measure=rho`));
    assert.equal(
      json.values[0][0][1],
      rhoAll.values[1][3][3],
      'sub-block equals the same cell of the whole tensor',
    );
    assert.equal(json.values[1][0][0], rhoAll.values[2][3][1]);

    const npyRes = await svc.request(`${q}&format=npy`);
    assert.equal(npyRes.status, 200);
    const bytes = new Uint8Array(await npyRes.arrayBuffer());
    const np = numpyLoad(bytes);
    assert.deepEqual(np.shape, json.shape);
    const jsonFlat = flatten(json.values) as number[];
    for (const [k, v] of np.values.entries())
      assert.ok(close(v, jsonFlat[k]), `npy value ${k}: ${v} vs ${jsonFlat[k]}`);

    const csv = await (await svc.request(`${q}&format=csv`)).text();
    const rows = csv.trim().split('\n');
    assert.equal(rows[0], 'refLayer,specLayer,checkpoint,step,fraction,measure,value');
    assert.equal(rows.length - 1, jsonFlat.length);
    for (const [k, r] of rows.slice(1).entries()) assert.ok(close(Number(r.split(',').at(-1)), jsonFlat[k]));

    const nearest = await readJson<SliceOf<2>>(
      await svc.request(`/v1/experiments/${id}/tensor?fraction=0.99`),
    );
    assert.deepEqual(nearest.shape, [4, 4]);
    assert.equal(nearest.labels.checkpoint.fraction, 1);
  });

  it('pads coefficient vectors with NaN and gives their lengths', async () => {
    const q = `/v1/experiments/${id}/tensor?refLayer=input&specLayer=fc1,logits&checkpoint=3&measure=coefficients`;
    const json = await readJson<SliceOf<3, 'one'>>(await svc.request(q));
    assert.deepEqual(json.axes, ['refLayer', 'specLayer', 'coefficient']);
    assert.deepEqual(json.counts, [[32, 10]]);
    assert.equal(json.shape[2], 32);
    assert.equal((json.values[0][1][9] ?? Number.NaN) > 0, true);
    assert.equal(json.values[0][1][10], null);
    const np = numpyLoad(new Uint8Array(await (await svc.request(`${q}&format=npy`)).arrayBuffer()));
    assert.deepEqual(np.shape, [1, 2, 32]);
    assert.equal(np.values[32 + 10], null, 'padding is NaN');
  });

  it('marks finished tensors immutable with an ETag', async () => {
    const res = await svc.request(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=0`);
    const etag = res.headers.get('etag');
    assert.ok(etag);
    assert.match(res.headers.get('cache-control') ?? '', /immutable/);
    const again = await svc.request(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=0`, {
      headers: { 'if-none-match': etag },
    });
    assert.equal(again.status, 304);
  });

  it('serves the representations as .npy and rejects bad queries with codes', async () => {
    const res = await svc.request(
      `/v1/experiments/${id}/activations?network=reference&checkpoint=3&layer=fc1`,
    );
    assert.equal(res.status, 200);
    const npy = decodeNpy(new Uint8Array(await res.arrayBuffer()));
    assert.deepEqual(npy.shape, [256, 32]);
    const bad = await svc.request(
      `/v1/experiments/${id}/activations?network=reference&checkpoint=3&layer=fc9`,
    );
    assert.equal(bad.status, 400);
    assert.equal((await readJson<ErrorBody>(bad)).code, 'UNKNOWN_LAYER');
    const badLayer = await svc.request(`/v1/experiments/${id}/tensor?refLayer=nope`);
    assert.equal((await readJson<ErrorBody>(badLayer)).code, 'UNKNOWN_LAYER');
    const badCkpt = await svc.request(`/v1/experiments/${id}/tensor?checkpoint=9`);
    assert.equal((await readJson<ErrorBody>(badCkpt)).code, 'CHECKPOINT_OUT_OF_RANGE');
  });

  it('share tokens read but cannot write; a revoked token gets 404', async () => {
    const created = await svc.request(`/v1/experiments/${id}/shares`, { method: 'POST' });
    assert.equal(created.status, 201);
    const share = await readJson<CreatedShare>(created);
    assert.ok(Buffer.from(share.token, 'base64url').length * 8 >= 128);
    const read = await svc.request(`/v1/experiments/${id}?share=${share.token}`, { key: null });
    assert.equal(read.status, 200);
    assert.equal((await readJson<Experiment>(read)).id, id);
    const slice = await svc.request(`/v1/experiments/${id}/tensor?checkpoint=0&share=${share.token}`, {
      key: null,
    });
    assert.equal(slice.status, 200);
    const cancel = await svc.request(`/v1/experiments/${id}/cancel?share=${share.token}`, {
      method: 'POST',
      key: null,
    });
    assert.equal(cancel.status, 401);
    const del = await svc.request(`/v1/experiments/${id}?share=${share.token}`, {
      method: 'DELETE',
      key: null,
    });
    assert.equal(del.status, 401);
    const list = await svc.request(`/v1/experiments?share=${share.token}`, { key: null });
    assert.equal(list.status, 401);
    const other = await readJson<Submitted>(
      await svc.request('/v1/experiments', {
        method: 'POST',
        body: JSON.stringify(tinySpec({ name: 'other' })),
      }),
    );
    const elsewhere = await svc.request(`/v1/experiments/${other.id}?share=${share.token}`, { key: null });
    assert.equal(elsewhere.status, 404, 'a share opens its own experiment only');

    const revoke = await svc.request(`/v1/experiments/${id}/shares/${share.id}`, { method: 'DELETE' });
    assert.equal(revoke.status, 204);
    const after = await svc.request(`/v1/experiments/${id}?share=${share.token}`, { key: null });
    assert.equal(after.status, 404);
  });
});
