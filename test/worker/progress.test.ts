// The worker's throttled progress writes (worker/progress.ts) against the real database: one write per
// interval plus every forced one, fractions never going back, an ETA only between 2 % and 100 %, and a
// write that cannot land (a finished experiment, a database away) lost without an error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDb } from '../../store/db.ts';
import { ProgressReporter } from '../../worker/progress.ts';
import { startDb, type TestDb } from '../helpers/db.ts';

describe('progress reporter', () => {
  let t: TestDb;

  before(async () => {
    t = await startDb();
  });

  after(async () => {
    await t?.close();
  });

  const row = (id: string) =>
    t.db.experiment.findUniqueOrThrow({
      where: { id },
      select: { progress: true, message: true, etaSeconds: true },
    });

  it('writes the first report, then at most once per interval unless forced', async () => {
    const id = await t.experiment('training');
    const p = new ProgressReporter(t.db, id, 60_000);
    p.report(0.1, 'first');
    p.report(0.2, 'throttled');
    await p.flush();
    const first = await row(id);
    assert.deepEqual([first.progress, first.message], [0.1, 'first']);
    assert.equal(typeof first.etaSeconds, 'number', 'an ETA at 10 %');
    p.report(0.5, 'phase change', true);
    await p.flush();
    const r = await row(id);
    assert.equal(r.progress, 0.5);
    assert.equal(r.message, 'phase change');
    assert.ok(r.etaSeconds !== null && r.etaSeconds >= 0, String(r.etaSeconds));
  });

  it('never moves the fraction back, and gives no ETA below 2 % or at the end', async () => {
    const id = await t.experiment('computing');
    const p = new ProgressReporter(t.db, id, 0);
    p.report(0.01, 'starting', true);
    await p.flush();
    assert.deepEqual(await row(id), { progress: 0.01, message: 'starting', etaSeconds: null });
    p.report(0.6, 'ahead', true);
    p.report(0.3, 'behind', true);
    await p.flush();
    const back = await row(id);
    assert.equal(back.progress, 0.6, 'the fraction stays');
    assert.equal(back.message, 'behind', 'the message is the latest');
    p.report(1.5, 'done', true);
    await p.flush();
    assert.deepEqual(await row(id), { progress: 1, message: 'done', etaSeconds: null });
  });

  it('leaves a finished experiment as it is, and loses writes quietly when the database is away', async () => {
    const id = await t.experiment('succeeded');
    const p = new ProgressReporter(t.db, id, 0);
    p.report(0.7, 'late', true);
    await p.flush();
    assert.deepEqual(await row(id), { progress: 0, message: '', etaSeconds: null });

    const away = createDb('postgresql://postgres@127.0.0.1:1/none', { poolSize: 1 });
    try {
      const lost = new ProgressReporter(away, id, 0);
      lost.report(0.5, 'nowhere', true);
      await lost.flush(); // resolves: the next write carries the state
    } finally {
      await away.$disconnect();
    }
  });
});
