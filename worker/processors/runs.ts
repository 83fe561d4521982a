// The runs of an experiment's pipeline: each run trained once per definition (a Postgres lease per run
// key; other workers wait and reuse it), resumed from its last saved checkpoint, or reused when
// finished; and the handles of runs already in the artifact store (uploads, a spread job's parts).
import { setTimeout as delay } from 'node:timers/promises';
import { untilAborted } from '../../core/abort.ts';
import type { Dataset } from '../../core/data/dataset.ts';
import { loadDataset } from '../../core/data/load.ts';
import { captureOptions, type NormalisedExperiment } from '../../core/spec/experiment.ts';
import { type NormalisedRunSpec, runKey } from '../../core/spec/run.ts';
import { trainRun } from '../../core/train/run.ts';
import type { RunArtifacts } from '../../store/artifact-store.ts';
import { tryLeaseRun } from '../../store/leases.ts';
import { collectRun } from '../../store/runs.ts';
import type { PipelineContext } from './experiment.ts';

const datasetCache = new Map<string, Promise<Dataset>>();

/** A data set, loaded once per process; a first decode (CIFAR-10 JPEGs) reports "preparing dataset …". */
function dataset(
  ctx: PipelineContext,
  name: NormalisedRunSpec['dataset'],
  split: 'train' | 'test',
  onProgress?: (message: string) => void,
): Promise<Dataset> {
  const key = `${name}/${split}`;
  let hit = datasetCache.get(key);
  if (!hit) {
    if (datasetCache.size >= 4) datasetCache.delete(datasetCache.keys().next().value as string);
    hit = loadDataset(
      name,
      split,
      {
        cacheDir: ctx.config.artifactDir,
        sharedDir: ctx.config.sharedDir,
        cifarDir: ctx.config.cifarDir,
        settingNames: { cifarDir: 'CIFAR_DIR', sharedDir: 'SHARED_DIR' },
      },
      { onProgress: (p) => onProgress?.(p.message) },
    );
    hit.catch(() => datasetCache.delete(key));
    datasetCache.set(key, hit);
  }
  return hit;
}

export interface RunHandle {
  runId: string;
  store: RunArtifacts;
  layers: Array<{ name: string }>;
  checkpoints: number;
}

/** A run of this attempt: reused as it was, or trained (null: from step 0, else the step it resumed from). */
export interface AttemptRun extends RunHandle {
  reused: boolean;
  resumedFromStep: number | null;
}

/** How often a worker waiting for another one to finish training the same network looks again. */
const RUN_LEASE_POLL_MS = 1_000;

/** A run definition of this experiment: its key (artifact directory) and the spec stored on its row. */
export function runDefinition(ctx: PipelineContext, e: NormalisedExperiment, run: NormalisedRunSpec) {
  const capture = captureOptions(e, ctx.config.limits);
  return {
    key: runKey(run, e.probe, capture),
    capture,
    spec: { run, probe: e.probe, capture },
  };
}

/**
 * The adopted run `runId` (see store/runs.ts): reused when it is finished; otherwise trained
 * (continuing from its last saved checkpoint if an earlier attempt died). `onProgress` receives 0..1
 * of this run's training. When the work stops early (cancel, delete, shutdown) the run is removed if no
 * experiment references it any more (a delete while it trained leaves no orphan).
 */
export async function ensureRun(
  ctx: PipelineContext,
  e: NormalisedExperiment,
  run: NormalisedRunSpec,
  runId: string,
  onProgress: (fraction: number, message: string) => void,
  signal: AbortSignal,
): Promise<AttemptRun> {
  const { key, capture } = runDefinition(ctx, e, run);
  const store = ctx.artifacts.run(key);
  const reusable = async () => {
    const [current, state] = await Promise.all([
      ctx.db.run.findUnique({ where: { id: runId }, select: { status: true } }),
      store.loadState(),
    ]);
    if (current?.status !== 'done' || !state?.complete) return null;
    onProgress(1, 'reusing a finished run with the same definition');
    return {
      runId,
      store,
      layers: state.layers,
      checkpoints: state.checkpoints.length,
      reused: true,
      resumedFromStep: null,
    };
  };
  const finished = await reusable();
  if (finished) return finished;
  // One process trains a run definition at a time; the others wait, then reuse its result.
  let lease = await tryLeaseRun(ctx.config.databaseUrl, key);
  while (!lease) {
    onProgress(0, 'waiting: another worker is training the same network');
    await delay(RUN_LEASE_POLL_MS, undefined, { signal });
    lease = await tryLeaseRun(ctx.config.databaseUrl, key);
  }
  try {
    const done = await reusable();
    if (done) return done;
    return await trainLeasedRun(
      ctx,
      e,
      run,
      runId,
      store,
      capture,
      onProgress,
      AbortSignal.any([signal, lease.lost]),
    );
  } finally {
    await lease.release();
    // Deleted while it trained: nothing references the run any more, so it goes with its files. Asked
    // whatever the outcome, not only when the cancel poll has fired: a delete that lands just before
    // the last step (the poll has not seen it yet) must not leave a finished orphan behind. collectRun
    // keeps a run any experiment references, so for a live experiment this removes nothing.
    await collectRun(ctx.db, ctx.artifacts, runId).catch((err) =>
      ctx.log(`run ${runId}: could not collect it: ${String(err)}`),
    );
  }
}

/** Trains (or resumes) a run whose lease this process holds, and records its checkpoints. */
async function trainLeasedRun(
  ctx: PipelineContext,
  e: NormalisedExperiment,
  run: NormalisedRunSpec,
  runId: string,
  store: RunArtifacts,
  capture: ReturnType<typeof captureOptions>,
  onProgress: (fraction: number, message: string) => void,
  signal: AbortSignal,
): Promise<AttemptRun> {
  await ctx.db.run.update({ where: { id: runId }, data: { status: 'running' } });
  try {
    // (a cancel during the first load is honoured at once; the load finishes into the cache)
    const preparing = (message: string) => onProgress(0, message);
    const [train, probe] = await untilAborted(
      Promise.all([
        dataset(ctx, run.dataset, 'train', preparing),
        dataset(ctx, run.dataset, e.probe.split, preparing),
      ]),
      signal,
    );
    const result = await trainRun({
      spec: run,
      probe: e.probe,
      data: { train, probe },
      store,
      capture,
      signal,
      onProgress: (p) => onProgress(p.fraction, p.message),
    });
    await ctx.db.$transaction([
      ...result.checkpoints.map((c) =>
        ctx.db.checkpoint.upsert({
          where: { runId_index: { runId: runId, index: c.index } },
          create: { runId: runId, ...c },
          update: { ...c },
        }),
      ),
      ctx.db.run.update({
        where: { id: runId },
        data: {
          status: 'done',
          backend: result.backend,
          layers: result.layers,
          seconds: result.seconds,
          finishedAt: new Date(),
        },
      }),
    ]);
    return {
      runId: runId,
      store,
      layers: result.layers,
      checkpoints: result.checkpoints.length,
      reused: false,
      resumedFromStep: result.resumedFrom ?? null,
    };
  } catch (err) {
    // leave the run resumable for the next attempt (or another experiment)
    await ctx.db.run.update({ where: { id: runId }, data: { status: 'pending' } }).catch(() => undefined);
    throw err;
  }
}

/** Why a run's handle is not there: its row is gone, or its state is not complete in the artifact store. */
export type MissingRun = 'gone' | 'incomplete';

const notTrained = (runId: string | null) => new Error(`run ${runId ?? '(none)'} is not trained yet`);

/**
 * The handles of runs already in the artifact store (the tensor's inputs), in order; `missing` says
 * what to throw for one that is not (default: not trained yet, an error a retry may get past).
 */
export async function storedHandles(
  ctx: PipelineContext,
  runIds: Array<string | null>,
  missing: (runId: string | null, why: MissingRun) => Error = notTrained,
): Promise<RunHandle[]> {
  const out: RunHandle[] = [];
  for (const runId of runIds) {
    const run = runId ? await ctx.db.run.findUnique({ where: { id: runId } }) : null;
    if (!run) throw missing(runId, 'gone');
    const store = ctx.artifacts.run(run.key);
    const state = await store.loadState();
    if (!state?.complete) throw missing(runId, 'incomplete');
    out.push({ runId: run.id, store, layers: state.layers, checkpoints: state.checkpoints.length });
  }
  return out;
}
