// The worker's experiment processor (worker/processors/experiment.ts) called in-process on the real
// database, without BullMQ, Redis or the API: which rows it leaves alone, the permanent failures it
// raises, a cancel that lands before it adopts its runs, and one tiny experiment run to the end.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jsEngine } from '../../core/cca/gemm.ts';
import { SpecError } from '../../core/spec/run.ts';
import { initBackend } from '../../core/tf/backend.ts';
import { tryLeaseExperiment } from '../../store/leases.ts';
import { openArtifactStore } from '../../store/open-artifacts.ts';
import {
  classify,
  failExperiment,
  PermanentFailure,
  type PipelineContext,
  processExperiment,
} from '../../worker/processors/experiment.ts';
import { startDb, type TestDb } from '../helpers/db.ts';
import { testConfig } from '../helpers/env.ts';
import { tinySpec } from '../helpers/spec.ts';

describe('experiment processor', () => {
  let t: TestDb;
  let ctx: PipelineContext;
  let artifactDir: string;
  const logs: string[] = [];

  before(async () => {
    t = await startDb();
    artifactDir = mkdtempSync(join(tmpdir(), 'repdyn-processor-'));
    const config = testConfig({ ARTIFACT_DIR: artifactDir });
    ctx = {
      config,
      db: t.db,
      artifacts: openArtifactStore(config),
      backend: 'test',
      gemm: jsEngine,
      log: (msg) => logs.push(msg),
      workerName: 'test',
    };
  });

  after(async () => {
    await t?.close();
    if (artifactDir) rmSync(artifactDir, { recursive: true, force: true });
  });

  const row = (id: string) => t.db.experiment.findUniqueOrThrow({ where: { id } });
  const never = new AbortController().signal;

  it('leaves missing, finished and awaiting experiments alone', async () => {
    await processExperiment(ctx, '00000000-0000-4000-8000-000000000000', never);
    for (const status of ['succeeded', 'canceled', 'awaiting_representations'] as const) {
      const id = await t.experiment(status);
      const before = await row(id);
      await processExperiment(ctx, id, never);
      assert.deepEqual(await row(id), before, status);
    }
  });

  it('fails permanently on a stored spec that does not match the schema, before counting an attempt', async () => {
    const id = await t.experiment('queued');
    await t.db.experiment.update({ where: { id }, data: { spec: { name: 'x', reference: 42 } } });
    await assert.rejects(
      processExperiment(ctx, id, never),
      (e: unknown) => e instanceof PermanentFailure && e.code === 'INVALID_SPEC',
    );
    assert.equal((await row(id)).attempts, 0);
  });

  it('fails permanently when an upload experiment has no representations', async () => {
    const id = await t.experiment('queued');
    await t.db.experiment.update({
      where: { id },
      data: {
        spec: {
          name: 'up',
          source: 'upload',
          samples: 16,
          reference: { layers: ['a'] },
          specimen: 'same',
          checkpoints: [{ step: 0 }],
        },
      },
    });
    await assert.rejects(
      processExperiment(ctx, id, never),
      (e: unknown) => e instanceof PermanentFailure && e.code === 'REPRESENTATIONS_MISSING',
    );
  });

  it('cancels an experiment whose cancel was requested before it adopted its runs', async () => {
    const id = await t.experiment('queued');
    await t.db.experiment.update({ where: { id }, data: { cancelRequested: true } });
    await processExperiment(ctx, id, never);
    const r = await row(id);
    assert.equal(r.status, 'canceled');
    assert.equal(r.referenceRunId, null, 'no run adopted');
  });

  it('classifies errors retrying cannot fix, and leaves the rest to the queue', () => {
    const spec = classify(new SpecError('probe.examples', 'too many'));
    assert.ok(spec);
    assert.equal(spec.code, 'INVALID_SPEC');
    assert.match(spec.message, /probe\.examples/);
    const own = new PermanentFailure('X', 'y');
    assert.equal(classify(own), own);
    assert.equal(classify(new Error('ECONNRESET')), null);
    assert.equal(classify('text'), null);
  });

  it('marks an experiment failed with its code, the message cut to 2,000 characters', async () => {
    const id = await t.experiment('training');
    await failExperiment(t.db, id, 'SOMETHING', 'm'.repeat(5000));
    const r = await row(id);
    assert.equal(r.status, 'failed');
    assert.equal(r.errorCode, 'SOMETHING');
    assert.equal(r.errorMessage?.length, 2000);
    assert.ok(r.finishedAt);
    // terminal: a later failure does not overwrite it
    await failExperiment(t.db, id, 'OTHER', 'late');
    assert.equal((await row(id)).errorCode, 'SOMETHING');
  });

  it('runs a tiny experiment to succeeded: every cell, progress 1, its runs adopted', async () => {
    await initBackend(ctx.config.tfjsBackend);
    const id = await t.experiment('queued');
    // held as a worker holds it, so that no other worker's reconciler on this database takes it
    const lease = await tryLeaseExperiment(t.databaseUrl, id);
    assert.ok(lease);
    try {
      await t.db.experiment.update({ where: { id }, data: { spec: tinySpec() } });
      await processExperiment(ctx, id, never);
    } finally {
      await lease.release();
    }
    const r = await row(id);
    assert.equal(r.status, 'succeeded', `${r.errorCode}: ${r.errorMessage}`);
    assert.equal(r.progress, 1);
    assert.equal(r.attempts, 1);
    assert.equal(r.backend, 'test');
    assert.ok(r.referenceRunId && r.referenceRunId === r.specimenRunId, 'Net_S = Net_R: one run');
    assert.equal(await t.db.cell.count({ where: { experimentId: id } }), 4 * 4 * 4);
    assert.equal((r.summary as { cells?: number } | null)?.cells, 4 * 4 * 4, 'the summary counts them');
    assert.ok(
      logs.some((l) => l.includes(`experiment ${id}: succeeded`)),
      logs.join('\n'),
    );
    // each phase logged by its name, with the stored status it moved the experiment to, in order
    assert.deepEqual(
      logs.filter((l) => l.startsWith(`experiment ${id}: `) && l.includes(' phase')),
      [
        `experiment ${id}: runs phase (status training)`,
        `experiment ${id}: baseline phase (status capturing)`,
        `experiment ${id}: tensor phase (status computing)`,
      ],
    );
    const finalAttempt = (r.summary as { finalAttempt?: unknown } | null)?.finalAttempt;
    assert.deepEqual(finalAttempt, {
      runs: [{ reused: false, resumedFromStep: null }],
      cellsStoredBefore: 0,
      cellsComputed: 4 * 4 * 4,
    });
    // done: processing it again changes nothing
    await processExperiment(ctx, id, never);
    assert.equal((await row(id)).attempts, 1);
    await t.db.experiment.delete({ where: { id } });
    await t.db.run.deleteMany({ where: { id: r.referenceRunId } });
  });
});
