// Security of the API (in-process app on the real Postgres/Redis): every /v1 route needs a key,
// refuses revoked and other teams' keys, and takes share tokens for GET only; keys and share tokens
// are stored hashed and never logged; security headers with a CSP that keeps /docs working; CORS
// off by default and configurable.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { loggerOptions } from '../../server/app.ts';
import { createKey, revokeKey } from '../../store/auth.ts';
import { advance } from '../../store/experiments.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { tinySpec } from '../helpers/service.ts';

interface Param {
  in: string;
  name: string;
  required?: boolean;
  schema?: { type?: string; enum?: unknown[]; anyOf?: Array<{ const?: unknown; enum?: unknown[] }> };
}

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE' | 'PUT' | 'PATCH' | 'OPTIONS';

/** Routes without an :id that any valid key may call (their answers are scoped to the key's team). */
const TEAM_ROUTES = new Set([
  'GET /v1/experiments',
  'HEAD /v1/experiments',
  'POST /v1/experiments',
  'GET /v1/keys',
  'HEAD /v1/keys',
  'POST /v1/keys',
  'DELETE /v1/keys/:keyId',
  'GET /v1/presets',
  'HEAD /v1/presets',
]);
/** Routes without an :id that a key or a live share token may read (the service's rules, no team data). */
const PUBLIC_READS = new Set(['GET /v1/meta', 'HEAD /v1/meta']);
/** GET routes of one experiment that a share token may not call (they are about the team's keys). */
const KEY_ONLY_READS = new Set(['GET /v1/experiments/:id/shares', 'HEAD /v1/experiments/:id/shares']);

describe('API security', () => {
  let t: TestApp;
  let log = '';
  let expA: string; // team A's experiment (canceled, so SSE ends at once)
  let expA2: string; // another of team A's experiments
  let shareA: { id: string; token: string };
  let revoked: string;
  let other: { key: string; teamId: string };

  const call = (method: Method, url: string, headers: Record<string, string> = {}, payload?: unknown) =>
    t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        log += chunk.toString();
        done();
      },
    });
    const logger = { ...(loggerOptions('trace') as object), stream: sink };
    t = await startApp({ MAX_ACTIVE_EXPERIMENTS: '100' }, { logger } as never);
    other = await t.newTeam();
    const submit = async (name: string) => {
      const res = await call('POST', '/v1/experiments', bearer(t.key), tinySpec({ name }));
      assert.equal(res.statusCode, 202, res.body);
      return res.json().id as string;
    };
    expA = await submit('a');
    expA2 = await submit('a2');
    await advance(t.db, expA, 'canceled', { message: 'test' });
    const share = await call('POST', `/v1/experiments/${expA}/shares`, bearer(t.key));
    assert.equal(share.statusCode, 201, share.body);
    shareA = share.json();
    revoked = (await createKey(t.db, (await t.db.team.findUniqueOrThrow({ where: { id: t.teamId } })).name))
      .key;
    assert.ok(await revokeKey(t.db, revoked));
  });

  after(async () => {
    await t?.close();
  });

  /** Every registered /v1 route (method, url pattern). */
  function v1Routes(): Array<{ method: Method; url: string }> {
    const seen = new Set<string>();
    return t.app.registeredRoutes
      .filter((r) => r.url.startsWith('/v1'))
      .filter((r) => !seen.has(`${r.method} ${r.url}`) && seen.add(`${r.method} ${r.url}`))
      .map((r) => ({ method: r.method as Method, url: r.url }));
  }

  /** A concrete URL for a route pattern: path parameters filled, required query parameters given. */
  function fill(url: string, id: string): string {
    const path = url
      .replace(':id', id)
      .replace(/:(\w+)/g, (_, name) => (name === 'shareId' ? shareA.id : randomUUID()));
    const openapiPath = url.replace(/:(\w+)/g, '{$1}');
    const doc = t.app.swagger() as { paths: Record<string, Record<string, { parameters?: Param[] }>> };
    const params = doc.paths[openapiPath]?.get?.parameters ?? [];
    const query = params
      .filter((p) => p.in === 'query' && p.required)
      .map((p) => {
        const s = p.schema ?? {};
        const v =
          s.enum?.[0] ??
          s.anyOf?.[0]?.enum?.[0] ??
          s.anyOf?.[0]?.const ??
          (s.type === 'integer' ? 0 : 'input');
        return `${p.name}=${encodeURIComponent(String(v))}`;
      });
    return query.length > 0 ? `${path}?${query.join('&')}` : path;
  }

  it('enumerates the /v1 routes (the list below cannot miss a new one)', () => {
    const routes = v1Routes().map((r) => `${r.method} ${r.url}`);
    assert.ok(routes.length >= 12, routes.join('\n'));
    for (const expected of [
      'POST /v1/experiments',
      'GET /v1/experiments/:id/tensor',
      'DELETE /v1/experiments/:id/shares/:shareId',
      'GET /v1/experiments/:id/figures/heatmaps.svg',
    ])
      assert.ok(routes.includes(expected), `${expected} in ${routes.join(', ')}`);
    for (const r of v1Routes()) {
      const label = `${r.method} ${r.url}`;
      const known = r.url.includes(':id') || TEAM_ROUTES.has(label) || PUBLIC_READS.has(label);
      assert.ok(known, `${label}: add its authorisation expectations to this test`);
    }
  });

  it('answers 401 on every /v1 route without a key, with a malformed, unknown or revoked key', async () => {
    for (const r of v1Routes()) {
      const url = fill(r.url, expA);
      const cases: Array<[Record<string, string>, string]> = [
        [{}, 'MISSING_API_KEY'],
        [{ authorization: 'Basic dXNlcjpwYXNz' }, 'INVALID_API_KEY'],
        [bearer('rdk_000000000000_notarealkeynotarealkey'), 'INVALID_API_KEY'],
        [bearer(`${t.key.slice(0, -4)}AAAA`), 'INVALID_API_KEY'], // right key id, wrong secret
        [bearer(revoked), 'INVALID_API_KEY'],
      ];
      for (const [headers, code] of cases) {
        const res = await call(r.method, url, headers, r.method === 'POST' ? tinySpec() : undefined);
        assert.equal(res.statusCode, 401, `${r.method} ${url} ${JSON.stringify(headers)}: ${res.body}`);
        if (r.method !== 'HEAD') assert.equal(res.json().code, code, `${r.method} ${url}`);
      }
    }
    assert.equal(await t.db.experiment.count({ where: { teamId: t.teamId } }), 2, 'nothing created');
  });

  it("hides a team's experiments from another team's key (404 on every :id route)", async () => {
    for (const r of v1Routes().filter((x) => x.url.includes(':id'))) {
      const url = fill(r.url, expA);
      const res = await call(r.method, url, bearer(other.key));
      assert.equal(res.statusCode, 404, `${r.method} ${url}: ${res.body}`);
      if (r.method !== 'HEAD') assert.equal(res.json().code, 'EXPERIMENT_NOT_FOUND', `${r.method} ${url}`);
    }
    const list = await call('GET', '/v1/experiments', bearer(other.key));
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json().items, []);
    const mine = await call('GET', '/v1/experiments', bearer(t.key));
    assert.equal(mine.json().items.length, 2);
    assert.equal((await t.db.share.findMany({ where: { experimentId: expA, revokedAt: null } })).length, 1);
    assert.equal(await t.db.experiment.count({ where: { id: { in: [expA, expA2] } } }), 2, 'still there');
  });

  it('takes a share token for GET routes of its own experiment only', async () => {
    for (const r of v1Routes()) {
      const share = `share=${encodeURIComponent(shareA.token)}`;
      const withShare = (u: string) => `${u}${u.includes('?') ? '&' : '?'}${share}`;
      const own = await call(r.method, withShare(fill(r.url, expA)));
      const label = `${r.method} ${r.url}`;
      if (KEY_ONLY_READS.has(label)) {
        assert.equal(own.statusCode, 401, `${label} with a share token: ${own.body}`);
      } else if (PUBLIC_READS.has(label)) {
        assert.equal(own.statusCode, 200, `${label} with a live share token: ${own.body}`);
        const bogus = await call(r.method, `${r.url}?share=not-a-token`);
        assert.equal(bogus.statusCode, 401, `${label} with an unknown share token: ${bogus.body}`);
      } else if (r.method === 'GET' || r.method === 'HEAD') {
        if (r.url.includes(':id')) {
          assert.ok(
            ![401, 403, 404].includes(own.statusCode) || /REPRESENTATION|SHARE/.test(own.body),
            label,
          );
          assert.ok(own.statusCode < 500, `${label}: ${own.statusCode} ${own.body}`);
          const elsewhere = await call(r.method, withShare(fill(r.url, expA2)));
          assert.equal(elsewhere.statusCode, 404, `${label} on another experiment: ${elsewhere.body}`);
        } else {
          // team routes need a key: a share token alone is not a team
          assert.equal(own.statusCode, 401, `${label}: ${own.body}`);
        }
      } else {
        assert.equal(own.statusCode, 401, `${label} with a share token: ${own.body}`);
      }
    }
    const bogus = await call('GET', `/v1/experiments/${expA}?share=not-a-token`);
    assert.equal(bogus.statusCode, 404);
    assert.equal(await t.db.experiment.count({ where: { id: expA } }), 1, 'a share token cannot delete');
  });

  it('stores keys and share tokens only as SHA-256 hashes; share tokens carry ≥ 128 random bits', async () => {
    const keys = await t.db.apiKey.findMany({ where: { teamId: t.teamId } });
    const sha = (s: string) => createHash('sha256').update(s).digest();
    assert.ok(keys.some((k) => Buffer.from(k.hash).equals(sha(t.key))));
    for (const k of keys) {
      assert.equal(k.hash.byteLength, 32);
      assert.ok(!JSON.stringify(k).includes(t.key.split('_').slice(2).join('_')), 'the secret is not stored');
    }
    assert.ok(Buffer.from(shareA.token, 'base64url').byteLength >= 16, 'share token ≥ 128 bits');
    const share = await t.db.share.findUniqueOrThrow({ where: { id: shareA.id } });
    assert.ok(Buffer.from(share.tokenHash).equals(sha(shareA.token)));
    const again = (await call('POST', `/v1/experiments/${expA}/shares`, bearer(t.key))).json();
    assert.notEqual(again.token, shareA.token, 'tokens are random');
  });

  it('never writes a key or share token to the log', async () => {
    await call('GET', '/v1/experiments', bearer(t.key));
    await call('GET', `/v1/experiments/${randomUUID()}`, bearer(t.key));
    await call('POST', '/v1/experiments', bearer(t.key), { name: 1 });
    await call('GET', `/v1/experiments/${expA}?share=${shareA.token}`);
    await call('GET', `/v1/experiments/${expA}/tensor?share=${shareA.token}&measure=nope`);
    await call('GET', '/v1/experiments', bearer(revoked));
    assert.match(log, /incoming request/, 'the log captured requests');
    assert.match(log, /\/v1\/experiments/);
    for (const secret of [t.key, other.key, revoked, shareA.token]) {
      assert.ok(!log.includes(secret), 'a secret reached the log');
      assert.ok(!log.includes(secret.slice(-16)), 'part of a secret reached the log');
    }
  });

  it('sends security headers; the CSP keeps /docs same-origin and working', async () => {
    for (const url of ['/health', '/v1/experiments', '/docs/static/index.html', '/openapi.json']) {
      const res = await call('GET', url, bearer(t.key));
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/, url);
      assert.match(csp, /script-src 'self'(;|$)/, url);
      assert.match(csp, /object-src 'none'/, url);
      assert.match(csp, /img-src 'self' data: blob:/, url);
      assert.match(csp, /script-src-attr 'none'/, url);
      assert.match(csp, /frame-ancestors 'self'/, url);
      assert.doesNotMatch(csp, /upgrade-insecure-requests/, url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
      assert.equal(res.headers['x-powered-by'], undefined, url);
    }
    let docs: LightMyRequestResponse = await call('GET', '/docs');
    for (let hops = 0; docs.statusCode >= 300 && docs.statusCode < 400 && hops < 3; hops++) {
      docs = await call('GET', new URL(String(docs.headers.location), 'http://x/docs/').pathname);
    }
    assert.equal(docs.statusCode, 200);
    const scripts = [...docs.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length >= 2, 'Swagger UI loads its scripts');
    for (const [, attrs, inline] of scripts) {
      const src = /src="([^"]+)"/.exec(attrs)?.[1];
      assert.ok(src && !/^(https?:)?\/\//.test(src), `same-origin script: ${attrs}`);
      assert.equal(inline.trim(), '', 'no inline script (blocked by the CSP)');
      const asset = await call('GET', new URL(src, 'http://x/docs/static/').pathname);
      assert.equal(asset.statusCode, 200, src);
    }
  });

  it('sends no CORS headers by default', async () => {
    const pre = await call('OPTIONS', '/v1/experiments', {
      origin: 'https://elsewhere.example',
      'access-control-request-method': 'POST',
    });
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    const get = await call('GET', '/v1/experiments', {
      ...bearer(t.key),
      origin: 'https://elsewhere.example',
    });
    assert.equal(get.statusCode, 200);
    assert.equal(get.headers['access-control-allow-origin'], undefined);
  });
});

describe('CORS when configured', () => {
  let t: TestApp;
  before(async () => {
    t = await startApp({ CORS_ORIGINS: 'https://app.example,http://localhost:3000' });
  });
  after(async () => {
    await t?.close();
  });

  it('allows the configured origins (preflight and actual request) and no others', async () => {
    const pre = await t.app.inject({
      method: 'OPTIONS',
      url: '/v1/experiments',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(pre.statusCode, 204, pre.body);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
    assert.match(String(pre.headers['access-control-allow-headers']), /authorization/);
    assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
    const get = await t.app.inject({
      method: 'GET',
      url: '/v1/experiments',
      headers: { authorization: `Bearer ${t.key}`, origin: 'http://localhost:3000' },
    });
    assert.equal(get.statusCode, 200);
    assert.equal(get.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.match(String(get.headers['access-control-expose-headers']), /retry-after/);
    const evil = await t.app.inject({
      method: 'GET',
      url: '/v1/experiments',
      headers: { authorization: `Bearer ${t.key}`, origin: 'https://evil.example' },
    });
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
  });
});
