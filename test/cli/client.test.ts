// The `repdyn` API commands against the real API and worker: submit --wait, list (pages, --all,
// --json), status, watch to every terminal status, slice, figures, share, delete, and non-zero exits
// carrying the server's error code.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeNpy } from '../../core/npy.ts';
import { repoRoot, waitFor } from '../helpers/env.ts';
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
