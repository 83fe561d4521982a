// Issue 14 item 1: a slice names each layer and checkpoint at most once, and its size is checked
// against MAX_SLICE_CELLS / MAX_SLICE_BYTES before any cell is read — for keys, share links and
// experiments that are not computed yet alike.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedExperiment, startApp, type TestApp } from '../helpers/app.ts';
import { assertHealthy } from '../helpers/health.ts';

describe('tensor slice limits', () => {
  let t: TestApp;
  const get = (url: string) =>
    t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.key}` } });

  before(async () => {
    // the seeded tensor is 4 × 4 × 4 = 64 cells; layers are 8 wide
    t = await startApp({ MAX_SLICE_CELLS: '40', MAX_SLICE_BYTES: '4096' });
  });
  after(async () => {
    await t?.close();
  });

  it('refuses repeated layers and checkpoints with 400 DUPLICATE_INDEX naming the field', async () => {
    const exp = await seedExperiment(t);
    const many = (v: string, n: number) => Array.from({ length: n }, () => v).join(',');
    for (const [query, field] of [
      [`refLayer=${many('0', 600)}&specLayer=0&checkpoint=0`, 'refLayer'],
      ['refLayer=fc1,1&specLayer=0&checkpoint=0', 'refLayer'],
      [`refLayer=0&specLayer=${many('fc2', 200)}&checkpoint=0`, 'specLayer'],
      [`refLayer=0&specLayer=0&checkpoint=${many('3', 600)}`, 'checkpoint'],
    ] as const) {
      const res = await get(`/v1/experiments/${exp.id}/tensor?${query}`);
      assert.equal(res.statusCode, 400, `${query.slice(0, 40)}: ${res.body.slice(0, 200)}`);
      const body = res.json();
      assert.equal(body.code, 'DUPLICATE_INDEX');
      assert.equal(body.details.field, field);
      await assertHealthy(t.app);
    }
    // out of range: 400 naming the field, as before
    const out = await get(`/v1/experiments/${exp.id}/tensor?refLayer=9&checkpoint=0`);
    assert.equal(out.statusCode, 400);
    assert.equal(out.json().details.field, 'refLayer');
    const outT = await get(`/v1/experiments/${exp.id}/tensor?refLayer=0&checkpoint=0,7`);
    assert.equal(outT.statusCode, 400);
    assert.equal(outT.json().code, 'CHECKPOINT_OUT_OF_RANGE');
    await exp.cleanup();
  });

  it('refuses a slice above the cell or byte cap with 422 and the limit, keeps smaller ones', async () => {
    const exp = await seedExperiment(t);
    const all = await get(`/v1/experiments/${exp.id}/tensor?measure=rho`);
    assert.equal(all.statusCode, 422, all.body);
    assert.equal(all.json().code, 'LIMIT_SLICE_CELLS');
    assert.equal(all.json().details.limit, 40);
    assert.equal(all.json().details.value, 64);
    await assertHealthy(t.app);
    // 32 cells fit the cell cap
    const half = await get(`/v1/experiments/${exp.id}/tensor?refLayer=0,1&measure=rho&format=npy`);
    assert.equal(half.statusCode, 200, half.body);
    assert.equal(half.headers['x-repdyn-shape'], '2,4,4');
    // 32 cells × 8 coefficients as JSON: above 4 KiB
    const coefs = await get(`/v1/experiments/${exp.id}/tensor?refLayer=0,1&measure=coefficients`);
    assert.equal(coefs.statusCode, 422, coefs.body);
    assert.equal(coefs.json().code, 'LIMIT_SLICE_BYTES');
    assert.equal(coefs.json().details.limit, 4096);
    assert.ok(coefs.json().details.value > 4096);
    await assertHealthy(t.app);
    await exp.cleanup();
  });

  it('applies to share-link readers and to experiments not computed yet', async () => {
    for (const status of ['succeeded', 'awaiting_representations', 'computing'] as const) {
      const exp = await seedExperiment(t, { status, cells: status === 'succeeded' });
      const share = (
        await t.app.inject({
          method: 'POST',
          url: `/v1/experiments/${exp.id}/shares`,
          headers: { authorization: `Bearer ${t.key}` },
        })
      ).json();
      const base = `/v1/experiments/${exp.id}/tensor?share=${share.token}`;
      const dup = await t.app.inject({ url: `${base}&refLayer=0,0,0&specLayer=0&checkpoint=0` });
      assert.equal(dup.statusCode, 400, `${status}: ${dup.body}`);
      assert.equal(dup.json().code, 'DUPLICATE_INDEX');
      const big = await t.app.inject({ url: `${base}&measure=rho` });
      assert.equal(big.statusCode, 422, `${status}: ${big.body}`);
      assert.equal(big.json().code, 'LIMIT_SLICE_CELLS');
      const fine = await t.app.inject({ url: `${base}&refLayer=fc1&specLayer=fc2&checkpoint=1` });
      assert.equal(fine.statusCode, 200, `${status}: ${fine.body}`);
      await assertHealthy(t.app);
      await exp.cleanup();
    }
  });
});
