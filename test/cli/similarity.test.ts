// Acceptance: `npx repdyn similarity` on the golden .npy files, as a child process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadNative } from '../../core/cca/native.ts';
import { goldenCases, goldenDir, repoRoot } from '../core/cca/helpers.ts';

function repdyn(...args: string[]) {
  return repdynWith({}, ...args);
}

function repdynWith(env: Record<string, string>, ...args: string[]) {
  const res = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'repdyn.js'), 'similarity', ...args], {
    encoding: 'utf8',
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('repdyn similarity', () => {
  goldenCases();
  const dir = path.join(goldenDir, 'linear-map');
  const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8'));

  it('prints one JSON object with --json', () => {
    const { code, stdout, stderr } = repdyn(path.join(dir, 'x.npy'), path.join(dir, 'y.npy'), '--json');
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(out), [
      'cca',
      'rho',
      'mean',
      'svcca99_rho',
      'pwcca',
      'linear_cka',
      'ranks',
      'warnings',
    ]);
    assert.deepEqual(out.ranks, expected.ranks);
    assert.equal(out.cca.length, 40);
    assert.ok(Math.abs(out.rho - 1) < 1e-6);
    assert.ok(Math.abs(out.linear_cka - expected.linear_cka) < 1e-6);
    assert.ok(Math.abs(out.svcca99_rho - expected.svcca99_rho) < 1e-6);
  });

  it('prints a readable summary', () => {
    const { code, stdout } = repdyn(path.join(dir, 'x.npy'), path.join(dir, 'y.npy'), '--method', 'cka');
    assert.equal(code, 0);
    assert.match(stdout, /ranks +40 x 40/);
    assert.match(stdout, /cca rho +1\.000000/);
    assert.match(stdout, /linear cka +0\.720442/);
    assert.doesNotMatch(stdout, /pwcca/);
  });

  it('exits 2 with a message and no stack trace on bad input', () => {
    for (const args of [
      [path.join(dir, 'x.npy'), path.join(dir, 'expected.json')],
      [path.join(dir, 'x.npy'), path.join(dir, 'missing.npy')],
      [path.join(dir, 'x.npy'), path.join(goldenDir, 'scaled', 'y.npy')],
      [path.join(dir, 'x.npy')],
      [path.join(dir, 'x.npy'), path.join(dir, 'y.npy'), '--method', 'nope'],
    ]) {
      const { code, stderr } = repdyn(...args);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, /^repdyn similarity: /);
      assert.doesNotMatch(stderr, /\n\s+at /);
    }
  });

  it("uses the worker's engine selection: native BLAS when it loads, GEMM_ENGINE honoured", () => {
    const files = [path.join(dir, 'x.npy'), path.join(dir, 'y.npy'), '--method', 'cka'];
    const auto = repdynWith({ GEMM_ENGINE: 'auto' }, ...files);
    assert.equal(auto.code, 0, auto.stderr);
    const native = loadNative().lib !== null;
    assert.match(auto.stdout, native ? /^engine +blas \(decompositions lapack\)$/m : /^engine +(onnx|js) /m);
    const js = repdynWith({ GEMM_ENGINE: 'js' }, ...files);
    assert.equal(js.code, 0, js.stderr);
    assert.match(js.stdout, /^engine +js \(decompositions js\)$/m);
    assert.match(js.stdout, /linear cka +0\.720442/);
    const bad = repdynWith({ GEMM_ENGINE: 'nope' }, ...files);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^repdyn similarity: GEMM_ENGINE="nope" must be one of/);
  });
});
