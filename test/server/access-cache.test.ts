// The access cache (store/access-cache.ts): repeated keys, share tokens and finished experiments are
// answered from memory, yet a revocation or deletion takes effect at once when this API made it and
// within moments when another process did (the admin CLI, a second API: here, straight SQL), and
// nothing is cached while the LISTEN connection is down.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AccessCache } from '../../store/access-cache.ts';
import { createTeamKey } from '../../store/auth.ts';
import { seedExperiment, startApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/env.ts';

describe('access cache', () => {
  let t: TestApp;
  const get = (url: string, key?: string) =>
    t.app.inject({ method: 'GET', url, headers: key ? { authorization: `Bearer ${key}` } : {} });

  before(async () => {
    t = await startApp({}, { logger: false }, { accessCache: true });
  });
  after(async () => {
    await t?.close();
  });

  it('answers repeated checks from memory; a revocation by another process ends them within moments', async () => {
    const cache = t.accessCache!;
    assert.ok(cache.live);
    const exp = await seedExperiment(t);
    const { key, row } = await createTeamKey(t.db, t.teamId, { name: 'reader', role: 'member' });
    const url = `/v1/experiments/${exp.id}/tensor?measure=rho&checkpoint=3`;
    // Any change anywhere in this database clears the whole cache by NOTIFY (other test files share
    // the database), so "answered from memory" is asserted on a pair of reads no notification came
    // between.
    let second: { loads: number; hits: number } | null = null;
    for (let attempt = 0; attempt < 20 && !second; attempt++) {
      const heard = cache.stats.notified;
      assert.equal((await get(url, key)).statusCode, 200);
      const { loads, hits } = cache.stats;
      assert.equal((await get(url, key)).statusCode, 200);
      if (cache.stats.notified === heard)
        second = { loads: cache.stats.loads - loads, hits: cache.stats.hits - hits };
    }
    assert.ok(second, 'no pair of reads without a notification between them in 20 tries');
    assert.equal(second.loads, 0, 'the second read made no database lookup');
    assert.ok(second.hits >= 2, `principal and head answered from memory (${second.hits} hits)`);
    // a refused write (404: no such key) changed nothing and clears nothing
    const asked = cache.stats.invalidated;
    const refused = await t.app.inject({
      method: 'DELETE',
      url: '/v1/keys/00000000-0000-4000-8000-000000000000',
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(refused.statusCode, 404, refused.body);
    assert.equal(cache.stats.invalidated, asked, 'a refused write cleared nothing');

    // revoked by another process (straight SQL, as the admin CLI does)
    const revokedAt = Date.now();
    await t.db.apiKey.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
    await waitFor(async () => (await get(url, key)).statusCode === 401, {
      timeoutMs: 5_000,
      what: 'the revoked key refused',
    });
    const took = Date.now() - revokedAt;
    assert.ok(took < 2_000, `refused ${took} ms after the revocation`);

    // a share token, then its revocation and the experiment's deletion by another process
    const share = (
      await t.app.inject({
        method: 'POST',
        url: `/v1/experiments/${exp.id}/shares`,
        headers: { authorization: `Bearer ${t.key}` },
      })
    ).json() as { id: string; token: string };
    const shared = `${url}&share=${share.token}`;
    assert.equal((await get(shared)).statusCode, 200);
    assert.equal((await get(shared)).statusCode, 200);
    await t.db.share.update({ where: { id: share.id }, data: { revokedAt: new Date() } });
    await waitFor(async () => (await get(shared)).statusCode === 404, {
      timeoutMs: 5_000,
      what: 'revoked share',
    });
    assert.equal((await get(url, t.key)).statusCode, 200);
    await t.db.experiment.delete({ where: { id: exp.id } });
    await waitFor(async () => (await get(url, t.key)).statusCode === 404, {
      timeoutMs: 5_000,
      what: 'deleted experiment',
    });
    await exp.cleanup();
  });

  it("this API's own revocation and deletion take effect on the very next request", async () => {
    const exp = await seedExperiment(t);
    const { key, row } = await createTeamKey(t.db, t.teamId, { name: 'doomed', role: 'member' });
    const url = `/v1/experiments/${exp.id}/tensor?measure=rho`;
    assert.equal((await get(url, key)).statusCode, 200);
    assert.equal((await get(url, key)).statusCode, 200);
    const asked = t.accessCache!.stats.invalidated;
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: `/v1/keys/${row.id}`,
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(revoke.statusCode, 204, revoke.body);
    assert.equal(t.accessCache!.stats.invalidated, asked + 1, 'the write cleared the cache');
    assert.equal((await get(url, key)).statusCode, 401, 'no wait: the write cleared the cache');
    assert.equal((await get(url, t.key)).statusCode, 200);
    const gone = await t.app.inject({
      method: 'DELETE',
      url: `/v1/experiments/${exp.id}`,
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(gone.statusCode, 204, gone.body);
    assert.equal((await get(url, t.key)).statusCode, 404);
    await exp.cleanup();
  });

  it('keeps nothing while its connection is down, nor an answer loaded while a change arrived', async () => {
    let lost = 0;
    const cache = new AccessCache(t.config.databaseUrl, { reconnectMs: 50, onLost: () => lost++ });
    let loads = 0;
    const load = async () => ++loads;
    assert.equal(await cache.through('k', load, () => true), 1);
    assert.equal(await cache.through('k', load, () => true), 2, 'not started: every lookup loads');
    await cache.start();
    assert.ok(cache.live);
    assert.equal(await cache.through('k', load, () => true), 3);
    assert.equal(await cache.through('k', load, () => true), 3, 'cached');
    assert.equal(await cache.through('refused', load, () => false), 4);
    assert.equal(await cache.through('refused', load, () => false), 5, 'keep() refused it');
    // a change arrives while a lookup is loading: its answer is not kept
    const racing = await cache.through(
      'race',
      async () => {
        cache.invalidate();
        return ++loads;
      },
      () => true,
    );
    assert.equal(await cache.through('race', load, () => true), racing + 1);
    // the connection dies (terminated by the server): bypassed until it is back, then empty
    assert.ok(cache.size > 0);
    await t.db.$executeRawUnsafe(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'repdyn-access-cache' AND datname = current_database()`,
    );
    await waitFor(() => lost > 0 && cache.live, { timeoutMs: 10_000, what: 'lost, then reconnected' });
    assert.equal(cache.size, 0, 'empty after a reconnect');
    await cache.stop();
    assert.ok(!cache.live);
  });
});
