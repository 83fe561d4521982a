// Experiment and run leases (store/leases.ts) on the real PostgreSQL: one holder at a time, released
// by release() or by the connection going away (`lost` aborts), experiment and run locks apart, and
// the reconciler's query lists exactly the active experiments nobody holds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  EXPERIMENT_LOCK_SPACE,
  tryLeaseExperiment,
  tryLeaseRun,
  unleasedActiveExperiments,
} from '../../store/leases.ts';
import { startDb, type TestDb } from '../helpers/db.ts';
import { waitFor } from '../helpers/env.ts';

describe('leases', () => {
  let t: TestDb;

  before(async () => {
    t = await startDb();
  });

  after(async () => {
    await t?.close();
  });

  it('gives an experiment to one holder at a time, and again once released', async () => {
    const id = await t.experiment();
    const first = await tryLeaseExperiment(t.databaseUrl, id);
    assert.ok(first, 'the first lease');
    try {
      assert.equal(await tryLeaseExperiment(t.databaseUrl, id), null, 'held elsewhere');
      const other = await tryLeaseExperiment(t.databaseUrl, await t.experiment());
      assert.ok(other, 'another experiment is free');
      await other.release();
    } finally {
      await first.release();
    }
    assert.equal(first.lost.aborted, false, 'a release is not a loss');
    await first.release(); // twice is harmless
    const again = await tryLeaseExperiment(t.databaseUrl, id);
    assert.ok(again, 'free after release');
    await again.release();
  });

  it('keeps run locks apart from experiment locks', async () => {
    const key = randomBytes(8).toString('hex');
    const exp = await tryLeaseExperiment(t.databaseUrl, key);
    assert.ok(exp);
    const run = await tryLeaseRun(t.databaseUrl, key);
    try {
      assert.ok(run, 'the same text in the run space is another lock');
      assert.equal(await tryLeaseRun(t.databaseUrl, key), null);
    } finally {
      await run?.release();
      await exp.release();
    }
  });

  it('aborts `lost` when the lease connection is terminated, and the lock is free at once', async () => {
    const id = await t.experiment();
    const lease = await tryLeaseExperiment(t.databaseUrl, id);
    assert.ok(lease);
    const admin = new pg.Client({ connectionString: t.databaseUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int4::oid
           AND objid = hashtext($2)::oid AND objsubid = 2 AND granted`,
        [EXPERIMENT_LOCK_SPACE, id],
      );
      assert.equal(rows.length, 1, 'one holder');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await waitFor(() => lease.lost.aborted, { what: 'the lease to notice', timeoutMs: 10_000 });
      const next = await tryLeaseExperiment(t.databaseUrl, id);
      assert.ok(next, 'the lock went with the connection');
      await next.release();
    } finally {
      await lease.release();
      await admin.end();
    }
  });

  it('throws when PostgreSQL cannot be reached', async () => {
    await assert.rejects(tryLeaseExperiment('postgresql://postgres@127.0.0.1:1/none', 'x'));
  });

  it('lists the active experiments nobody holds, oldest first, never terminal ones', async () => {
    const queued = await t.experiment('queued');
    const training = await t.experiment('training');
    const held = await t.experiment('computing');
    const done = await t.experiment('succeeded');
    const awaiting = await t.experiment('awaiting_representations');
    const lease = await tryLeaseExperiment(t.databaseUrl, held);
    assert.ok(lease);
    try {
      const ids = await unleasedActiveExperiments(t.db);
      assert.ok(ids.includes(queued) && ids.includes(training), 'unheld active ones');
      assert.ok(ids.indexOf(queued) < ids.indexOf(training), 'in queue order');
      assert.ok(!ids.includes(held), 'a held one');
      assert.ok(!ids.includes(done), 'a terminal one');
      assert.ok(!ids.includes(awaiting), 'one waiting for its upload');
    } finally {
      await lease.release();
    }
    assert.ok((await unleasedActiveExperiments(t.db)).includes(held), 'listed again once released');
  });
});
