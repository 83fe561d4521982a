// The `repdyn` API commands against the real API and worker: submit --wait, list (pages, --all,
// --json), status, watch to every terminal status, slice, figures, share, delete, and non-zero exits
// carrying the server's error code.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeNpy } from '../../core/npy.ts';
import { freePort, repoRoot, waitFor } from '../helpers/env.ts';
import { readJson, type Submitted } from '../helpers/json.ts';
import { type Service, startService, tinySpec } from '../helpers/service.ts';

function repdyn(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'repdyn.js'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

describe('repdyn API commands', () => {
  let svc: Service;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    svc = await startService();
    dir = mkdtempSync(join(tmpdir(), 'repdyn-cli-'));
    env = { REPDYN_URL: svc.base, REPDYN_API_KEY: svc.key };
  });

  after(async () => {
    await svc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('submits and waits, then lists, slices, draws figures and shares', async () => {
    const spec = join(dir, 'tiny.json');
    writeFileSync(spec, JSON.stringify(tinySpec({ name: 'cli' })));
    const sub = await repdyn(['submit', spec, '--wait'], env);
    assert.equal(sub.code, 0, sub.err);
    const id = sub.out.split('\n')[0].trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.match(sub.out, /succeeded/);

    const list = await repdyn(['list', '--status', 'succeeded'], env);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, new RegExp(id));

    const status = await repdyn(['status', id], env);
    assert.equal(JSON.parse(status.out).status, 'succeeded');

    const npyFile = join(dir, 'rho.npy');
    const slice = await repdyn(
      ['slice', id, '--ref', 'fc1,fc2', '--checkpoint', '3', '--format', 'npy', '-o', npyFile],
      env,
    );
    assert.equal(slice.code, 0, slice.err);
    assert.deepEqual(decodeNpy(readFileSync(npyFile)).shape, [2, 4]);

    const figures = await repdyn(['figures', id, '-o', join(dir, 'figs')], env);
    assert.equal(figures.code, 0, figures.err);
    assert.match(readFileSync(join(dir, 'figs', 'figure2-convergence.svg'), 'utf8'), /^<svg/);

    const share = await repdyn(['share', id], env);
    assert.equal(share.code, 0, share.err);
    const url = share.out.trim();
    const m = new RegExp(`^${svc.base}/#/experiments/${id}\\?share=([\\w-]+)$`).exec(url);
    assert.ok(m, `a web page link: ${url}`);
    assert.equal((await fetch(url)).status, 200, 'the page opens');
    const api = await fetch(`${svc.base}/v1/experiments/${id}?share=${m[1]}`);
    assert.equal(api.status, 200, 'the link token reads the experiment without a key');

    const shares = await repdyn(['shares', id], env);
    assert.equal(shares.code, 0, shares.err);
    const [shareId] = shares.out.trim().split(/\s+/);
    assert.match(shareId, /^[0-9a-f-]{36}$/, shares.out);
    assert.ok(!shares.out.includes(m[1]), 'the token is not listed');
    const unshare = await repdyn(['unshare', id, shareId], env);
    assert.equal(unshare.code, 0, unshare.err);
    const gone = await fetch(`${svc.base}/v1/experiments/${id}?share=${m[1]}`);
    assert.equal(gone.status, 404, 'a revoked link reads nothing');
  });

  it('lists page by page with --limit/--cursor, all at once with --all, and as JSON', async () => {
    const team = await svc.newTeam();
    const teamEnv = { ...env, REPDYN_API_KEY: team.key };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await svc.request('/v1/experiments', {
        method: 'POST',
        key: team.key,
        body: JSON.stringify(tinySpec({ name: `page-${i}` })),
      });
      assert.equal(res.status, 202);
      const id = (await readJson<Submitted>(res)).id;
      ids.push(id);
      // queued experiments would hold the worker: cancel them (they stay listed)
      assert.equal(
        (await svc.request(`/v1/experiments/${id}/cancel`, { method: 'POST', key: team.key })).status,
        202,
      );
    }
    const newestFirst = [...ids].reverse();

    const first = await repdyn(['list', '--limit', '2'], teamEnv);
    assert.equal(first.code, 0, first.err);
    const firstIds = first.out
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(firstIds, newestFirst.slice(0, 2));
    const more = /--cursor (\S+)/.exec(first.err);
    assert.ok(more, `a hint to the next page on stderr: ${first.err}`);

    const second = await repdyn(['list', '--limit', '2', '--cursor', more[1], '--json'], teamEnv);
    assert.equal(second.code, 0, second.err);
    const page = JSON.parse(second.out);
    assert.deepEqual(
      page.items.map((e: { id: string }) => e.id),
      newestFirst.slice(2),
    );
    assert.equal(page.nextCursor, null);

    const all = await repdyn(['list', '--all', '--limit', '1', '--json'], teamEnv);
    assert.equal(all.code, 0, all.err);
    assert.deepEqual(
      JSON.parse(all.out).items.map((e: { id: string }) => e.id),
      newestFirst,
    );

    const refused = await repdyn(['list', '--limit', '0'], teamEnv);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /--limit must be an integer from 1 to 200/);
    const unknown = await repdyn(['list', '--bogus'], teamEnv);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /Unknown option '--bogus'/);
  });

  it('watch ends on a cancel without an ETA (exit 3), and delete removes the experiment', async () => {
    const spec = tinySpec({ name: 'cli-cancel' });
    spec.reference.training.epochs = 40;
    spec.reference.training.trainExamples = 4096;
    const res = await svc.request('/v1/experiments', { method: 'POST', body: JSON.stringify(spec) });
    assert.equal(res.status, 202);
    const { id } = await readJson<Submitted>(res);
    const watching = repdyn(['watch', id], env);
    await waitFor(
      async () => {
        const e = (await (await svc.request(`/v1/experiments/${id}`)).json()) as {
          status: string;
          progress: { etaSeconds: number | null };
        };
        return e.status === 'training' && e.progress.etaSeconds !== null;
      },
      { timeoutMs: 60_000, what: 'training with an ETA' },
    );
    const cancel = await repdyn(['cancel', id], env);
    assert.equal(cancel.code, 0, cancel.err);
    const watched = await watching;
    assert.equal(watched.code, 3, watched.err);
    const last = watched.out.trim().split('\n').at(-1) ?? '';
    assert.match(last, /canceled/);
    assert.doesNotMatch(last, /ETA/);
    assert.match(watched.err, /canceled/);

    const json = await repdyn(['watch', id, '--json'], env);
    assert.equal(json.code, 3);
    assert.equal(JSON.parse(json.out.trim()).status, 'canceled', 'one JSON line, nothing else');

    const del = await repdyn(['delete', id], env);
    assert.equal(del.code, 0, del.err);
    assert.equal(del.out.trim(), 'deleted');
    assert.equal((await svc.request(`/v1/experiments/${id}`)).status, 404);
    const again = await repdyn(['delete', id], env);
    assert.equal(again.code, 1);
    assert.match(again.err, /404 EXPERIMENT_NOT_FOUND/);
  });

  it('estimate: the dry run in words or as JSON, storing nothing', async () => {
    const team = await svc.newTeam();
    const teamEnv = { ...env, REPDYN_API_KEY: team.key };
    const spec = join(dir, 'estimate.json');
    writeFileSync(spec, JSON.stringify(tinySpec({ name: 'estimate' })));
    const words = await repdyn(['estimate', spec], teamEnv);
    assert.equal(words.code, 0, words.err);
    assert.match(words.out, /^time {5}~\d+ s \(training \d+ s, capture \d+ s, tensor \d+ s\)$/m);
    assert.match(words.out, /^memory {3}~\d+ MB, disk ~\d+ MB$/m);
    assert.match(words.out, /^tensor {3}\d+ cells over 4 checkpoints$/m);
    const asJson = await repdyn(['estimate', spec, '--json'], teamEnv);
    assert.equal(asJson.code, 0, asJson.err);
    const dry = JSON.parse(asJson.out);
    assert.equal(dry.dryRun, true);
    assert.equal(dry.estimate.checkpoints, 4);
    assert.ok(Array.isArray(dry.warnings));
    const listed = await repdyn(['list', '--json'], teamEnv);
    assert.deepEqual(JSON.parse(listed.out).items, [], 'nothing was submitted');

    writeFileSync(spec, JSON.stringify(tinySpec({ name: 'estimate', probe: { examples: 1e9 } })));
    const refused = await repdyn(['estimate', spec], teamEnv);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^repdyn estimate: 4\d\d [A-Z_]+: /);
  });

  it('presets: each named architecture with its layers and defaults', async () => {
    const words = await repdyn(['presets'], env);
    assert.equal(words.code, 0, words.err);
    assert.match(
      words.out,
      /^mnist-fc \(mnist\): input \[784\] → fc1 \[500\] → fc2 \[500\] → fc3 \[500\] → logits \[10\]$/m,
    );
    assert.match(words.out, /^cifar10-conv \(cifar10\): input \[3072\] → conv1 \[32768\]/m);
    assert.match(words.out, /^ {2}defaults: 10 epochs, batch 128, sgd lr 0.01; 20 log checkpoints$/m);
    const asJson = await repdyn(['presets', '--json'], env);
    assert.deepEqual(
      JSON.parse(asJson.out).map((p: { name: string }) => p.name),
      ['mnist-fc', 'cifar10-conv'],
    );
  });

  it('exits non-zero with the server error code', async () => {
    const missing = await repdyn(['status', '00000000-0000-4000-8000-000000000000'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /404 EXPERIMENT_NOT_FOUND/);
    const noKey = await repdyn(['list'], { REPDYN_URL: svc.base, REPDYN_API_KEY: '' });
    assert.equal(noKey.code, 2);
    assert.match(noKey.err, /REPDYN_API_KEY/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ name: 'bad' }));
    const refused = await repdyn(['submit', bad], env);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /400 INVALID_REQUEST/);
  });
});

// What only a misbehaving or older server shows: a stand-in answers each request from a script.
describe('repdyn API commands against a stand-in server', () => {
  interface Seen {
    method: string;
    url: string;
    headers: IncomingHttpHeaders;
    body: string;
  }
  /** A JSON `body`, or `raw` bytes/text as text/plain, or nothing. */
  type Reply = { status: number; body?: unknown; raw?: string | Buffer };
  let server: Server;
  let base: string;
  let seen: Seen[] = [];
  let answer: (req: Seen) => Reply;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'repdyn-cli-standin-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        seen.push(request);
        const reply = answer(request);
        if (reply.raw !== undefined) {
          res.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.raw);
        } else if (reply.body === undefined) res.writeHead(reply.status).end();
        else
          res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    base = `http://127.0.0.1:${address.port}`;
  });

  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const env = () => ({ REPDYN_URL: base, REPDYN_API_KEY: 'rk_standin' });
  const id = '11111111-1111-4111-8111-111111111111';
  const notFound = { code: 'EXPERIMENT_NOT_FOUND', message: 'no such experiment', statusCode: 404 };
  const running = {
    id,
    name: 'standin',
    status: 'training',
    progress: { fraction: 0.5, message: 'epoch 1/2', etaSeconds: 3 },
    error: null,
  };

  it('estimate on a server without dry runs: takes back what it queued and says so', async () => {
    seen = [];
    answer = (req) =>
      req.method === 'POST' ? { status: 202, body: { id, status: 'queued', warnings: [] } } : { status: 204 };
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, '{ "name": "standin",\n  "specimen": "same" }\n');
    const res = await repdyn(['estimate', spec], env());
    assert.equal(res.code, 1);
    assert.equal(
      res.err.trim(),
      `repdyn estimate: the API at ${base} does not support dry runs (POST /v1/experiments?dryRun=true answered 202); update it`,
    );
    assert.deepEqual(
      seen.map((r) => `${r.method} ${r.url}`),
      ['POST /v1/experiments?dryRun=true', `DELETE /v1/experiments/${id}`],
    );
    const [post, del] = seen;
    assert.equal(post.body, '{"name":"standin","specimen":"same"}', 'the file’s JSON, as sent before');
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(post.headers.authorization, 'Bearer rk_standin');
    assert.equal(del.headers['content-type'], undefined, 'no body, no content type');
  });

  it('watch: an experiment deleted while watched exits 3, in words or as JSON', async () => {
    for (const asJson of [false, true]) {
      let gets = 0;
      answer = () => (gets++ === 0 ? { status: 200, body: running } : { status: 404, body: notFound });
      const res = await repdyn(['watch', id, ...(asJson ? ['--json'] : [])], env());
      assert.equal(res.code, 3, res.err);
      if (asJson)
        assert.deepEqual(JSON.parse(res.out.trim().split('\n').at(-1) ?? ''), { id, status: 'deleted' });
      else {
        assert.match(res.out, /50% training {2}epoch 1\/2 ETA 3s/);
        assert.equal(res.err.trim(), `repdyn watch: experiment ${id} was deleted`);
      }
    }
    // never seen: the 404 is an error, not a deletion
    answer = () => ({ status: 404, body: notFound });
    const missing = await repdyn(['watch', id], env());
    assert.equal(missing.code, 1);
    assert.equal(missing.err.trim(), 'repdyn watch: 404 EXPERIMENT_NOT_FOUND: no such experiment');
  });

  it('reports an error answer that is not JSON, and a server that cannot be reached', async () => {
    answer = () => ({ status: 502, raw: '<html>bad gateway</html>' });
    const proxied = await repdyn(['status', id], env());
    assert.equal(proxied.code, 1);
    assert.equal(proxied.err.trim(), 'repdyn status: 502 ERROR: Bad Gateway');

    const port = await freePort();
    const down = await repdyn(['list'], { REPDYN_URL: `http://127.0.0.1:${port}`, REPDYN_API_KEY: 'k' });
    assert.equal(down.code, 1);
    assert.match(
      down.err,
      new RegExp(
        `^repdyn list: cannot reach http://127\\.0\\.0\\.1:${port} \\(.+\\); is the API running \\(npm start\\)\\?$`,
        'm',
      ),
    );
  });

  it('asks for the file, slice and figures answers byte for byte, with the query they name', async () => {
    seen = [];
    const bytes = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x00, 0xff]);
    answer = (req) =>
      req.url.includes('/tensor')
        ? { status: 200, raw: bytes }
        : { status: 200, raw: `<svg>${req.url}</svg>` };
    const out = join(dir, 'slice.npy');
    const slice = await repdyn(
      [
        'slice',
        id,
        '--ref',
        'fc1,fc2',
        '--checkpoint',
        '3',
        '--measure',
        'cka',
        '--format',
        'npy',
        '-o',
        out,
      ],
      env(),
    );
    assert.equal(slice.code, 0, slice.err);
    assert.equal(slice.out.trim(), `wrote ${out}`);
    assert.deepEqual(readFileSync(out), bytes);
    const url = new URL(seen[0].url, base);
    assert.equal(url.pathname, `/v1/experiments/${id}/tensor`);
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      format: 'npy',
      measure: 'cka',
      refLayer: 'fc1,fc2',
      checkpoint: '3',
    });

    seen = [];
    const figures = await repdyn(['figures', id, '-o', join(dir, 'figs'), '--json'], env());
    assert.equal(figures.code, 0, figures.err);
    assert.deepEqual(JSON.parse(figures.out).files, [
      join(dir, 'figs', 'figure1-heatmaps.svg'),
      join(dir, 'figs', 'figure2-convergence.svg'),
      join(dir, 'figs', 'figure3-crawl.svg'),
    ]);
    const heatmaps = new URL(seen[0].url, base);
    assert.equal(heatmaps.searchParams.get('fractions'), '0,0.03,0.5,0.99');
    assert.equal(
      readFileSync(join(dir, 'figs', 'figure2-convergence.svg'), 'utf8'),
      `<svg>/v1/experiments/${id}/figures/convergence.svg</svg>`,
    );

    const badMeasure = await repdyn(['slice', id, '--measure', 'bogus', '-o', out], env());
    assert.equal(badMeasure.code, 2);
    assert.match(badMeasure.err, /--measure must be one of rho, mean, .*\(got "bogus"\)/);
  });
});
