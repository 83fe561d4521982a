// The tensor-slice hot path: slices of a finished tensor come from a cache after a one-query access
// check, so the check must still apply on every request (other team, revoked share, deleted
// experiment), and unfinished tensors are never cached.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedExperiment, startApp, type TestApp } from '../helpers/app.ts';

describe('tensor slices from the cache', () => {
  let t: TestApp;
  const get = (url: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.key}`, ...headers } });

  before(async () => {
    t = await startApp();
  });
  after(async () => {
    await t?.close();
  });

  it('answers a repeated slice identically, and 304 to its ETag', async () => {
    const exp = await seedExperiment(t);
    for (const q of [
      'measure=rho&checkpoint=3',
      'measure=coefficients&refLayer=fc1',
      'format=npy',
      'format=csv',
    ]) {
      const url = `/v1/experiments/${exp.id}/tensor?${q}`;
      const a = await get(url);
      const b = await get(url);
      assert.equal(a.statusCode, 200, a.body);
      assert.equal(b.statusCode, 200);
      assert.ok(a.rawPayload.equals(b.rawPayload), q);
      for (const h of ['content-type', 'etag', 'cache-control', 'x-repdyn-shape', 'content-disposition'])
        assert.equal(b.headers[h], a.headers[h], `${q}: ${h}`);
      const again = await get(url, { 'if-none-match': String(a.headers.etag) });
      assert.equal(again.statusCode, 304);
    }
    const rho = (await get(`/v1/experiments/${exp.id}/tensor?measure=rho&checkpoint=3`)).json();
    assert.deepEqual(rho.shape, [4, 4]);
    assert.equal(rho.values[2][2], 1);
    assert.ok(Math.abs(rho.values[0][1] - (0.2 + 0.05 * 4)) < 1e-12);
    await exp.cleanup();
  });

  it('still checks access on every request: other teams, share tokens, revocation, deletion', async () => {
    const exp = await seedExperiment(t);
    const url = `/v1/experiments/${exp.id}/tensor?measure=rho`;
    assert.equal((await get(url)).statusCode, 200); // cached now
    const other = await t.newTeam();
    const theirs = await t.app.inject({ url, headers: { authorization: `Bearer ${other.key}` } });
    assert.equal(theirs.statusCode, 404);
    assert.equal((await t.app.inject({ url })).statusCode, 401);
    const share = (
      await t.app.inject({
        method: 'POST',
        url: `/v1/experiments/${exp.id}/shares`,
        headers: { authorization: `Bearer ${t.key}` },
      })
    ).json();
    const shared = await t.app.inject({ url: `${url}&share=${share.token}` });
    assert.equal(shared.statusCode, 200);
    assert.deepEqual(shared.json(), (await get(url)).json());
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: `/v1/experiments/${exp.id}/shares/${share.id}`,
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(revoke.statusCode, 204);
    assert.equal((await t.app.inject({ url: `${url}&share=${share.token}` })).statusCode, 404);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/experiments/${exp.id}`,
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(del.statusCode, 204);
    assert.equal((await get(url)).statusCode, 404, 'a deleted experiment is gone from the cache too');
    await exp.cleanup();
  });

  it('never caches an unfinished tensor', async () => {
    const exp = await seedExperiment(t, { status: 'computing', cells: false });
    const url = `/v1/experiments/${exp.id}/tensor?measure=rho&checkpoint=0`;
    const before = await get(url);
    assert.equal(before.statusCode, 200, before.body);
    assert.equal(before.headers['cache-control'], 'no-store');
    assert.equal(before.headers.etag, undefined);
    assert.equal(before.json().values[0][0], null);
    await t.db.cell.create({
      data: {
        experimentId: exp.id,
        refLayer: 0,
        specLayer: 0,
        checkpoint: 0,
        rho: 0.75,
        mean: 0.75,
        rankRef: 1,
        rankSpec: 1,
        coefficients: new Uint8Array(4),
      },
    });
    assert.equal((await get(url)).json().values[0][0], 0.75);
    await exp.cleanup();
  });
});
