// Shared test helpers: the test database/queue settings, free ports, waiting for conditions.
import { type ChildProcess, spawn } from 'node:child_process';
import { loadConfig, repoRoot } from '../../config/index.ts';
import { waitFor } from '../../scripts/lib/process.ts';

export { freePort } from '../../scripts/lib/free-port.ts';
export { stopProcess, waitFor } from '../../scripts/lib/process.ts';
export { repoRoot };

/** The configuration tests run with (scripts/test.mjs points DATABASE_URL at the test database). */
export function testConfig(overrides: Record<string, string> = {}) {
  return loadConfig({ ...process.env, ...overrides });
}

/** Starts a private redis-server on `port` (never the shared one); resolves when it answers. */
export async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await waitFor(
    async () => {
      const { Redis } = await import('ioredis');
      const r = new Redis(port, '127.0.0.1', {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      r.on('error', () => {});
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    },
    { what: `redis-server on ${port}` },
  );
  return child;
}
