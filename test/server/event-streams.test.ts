// Issue 14 item 3 (progress streams): /events streams are capped per key or share link (429) and
// per process (503), send a heartbeat comment, and end after EVENT_STREAM_MAX_SECONDS even on an
// experiment awaiting uploads; many open streams share one poller and keep the API responsive.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';
import { assertHealthyHttp } from '../helpers/health.ts';
import { type ErrorBody, type ErrorWith, readJson, type UploadCreated } from '../helpers/json.ts';

describe('progress stream limits', () => {
  let t: TestApp;
  let base: string;
  const controllers: AbortController[] = [];

  before(async () => {
    t = await startApp({
      MAX_EVENT_STREAMS_PER_KEY: '3',
      MAX_EVENT_STREAMS: '5',
      EVENT_STREAM_MAX_SECONDS: '3',
      EVENT_HEARTBEAT_MS: '200',
    });
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    for (const c of controllers) c.abort();
    await t?.close();
  });

  async function awaiting(key: string): Promise<string> {
    const res = await fetch(`${base}/v1/experiments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'awaiting',
        source: 'upload',
        samples: 4,
        reference: { layers: ['fc1'] },
        specimen: 'same',
        checkpoints: [{ step: 0 }, { step: 1 }],
      }),
    });
    const body = await readJson<UploadCreated>(res);
    assert.equal(res.status, 201, JSON.stringify(body));
    return body.id;
  }

  async function open(id: string, key: string) {
    const controller = new AbortController();
    controllers.push(controller);
    const res = await fetch(`${base}/v1/experiments/${id}/events`, {
      headers: { authorization: `Bearer ${key}` },
      signal: controller.signal,
    });
    return { res, controller };
  }

  async function readAll(res: Response): Promise<{ text: string; ms: number }> {
    const started = Date.now();
    let text = '';
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text, ms: Date.now() - started };
      text += value;
    }
  }

  it('caps streams per key (429) and per process (503), with codes', async () => {
    const id = await awaiting(t.key);
    const mine = await Promise.all([open(id, t.key), open(id, t.key), open(id, t.key)]);
    for (const s of mine) assert.equal(s.res.status, 200);
    const fourth = await open(id, t.key);
    assert.equal(fourth.res.status, 429);
    const body = await readJson<ErrorWith<{ limit: number }>>(fourth.res);
    assert.equal(body.code, 'LIMIT_EVENT_STREAMS_PER_KEY');
    assert.equal(body.details.limit, 3);

    const other = await t.newTeam();
    const theirId = await awaiting(other.key);
    const theirs = await Promise.all([open(theirId, other.key), open(theirId, other.key)]);
    for (const s of theirs) assert.equal(s.res.status, 200);
    const sixth = await open(theirId, other.key);
    assert.equal(sixth.res.status, 503);
    assert.equal((await readJson<ErrorBody>(sixth.res)).code, 'LIMIT_EVENT_STREAMS');
    await assertHealthyHttp(base);

    // closing one frees a place
    mine[0]!.controller.abort();
    await mine[0]!.res.body?.cancel().catch(() => undefined);
    for (const s of [...mine.slice(1), ...theirs]) s.controller.abort();
  });

  it('sends heartbeat comments and ends after the maximum lifetime on an experiment awaiting uploads', async () => {
    const id = await awaiting(t.key);
    // places free up once the server sees the aborted streams close
    let s = await open(id, t.key);
    for (let i = 0; i < 50 && s.res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await open(id, t.key);
    }
    assert.equal(s.res.status, 200);
    const { text, ms } = await readAll(s.res);
    assert.match(text, /event: progress\ndata: \{"status":"awaiting_representations"/);
    assert.match(text, /: keep-alive\n\n/);
    assert.doesNotMatch(text, /event: end/);
    assert.ok(ms >= 2_000 && ms < 20_000, `the stream lasted ${ms} ms (max lifetime 3 s)`);
    await assertHealthyHttp(base);
  });
});
