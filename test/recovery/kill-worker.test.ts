// A worker killed with SIGKILL in the middle of training, and again in the middle of the tensor: the
// experiment is taken over by a fresh worker, training continues from the last saved checkpoint,
// stored cells are not recomputed, and the tensor equals that of an uninterrupted run, byte for byte.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromJson } from '../../core/contracts/json.ts';
import type { ExperimentSummary } from '../../core/contracts/summary.ts';
import { captureOptions, normaliseExperimentSpec } from '../../core/spec/experiment.ts';
import { runKey } from '../../core/spec/run.ts';
import { testConfig } from '../helpers/env.ts';
import { type Service, startService, type tinySpec } from '../helpers/service.ts';
import {
  assertSameTensor,
  FAST_RECOVERY,
  finished,
  killWorkerWhen,
  runState,
  smallSpec,
  submit,
} from './helpers.ts';

function referenceKey(spec: ReturnType<typeof tinySpec>): string {
  const e = normaliseExperimentSpec(spec as never);
  return runKey(e.reference, e.probe, captureOptions(e, testConfig().limits));
}

describe('a worker killed mid-experiment', () => {
  let svc: Service;
  let artifactDir: string;
  // 96 steps, 15 checkpoints: 3 x 3 x 15 = 135 cells (more than two cell batches of 64)
  const spec = smallSpec('kill-worker', { trainExamples: 1536, batchSize: 16, seed: 7 }, 15);
  const total = 3 * 3 * 15;
  // The uninterrupted run both tests compare with, made by whichever test asks first (each test can
  // run alone, in any order). It leaves the reference run trained and complete.
  let uninterrupted: Promise<string> | undefined;
  function cleanRun(): Promise<string> {
    uninterrupted ??= submit(svc, spec).then(async (id) => {
      await finished(svc.db, id);
      return id;
    });
    return uninterrupted;
  }

  before(async () => {
    svc = await startService({ env: { ...FAST_RECOVERY } });
    artifactDir = svc.env['ARTIFACT_DIR']!;
  });

  after(async () => {
    await svc?.stop();
  });

  it('during training: resumes from the last checkpoint and ends with the uninterrupted tensor', async () => {
    const key = referenceKey(spec);
    const clean = await cleanRun();
    await rm(join(artifactDir, 'runs', key), { recursive: true, force: true }); // so it trains again

    const id = await submit(svc, spec);
    let lastStep = -1;
    await killWorkerWhen(
      svc,
      svc.workers[0]!,
      async () => {
        const s = await runState(artifactDir, key);
        if (!s || s.complete || s.checkpoints.length < 2) return false;
        lastStep = s.checkpoints[s.checkpoints.length - 1]!.step;
        return true;
      },
      'training between two checkpoints',
    );
    assert.ok(lastStep > 0);
    assert.equal((await svc.db.experiment.findUniqueOrThrow({ where: { id } })).status, 'training');

    await svc.startWorker();
    const done = await finished(svc.db, id);
    const summary = fromJson<ExperimentSummary>(done.summary);
    assert.deepEqual(summary.finalAttempt.runs, [{ reused: false, resumedFromStep: lastStep }]);
    assert.equal(summary.finalAttempt.cellsStoredBefore, 0);
    assert.ok(done.attempts >= 2, `attempts ${done.attempts}`);
    assert.equal(await assertSameTensor(svc.db, id, clean), total);
  });

  it('during the tensor: stored cells are kept, the rest computed, the tensor unchanged', async () => {
    const clean = await cleanRun();
    // the same spec again: the run is complete and reused, so the worker goes straight to the tensor
    const id = await submit(svc, spec);
    let stored = 0;
    await killWorkerWhen(
      svc,
      svc.workers[0]!,
      async () => {
        stored = await svc.db.cell.count({ where: { experimentId: id } });
        return stored > 0 && stored < total;
      },
      'part of the tensor stored',
    );
    assert.equal((await svc.db.experiment.findUniqueOrThrow({ where: { id } })).status, 'computing');
    assert.equal(await svc.db.cell.count({ where: { experimentId: id } }), stored);

    await svc.startWorker();
    const done = await finished(svc.db, id);
    const summary = fromJson<ExperimentSummary>(done.summary);
    assert.deepEqual(summary.finalAttempt.runs, [{ reused: true, resumedFromStep: null }]);
    assert.equal(summary.finalAttempt.cellsStoredBefore, stored);
    assert.equal(summary.finalAttempt.cellsComputed, total - stored, 'only the missing cells computed');
    assert.equal(summary.cells, total);
    assert.equal(await assertSameTensor(svc.db, id, clean), total);
  });
});
