// Bring your own activations, over HTTP with the real API and worker processes: experiments on
// uploaded .npy representations reproduce the golden similarity values, validate what they store
// (sample count, NaN, size, cut-off bodies), and become ordinary experiments (slices, figures).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNpy, encodeNpyHeader } from '../../core/npy.ts';
import { uploadRunKey } from '../../store/artifacts.ts';
import { goldenCases, goldenDir } from '../core/cca/helpers.ts';
import { testConfig, waitFor } from '../helpers/env.ts';
import {
  type Analysis,
  type Answer,
  type CreatedShare,
  type ErrorWith,
  type Experiment,
  readJson,
  type SliceOf,
  type Submitted,
  type UploadCreated,
  type Uploaded,
} from '../helpers/json.ts';
import { type Service, startService } from '../helpers/service.ts';

const LIMIT = 6_000_000; // MAX_UPLOAD_BYTES for this service: above every golden file (4.7 MB)
const TOL = 1e-5;
// few-samples PWCCA is not a well-defined number (81 of its 100 coefficients are exactly 1, so the
// weights depend on the basis an SVD returns for that block): test/core/cca/golden.test.ts documents
// the range of valid values, which the worker's engine (JS, onnx or native BLAS) must fall in.
const PWCCA_RANGE: Record<string, [number, number]> = { 'few-samples': [0.852, 0.8863] };

interface Expected {
  samples: number;
  rho: number;
  svcca99_rho: number;
  pwcca: number;
  linear_cka: number;
}

describe('experiments on uploaded activations', () => {
  let svc: Service;

  before(async () => {
    svc = await startService({ env: { MAX_UPLOAD_BYTES: String(LIMIT) } });
  });

  after(async () => {
    await svc?.stop();
  });

  async function create(body: Record<string, unknown>): Promise<string> {
    const res = await svc.request('/v1/experiments', { method: 'POST', body: JSON.stringify(body) });
    const json = await readJson<Submitted>(res);
    assert.equal(res.status, 201, JSON.stringify(json));
    assert.equal(json.status, 'awaiting_representations');
    assert.equal(json.links.complete, `/v1/experiments/${json.id}/complete`);
    return json.id;
  }

  function put(id: string, path: string, body: Uint8Array | ReadableStream, init: RequestInit = {}) {
    return svc.request(`/v1/experiments/${id}/activations/${path}`, {
      method: 'PUT',
      body: body as RequestInit['body'],
      headers: { 'content-type': 'application/octet-stream' },
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      ...init,
    } as RequestInit);
  }

  /** The error body, its details as the test expects them. */
  async function expectError<D = Record<string, unknown>>(res: Response, status: number, code: string) {
    const body = await readJson<ErrorWith<D>>(res);
    assert.equal(res.status, status, `${JSON.stringify(body)}${res.status === 500 ? svc.output() : ''}`);
    assert.equal(body.code, code, JSON.stringify(body));
    return body;
  }

  const complete = (id: string) => svc.request(`/v1/experiments/${id}/complete`, { method: 'POST' });

  async function finished(id: string) {
    const body = await waitFor(
      async () => {
        const b = await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`));
        return ['succeeded', 'failed', 'canceled'].includes(b.status) ? b : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `experiment ${id} to finish` },
    );
    assert.equal(body.status, 'succeeded', `${JSON.stringify(body.error)}\n${svc.output()}`);
    return body;
  }

  /** One checkpoint's values of a measure (a cell not computed, or NaN, reads NaN). */
  async function cell(id: string, measure: string, checkpoint = 0): Promise<number[][]> {
    const res = await svc.request(`/v1/experiments/${id}/tensor?measure=${measure}&checkpoint=${checkpoint}`);
    const body = await readJson<SliceOf<2>>(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.values.map((row) => row.map((v) => v ?? Number.NaN));
  }

  it('refuses a declaration over the limits (422) and replays an idempotent creation', async () => {
    const limit = testConfig().limits.checkpoints;
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      svc.request('/v1/experiments', { method: 'POST', body: JSON.stringify(body), headers });
    const declared = (checkpoints: number) => ({
      name: 'limits',
      source: 'upload',
      samples: 16,
      reference: { layers: ['fc1'] },
      specimen: 'same',
      checkpoints: Array.from({ length: checkpoints }, (_, i) => ({ step: i })),
    });
    const over = await expectError<{ field: string; violations: Array<{ limit: number }> }>(
      await post(declared(limit + 1)),
      422,
      'LIMIT_CHECKPOINTS',
    );
    assert.equal(over.details.field, 'checkpoints');
    assert.equal(over.details.violations[0].limit, limit);
    const headers = { 'idempotency-key': `uploads-${Date.now()}` };
    const first = await post(declared(2), headers);
    const again = await post(declared(2), headers);
    assert.equal(first.status, 201);
    assert.equal(again.status, 201);
    const [a, b] = [await readJson<UploadCreated>(first), await readJson<UploadCreated>(again)];
    assert.equal(b.id, a.id, 'the same experiment');
    assert.deepEqual(b, a);
    assert.equal((await svc.request(`/v1/experiments/${a.id}`, { method: 'DELETE' })).status < 300, true);
  });

  it('reproduces every golden case (x as reference, y as specimen) within 1e-5', async () => {
    const cases = goldenCases();
    assert.ok(cases.length >= 7, cases.join(', '));
    const ids = new Map<string, string>();
    for (const name of cases) {
      const e = JSON.parse(readFileSync(join(goldenDir, name, 'expected.json'), 'utf8')) as Expected;
      const id = await create({
        name: `golden ${name}`,
        source: 'upload',
        samples: e.samples,
        reference: { layers: ['x'] },
        specimen: { layers: ['y'] },
        checkpoints: [{ step: 0 }],
        similarity: { methods: ['cca', 'svcca', 'pwcca', 'cka'] },
      });
      const x = readFileSync(join(goldenDir, name, 'x.npy'));
      const y = readFileSync(join(goldenDir, name, 'y.npy'));
      const rx = await put(id, 'reference/final/x', x);
      assert.equal(rx.status, 201, await rx.clone().text());
      const ry = await put(id, 'specimen/0/y', y);
      const uploaded = await readJson<Uploaded>(ry);
      assert.equal(ry.status, 201, JSON.stringify(uploaded));
      assert.equal(uploaded.replaced, false);
      assert.equal(uploaded.input.dtype, 'float32');
      assert.equal(uploaded.shape[0], e.samples);
      const done = await complete(id);
      assert.equal(done.status, 202, await done.clone().text());
      ids.set(name, id);
    }
    for (const name of cases) {
      const id = ids.get(name) as string;
      const e = JSON.parse(readFileSync(join(goldenDir, name, 'expected.json'), 'utf8')) as Expected;
      const final = await finished(id);
      assert.deepEqual(final.layers, { reference: ['x'], specimen: ['y'] });
      // the upload's JSON contracts as stored (its spec, the estimate made at complete, the summary)
      const stored = await svc.db.experiment.findUniqueOrThrow({
        where: { id },
        select: { spec: true, estimate: true, summary: true },
      });
      assert.deepEqual({ spec: final.spec, estimate: final.estimate, summary: final.summary }, stored);
      assert.equal(final.estimate && 'samples' in final.estimate ? final.estimate.samples : null, e.samples);
      assert.deepEqual(
        final.checkpoints.map((c: { step: number; fraction: number }) => [c.step, c.fraction]),
        [[0, 1]],
      );
      const got = {
        rho: (await cell(id, 'rho'))[0][0],
        svcca99_rho: (await cell(id, 'svcca'))[0][0],
        pwcca: (await cell(id, 'pwcca'))[0][0],
        linear_cka: (await cell(id, 'cka'))[0][0],
      };
      for (const key of ['rho', 'svcca99_rho', 'pwcca', 'linear_cka'] as const) {
        const range = key === 'pwcca' ? PWCCA_RANGE[name] : undefined;
        if (range) {
          assert.ok(
            got.pwcca >= range[0] && got.pwcca <= range[1],
            `${name} pwcca ${got.pwcca} outside ${range}`,
          );
          continue;
        }
        const tol = TOL;
        assert.ok(
          Math.abs(got[key] - e[key]) <= tol,
          `${name} ${key}: got ${got[key]}, expected ${e[key]} (tolerance ${tol})`,
        );
      }
    }
    const id = ids.get('nonlinear') as string;
    const fig = await svc.request(`/v1/experiments/${id}/figures/heatmaps.svg`);
    assert.equal(fig.status, 200, await fig.clone().text());
    assert.match(fig.headers.get('content-type') ?? '', /^image\/svg\+xml/);
  });

  it('"same": conv and dense layers over checkpoints, addressed by index, step and final', async () => {
    const n = 64;
    const id = await create({
      name: 'same',
      source: 'upload',
      samples: n,
      reference: { layers: ['conv1', 'fc1'] },
      specimen: 'same',
      checkpoints: [{ step: 0 }, { step: 100 }, { step: 1000 }],
    });
    const inventory = async () => {
      const res = await svc.request(`/v1/experiments/${id}/uploads`);
      const body = await readJson<Answer<'/v1/experiments/{id}/uploads', 'get', 200>>(res);
      assert.equal(res.status, 200, JSON.stringify(body));
      return body;
    };
    const before = await inventory();
    assert.equal(before.required, 6, '2 layers x 3 checkpoints of the specimen');
    assert.equal(before.stored, 0);
    assert.ok(before.representations.every((r) => r.network === 'specimen' && r.shape === null));
    let seed = 1;
    const rand = (len: number) =>
      Float64Array.from({ length: len }, () => {
        seed = (seed * 16807) % 2147483647;
        return seed / 2147483647 - 0.5;
      });
    for (const [checkpoint, tag] of [
      ['0', 'index'],
      ['step-100', 'step'],
      ['final', 'final'],
    ]) {
      const conv = await put(
        id,
        `specimen/${checkpoint}/conv1`,
        encodeNpy(rand(n * 4 * 4 * 3), [n, 4, 4, 3]),
      );
      const body = await readJson<Uploaded>(conv);
      assert.equal(conv.status, 201, `${tag}: ${JSON.stringify(body)}`);
      assert.deepEqual(body.shape, [n, 3], 'conv layers default to mean pooling');
      const fc = await put(
        id,
        `specimen/${checkpoint}/fc1`,
        encodeNpy(Float32Array.from(rand(n * 6)), [n, 6]),
      );
      assert.equal(fc.status, 201, await fc.clone().text());
    }
    const after = await inventory();
    assert.equal(after.stored, 6);
    assert.deepEqual(
      after.representations.map((r) => `${r.step}/${r.layer}:${r.shape}`),
      ['0/conv1:64,3', '0/fc1:64,6', '100/conv1:64,3', '100/fc1:64,6', '1000/conv1:64,3', '1000/fc1:64,6'],
    );
    // uploading again replaces
    const again = await put(id, 'specimen/2/fc1', encodeNpy(rand(n * 6), [n, 6]));
    const replaced = await readJson<Uploaded>(again);
    assert.equal(again.status, 200, JSON.stringify(replaced));
    assert.equal(replaced.replaced, true);
    assert.deepEqual(replaced.checkpoint, { index: 2, step: 1000, fraction: 1 });
    await expectError(
      await put(id, 'reference/final/fc1', encodeNpy(rand(n * 6), [n, 6])),
      404,
      'UNKNOWN_NETWORK',
    );
    assert.equal((await complete(id)).status, 202);
    const final = await finished(id);
    assert.deepEqual(
      final.checkpoints.map((c: { fraction: number }) => c.fraction),
      [0, 0.1, 1],
    );
    const last = await cell(id, 'rho', 2);
    for (const k of [0, 1])
      assert.ok(Math.abs(last[k][k] - 1) < 1e-5, `layer ${k} vs its final self: ${last[k][k]}`);
    const first = await cell(id, 'rho', 0);
    assert.ok(first[1][1] < 0.99, `random checkpoint 0 differs from the final one: ${first[1][1]}`);
    const fig = await svc.request(`/v1/experiments/${id}/figures/convergence.svg`);
    assert.equal(fig.status, 200, await fig.clone().text());
    // analysis and sharing, as for a trained experiment
    const analysis = await svc.request(`/v1/experiments/${id}/analysis`);
    const verdicts = await readJson<Analysis>(analysis);
    assert.equal(analysis.status, 200, JSON.stringify(verdicts));
    assert.deepEqual(
      verdicts.convergence.layers.map((l: { layer: string }) => l.layer),
      ['conv1', 'fc1'],
    );
    const share = await svc.request(`/v1/experiments/${id}/shares`, { method: 'POST' });
    assert.equal(share.status, 201);
    const { token } = await readJson<CreatedShare>(share);
    const shared = await svc.request(`/v1/experiments/${id}/tensor?measure=rho&checkpoint=2&share=${token}`, {
      key: null,
    });
    assert.equal(shared.status, 200);
    assert.deepEqual((await readJson<SliceOf<2>>(shared)).values, last);
    // completed: no more uploads
    await expectError(
      await put(id, 'specimen/0/fc1', encodeNpy(rand(n * 6), [n, 6])),
      409,
      'NOT_AWAITING_REPRESENTATIONS',
    );
  });

  it('refuses bad uploads with 422/413/404 and stores nothing from a cut-off upload', async () => {
    const n = 50;
    const id = await create({
      name: 'bad uploads',
      source: 'upload',
      samples: n,
      reference: { layers: ['a'] },
      specimen: { layers: ['b'] },
      checkpoints: [{ step: 0 }, { step: 10 }],
    });
    const good = (rows = n, cols = 4) =>
      encodeNpy(
        new Float64Array(rows * cols).map((_, i) => Math.sin(i)),
        [rows, cols],
      );
    const mismatch = await expectError<{ expected: number; actual: number }>(
      await put(id, 'specimen/0/b', good(n - 1)),
      422,
      'SAMPLE_COUNT_MISMATCH',
    );
    assert.deepEqual([mismatch.details.expected, mismatch.details.actual], [n, n - 1]);
    const nan = new Float32Array(n * 4).fill(1);
    nan[9] = Number.NaN;
    const bad = await expectError(
      await put(id, 'specimen/0/b', encodeNpy(nan, [n, 4])),
      422,
      'NON_FINITE_VALUE',
    );
    assert.deepEqual([bad.details.sample, bad.details.feature], [2, 1]);
    await expectError(
      await put(id, 'specimen/0/b', new TextEncoder().encode('not npy')),
      422,
      'NPY_BAD_MAGIC',
    );
    await expectError(await put(id, 'specimen/7/b', good()), 404, 'UNKNOWN_CHECKPOINT');
    await expectError(await put(id, 'specimen/step-5/b', good()), 404, 'UNKNOWN_CHECKPOINT');
    await expectError(await put(id, 'specimen/0/nope', good()), 404, 'UNKNOWN_LAYER');
    await expectError(await put(id, 'weights/0/b', good()), 404, 'UNKNOWN_NETWORK');
    await expectError(await put(id, 'reference/0/a', good()), 404, 'UNKNOWN_CHECKPOINT');
    // too large: announced by content-length, and streamed without one (chunked)
    const big = new Uint8Array(LIMIT + 1);
    const tooBig = await expectError(await put(id, 'specimen/0/b', big), 413, 'UPLOAD_TOO_LARGE');
    assert.equal(tooBig.details.limit, LIMIT);
    const header = encodeNpyHeader('float64', [n, 100, 100, 4]); // a valid header announcing 16 MB
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(header);
        for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(1_000_000));
        controller.close();
      },
    });
    await expectError(await put(id, 'specimen/0/b', stream), 413, 'UPLOAD_TOO_LARGE');

    // a cut-off upload: the client sends half the body; once the server holds it in a temporary
    // file, the client destroys its socket
    const full = good();
    const url = new URL(`${svc.base}/v1/experiments/${id}/activations/specimen/0/b`);
    const dir = join(svc.env['ARTIFACT_DIR'] as string, 'runs', uploadRunKey(id, 'specimen'), 'ckpt-0000');
    const files = () => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    };
    const req = httpRequest(url, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${svc.key}`,
        'content-type': 'application/octet-stream',
        'content-length': String(full.length),
      },
    });
    req.on('error', () => undefined);
    req.write(full.subarray(0, full.length >> 1));
    const partial = await waitFor(() => files().find((f) => f.endsWith('.tmp')), {
      timeoutMs: 10_000,
      what: 'the server to receive half the body',
    });
    assert.ok(partial.startsWith('b.npy.'), partial);
    req.destroy();
    await waitFor(() => files().length === 0, {
      timeoutMs: 10_000,
      what: 'the temporary file of the cut-off upload to be removed',
    });
    const missing = await expectError<{
      count: number;
      missing: Array<{ network: string; checkpoint: number; layer: string }>;
    }>(await complete(id), 422, 'REPRESENTATIONS_MISSING');
    assert.equal(missing.details.count, 3);
    assert.deepEqual(
      missing.details.missing.map(
        (m: { network: string; checkpoint: number; layer: string }) =>
          `${m.network}/${m.checkpoint}/${m.layer}`,
      ),
      ['reference/0/a', 'specimen/0/b', 'specimen/1/b'],
    );
    // a complete upload of the same representation succeeds; the experiment still awaits the rest
    assert.equal((await put(id, 'specimen/0/b', full)).status, 201);
    const still = await expectError(await complete(id), 422, 'REPRESENTATIONS_MISSING');
    assert.equal(still.details.count, 2);
    const row = await readJson<Experiment>(await svc.request(`/v1/experiments/${id}`));
    assert.equal(row.status, 'awaiting_representations');
    // bad specs are 400 naming the field; a trained experiment takes no uploads
    const badSpec = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify({
        name: 'x',
        source: 'upload',
        samples: 10,
        reference: { layers: ['1bad'] },
        specimen: 'same',
        checkpoints: [{ step: 0 }],
      }),
    });
    const badBody = await expectError(badSpec, 400, 'INVALID_REQUEST');
    assert.equal(badBody.details.field, 'body.reference.layers.0');
    const order = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify({
        name: 'x',
        source: 'upload',
        samples: 10,
        reference: { layers: ['a'] },
        specimen: 'same',
        checkpoints: [{ step: 5 }, { step: 1 }],
      }),
    });
    assert.equal((await expectError(order, 400, 'INVALID_SPEC')).details.field, 'checkpoints.1.step');
    // cancel while awaiting
    const cancel = await svc.request(`/v1/experiments/${id}/cancel`, { method: 'POST' });
    assert.equal(cancel.status, 202);
    assert.equal((await readJson<Experiment>(cancel)).status, 'canceled');
  });

  it("'positions' with a dense layer: complete names the sample counts; delete removes the uploads", async () => {
    const n = 20;
    const id = await create({
      name: 'positions',
      source: 'upload',
      samples: n,
      reference: { layers: ['conv1', 'fc1'] },
      specimen: 'same',
      checkpoints: [{ step: 3 }],
      similarity: { convMode: 'positions' },
    });
    const conv = await put(
      id,
      'specimen/0/conv1',
      encodeNpy(new Float32Array(n * 3 * 3 * 2).map(Math.sin), [n, 3, 3, 2]),
    );
    assert.deepEqual(
      (await readJson<Uploaded>(conv)).shape,
      [n * 9, 2],
      'every position of every example is a sample',
    );
    assert.equal(
      (await put(id, 'specimen/final/fc1', encodeNpy(new Float32Array(n * 5).map(Math.cos), [n, 5]))).status,
      201,
    );
    const mismatch = await expectError<{ samples: Record<string, unknown> }>(
      await complete(id),
      422,
      'SAMPLE_COUNT_MISMATCH',
    );
    assert.deepEqual(Object.keys(mismatch.details.samples).sort(), [String(n), String(n * 9)].sort());
    const runDir = join(svc.env['ARTIFACT_DIR'] as string, 'runs', uploadRunKey(id, 'specimen'));
    assert.deepEqual(readdirSync(join(runDir, 'ckpt-0000')).sort(), ['conv1.npy', 'fc1.npy']);
    assert.equal((await svc.request(`/v1/experiments/${id}`, { method: 'DELETE' })).status, 204);
    assert.throws(() => readdirSync(runDir), /ENOENT/);
  });
});
