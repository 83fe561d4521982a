// `npm start`'s API process: /health and /ready; with its Redis stopped /ready answers 503 naming
// Redis and the process stays up; when Redis returns /ready is 200 again. Uses a private Redis.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { freePort, repoRoot, startRedis, stopProcess, waitFor } from '../helpers/env.ts';
import { type Answer, type ErrorWith, readJson } from '../helpers/json.ts';

describe('API readiness follows Redis', () => {
  let redis: ChildProcess;
  let api: ChildProcess;
  let redisPort: number;
  let base: string;
  let apiOutput = '';

  before(async () => {
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PORT: String(port),
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    api.stdout?.on('data', (d) => {
      apiOutput += d;
    });
    api.stderr?.on('data', (d) => {
      apiOutput += d;
    });
    await waitFor(async () => (await fetch(`${base}/health`)).ok, {
      timeoutMs: 30_000,
      what: 'API /health',
    }).catch((err) => {
      throw new Error(`${err}\n${apiOutput}`);
    });
  });

  after(async () => {
    await stopProcess(api);
    await stopProcess(redis);
  });

  it('serves /health and /ready', async () => {
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal((await readJson<Answer<'/health', 'get', 200>>(health)).status, 'ok');
    const ready = await fetch(`${base}/ready`);
    assert.equal(ready.status, 200);
    const body = await readJson<Answer<'/ready', 'get', 200>>(ready);
    assert.equal(body.postgres.ok, true);
    assert.equal(body.redis.ok, true);
  });

  it('answers 503 naming Redis while it is down, stays up, and recovers', async () => {
    await stopProcess(redis);
    const down = await waitFor(
      async () => {
        const r = await fetch(`${base}/ready`);
        return r.status === 503 ? r : undefined;
      },
      { what: '/ready 503' },
    );
    const body = await readJson<ErrorWith<{ postgres: { ok: boolean } }>>(down);
    assert.equal(body.code, 'REDIS_UNAVAILABLE');
    assert.match(body.message, /redis/);
    assert.equal(body.details.postgres.ok, true);
    assert.equal((await fetch(`${base}/health`)).status, 200, 'process must stay up');
    assert.equal(api.exitCode, null);

    redis = await startRedis(redisPort);
    await waitFor(async () => (await fetch(`${base}/ready`)).status === 200, {
      timeoutMs: 15_000,
      what: '/ready 200 after Redis returns',
    });
  });
});
