// The generated client (openapi/schema.d.ts + openapi-fetch) drives the real API and worker processes:
// submit the example body, poll to succeeded, read a tensor slice — all typed from the OpenAPI document.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../../openapi/schema.d.ts';
import { waitFor } from '../helpers/env.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

describe('generated OpenAPI client end to end', () => {
  let svc: Service;
  let client: Client<paths>;

  before(async () => {
    svc = await startService();
    client = createClient<paths>({ baseUrl: svc.base, headers: { authorization: `Bearer ${svc.key}` } });
  });

  after(async () => {
    await svc?.stop();
  });

  it('submits, polls to succeeded and reads a tensor slice', async () => {
    const submitted = await client.POST('/v1/experiments', {
      body: tinySpec() as paths['/v1/experiments']['post']['requestBody']['content']['application/json'],
    });
    assert.equal(submitted.response.status, 202, JSON.stringify(submitted.error));
    assert.ok(submitted.data && 'id' in submitted.data, 'a submission, not a dry run');
    const id = submitted.data.id;
    assert.match(id, /^[0-9a-f-]{36}$/);

    const final = await waitFor(
      async () => {
        const { data, error } = await client.GET('/v1/experiments/{id}', { params: { path: { id } } });
        if (error) throw new Error(JSON.stringify(error));
        return ['succeeded', 'failed', 'canceled'].includes(data.status) ? data : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: 'experiment to finish' },
    );
    assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
    assert.equal(final.id, id);
    const L = final.layers.reference.length;

    const slice = await client.GET('/v1/experiments/{id}/tensor', {
      params: { path: { id }, query: { measure: 'rho', checkpoint: String(final.checkpoints.length - 1) } },
    });
    assert.equal(slice.response.status, 200, JSON.stringify(slice.error));
    const body = slice.data as { shape: number[]; axes: string[]; values: number[][] };
    assert.deepEqual(body.shape, [L, L]);
    assert.deepEqual(body.axes, ['refLayer', 'specLayer']);
    for (let l = 0; l < L; l++) assert.ok(Math.abs(body.values[l][l] - 1) < 1e-6, `rho(layer ${l}, itself)`);

    // errors come back typed as the shared Error body
    const missing = await client.GET('/v1/experiments/{id}', {
      params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
    });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.error?.code, 'EXPERIMENT_NOT_FOUND');
  });
});
