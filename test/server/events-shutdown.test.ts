// Shutting the API down ends the live progress streams: a web page following a queued experiment
// must not hold `app.close()` (and so SIGTERM) until that experiment finishes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from '../helpers/app.ts';
import { tinySpec } from '../helpers/service.ts';

describe('progress streams at shutdown', () => {
  let t: TestApp;

  before(async () => {
    t = await startApp();
  });

  after(async () => {
    await t?.close();
  });

  it('app.close() ends an open SSE stream at once; the client sees the stream end without an end event', async () => {
    const submitted = await t.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: { authorization: `Bearer ${t.key}` },
      payload: tinySpec({ name: 'stays queued' }),
    });
    assert.equal(submitted.statusCode, 202, submitted.body);
    const id = submitted.json().id as string;
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${base}/v1/experiments/${id}/events`, {
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    assert.match(first.value ?? '', /event: progress\ndata: \{"status":"queued"/);

    const started = Date.now();
    const closed = t.app.close().then(() => Date.now() - started);
    let rest = '';
    const drained = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return Date.now() - started;
        rest += value;
      }
    })();
    const timeout = new Promise<number>((r) => setTimeout(() => r(-1), 5_000).unref());
    const ms = await Promise.race([Promise.all([closed, drained]).then(([a, b]) => Math.max(a, b)), timeout]);
    if (ms < 0) await reader.cancel(); // let the close finish so the test fails instead of hanging
    assert.ok(ms >= 0, 'app.close() and the stream were still open after 5 s');
    assert.doesNotMatch(rest, /event: end/, 'the experiment did not end; the stream just closes');
  });
});
