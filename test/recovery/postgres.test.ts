// PostgreSQL stopped (fast shutdown: every connection cut) while a worker trains, then started again,
// on a private instance (never the shared cluster): the API answers 503 POSTGRES_UNAVAILABLE while it
// is away, API and worker reconnect by themselves, and the experiment finishes complete.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { repoRoot, waitFor } from '../helpers/env.ts';
import { type PrivatePostgres, startPostgres } from '../helpers/postgres.ts';
import { type Service, startService } from '../helpers/service.ts';
import { atMoment, FAST_RECOVERY, finished, smallSpec, submit } from './helpers.ts';

const DATABASE = 'repdyn_recovery';

/** Creates the database and applies prisma/migrations in order. */
async function migrate(server: PrivatePostgres): Promise<void> {
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const client = new pg.Client({ connectionString: server.url(DATABASE) });
  await client.connect();
  try {
    const dir = join(repoRoot, 'prisma', 'migrations');
    for (const name of readdirSync(dir).sort()) {
      if (!name.match(/^\d/)) continue;
      await client.query(readFileSync(join(dir, name, 'migration.sql'), 'utf8'));
    }
  } finally {
    await client.end();
  }
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

describe('PostgreSQL stopped and started again', () => {
  let server: PrivatePostgres;
  let svc: Service | undefined;

  before(async () => {
    server = await startPostgres();
    await migrate(server);
    svc = await startService({
      env: { ...FAST_RECOVERY, DATABASE_URL: server.url(DATABASE) },
    });
  });

  after(async () => {
    try {
      server?.start(); // (if a failure left it stopped) the clean-up needs it
    } catch {
      // already running
    }
    await svc?.stop();
    server?.destroy();
  });

  it('503 while it is away, then everyone reconnects and the experiment completes', async () => {
    const s = svc!;
    const id = await submit(
      s,
      smallSpec('postgres-restart', { trainExamples: 1536, batchSize: 8, seed: 31 }, 6),
    );
    await atMoment(
      s.workers[0]!,
      async () => (await s.db.experiment.findUniqueOrThrow({ where: { id } })).status === 'training',
      async () => server.stop(),
      'training',
    );

    const started = Date.now();
    const read = await s.request(`/v1/experiments/${id}`);
    assert.equal(read.status, 503);
    assert.equal(await errorCode(read), 'POSTGRES_UNAVAILABLE');
    assert.ok(Date.now() - started < 3_000, `answered in ${Date.now() - started} ms`);
    const post = await s.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify(smallSpec('while-postgres-away', { seed: 32 }, 4)),
    });
    assert.equal(post.status, 503);
    assert.equal(await errorCode(post), 'POSTGRES_UNAVAILABLE');
    const ready = await s.request('/ready');
    assert.equal(ready.status, 503);
    assert.equal(await errorCode(ready), 'POSTGRES_UNAVAILABLE');
    assert.equal((await s.request('/health')).status, 200);
    await waitFor(() => s.output().includes(`experiment ${id}: PostgreSQL unreachable`), {
      timeoutMs: 20_000,
      what: `the worker to notice: ${s.output()}`,
    });

    server.start();
    await waitFor(async () => (await s.request(`/v1/experiments/${id}`)).status === 200, {
      timeoutMs: 20_000,
      what: 'the API to reconnect',
    });
    const done = await finished(s.db, id);
    assert.equal(await s.db.cell.count({ where: { experimentId: id } }), 3 * 3 * 6);
    assert.equal((done.summary as { cells: number }).cells, 3 * 3 * 6);
    assert.equal(s.output().split(`experiment ${id}: succeeded`).length - 1, 1);
    const again = await s.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify(smallSpec('after-postgres-restart', { seed: 33 }, 4)),
    });
    assert.equal(again.status, 202, await again.clone().text());
  });
});
