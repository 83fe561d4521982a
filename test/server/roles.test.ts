// Key roles (server/roles.ts): members read, submit, upload, cancel, share and list shares; admins
// also delete experiments, revoke share links and manage keys. Every /v1 route is tried with both
// roles. Share links count against the budget of the key that minted them, and live links per
// experiment are capped, listable and revocable.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ADMIN_ROUTES, routeRole } from '../../server/roles.ts';
import { createKey } from '../../store/auth.ts';
import { seedExperiment, startApp, type TestApp } from '../helpers/app.ts';
import { tinySpec } from '../helpers/service.ts';

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE' | 'PUT';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('key roles', () => {
  let t: TestApp;
  let member: string;
  let memberKeyId: string;

  before(async () => {
    t = await startApp({ MAX_ACTIVE_EXPERIMENTS: '100', MAX_SHARE_TOKENS: '3', RATE_LIMIT_MAX: '100000' });
    const team = await t.db.team.findUniqueOrThrow({ where: { id: t.teamId } });
    ({ key: member, keyId: memberKeyId } = await createKey(t.db, team.name, { role: 'member' }));
  });
  after(async () => {
    await t?.close();
  });

  const call = (method: Method, url: string, key: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: bearer(key),
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });

  /** Every /v1 route, once. */
  function v1Routes(): Array<{ method: Method; url: string }> {
    const seen = new Set<string>();
    return t.app.registeredRoutes
      .filter((r) => r.url.startsWith('/v1'))
      .filter((r) => !seen.has(`${r.method} ${r.url}`) && seen.add(`${r.method} ${r.url}`))
      .map((r) => ({ method: r.method as Method, url: r.url }));
  }

  /** A fresh target for one call: an experiment of the team, a live share of it, a spare key. */
  async function target(url: string) {
    const exp = await seedExperiment(t);
    const share = await t.db.share.create({
      data: { experimentId: exp.id, tokenHash: new Uint8Array(Buffer.from(randomUUID())) },
    });
    const team = await t.db.team.findUniqueOrThrow({ where: { id: t.teamId } });
    const spare = await createKey(t.db, team.name, { name: 'spare' });
    const filled = url
      .replace(':id', exp.id)
      .replace(':shareId', share.id)
      .replace(':keyId', spare.keyId)
      .replace(':network', 'specimen')
      .replace(':checkpoint', '0')
      .replace(':layer', 'fc1');
    const query = /\/activations$/.test(url)
      ? '?network=specimen&checkpoint=0&layer=fc1'
      : /\/tensor$/.test(url)
        ? '?measure=rho'
        : '';
    return { url: `${filled}${query}`, exp };
  }

  const body = (method: Method, url: string) =>
    method === 'POST' && url === '/v1/experiments'
      ? tinySpec({ name: 'role' })
      : method === 'POST' && url === '/v1/keys'
        ? { name: 'minted', role: 'member' }
        : undefined;

  it('lets members call every route but the admin ones (403 FORBIDDEN_ROLE, nothing done)', async () => {
    const routes = v1Routes();
    for (const admin of ADMIN_ROUTES)
      assert.ok(
        routes.some((r) => `${r.method} ${r.url}` === admin),
        admin,
      );
    for (const r of routes) {
      const label = `${r.method} ${r.url}`;
      const { url, exp } = await target(r.url);
      const res = await call(r.method, url, member, body(r.method, r.url));
      if (routeRole(r.method, r.url) === 'admin') {
        assert.equal(res.statusCode, 403, `${label}: ${res.body}`);
        if (r.method !== 'HEAD') {
          assert.equal(res.json().code, 'FORBIDDEN_ROLE');
          assert.equal(res.json().details.required, 'admin');
        }
      } else {
        assert.notEqual(res.statusCode, 403, `${label}: ${res.body}`);
        assert.ok(res.statusCode < 500, `${label}: ${res.statusCode} ${res.body}`);
      }
      await exp.cleanup();
    }
    // nothing an admin route does happened for the member
    assert.equal(await t.db.share.count({ where: { revokedAt: { not: null } } }), 0);
  });

  it('lets admins call every route', async () => {
    for (const r of v1Routes()) {
      const { url, exp } = await target(r.url);
      const res = await call(r.method, url, t.key, body(r.method, r.url));
      assert.notEqual(res.statusCode, 403, `${r.method} ${r.url}: ${res.body}`);
      assert.ok(res.statusCode < 500, `${r.method} ${r.url}: ${res.statusCode} ${res.body}`);
      await exp.cleanup();
    }
  });

  it('deletes experiments for admins only', async () => {
    const exp = await seedExperiment(t);
    const refused = await call('DELETE', `/v1/experiments/${exp.id}`, member);
    assert.equal(refused.statusCode, 403);
    assert.equal(await t.db.experiment.count({ where: { id: exp.id } }), 1, 'still there');
    const cancel = await call('POST', `/v1/experiments/${exp.id}/cancel`, member);
    assert.equal(cancel.statusCode, 409, 'members may cancel (this one is finished)');
    assert.equal((await call('DELETE', `/v1/experiments/${exp.id}`, t.key)).statusCode, 204);
    assert.equal(await t.db.experiment.count({ where: { id: exp.id } }), 0);
    await exp.cleanup();
  });

  it('mints, lists and revokes keys for admins only', async () => {
    assert.equal((await call('POST', '/v1/keys', member, { name: 'x' })).statusCode, 403);
    assert.equal((await call('GET', '/v1/keys', member)).statusCode, 403);
    assert.equal((await call('HEAD', '/v1/keys', member)).statusCode, 403, 'HEAD is its GET');
    const minted = await call('POST', '/v1/keys', t.key, { name: 'ci', role: 'member' });
    assert.equal(minted.statusCode, 201, minted.body);
    const key = minted.json();
    assert.match(key.key, /^rdk_[0-9a-f]{12}_/);
    assert.equal(key.role, 'member');
    assert.equal((await call('GET', '/v1/experiments', key.key)).statusCode, 200, 'the new key works');
    const list = (await call('GET', '/v1/keys', t.key)).json();
    assert.ok(list.items.some((k: { id: string }) => k.id === key.id));
    assert.ok(!JSON.stringify(list).includes(key.key), 'keys are never listed');
    assert.equal((await call('DELETE', `/v1/keys/${key.id}`, member)).statusCode, 403);
    assert.equal((await call('DELETE', `/v1/keys/${key.id}`, t.key)).statusCode, 204);
    assert.equal((await call('GET', '/v1/experiments', key.key)).statusCode, 401, 'revoked');
    const other = await t.newTeam();
    const foreign = await call('DELETE', `/v1/keys/${memberKeyId}`, other.key);
    assert.equal(foreign.statusCode, 404, "another team's key is not found");
    const bad = await call('POST', '/v1/keys', t.key, { name: 'a\u0000b' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().details.field, 'body.name');
  });

  it('caps live share links per experiment; lists them without tokens; admins revoke them', async () => {
    const exp = await seedExperiment(t);
    const url = `/v1/experiments/${exp.id}/shares`;
    const made = [];
    for (let i = 0; i < 3; i++) {
      const res = await call('POST', url, member);
      assert.equal(res.statusCode, 201, res.body);
      made.push(res.json());
    }
    assert.equal(made[0].keyId, memberKeyId, 'the minting key is recorded');
    const over = await call('POST', url, member);
    assert.equal(over.statusCode, 429, over.body);
    assert.equal(over.json().code, 'LIMIT_SHARE_TOKENS');
    assert.equal(over.json().details.limit, 3);
    const list = await call('GET', url, member);
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      list
        .json()
        .items.map((s: { id: string }) => s.id)
        .sort(),
      made.map((s) => s.id).sort(),
    );
    for (const s of made) assert.ok(!list.body.includes(s.token), 'tokens are never listed');
    const byToken = await t.app.inject({ method: 'GET', url: `${url}?share=${made[0].token}` });
    assert.equal(byToken.statusCode, 401, 'a share token cannot list the links');
    assert.equal((await call('DELETE', `${url}/${made[0].id}`, member)).statusCode, 403);
    assert.equal((await call('DELETE', `${url}/${made[0].id}`, t.key)).statusCode, 204);
    const revoked = await t.app.inject({
      method: 'GET',
      url: `/v1/experiments/${exp.id}?share=${made[0].token}`,
    });
    assert.equal(revoked.statusCode, 404, 'a revoked link reads nothing');
    assert.equal((await call('POST', url, member)).statusCode, 201, 'room for one again');
    await exp.cleanup();
  });
});

describe('share links and the rate limit', () => {
  let t: TestApp;
  before(async () => {
    t = await startApp({ RATE_LIMIT_MAX: '8', MAX_SHARE_TOKENS: '10' });
  });
  after(async () => {
    await t?.close();
  });

  it('count against the budget of the key that minted them, not one of their own', async () => {
    const exp = await seedExperiment(t);
    const tokens: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/experiments/${exp.id}/shares`,
        headers: bearer(t.key),
      });
      assert.equal(res.statusCode, 201, res.body);
      tokens.push(res.json().token);
    }
    // 4 of the key's 8 requests are spent; 4 reads through 4 different links spend the rest
    for (const token of tokens) {
      const res = await t.app.inject({ method: 'GET', url: `/v1/experiments/${exp.id}?share=${token}` });
      assert.equal(res.statusCode, 200, res.body);
    }
    const link = await t.app.inject({ method: 'GET', url: `/v1/experiments/${exp.id}?share=${tokens[0]}` });
    assert.equal(link.statusCode, 429, 'a fresh link buys no more requests');
    const key = await t.app.inject({ method: 'GET', url: '/v1/experiments', headers: bearer(t.key) });
    assert.equal(key.statusCode, 429, "the links spent the minting key's budget");
    assert.equal(key.json().code, 'RATE_LIMITED');
    await exp.cleanup();
  });
});
