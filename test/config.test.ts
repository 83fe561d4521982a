import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, redactUrl } from '../config/index.ts';

describe('config', () => {
  it('has defaults that work on this machine', () => {
    const c = loadConfig({});
    assert.equal(c.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/repdyn');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(c.port, 8080);
    assert.ok(c.artifactDir.endsWith('/artifacts'));
  });

  it('rejects invalid values with one line naming the variable', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty' }),
      (e: unknown) => e instanceof ConfigError && /PORT/.test(e.message),
    );
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x/y' }), /DATABASE_URL.*postgresql/);
    assert.throws(() => loadConfig({ REDIS_URL: 'not a url' }), /REDIS_URL/);
    assert.throws(() => loadConfig({ GEMM_ENGINE: 'cuda' }), /GEMM_ENGINE/);
    assert.throws(() => loadConfig({ MAX_PROBE_EXAMPLES: '1' }), /MAX_PROBE_EXAMPLES/);
  });

  it('redacts passwords in URLs', () => {
    assert.equal(redactUrl('postgresql://u:secret@h:5432/d'), 'postgresql://u:***@h:5432/d');
  });
});
