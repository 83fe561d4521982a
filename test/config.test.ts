import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, redactUrl, repoRoot } from '../config/index.ts';

describe('config', () => {
  it('has defaults that work on this machine', () => {
    const c = loadConfig({});
    assert.equal(c.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/repdyn');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(c.port, 8080);
    assert.ok(c.artifactDir.endsWith('/artifacts'));
  });

  it('resolves relative directories against the repository root, not the working directory', () => {
    const before = process.cwd();
    process.chdir('/tmp');
    try {
      const c = loadConfig({ CIFAR_DIR: 'cifar', ARTIFACT_DIR: 'art' });
      assert.equal(c.sharedDir, join(dirname(repoRoot), 'shared'), 'SHARED_DIR defaults to ../shared');
      assert.equal(c.cifarDir, join(repoRoot, 'cifar'));
      assert.equal(c.artifactDir, join(repoRoot, 'art'));
      assert.equal(loadConfig({ SHARED_DIR: '/data/shared' }).sharedDir, '/data/shared');
    } finally {
      process.chdir(before);
    }
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

  it('validates the share-link cap and the rate-limit store guard', () => {
    const c = loadConfig({});
    assert.equal(c.limits.shareTokens, 20);
    assert.deepEqual(c.rateLimit.redis, { timeoutMs: 50, cooldownMs: 5000 });
    for (const [key, bad] of [
      ['MAX_SHARE_TOKENS', '0'],
      ['MAX_SHARE_TOKENS', 'many'],
      ['RATE_LIMIT_REDIS_TIMEOUT_MS', '0'],
      ['RATE_LIMIT_REDIS_TIMEOUT_MS', '20000'],
      ['RATE_LIMIT_REDIS_COOLDOWN_MS', '-1'],
    ]) {
      assert.throws(
        () => loadConfig({ [key]: bad }),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${key}=`),
      );
    }
    assert.equal(loadConfig({ RATE_LIMIT_REDIS_COOLDOWN_MS: '0' }).rateLimit.redis.cooldownMs, 0);
  });

  it('redacts passwords in URLs', () => {
    assert.equal(redactUrl('postgresql://u:secret@h:5432/d'), 'postgresql://u:***@h:5432/d');
  });
});
