// Runs shared across teams, and deletes: a run is removed only when no experiment of any team
// references it, decided under the lock adoption takes (store/runs.ts); a delete mid-training stops
// the work and leaves no orphan row or file; the worker's sweep removes what older versions left.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromJson } from '../../core/contracts/json.ts';
import type { ExperimentSummary } from '../../core/contracts/summary.ts';
import { captureOptions, normaliseExperimentSpec } from '../../core/spec/experiment.ts';
import { runKey } from '../../core/spec/run.ts';
import { testConfig, waitFor } from '../helpers/env.ts';
import { readJson, type Submitted } from '../helpers/json.ts';
import { type Service, startService } from '../helpers/service.ts';
import { atMoment, FAST_RECOVERY, finished, runState, smallSpec, submit } from './helpers.ts';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('runs shared across teams, and deletes', () => {
  let svc: Service;
  let artifactDir: string;

  before(async () => {
    svc = await startService({ env: { ...FAST_RECOVERY } });
    artifactDir = svc.env['ARTIFACT_DIR']!;
  });

  after(async () => {
    await svc?.stop();
  });

  it("team A's delete while team B's experiment uses A's reference run: B succeeds without retraining", async () => {
    const a = smallSpec('shared-delete a', { seed: 21 }, 4);
    const aId = await submit(svc, a);
    const aRow = await finished(svc.db, aId, 120_000);
    const sharedRunId = aRow.referenceRunId!;
    assert.ok(sharedRunId);
    const sharedKey = (await svc.db.run.findUniqueOrThrow({ where: { id: sharedRunId } })).key;

    // Team B: the same reference network, another specimen (a longer training, so A's delete lands
    // while it trains).
    const teamB = await svc.newTeam();
    const b = {
      ...a,
      name: 'shared-delete b',
      specimen: {
        ...a.reference,
        training: { ...a.reference.training, seed: 22, trainExamples: 1536, batchSize: 16 },
      },
    };
    const res = await svc.request('/v1/experiments', {
      method: 'POST',
      body: JSON.stringify(b),
      key: teamB.key,
    });
    assert.equal(res.status, 202, await res.clone().text());
    const bId = (await readJson<Submitted>(res)).id;

    // The moment B trains its specimen (it has reused A's reference), A deletes its experiment.
    await atMoment(
      svc.workers[0]!,
      async () => {
        const row = await svc.db.experiment.findUnique({ where: { id: bId } });
        if (row?.status !== 'training') return false;
        if (row.message.startsWith('specimen')) return true;
        // progress messages are throttled: the specimen run's own row says it is training too
        if (!row.specimenRunId) return false;
        const run = await svc.db.run.findUnique({ where: { id: row.specimenRunId } });
        return run?.status === 'running';
      },
      async () => {
        const del = await svc.request(`/v1/experiments/${aId}`, { method: 'DELETE' });
        assert.equal(del.status, 204, await del.clone().text());
      },
      "B training its specimen, then A's delete",
    );

    const bRow = await finished(svc.db, bId, 120_000);
    assert.equal(bRow.attempts, 1, `B needed ${bRow.attempts} attempts: ${bRow.errorMessage ?? ''}`);
    assert.equal(bRow.referenceRunId, sharedRunId, "B uses A's reference run row");
    const runs = fromJson<ExperimentSummary>(bRow.summary).finalAttempt.runs;
    assert.equal(runs[0]!.reused, true, 'the shared reference was reused, not retrained');
    const shared = await svc.db.run.findUnique({ where: { id: sharedRunId } });
    assert.equal(shared?.status, 'done', 'the shared run is still there');
    assert.equal((await runState(artifactDir, sharedKey))?.complete, true, 'with its artifacts');
    assert.equal(await svc.db.experiment.count({ where: { id: aId } }), 0, "A's experiment is gone");

    // B's delete now removes both runs (no experiment references them any more) with their files.
    const del = await svc.request(`/v1/experiments/${bId}`, { method: 'DELETE', key: teamB.key });
    assert.equal(del.status, 204);
    const ids = [bRow.referenceRunId!, bRow.specimenRunId!];
    assert.equal(await svc.db.run.count({ where: { id: { in: ids } } }), 0);
    assert.equal(await exists(join(artifactDir, 'runs', sharedKey)), false);
  });

  it('a delete mid-training stops the work and leaves no orphan run or artifact', async () => {
    const spec = smallSpec('delete-mid-training', { trainExamples: 3072, batchSize: 16, seed: 23 }, 6);
    const e = normaliseExperimentSpec(spec as never);
    const key = runKey(e.reference, e.probe, captureOptions(e, testConfig().limits));
    const id = await submit(svc, spec);
    await atMoment(
      svc.workers[0]!,
      async () => {
        const s = await runState(artifactDir, key);
        return !!s && !s.complete && s.checkpoints.length >= 1;
      },
      async () => {
        const del = await svc.request(`/v1/experiments/${id}`, { method: 'DELETE' });
        assert.equal(del.status, 204, await del.clone().text());
      },
      'training with a checkpoint saved, then the delete',
    );
    // The worker stops within about a second and removes the run nobody references, files included.
    await waitFor(
      async () =>
        (await svc.db.run.count({ where: { key } })) === 0 && !(await exists(join(artifactDir, 'runs', key))),
      { timeoutMs: 30_000, intervalMs: 100, what: 'the deleted experiment’s run and artifacts to go' },
    );
    // and nothing comes back (the stopped worker writes no more files)
    const later = await svc.db.experiment.count({ where: { id } });
    assert.equal(later, 0);
    const job = await svc.queue.getJob(id);
    await waitFor(async () => !job || ['completed', 'failed', 'unknown'].includes(await job.getState()), {
      timeoutMs: 30_000,
      what: 'the job to end',
    });
    assert.equal(await exists(join(artifactDir, 'runs', key)), false);
    assert.equal(await svc.db.run.count({ where: { key } }), 0);
  });

  it("the worker's sweep removes runs no experiment refers to and artifact directories with no run", async () => {
    const old = new Date(Date.now() - 10 * 60_000);
    const orphanKey = randomBytes(16).toString('hex');
    const orphan = await svc.db.run.create({
      data: { key: orphanKey, spec: {}, status: 'pending', createdAt: old },
    });
    const orphanRunDir = join(artifactDir, 'runs', orphanKey);
    const strayKey = randomBytes(16).toString('hex');
    const strayDir = join(artifactDir, 'runs', strayKey);
    const youngKey = randomBytes(16).toString('hex');
    const youngDir = join(artifactDir, 'runs', youngKey);
    for (const dir of [orphanRunDir, strayDir, youngDir]) {
      await mkdir(join(dir, 'ckpt-0000'), { recursive: true });
      await writeFile(join(dir, 'ckpt-0000', 'weights.rdw'), new Uint8Array(1024));
    }
    await utimes(orphanRunDir, old, old);
    await utimes(strayDir, old, old);
    // a run an experiment references stays, however old
    const keptKey = randomBytes(16).toString('hex');
    const kept = await svc.db.run.create({
      data: { key: keptKey, spec: {}, status: 'done', createdAt: old },
    });
    const exp = await svc.db.experiment.create({
      data: {
        teamId: svc.teamId,
        name: 'sweep keeps',
        spec: {},
        specHash: 'sweep',
        status: 'succeeded',
        referenceRunId: kept.id,
        specimenRunId: kept.id,
      },
    });
    try {
      await svc.startWorker(); // sweeps at start
      await waitFor(
        async () =>
          (await svc.db.run.count({ where: { id: orphan.id } })) === 0 &&
          !(await exists(orphanRunDir)) &&
          !(await exists(strayDir)),
        { timeoutMs: 60_000, intervalMs: 200, what: 'the sweep to remove the orphans' },
      );
      assert.equal(await exists(youngDir), true, 'a directory younger than the grace period stays');
      assert.equal(await svc.db.run.count({ where: { id: kept.id } }), 1, 'a referenced run stays');
    } finally {
      await svc.db.experiment.deleteMany({ where: { id: exp.id } });
      await svc.db.run.deleteMany({ where: { id: { in: [kept.id, orphan.id] } } });
    }
  });
});
