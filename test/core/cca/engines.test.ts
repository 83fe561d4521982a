// loadedEngines() (helpers.ts) never drops an engine silently: one that does not load is named on
// stderr with the reason, and with REPDYN_REQUIRE_NATIVE=1 a missing native engine is an error.
// Each case runs in a child process, since the native addon is loaded once per process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.ts';

const script = `
const { loadedEngines } = await import('./test/core/cca/helpers.ts');
const engines = await loadedEngines();
console.log(JSON.stringify(engines.map((e) => e.name)));
for (const e of engines) await e.dispose();
`;

function load(env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

describe('loadedEngines', () => {
  it('names an engine that does not load, with the reason', () => {
    const res = load({ REPDYN_NATIVE: '0', REPDYN_REQUIRE_NATIVE: '' });
    assert.equal(res.status, 0, res.stderr);
    const names = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as string[];
    assert.ok(!names.includes('blas'), names.join());
    assert.match(res.stderr, /engine 'blas' not loaded.*REPDYN_NATIVE=0/);
  });

  it('fails when REPDYN_REQUIRE_NATIVE=1 and the native engine does not load', () => {
    const res = load({ REPDYN_NATIVE: '0', REPDYN_REQUIRE_NATIVE: '1' });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /REPDYN_REQUIRE_NATIVE=1 but the native engine did not load/);
  });
});
