// Limits answer before any work, each with a stable code: request body size (413), tensor size
// (422), per-key rate limit (429 + Retry-After/RateLimit headers), unfinished experiments per team
// (429). In-process app on the real Postgres/Redis, no worker: accepted experiments stay queued.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../config/index.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { freePort, startRedis, stopProcess, waitFor } from '../helpers/env.ts';
import { tinySpec } from '../helpers/service.ts';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function submit(t: TestApp, key: string, body: unknown) {
  return t.app.inject({
    method: 'POST',
    url: '/v1/experiments',
    headers: { ...bearer(key), 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function state(t: TestApp, teamId: string) {
  const counts = await t.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  return {
    rows: await t.db.experiment.count({ where: { teamId } }),
    jobs: Object.values(counts).reduce((a, b) => a + b, 0),
  };
}

describe('limits', () => {
  it('has defaults high enough for the CLI and tests', () => {
    const c = loadConfig({});
    assert.ok(c.rateLimit.max >= 1000 && c.rateLimit.windowMs === 60_000);
    assert.ok(c.limits.activeExperiments >= 10);
    assert.deepEqual(c.corsOrigins, []);
    assert.equal(loadConfig({ RATE_LIMIT_MAX: '0' }).rateLimit.max, 0);
    assert.throws(() => loadConfig({ CORS_ORIGINS: 'app.example' }), /CORS_ORIGINS/);
    assert.equal(loadConfig({}).trustProxy, false);
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, [
      '10.0.0.0/8',
      '127.0.0.1',
    ]);
    assert.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1);
    assert.throws(() => loadConfig({ TRUST_PROXY: 'proxy.example' }), /TRUST_PROXY/);
    assert.throws(() => loadConfig({ MAX_ACTIVE_EXPERIMENTS: '0' }), /MAX_ACTIVE_EXPERIMENTS/);
  });

  describe('body size and tensor size', () => {
    let t: TestApp;
    before(async () => {
      t = await startApp({ MAX_BODY_BYTES: '2048', MAX_TENSOR_CELLS: '50' });
    });
    after(async () => {
      await t?.close();
    });

    it('refuses a body over MAX_BODY_BYTES with 413 BODY_TOO_LARGE, and creates nothing', async () => {
      const before = await state(t, t.teamId);
      const big = JSON.stringify({ ...tinySpec(), name: 'x'.repeat(3000) });
      const res = await submit(t, t.key, big);
      assert.equal(res.statusCode, 413, res.body);
      assert.equal(res.json().code, 'BODY_TOO_LARGE');
      assert.equal(res.json().statusCode, 413);
      // a declared length over the limit is refused before the body is read
      const declared = await t.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        headers: { ...bearer(t.key), 'content-type': 'application/json', 'content-length': '10000000' },
        payload: '{}',
      });
      assert.equal(declared.statusCode, 413, declared.body);
      assert.deepEqual(await state(t, t.teamId), before);
    });

    it('refuses a tensor over MAX_TENSOR_CELLS with 422 LIMIT_TENSOR_CELLS and the estimate', async () => {
      const before = await state(t, t.teamId);
      // 4 layers x 4 layers x 4 checkpoints = 64 cells > 50
      const res = await submit(t, t.key, tinySpec());
      assert.equal(res.statusCode, 422, res.body);
      const err = res.json();
      assert.equal(err.code, 'LIMIT_TENSOR_CELLS');
      assert.equal(err.details.estimate.cells, 64);
      const v = err.details.violations.find((x: { code: string }) => x.code === 'LIMIT_TENSOR_CELLS');
      assert.equal(v.limit, 50);
      assert.deepEqual(await state(t, t.teamId), before);
      // 3 checkpoints: 48 cells fit
      const ok = await submit(t, t.key, tinySpec({ name: 'fits' }));
      const small = tinySpec();
      small.reference.checkpoints.count = 3;
      const fits = await submit(t, t.key, small);
      assert.equal(ok.statusCode, 422);
      assert.equal(fits.statusCode, 202, fits.body);
      assert.equal((await state(t, t.teamId)).rows, before.rows + 1);
    });
  });

  describe('rate limit', () => {
    let t: TestApp;
    before(async () => {
      t = await startApp({ RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000' });
    });
    after(async () => {
      await t?.close();
    });

    it('answers 429 RATE_LIMITED with Retry-After and RateLimit headers, per key, before any work', async () => {
      const list = (headers: Record<string, string>) =>
        t.app.inject({ method: 'GET', url: '/v1/experiments', headers });
      for (let i = 0; i < 5; i++) {
        const res = await list(bearer(t.key));
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['ratelimit-limit'], '5');
        assert.equal(res.headers['ratelimit-remaining'], String(4 - i));
      }
      const before = await state(t, t.teamId);
      for (const res of [await list(bearer(t.key)), await submit(t, t.key, tinySpec())]) {
        assert.equal(res.statusCode, 429, res.body);
        const err = res.json();
        assert.equal(err.code, 'RATE_LIMITED');
        assert.equal(err.details.limit, 5);
        const retry = Number(res.headers['retry-after']);
        assert.ok(retry > 0 && retry <= 60, `retry-after ${res.headers['retry-after']}`);
        assert.equal(res.headers['ratelimit-remaining'], '0');
        assert.ok(Number(res.headers['ratelimit-reset']) > 0);
      }
      assert.deepEqual(await state(t, t.teamId), before, 'the refused submission did nothing');
      // another key (even of the same team) has its own budget
      const other = await t.newTeam();
      const res = await list(bearer(other.key));
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['ratelimit-remaining'], '4');
      // health checks are not limited
      for (let i = 0; i < 8; i++) assert.equal((await t.app.inject('/health')).statusCode, 200);
    });

    it('throttles failed authentications by client address', async () => {
      const attempt = (remoteAddress: string, key: string | null) =>
        t.app.inject({
          method: 'GET',
          url: '/v1/experiments',
          remoteAddress,
          headers: key ? bearer(key) : {},
        });
      for (let i = 0; i < 5; i++) {
        const res = await attempt('10.0.0.7', i % 2 ? null : 'rdk_000000000000_notarealkeynotarealkey');
        assert.equal(res.statusCode, 401, res.body);
        assert.equal(res.headers['ratelimit-remaining'], String(4 - i));
      }
      const blocked = await attempt('10.0.0.7', null);
      assert.equal(blocked.statusCode, 429, blocked.body);
      assert.equal(blocked.json().code, 'RATE_LIMITED');
      assert.equal((await attempt('10.0.0.8', null)).statusCode, 401, 'another address has its own budget');
      // a valid key from the throttled address still works: its own budget
      const team = await t.newTeam();
      assert.equal((await attempt('10.0.0.7', team.key)).statusCode, 200);
    });
  });

  it('shares one budget per key across API processes (counted in Redis)', async () => {
    const prefix = `repdyn-test-shared-${randomBytes(4).toString('hex')}`;
    const env = { RATE_LIMIT_MAX: '4', RATE_LIMIT_WINDOW_MS: '60000', QUEUE_PREFIX: prefix };
    const a = await startApp(env);
    const b = await startApp(env);
    try {
      const list = (app: TestApp) =>
        app.app.inject({ method: 'GET', url: '/v1/experiments', headers: bearer(a.key) });
      const remaining = [];
      for (const app of [a, b, a, b]) {
        const res = await list(app);
        assert.equal(res.statusCode, 200, res.body);
        remaining.push(res.headers['ratelimit-remaining']);
      }
      assert.deepEqual(remaining, ['3', '2', '1', '0']);
      assert.equal((await list(b)).statusCode, 429, 'the fifth request, on either process');
      assert.equal((await list(a)).statusCode, 429);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('does not throttle (nor refuse) reads while Redis is away', async () => {
    const port = await freePort();
    const redisServer = await startRedis(port);
    const t = await startApp({ RATE_LIMIT_MAX: '2', REDIS_URL: `redis://127.0.0.1:${port}` });
    try {
      const list = () => t.app.inject({ method: 'GET', url: '/v1/experiments', headers: bearer(t.key) });
      assert.equal((await list()).statusCode, 200);
      await stopProcess(redisServer);
      await waitFor(() => t.redis.status !== 'ready', { what: 'the API to notice Redis is gone' });
      for (let i = 0; i < 4; i++) {
        const res = await list();
        assert.equal(res.statusCode, 200, `read ${i} without Redis: ${res.body}`);
      }
    } finally {
      await stopProcess(redisServer);
      await t.close();
    }
  });

  it('takes the client address from X-Forwarded-For only behind a trusted proxy (TRUST_PROXY)', async () => {
    for (const [trust, separate] of [
      ['127.0.0.1', true],
      ['', false],
    ] as const) {
      const t = await startApp({ RATE_LIMIT_MAX: '2', TRUST_PROXY: trust });
      try {
        const from = (client: string) =>
          t.app.inject({
            url: '/v1/experiments',
            remoteAddress: '127.0.0.1',
            headers: { 'x-forwarded-for': client },
          });
        await from('192.0.2.1');
        await from('192.0.2.1');
        const other = await from('192.0.2.2');
        assert.equal(other.statusCode, separate ? 401 : 429, `TRUST_PROXY=${trust}: ${other.body}`);
      } finally {
        await t.close();
      }
    }
  });

  describe('unfinished experiments per team', () => {
    let t: TestApp;
    before(async () => {
      t = await startApp({ MAX_ACTIVE_EXPERIMENTS: '2' });
    });
    after(async () => {
      await t?.close();
    });

    it('answers 429 LIMIT_ACTIVE_EXPERIMENTS at the limit and accepts again when one finishes', async () => {
      const a = await submit(t, t.key, tinySpec({ name: 'a' }));
      const b = await submit(t, t.key, tinySpec({ name: 'b' }));
      assert.equal(a.statusCode, 202, a.body);
      assert.equal(b.statusCode, 202, b.body);
      const before = await state(t, t.teamId);
      assert.deepEqual(before, { rows: 2, jobs: 2 });
      const c = await submit(t, t.key, tinySpec({ name: 'c' }));
      assert.equal(c.statusCode, 429, c.body);
      const err = c.json();
      assert.equal(err.code, 'LIMIT_ACTIVE_EXPERIMENTS');
      assert.deepEqual([err.details.limit, err.details.active], [2, 2]);
      assert.deepEqual(await state(t, t.teamId), before, 'nothing created or queued');
      // other teams are not affected
      const other = await t.newTeam();
      assert.equal((await submit(t, other.key, tinySpec({ name: 'o' }))).statusCode, 202);
      // canceling one frees a slot
      const cancel = await t.app.inject({
        method: 'POST',
        url: `/v1/experiments/${a.json().id}/cancel`,
        headers: bearer(t.key),
      });
      assert.equal(cancel.statusCode, 202, cancel.body);
      assert.equal((await submit(t, t.key, tinySpec({ name: 'd' }))).statusCode, 202);
    });

    it('does not overshoot under concurrent submissions', async () => {
      const team = await t.newTeam();
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => submit(t, team.key, tinySpec({ name: `p${i}` }))),
      );
      const codes = answers.map((r) => r.statusCode).sort();
      assert.deepEqual(codes, [202, 202, 429, 429, 429, 429], answers.map((r) => r.body).join('\n'));
      assert.equal((await state(t, team.teamId)).rows, 2);
    });
  });
});
