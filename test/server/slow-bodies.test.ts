// Issue 14 items 2 and 4 over real sockets: a request body that stops sending is answered 408
// BODY_TIMEOUT and its connection closed (an upload's temporary file removed); a key has at most
// MAX_UPLOADS_PER_KEY uploads in flight (429 LIMIT_CONCURRENT_UPLOADS); a fake .npy header announcing
// 4 GB is refused from its first bytes (422 NPY_HEADER_TOO_LARGE). /health stays fast throughout.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNpyHeader } from '../../core/npy.ts';
import { FsRunArtifactStore, uploadRunKey } from '../../store/artifacts.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/env.ts';
import { assertHealthyHttp } from '../helpers/health.ts';
import { type ErrorBody, type ErrorWith, readJson, type UploadCreated } from '../helpers/json.ts';

const IDLE_MS = 600;

/** A raw HTTP/1.1 request whose body is sent only in part; resolves with what the server answered
 * when it closed the connection. */
function halfSent(port: number, path: string, headers: Record<string, string>, first: Uint8Array) {
  const socket: Socket = connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (d) => {
    answer += d.toString('latin1');
  });
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(answer)));
  socket.on('error', () => {});
  const head = [
    `PUT ${path} HTTP/1.1`,
    'host: 127.0.0.1',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  socket.write(first);
  return { socket, closed, answer: () => answer };
}

function npyPreamble(headerLen: number): Uint8Array {
  const out = new Uint8Array(12);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0], 0);
  new DataView(out.buffer).setUint32(8, headerLen, true);
  return out;
}

/** A valid .npy [4, 8] float32 (the experiment's 4 samples) cut after its header and two rows. */
function validStart(): Uint8Array {
  const header = encodeNpyHeader('float32', [4, 8]);
  const out = new Uint8Array(header.length + 2 * 8 * 4);
  out.set(header, 0);
  return out;
}

function tmpFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (entry.isFile() && entry.name.endsWith('.tmp')) out.push(join(entry.parentPath, entry.name));
  return out;
}

describe('slow and hostile request bodies', () => {
  let t: TestApp;
  let base: string;
  let port: number;

  before(async () => {
    t = await startApp({ BODY_IDLE_TIMEOUT_MS: String(IDLE_MS), MAX_UPLOADS_PER_KEY: '2' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as { port: number }).port;
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await t?.close();
  });

  async function uploadExperiment(): Promise<{ id: string; dir: string }> {
    const res = await fetch(`${base}/v1/experiments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'slow bodies',
        source: 'upload',
        samples: 4,
        reference: { layers: ['fc1'] },
        specimen: 'same',
        checkpoints: [{ step: 0 }, { step: 1 }],
      }),
    });
    const body = await readJson<UploadCreated>(res);
    assert.equal(res.status, 201, JSON.stringify(body));
    return {
      id: body.id,
      dir: new FsRunArtifactStore(t.config.artifactDir, uploadRunKey(body.id, 'specimen')).dir,
    };
  }

  const uploadHeaders = () => ({
    authorization: `Bearer ${t.key}`,
    'content-type': 'application/octet-stream',
    'content-length': '1000000',
  });

  it('cuts off an upload that stops sending: 408, connection closed, no temporary file left', async () => {
    const { id, dir } = await uploadExperiment();
    // a valid start of a .npy file (header and two rows), then nothing
    const started = Date.now();
    const req = halfSent(
      port,
      `/v1/experiments/${id}/activations/specimen/0/fc1`,
      uploadHeaders(),
      validStart(),
    );
    await waitFor(() => tmpFiles(dir).length > 0, { what: 'the upload to open its temporary file' });
    const answer = await req.closed;
    const ms = Date.now() - started;
    assert.match(answer, /^HTTP\/1\.1 408 /, answer);
    assert.match(answer, /"code":"BODY_TIMEOUT"/);
    assert.ok(ms < IDLE_MS + 10_000, `closed after ${ms} ms`);
    await waitFor(() => tmpFiles(dir).length === 0, { what: 'the temporary file to be removed' });
    await assertHealthyHttp(base);
  });

  it('opens no file for an upload that stops inside its .npy header', async () => {
    const { id, dir } = await uploadExperiment();
    // the preamble announces a 118-byte header that never comes
    const req = halfSent(
      port,
      `/v1/experiments/${id}/activations/specimen/0/fc1`,
      uploadHeaders(),
      npyPreamble(118),
    );
    const answer = await req.closed;
    assert.match(answer, /^HTTP\/1\.1 408 /, answer);
    // (opening the temporary file makes the run's directory: it was never made)
    assert.equal(existsSync(dir), false, 'no temporary file was ever opened');
  });

  it('cuts off a JSON body that stops sending', async () => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(
      `POST /v1/experiments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${t.key}\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"name":`,
    );
    await closed;
    assert.match(answer, /^HTTP\/1\.1 408 /, answer);
    await assertHealthyHttp(base);
  });

  it('allows MAX_UPLOADS_PER_KEY uploads in flight per key: the next answers 429', async () => {
    const { id, dir } = await uploadExperiment();
    const path = (c: number) => `/v1/experiments/${id}/activations/specimen/${c}/fc1`;
    const a = halfSent(port, path(0), uploadHeaders(), validStart());
    const b = halfSent(port, path(1), uploadHeaders(), validStart());
    await waitFor(() => tmpFiles(dir).length === 2, { what: 'two uploads in flight' });
    const third = await fetch(`${base}${path(0)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(64),
    });
    const body = await readJson<ErrorWith<{ limit: number }>>(third);
    assert.equal(third.status, 429, JSON.stringify(body));
    assert.equal(body.code, 'LIMIT_CONCURRENT_UPLOADS');
    assert.equal(body.details.limit, 2);
    // another key of another team is not affected
    const other = await t.newTeam();
    const theirs = await fetch(`${base}${path(0)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${other.key}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(64),
    });
    assert.equal(theirs.status, 404);
    await assertHealthyHttp(base);
    // once the slow ones are cut off, the key may upload again
    await Promise.all([a.closed, b.closed]);
    await waitFor(() => tmpFiles(dir).length === 0, { what: 'temporary files removed' });
    const again = await fetch(`${base}${path(0)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(64),
    });
    assert.equal(again.status, 422, await again.text());
  });

  it('refuses a .npy header announcing 4 GB from its first bytes (422 NPY_HEADER_TOO_LARGE)', async () => {
    const { id, dir } = await uploadExperiment();
    const spaces = new Uint8Array(8 * 1024 * 1024).fill(0x20);
    const body = new Uint8Array(12 + spaces.length);
    body.set(npyPreamble(0xfffffff0), 0);
    body.set(spaces, 12);
    const started = Date.now();
    const res = await fetch(`${base}/v1/experiments/${id}/activations/specimen/0/fc1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/octet-stream' },
      body,
    });
    const body422 = await readJson<ErrorBody>(res);
    assert.equal(res.status, 422, JSON.stringify(body422));
    assert.equal(body422.code, 'NPY_HEADER_TOO_LARGE');
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(tmpFiles(dir), []);
    await assertHealthyHttp(base);
    // nested 60,000 deep: 422, not 500
    const deep = `{'shape': ${'['.repeat(60_000)}`;
    const nested = new Uint8Array(12 + deep.length);
    nested.set(npyPreamble(deep.length), 0);
    for (let i = 0; i < deep.length; i++) nested[12 + i] = deep.charCodeAt(i);
    const res2 = await fetch(`${base}/v1/experiments/${id}/activations/specimen/0/fc1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/octet-stream' },
      body: nested,
    });
    const json2 = await readJson<ErrorBody>(res2);
    assert.equal(res2.status, 422, JSON.stringify(json2));
    assert.equal(json2.code, 'NPY_BAD_HEADER');
    await assertHealthyHttp(base);
  });
});
