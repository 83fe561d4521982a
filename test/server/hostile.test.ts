// Hostile requests that must each get a clear, bounded answer (issue 14, items 5-8): bad text and
// out-of-range integers answer 400 naming the field; share tokens never reach the log in any
// spelling; a hung Redis never slows reads (the rate-limit store gives up fast and stops asking);
// a client that disconnects mid-upload is logged as such; Fastify's own early errors answer the
// standard body with the security headers and count toward the rate limit.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { encodeNpyHeader } from '../../core/npy.ts';
import { loggerOptions } from '../../server/app.ts';
import { redactQuery } from '../../server/redact.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { testConfig, waitFor } from '../helpers/env.ts';
import { assertHealthy } from '../helpers/health.ts';
import { tinySpec, uploadSpec } from '../helpers/spec.ts';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A log sink: everything the API's logger writes, as text. */
function captureLog() {
  const sink = { text: '' };
  const stream = new Writable({
    write(chunk, _enc, done) {
      sink.text += chunk.toString();
      done();
    },
  });
  return { sink, logger: { ...(loggerOptions('info') as object), stream } };
}

function assertStandardError(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json();
  for (const key of ['statusCode', 'code', 'message']) assert.ok(key in body, `${key} in ${res.body}`);
  for (const key of Object.keys(body))
    assert.ok(['statusCode', 'code', 'message', 'details'].includes(key), key);
  assert.equal(body.statusCode, status);
  assert.equal(body.code, code, res.body);
  assert.equal(typeof body.message, 'string');
  assert.match(String(res.headers['content-security-policy']), /default-src 'self'/, 'CSP header');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
}

describe('bad text and integers answer 400 naming the field', () => {
  let t: TestApp;
  before(async () => {
    t = await startApp({ MAX_ACTIVE_EXPERIMENTS: '100' });
  });
  after(async () => {
    await t?.close();
  });

  const post = (body: unknown) =>
    t.app.inject({ method: 'POST', url: '/v1/experiments', headers: bearer(t.key), payload: body as object });

  it('refuses NUL characters and unpaired surrogates in names', async () => {
    for (const name of ['a\u0000b', '\ud800', 'x\udc00y', 'ok\ud83d']) {
      for (const body of [tinySpec({ name }), uploadSpec({ name })]) {
        const res = await post(body);
        assert.equal(res.statusCode, 400, `${JSON.stringify(name)}: ${res.body}`);
        const json = res.json();
        assert.equal(json.code, 'INVALID_REQUEST');
        assert.equal(json.details.field, 'body.name', res.body);
        assert.match(json.message, /^body\.name: must not contain NUL characters or unpaired/);
      }
    }
    // a well-formed astral character is fine
    const emoji = await post(uploadSpec({ name: 'rocket \ud83d\ude80' }));
    assert.equal(emoji.statusCode, 201, emoji.body);
    assert.equal(
      await t.db.experiment.count({ where: { teamId: t.teamId } }),
      1,
      'only the valid one stored',
    );
    await assertHealthy(t.app, 100, 'after bad text');
  });

  it('refuses integers the database columns cannot hold', async () => {
    const step = await post(uploadSpec({ checkpoints: [{ step: 0 }, { step: 3_000_000_000 }] }));
    assert.equal(step.statusCode, 400, step.body);
    assert.equal(step.json().details.field, 'body.checkpoints.1.step');
    const spec = tinySpec();
    const steps = await post({
      ...spec,
      reference: { ...spec.reference, checkpoints: { steps: [0, 2 ** 31] } },
    });
    assert.equal(steps.statusCode, 400, steps.body);
    assert.match(steps.json().details.field, /^body\.reference\.checkpoints/);
    const largest = await post(
      uploadSpec({ name: 'int32', checkpoints: [{ step: 0 }, { step: 2 ** 31 - 1 }] }),
    );
    assert.equal(largest.statusCode, 201, largest.body);
    await assertHealthy(t.app, 100, 'after out-of-range integers');
  });
});

describe('share tokens never reach the log', () => {
  let t: TestApp;
  const { sink, logger } = captureLog();
  before(async () => {
    t = await startApp({}, { logger } as never);
  });
  after(async () => {
    await t?.close();
  });

  it('redacts every spelling of share= from logged URLs (parsed, not by regex on the raw URL)', async () => {
    const id = randomUUID();
    const tokens: string[] = [];
    const tok = () => {
      const v = randomBytes(24).toString('base64url');
      tokens.push(v);
      return v;
    };
    const urls = [
      `/v1/experiments/${id}?share[]=${tok()}`,
      `/v1/experiments/${id}?share%5B%5D=${tok()}`,
      `/v1/experiments/${id}?share%5b%5d=${tok()}&x=1`,
      `/v1/experiments/${id}?share=${tok()}&share=${tok()}`,
      `/v1/experiments/${id}?a=1&Share=${tok()}`,
      `/v1/experiments/${id}?%73hare=${tok()}`,
      `/v1/experiments/${id}?sh%61re=${tok()}`,
      `/v1/experiments/${id}?share[x]=${tok()}`,
      `/v1/experiments/${id}?share%255B%255D=${tok()}`,
      `/v1/experiments/${id}/tensor?measure=rho&share=${tok()}`,
      `/v1/experiments/${id}?%ZZ&share=${tok()}`,
    ];
    for (const url of urls) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${url}: ${res.statusCode}`);
    }
    await waitFor(() => sink.text.split('incoming request').length > urls.length, {
      what: 'every request logged',
    });
    assert.match(sink.text, /\[redacted\]/);
    for (const token of tokens) assert.ok(!sink.text.includes(token), `token ${token} reached the log`);
    await assertHealthy(t.app, 100, 'after share-token spellings');
  });

  it('uses the same parsing to drop share tokens from cache keys', () => {
    assert.equal(redactQuery('/x?a=1&share%5B%5D=T&b=2', 'drop'), '/x?a=1&b=2');
    assert.equal(redactQuery('/x?share=T', 'drop'), '/x');
    assert.equal(redactQuery('/x?a=1&sh%61re=T', 'mask'), '/x?a=1&sh%61re=[redacted]');
    assert.equal(redactQuery('/x?measure=rho'), '/x?measure=rho');
  });
});

/**
 * A TCP proxy to the test Redis that can be switched to "hung": it keeps the connections open and
 * reads what clients send, but forwards nothing (like a Redis that accepts and never answers) until
 * resumed, when it forwards what it held back.
 */
async function hangableRedisProxy(target: URL) {
  const state = { hung: false, heldCommands: 0 };
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      if (!state.hung) upstream.write(chunk);
      else {
        state.heldCommands += (chunk.toString('latin1').match(/\*\d+\r\n/g) ?? []).length;
        held.push(() => upstream.write(chunk));
      }
    });
    upstream.on('data', (chunk) => client.write(chunk));
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    state,
    hang() {
      state.hung = true;
      state.heldCommands = 0;
    },
    resume() {
      state.hung = false;
      for (const send of held.splice(0)) send();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a hung Redis never slows reads', () => {
  let t: TestApp;
  let proxy: Awaited<ReturnType<typeof hangableRedisProxy>>;
  const { sink, logger } = captureLog();

  before(async () => {
    proxy = await hangableRedisProxy(new URL(testConfig().redisUrl));
    t = await startApp(
      {
        REDIS_URL: proxy.url,
        RATE_LIMIT_MAX: '1000',
        RATE_LIMIT_REDIS_TIMEOUT_MS: '50',
        RATE_LIMIT_REDIS_COOLDOWN_MS: '500',
      },
      { logger } as never,
    );
  });
  after(async () => {
    proxy?.resume();
    await t?.close();
    await proxy?.close();
  });

  const read = async () => {
    const started = performance.now();
    const res = await t.app.inject({ method: 'GET', url: '/v1/experiments', headers: bearer(t.key) });
    assert.equal(res.statusCode, 200, res.body);
    return { ms: performance.now() - started, res };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  it('gives up on the store within tens of ms, then stops asking it (circuit open), and recovers', async () => {
    const baseline: number[] = [];
    for (let i = 0; i < 10; i++) {
      const { ms, res } = await read();
      baseline.push(ms);
      assert.equal(res.headers['ratelimit-remaining'], String(1000 - i - 1), 'counted in Redis');
    }
    proxy.hang();
    const hungSince = performance.now();
    const hung: number[] = [];
    for (let i = 0; i < 20; i++) hung.push((await read()).ms);
    // Far from the limit, counts are batched (one INCRBY per 100 ms), so a read waits for Redis at
    // most once, for the store's timeout (50 ms); the others do not ask Redis at all. The first batch
    // sent to the hung Redis is given up after 50 ms and opens the circuit: however fast the reads
    // above were, that happens within the flush interval plus the timeout.
    await waitFor(() => /rate-limit store \(Redis\): no answer within 50 ms/.test(sink.text), {
      what: 'the store gave up on the hung Redis',
      timeoutMs: 5_000,
    });
    // and with the circuit open, reads still never wait for it
    for (let i = 0; i < 10; i++) hung.push((await read()).ms);
    const hungFor = performance.now() - hungSince;
    assert.ok(Math.max(...hung) < median(baseline) + 100 + 50, `hung reads ${hung.map(Math.round)} ms`);
    assert.ok(median(hung) < median(baseline) + 100, `hung ${median(hung)} vs ${median(baseline)} ms`);
    // one count before the circuit opened, then one probe per cooldown (500 ms) at most, not 30
    const probes = 1 + Math.ceil(hungFor / 500);
    assert.ok(
      proxy.state.heldCommands <= probes,
      `${proxy.state.heldCommands} commands sent to the hung Redis in ${Math.round(hungFor)} ms`,
    );
    assert.ok(proxy.state.heldCommands < 20);
    proxy.resume();
    // after the cooldown a request probes Redis again and requests are counted once more
    await waitFor(
      async () => {
        const { res } = await read();
        return Number(res.headers['ratelimit-remaining']) < 1000 - 10;
      },
      { what: 'rate limit counted again after Redis answers', timeoutMs: 20_000 },
    );
    await assertHealthy(t.app, 100, 'after Redis answered again');
  });
});

describe('a client that disconnects mid-upload', () => {
  let t: TestApp;
  const { sink, logger } = captureLog();
  before(async () => {
    t = await startApp({}, { logger } as never);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await t?.close();
  });

  it('is logged as an aborted upload, not as 503 POSTGRES_UNAVAILABLE', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: bearer(t.key),
      payload: uploadSpec(),
    });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().id;
    const port = (t.app.server.address() as { port: number }).port;
    const header = Buffer.from(encodeNpyHeader('float32', [8, 64]));
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `PUT /v1/experiments/${id}/activations/specimen/0/fc1 HTTP/1.1\r\nHost: x\r\n` +
        `Authorization: Bearer ${t.key}\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Length: ${header.length + 8 * 64 * 4}\r\n\r\n`,
    );
    socket.write(header);
    socket.write(Buffer.alloc(100));
    await waitFor(() => sink.text.includes('"url":"/v1/experiments/'), { what: 'request under way' });
    socket.destroy();
    await waitFor(() => sink.text.includes('upload aborted by the client'), { what: 'abort logged' });
    assert.ok(!sink.text.includes('POSTGRES_UNAVAILABLE'), sink.text.slice(-2000));
    const line = sink.text.split('\n').find((l) => l.includes('upload aborted by the client')) ?? '';
    assert.match(line, /"code":"CLIENT_ABORTED"/);
    assert.match(line, /"level":30/, 'info, not a warning');
    await assertHealthy(t.app, 100, 'after an aborted upload');
  });
});

describe("Fastify's own errors", () => {
  let t: TestApp;
  before(async () => {
    t = await startApp({ RATE_LIMIT_MAX: '6' }, {
      logger: false,
      requestTimeout: 400,
      // Node checks request deadlines every connectionsCheckingInterval; its header deadline
      // (headersTimeout, 60 s by default) must not exceed the request deadline
      http: { connectionsCheckingInterval: 50, headersTimeout: 300, requestTimeout: 400 },
    } as never);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await t?.close();
  });

  it('answer the standard body with the security headers and count toward the rate limit', async () => {
    const longId = await t.app.inject({ method: 'GET', url: `/v1/experiments/${'a'.repeat(120)}` });
    assertStandardError(longId, 414, 'PARAM_TOO_LONG');
    assert.equal(longId.headers['ratelimit-remaining'], '5');
    const badUrl = await t.app.inject({ method: 'GET', url: '/v1/experiments/%ZZ' });
    assertStandardError(badUrl, 400, 'BAD_URL');
    assert.equal(badUrl.headers['ratelimit-remaining'], '4');
    const notFound = await t.app.inject({ method: 'GET', url: '/v1/no-such-route' });
    assertStandardError(notFound, 404, 'NOT_FOUND');
    assert.equal(notFound.headers['ratelimit-remaining'], '3');
    const mediaType = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: { ...bearer(t.key), 'content-type': 'text/xml' },
      payload: '<spec/>',
    });
    assertStandardError(mediaType, 415, 'UNSUPPORTED_MEDIA_TYPE');
    // the same client address: its budget (6) is spent by these requests
    for (let i = 0; i < 3; i++) await t.app.inject({ method: 'GET', url: '/v1/experiments/%ZZ' });
    const limited = await t.app.inject({ method: 'GET', url: `/v1/experiments/${'b'.repeat(120)}` });
    assertStandardError(limited, 429, 'RATE_LIMITED');
    assert.ok(limited.headers['retry-after']);
    await assertHealthy(t.app, 100, "after Fastify's own errors");
  });

  it('answer a body that does not arrive in time with 408 and the standard body', async () => {
    const port = (t.app.server.address() as { port: number }).port;
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(
      `POST /v1/experiments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.key}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":',
    );
    await closed;
    const [head, body] = answer.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 408 /, answer);
    assert.match(head, /content-security-policy: default-src 'self'/i);
    assert.match(head, /x-content-type-options: nosniff/i);
    assert.deepEqual(JSON.parse(body), {
      statusCode: 408,
      code: 'REQUEST_TIMEOUT',
      message: 'the request (headers and body) did not arrive in time',
    });
    await assertHealthy(t.app, 100, 'after a request timeout');
  });
});
