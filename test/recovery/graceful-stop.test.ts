// A worker stopped gracefully (SIGTERM: a deploy or a scale-down) in the middle of training hands its
// job back without spending one of the job's attempts; the next worker continues from the last saved
// checkpoint. (Each stop used to cost an attempt, so three deploys could fail an experiment.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromJson } from '../../core/contracts/json.ts';
import type { ExperimentSummary } from '../../core/contracts/summary.ts';
import { captureOptions, normaliseExperimentSpec } from '../../core/spec/experiment.ts';
import { runKey } from '../../core/spec/run.ts';
import { testConfig, waitFor } from '../helpers/env.ts';
import { type Service, startService } from '../helpers/service.ts';
import { atMoment, FAST_RECOVERY, finished, runState, smallSpec, submit } from './helpers.ts';

describe('a worker stopped gracefully mid-training', () => {
  let svc: Service;

  before(async () => {
    svc = await startService({ env: { ...FAST_RECOVERY } });
  });

  after(async () => {
    await svc?.stop();
  });

  it('hands the job back without spending an attempt; the next worker resumes', async () => {
    const spec = smallSpec('graceful-stop', { trainExamples: 1536, batchSize: 16, seed: 13 }, 6);
    const e = normaliseExperimentSpec(spec as never);
    const key = runKey(e.reference, e.probe, captureOptions(e, testConfig().limits));
    const artifactDir = svc.env['ARTIFACT_DIR']!;
    const id = await submit(svc, spec);
    const worker = svc.workers[0]!;
    await atMoment(
      worker,
      async () => {
        const s = await runState(artifactDir, key);
        return !!s && !s.complete && s.checkpoints.length >= 2;
      },
      async () => {
        worker.kill('SIGTERM'); // delivered once the worker continues (SIGCONT)
      },
      'training between two checkpoints',
    );
    await waitFor(() => worker.exitCode !== null || worker.signalCode !== null, {
      timeoutMs: 30_000,
      what: 'the worker to exit',
    });
    assert.equal(worker.exitCode, 0, 'a clean exit');
    const job = await svc.queue.getJob(id);
    assert.ok(job, 'the job is still queued');
    assert.equal(job.attemptsMade, 0, 'no attempt spent');
    assert.ok(['delayed', 'waiting', 'wait'].includes(await job.getState()), await job.getState());
    assert.equal((await svc.db.experiment.findUniqueOrThrow({ where: { id } })).status, 'training');
    assert.match(svc.output(), new RegExp(`experiment ${id}: worker shutting down; handed back`));
    const saved = (await runState(artifactDir, key))!.checkpoints.at(-1)!.step;

    svc.workers.splice(svc.workers.indexOf(worker), 1);
    await svc.startWorker();
    const done = await finished(svc.db, id);
    const runs = fromJson<ExperimentSummary>(done.summary).finalAttempt.runs;
    assert.deepEqual(runs, [{ reused: false, resumedFromStep: saved }]);
  });
});
