// The experiment pipeline: train (or reuse) the runs, gather their representations, compute the
// CCA tensor and persist it. Every step is resumable: runs continue from their last saved
// checkpoint and cells already stored are skipped.
import { setTimeout as delay } from 'node:timers/promises';
import { Value } from '@sinclair/typebox/value';
import { UnrecoverableError } from 'bullmq';
import type { Config } from '../../config/index.ts';
import { untilAborted } from '../../core/abort.ts';
import { baselineLayers } from '../../core/analysis/baseline.ts';
import { convPairPasses, type PairPass, pairReductionSummary } from '../../core/analysis/conv-reduction.ts';
import { experimentWarnings } from '../../core/analysis/crawl.ts';
import { analysisContext } from '../../core/analysis/index.ts';
import { adjustedScore } from '../../core/analysis/warnings.ts';
import { buildTensor, type GemmEngine, SimilarityError } from '../../core/cca/index.ts';
import type { Dataset } from '../../core/data/dataset.ts';
import { DatasetError } from '../../core/data/dataset.ts';
import { loadDataset } from '../../core/data/load.ts';
import { figureDataFromCells } from '../../core/figures/data.ts';
import {
  captureOptions,
  type ExperimentSpec,
  ExperimentSpecSchema,
  type NormalisedExperiment,
  type NormalisedSimilarity,
  normaliseExperimentSpec,
} from '../../core/spec/experiment.ts';
import { type NormalisedRunSpec, runKey, SpecError } from '../../core/spec/run.ts';
import {
  isUploadSpec,
  normaliseUploadSpec,
  type UploadExperimentSpec,
  UploadExperimentSpecSchema,
} from '../../core/spec/upload.ts';
import { CaptureError } from '../../core/train/capture.ts';
import { trainRun } from '../../core/train/run.ts';
import type { ArtifactStore, RunArtifacts } from '../../store/artifact-store.ts';
import type { Db, Prisma } from '../../store/db.ts';
import {
  AWAITING,
  advance,
  type CellRow,
  encodeCoefficients,
  figureCells,
  isTerminal,
  writeCells,
} from '../../store/experiments.ts';
import { tryLeaseRun } from '../../store/leases.ts';
import type { ExperimentJobData, PartResult, SavedBaseline } from '../../store/queue.ts';
import { adoptRuns, collectRun, ExperimentGone } from '../../store/runs.ts';
import { ProgressReporter } from '../progress.ts';

export interface PipelineContext {
  config: Config;
  db: Db;
  /** where run artifacts live (a directory or a bucket: store/artifact-store.ts) */
  artifacts: ArtifactStore;
  backend: string;
  gemm: GemmEngine;
  log: (msg: string, extra?: Record<string, unknown>) => void;
  /** this process, as parts of a spread experiment record who did them (host:pid) */
  workerName: string;
}

/**
 * How an experiment hands work to other workers (worker/service.ts implements it with BullMQ flows):
 * its runs' training and blocks of its tensor become child jobs of the experiment's job, which any
 * idle worker takes; the experiment's job waits (holding no worker) and runs again when they are done.
 */
export interface Spread {
  /** spread tensors of at least this many cells (and runs when both need training) */
  minCells: number;
  /** blocks a spread tensor is cut into (contiguous checkpoint ranges) */
  blocks: number;
  /** the baseline an earlier entry of this job computed */
  savedBaseline: SavedBaseline | undefined;
  /** this job has delegated parts before: this entry continues the same attempt */
  reentry: boolean;
  /**
   * Adds the parts as children of the experiment's job (stable ids: adding again is a no-op), saving
   * `baseline` with the job. True when the job now waits for them: the caller stops (WaitingForParts).
   */
  delegate(parts: ExperimentJobData[], baseline?: SavedBaseline): Promise<boolean>;
  /** what the finished parts returned */
  results(): Promise<PartResult[]>;
}

/** The experiment's job waits for its parts (worker/service.ts turns this into BullMQ's wait). */
export class WaitingForParts extends Error {
  constructor(readonly parts: number) {
    super(`waiting for ${parts} parts`);
  }
}

/** Failures that retrying cannot fix: the experiment fails at once with this code. */
export class PermanentFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function classify(err: unknown): PermanentFailure | null {
  if (err instanceof PermanentFailure) return err;
  if (err instanceof SpecError) return new PermanentFailure('INVALID_SPEC', err.message);
  if (err instanceof DatasetError) return new PermanentFailure(err.code, err.message);
  if (err instanceof CaptureError) return new PermanentFailure('CAPTURE_FAILED', err.message);
  if (err instanceof SimilarityError) return new PermanentFailure(`SIMILARITY_${err.code}`, err.message);
  return null;
}

const CELL_BATCH = 64;
/** Seed of every cell's permutation null: the same data always get the same null (and on resume). */
const NULL_SEED = 0;
const CELL_FLUSH_MS = 1_000;
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

interface RunHandle {
  runId: string;
  store: RunArtifacts;
  layers: Array<{ name: string }>;
  checkpoints: number;
}

/** How often a worker waiting for another one to finish training the same network looks again. */
const RUN_LEASE_POLL_MS = 1_000;

/** A run definition of this experiment: its key (artifact directory) and the spec stored on its row. */
function runDefinition(ctx: PipelineContext, e: NormalisedExperiment, run: NormalisedRunSpec) {
  const capture = captureOptions(e, ctx.config.limits);
  return {
    key: runKey(run, e.probe, capture),
    capture,
    spec: { run, probe: e.probe, capture } as unknown as Prisma.InputJsonValue,
  };
}

/**
 * The adopted run `runId` (see store/runs.ts): reused when it is finished; otherwise trained
 * (continuing from its last saved checkpoint if an earlier attempt died). `onProgress` receives 0..1
 * of this run's training. When the work stops early (cancel, delete, shutdown) the run is removed if no
 * experiment references it any more (a delete while it trained leaves no orphan).
 */
async function ensureRun(
  ctx: PipelineContext,
  e: NormalisedExperiment,
  run: NormalisedRunSpec,
  runId: string,
  onProgress: (fraction: number, message: string) => void,
  signal: AbortSignal,
): Promise<RunHandle & { reused: boolean; resumedFromStep: number | null }> {
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
): Promise<RunHandle & { reused: boolean; resumedFromStep: number | null }> {
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
          layers: result.layers as unknown as Prisma.InputJsonValue,
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

/** Runs one experiment to a terminal state, or throws a transient error for BullMQ to retry. */
export async function processExperiment(
  ctx: PipelineContext,
  experimentId: string,
  signal: AbortSignal,
  spread?: Spread,
): Promise<void> {
  const { db } = ctx;
  const row = await db.experiment.findUnique({ where: { id: experimentId } });
  if (!row || isTerminal(row.status) || row.status === AWAITING) return;
  const upload = isUploadSpec(row.spec);
  if (
    upload ? !Value.Check(UploadExperimentSpecSchema, row.spec) : !Value.Check(ExperimentSpecSchema, row.spec)
  ) {
    throw new PermanentFailure('INVALID_SPEC', 'stored spec does not match the experiment schema');
  }
  // (a spread experiment's job entering again after its parts is the same attempt)
  await db.experiment.update({
    where: { id: row.id },
    data: { ...(spread?.reentry ? {} : { attempts: { increment: 1 } }), backend: ctx.backend },
  });
  const estimatedCells = (row.estimate as { cells?: number } | null)?.cells ?? 0;
  const progress = new ProgressReporter(db, row.id);
  const started = Date.now();
  const TRAIN_SHARE = upload ? 0 : 0.7;
  let similarity: NormalisedSimilarity;
  let fallbackSamples: number;
  const handles: Array<Awaited<ReturnType<typeof ensureRun>>> = [];
  if (upload) {
    // Uploaded activations: POST …/complete stored both runs' states; nothing to train.
    const u = normaliseUploadSpec(row.spec as UploadExperimentSpec);
    similarity = u.similarity;
    fallbackSamples = u.samples;
    for (const runId of [row.referenceRunId, row.specimenRunId]) {
      const run = runId ? await db.run.findUnique({ where: { id: runId } }) : null;
      if (!run)
        throw new PermanentFailure('REPRESENTATIONS_MISSING', 'the uploaded representations are gone');
      const store = ctx.artifacts.run(run.key);
      const state = await store.loadState();
      if (!state?.complete) {
        throw new PermanentFailure(
          'REPRESENTATIONS_MISSING',
          `the uploaded representations are not in this worker's artifact store (${ctx.artifacts.location}); the API and every worker must use the same ARTIFACT_URL (or share ARTIFACT_DIR)`,
        );
      }
      handles.push({
        runId: run.id,
        store,
        layers: state.layers,
        checkpoints: state.checkpoints.length,
        reused: true,
        resumedFromStep: null,
      });
    }
  } else {
    const e = normaliseExperimentSpec(row.spec as ExperimentSpec);
    similarity = e.similarity;
    fallbackSamples = e.probe.examples;
    // Phase 1: training (the reference run, then the specimen run when it is another network). Both
    // runs are adopted first, in one transaction (store/runs.ts): from then on no other team's delete
    // can remove them.
    const runs = e.specimen ? [e.reference, e.specimen] : [e.reference];
    const defs = runs.map((r) => runDefinition(ctx, e, r));
    let adopted: { referenceRunId: string; specimenRunId: string };
    try {
      adopted = await adoptRuns(db, row.id, defs[0]!, defs[defs.length - 1]!);
    } catch (err) {
      if (!(err instanceof ExperimentGone)) throw err;
      // deleted, finished or cancel requested before it adopted anything
      await advance(db, row.id, 'canceled', { message: 'canceled' });
      return;
    }
    await advance(db, row.id, 'training', { message: 'training' });
    const runIds = [adopted.referenceRunId, adopted.specimenRunId];
    // Two different networks that both need training are trained at once, by two workers.
    // (once: a later entry trains whatever its parts left itself)
    if (spread && !spread.reentry && runs.length > 1 && estimatedCells >= spread.minCells) {
      const pending = await db.run.count({ where: { id: { in: runIds }, status: { not: 'done' } } });
      if (pending === 2) {
        const parts = (['reference', 'specimen'] as const).map((network, i) => ({
          experimentId: row.id,
          part: 'run' as const,
          network,
          runId: runIds[i]!,
        }));
        await progress.flush();
        if (await spread.delegate(parts)) throw new WaitingForParts(parts.length);
      }
    }
    for (const [i, run] of runs.entries()) {
      const label = runs.length > 1 ? (i === 0 ? 'reference: ' : 'specimen: ') : '';
      const handle = await ensureRun(
        ctx,
        e,
        run,
        runIds[i]!,
        (f, message) => progress.report((TRAIN_SHARE * (i + f)) / runs.length, `${label}${message}`),
        signal,
      );
      handles.push(handle);
      progress.report(
        (TRAIN_SHARE * (i + 1)) / runs.length,
        `${label}${handle.reused ? 'reused' : 'trained'}`,
        true,
      );
    }
  }
  const ref = handles[0]!;
  const spec = handles[handles.length - 1]!;

  // Phase 2: capturing — the representations were saved at each checkpoint; gather their sizes and
  // the random baseline: every measure on Gaussian data with the same samples and widths per pair.
  await progress.flush();
  await advance(db, row.id, 'capturing', { message: 'computing the random baseline' });
  signal.throwIfAborted();
  const refInfo = (await ref.store.loadState())?.layers ?? [];
  const specInfo = (await spec.store.loadState())?.layers ?? [];
  const samples = refInfo[0]?.samples ?? fallbackSamples;
  // Conv-vs-conv pairs of a network mixing conv and dense layers use both layers' positions-as-samples
  // representations (core/cca/conv.ts); every other pair the layers' own. Each pass computes its pairs.
  const passes = convPairPasses(refInfo, specInfo);
  const baseline: SavedBaseline =
    spread?.savedBaseline ?? refInfo.map(() => specInfo.map(() => ({ rho: 0, cka: null as number | null })));
  for (const pass of spread?.savedBaseline ? [] : passes) {
    const random = baselineLayers(pass.samples, pass.refWidths, pass.specWidths);
    for await (const cell of buildTensor({
      refLayers: refInfo.map((l, i) => ({ name: l.name, load: random.ref[i] })),
      specLayers: specInfo,
      checkpoints: 1,
      loadSpecimen: (j) => random.spec[j](),
      skip: (i, j) => !pass.pair(i, j),
      options: { engine: ctx.gemm, methods: ['cca', 'cka'], epsilon: similarity.epsilon },
      signal,
    })) {
      baseline[cell.refLayer]![cell.specLayer] = { rho: cell.result.rho, cka: cell.result.cka };
    }
  }
  progress.report(TRAIN_SHARE + 0.02, 'random baseline computed', true);

  // Phase 3: computing — every (reference layer, specimen layer, checkpoint) cell.
  await progress.flush();
  await advance(db, row.id, 'computing', { message: 'computing the CCA tensor' });
  const existing = await db.cell.findMany({
    where: { experimentId: row.id },
    select: { refLayer: true, specLayer: true, checkpoint: true },
  });
  const have = new Set(existing.map((c) => `${c.refLayer}/${c.specLayer}/${c.checkpoint}`));
  const total = ref.layers.length * spec.layers.length * spec.checkpoints;
  if (have.size > 0) ctx.log(`experiment ${row.id}: resuming the tensor, ${have.size}/${total} cells stored`);
  // A large tensor is cut into blocks of checkpoints, child jobs that every idle worker takes.
  // (once: a later entry, which has the baseline saved, computes whatever its parts left itself)
  if (
    spread &&
    !spread.savedBaseline &&
    total >= spread.minCells &&
    have.size < total &&
    spec.checkpoints > 1
  ) {
    const parts = tensorBlocks(spec.checkpoints, spread.blocks)
      .filter(([from, to]) => {
        const perCheckpoint = ref.layers.length * spec.layers.length;
        let stored = 0;
        for (const c of have) {
          const t = Number(c.split('/')[2]);
          if (t >= from && t < to) stored++;
        }
        return stored < perCheckpoint * (to - from);
      })
      .map(([from, to]) => ({ experimentId: row.id, part: 'block' as const, from, to }));
    await progress.flush();
    if (parts.length > 0 && (await spread.delegate(parts, baseline))) throw new WaitingForParts(parts.length);
  }
  // (what is still missing — all of it, or what a failed part left — is computed here)
  const stored = await db.cell.count({ where: { experimentId: row.id } });
  const computed = await computeCells(
    ctx,
    row.id,
    ref,
    spec,
    similarity,
    passes,
    [0, spec.checkpoints],
    signal,
    (n) =>
      progress.report(
        TRAIN_SHARE + 0.02 + (0.97 - TRAIN_SHARE) * (n / total),
        `computed ${n}/${total} cells`,
      ),
  );

  // Summary: each specimen layer against its own final version over training (Figure 2's data).
  const diag = await figureCells(db, row.id);
  if (diag.length !== total) {
    // never report a partial tensor as finished; a retry computes what is missing
    throw new Error(`tensor incomplete after computing: ${diag.length}/${total} cells stored`);
  }
  const rhoOf = new Map(diag.map((c) => [`${c.refLayer}/${c.specLayer}/${c.checkpoint}`, c.rho]));
  const layersSummary = spec.layers.map((l, j) => {
    const i = ref.layers.findIndex((r) => r.name === l.name);
    return {
      layer: l.name,
      rhoToFinal:
        i < 0
          ? null
          : Array.from({ length: spec.checkpoints }, (_, t) => rhoOf.get(`${i}/${j}/${t}`) ?? null),
    };
  });
  // Warnings: the layers' (widths, samples, ranks kept) and the cells' (null near 1), stored with the
  // summary so the API, the page and the CLI show the same list.
  const specCheckpoints = await db.checkpoint.findMany({
    where: { runId: spec.runId },
    select: { index: true, step: true, fraction: true },
    orderBy: { index: 'asc' },
  });
  const figureData = figureDataFromCells({
    refLayers: ref.layers.map((l) => l.name),
    specLayers: spec.layers.map((l) => l.name),
    checkpoints: specCheckpoints,
    cells: diag,
  });
  const declared = (network: 'reference' | 'specimen', info: typeof refInfo) =>
    info.map((l) => ({ network, name: l.name, features: l.features, samples: l.samples }));
  const warnings = experimentWarnings(
    figureData,
    analysisContext(
      figureData,
      [...declared('reference', refInfo), ...declared('specimen', specInfo)],
      ref.runId === spec.runId,
    ),
  );
  const summary = {
    cells: total,
    seconds: (Date.now() - started) / 1000,
    reusedRuns: upload ? 0 : handles.filter((h) => h.reused).length,
    source: upload ? 'upload' : 'trained',
    /** what the attempt that finished did: each run reused, resumed from a saved step or trained from
     * step 0, and the cells it computed next to those an earlier attempt had stored */
    finalAttempt: {
      runs: handles.map((h) => ({ reused: h.reused, resumedFromStep: h.resumedFromStep })),
      cellsStoredBefore: stored,
      cellsComputed: computed,
    },
    /** a spread experiment: the parts other workers did (runs trained, tensor blocks), who and when */
    ...(spread?.reentry ? { parts: await spread.results() } : {}),
    layers: layersSummary,
    /** baseline[refLayer][specLayer]: rho and CKA of Gaussian data with the pair's samples and widths */
    baseline,
    samples,
    /** what limits the numbers (AnalysisWarning[]); GET /v1/experiments/ID shows them as `warnings` */
    warnings,
    /** each cell's null is a permutation null (the specimen's rows shuffled, seeded) */
    null: { kind: 'permutation', seed: NULL_SEED },
    /** how the pairs were reduced: each pass's pairs, samples and (conv-vs-conv) reduction */
    pairReductions: pairReductionSummary(passes, refInfo, specInfo),
  };
  await progress.flush();
  // Success is written only now, after every cell batch above has been committed.
  const won = await advance(db, row.id, 'succeeded', {
    progress: 1,
    etaSeconds: 0,
    message: `done: ${total} cells`,
    summary: summary as unknown as Prisma.InputJsonValue,
  });
  if (won) ctx.log(`experiment ${row.id}: succeeded`);
}

/** [from, to) checkpoint ranges: `blocks` contiguous blocks of (nearly) equal size. */
export function tensorBlocks(checkpoints: number, blocks: number): Array<[number, number]> {
  const n = Math.max(1, Math.min(blocks, checkpoints));
  return Array.from({ length: n }, (_, b) => [
    Math.floor((b * checkpoints) / n),
    Math.floor(((b + 1) * checkpoints) / n),
  ]);
}

/**
 * Computes and stores the experiment's missing cells of specimen checkpoints [from, to) (cells are
 * keyed: one another process stored meanwhile is skipped at write); `onStored` gets the number of
 * cells stored so far, after each batch. Returns how many cells this call computed.
 */
async function computeCells(
  ctx: PipelineContext,
  experimentId: string,
  ref: RunHandle,
  spec: RunHandle,
  similarity: NormalisedSimilarity,
  passes: PairPass[],
  [from, to]: [number, number],
  signal: AbortSignal,
  onStored: (stored: number) => void,
): Promise<number> {
  const { db } = ctx;
  const existing = await db.cell.findMany({
    where: { experimentId, checkpoint: { gte: from, lt: to } },
    select: { refLayer: true, specLayer: true, checkpoint: true },
  });
  const have = new Set(existing.map((c) => `${c.refLayer}/${c.specLayer}/${c.checkpoint}`));
  if (have.size === ref.layers.length * spec.layers.length * (to - from)) return 0;
  const lastRef = ref.checkpoints - 1;
  let computed = 0;
  let batch: CellRow[] = [];
  let lastFlush = Date.now();
  const flush = async () => {
    const cells = batch;
    batch = [];
    lastFlush = Date.now();
    await writeCells(db, experimentId, cells);
  };
  const methods = similarity.methods;
  const cellsOf = async function* () {
    for (const pass of passes) {
      yield* buildTensor({
        refLayers: ref.layers.map((l) => ({
          name: l.name,
          load: () => ref.store.loadRepresentation(lastRef, pass.artifact(l.name)),
        })),
        specLayers: spec.layers,
        // (checkpoints before `from` are all skipped: never loaded; the null's seeds stay those of the
        // whole tensor, so a block computes exactly the cells the whole tensor would)
        checkpoints: to,
        loadSpecimen: (j, t) => spec.store.loadRepresentation(t, pass.artifact(spec.layers[j]!.name)),
        // A (specimen layer, checkpoint) with any cell missing is computed whole: the builder stacks the
        // reference layers of one specimen representation into shared products, so a partial group
        // would round differently from a clean run's (cells already stored are dropped below).
        skip: (i, j, t) =>
          t < from ||
          !pass.pair(i, j) ||
          ref.layers.every((_, k) => !pass.pair(k, j) || have.has(`${k}/${j}/${t}`)),
        options: {
          engine: ctx.gemm,
          methods,
          epsilon: similarity.epsilon,
          svccaThreshold: similarity.svccaThreshold,
        },
        permutationNull: { seed: NULL_SEED },
        signal,
      });
    }
  };
  for await (const cell of cellsOf()) {
    if (have.has(`${cell.refLayer}/${cell.specLayer}/${cell.checkpoint}`)) continue;
    const r = cell.result;
    batch.push({
      refLayer: cell.refLayer,
      specLayer: cell.specLayer,
      checkpoint: cell.checkpoint,
      rho: r.rho,
      mean: r.mean,
      svcca: r.svcca?.rho ?? null,
      pwcca: r.pwcca,
      cka: r.cka,
      rhoNull: cell.null ?? null,
      rhoAdjusted: adjustedScore(r.rho, cell.null ?? null),
      rankRef: r.ranks[0],
      rankSpec: r.ranks[1],
      coefficients: encodeCoefficients(r.cca),
    });
    computed++;
    if (batch.length >= CELL_BATCH || Date.now() - lastFlush > CELL_FLUSH_MS) {
      await flush();
      onStored(await db.cell.count({ where: { experimentId } }));
    }
  }
  await flush();
  return computed;
}

/** The run handles of an experiment whose runs are trained (the tensor's inputs), from the store. */
async function storedHandles(ctx: PipelineContext, runIds: Array<string | null>): Promise<RunHandle[]> {
  const out: RunHandle[] = [];
  for (const runId of runIds) {
    const run = runId ? await ctx.db.run.findUnique({ where: { id: runId } }) : null;
    const store = run ? ctx.artifacts.run(run.key) : null;
    const state = await store?.loadState();
    if (!run || !store || !state?.complete) throw new Error(`run ${runId ?? '(none)'} is not trained yet`);
    out.push({ runId: run.id, store, layers: state.layers, checkpoints: state.checkpoints.length });
  }
  return out;
}

/**
 * A part of a spread experiment (a child job): one run's training, or the cells of a block of
 * checkpoints. Returns what it did, for the experiment's summary; nothing when the experiment is gone,
 * finished or no longer at that phase (the experiment's own job sorts out what is left).
 */
export async function processPart(
  ctx: PipelineContext,
  data: ExperimentJobData,
  signal: AbortSignal,
): Promise<PartResult | undefined> {
  const { db } = ctx;
  const row = await db.experiment.findUnique({ where: { id: data.experimentId } });
  if (!row || isTerminal(row.status) || row.status === AWAITING) return undefined;
  const startedAt = new Date().toISOString();
  const done = (extra: Partial<PartResult>): PartResult => ({
    part: data.part!,
    worker: ctx.workerName,
    startedAt,
    finishedAt: new Date().toISOString(),
    ...extra,
  });
  const progress = new ProgressReporter(db, row.id);
  if (data.part === 'run') {
    if (isUploadSpec(row.spec) || !data.runId || !data.network) return undefined;
    const e = normaliseExperimentSpec(row.spec as ExperimentSpec);
    const run = data.network === 'specimen' && e.specimen ? e.specimen : e.reference;
    const handle = await ensureRun(
      ctx,
      e,
      run,
      data.runId,
      // (two runs train at once: each reports its half of the training share)
      (f, message) => progress.report(0.35 * f, `${data.network}: ${message} (the other network trains too)`),
      signal,
    );
    await progress.flush();
    return done({ network: data.network, reused: handle.reused });
  }
  if (data.part === 'block' && data.from !== undefined && data.to !== undefined) {
    const [ref, spec] = await storedHandles(ctx, [row.referenceRunId, row.specimenRunId]);
    const [refInfo, specInfo] = await Promise.all([ref!.store.loadState(), spec!.store.loadState()]);
    const passes = convPairPasses(refInfo?.layers ?? [], specInfo?.layers ?? []);
    const similarity = isUploadSpec(row.spec)
      ? normaliseUploadSpec(row.spec as UploadExperimentSpec).similarity
      : normaliseExperimentSpec(row.spec as ExperimentSpec).similarity;
    const total = ref!.layers.length * spec!.layers.length * spec!.checkpoints;
    const share = isUploadSpec(row.spec) ? 0 : 0.7;
    const cells = await computeCells(
      ctx,
      row.id,
      ref!,
      spec!,
      similarity,
      passes,
      [data.from, data.to],
      signal,
      (n) => progress.report(share + 0.02 + (0.97 - share) * (n / total), `computed ${n}/${total} cells`),
    );
    await progress.flush();
    return done({ from: data.from, to: data.to, cells });
  }
  throw new PermanentFailure('INVALID_JOB', `unknown part '${String(data.part)}'`);
}

/** Marks the experiment failed (terminal) with a stable code. */
export async function failExperiment(db: Db, id: string, code: string, message: string): Promise<void> {
  await advance(db, id, 'failed', {
    errorCode: code,
    errorMessage: message.slice(0, 2000),
    message: 'failed',
  });
}

export { UnrecoverableError };
