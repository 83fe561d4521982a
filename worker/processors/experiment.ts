// The experiment pipeline, by phase: runs (train, resume or reuse the two networks; uploads have
// theirs), baseline (the random baseline of every layer pair), tensor (every cell not stored yet) and
// summary (written with success, once every cell is stored). Every phase is resumable: runs continue
// from their last saved checkpoint and cells already stored are skipped. A spread experiment hands
// its runs' training and blocks of its tensor to other workers (processPart) and enters again.
import { Value } from '@sinclair/typebox/value';
import { UnrecoverableError } from 'bullmq';
import type { Config } from '../../config/index.ts';
import { baselineLayers } from '../../core/analysis/baseline.ts';
import { convPairPasses, type PairPass } from '../../core/analysis/conv-reduction.ts';
import { buildTensor, type GemmEngine, SimilarityError } from '../../core/cca/index.ts';
import { DatasetError } from '../../core/data/dataset.ts';
import {
  type ExperimentSpec,
  ExperimentSpecSchema,
  type NormalisedExperiment,
  type NormalisedSimilarity,
  normaliseExperimentSpec,
} from '../../core/spec/experiment.ts';
import { type NormalisedRunSpec, SpecError } from '../../core/spec/run.ts';
import {
  isUploadSpec,
  normaliseUploadSpec,
  type UploadExperimentSpec,
  UploadExperimentSpecSchema,
} from '../../core/spec/upload.ts';
import type { ExperimentStatusName } from '../../core/status.ts';
import { CaptureError } from '../../core/train/capture.ts';
import type { RepresentationInfo } from '../../core/train/store.ts';
import type { ArtifactStore } from '../../store/artifact-store.ts';
import type { Db, Experiment, Prisma } from '../../store/db.ts';
import { AWAITING, advance, figureCells, isTerminal } from '../../store/experiments.ts';
import type { ExperimentJobData, PartResult, SavedBaseline } from '../../store/queue.ts';
import { adoptRuns, ExperimentGone } from '../../store/runs.ts';
import { ProgressReporter } from '../progress.ts';
import { type AttemptRun, ensureRun, runDefinition, storedHandles } from './runs.ts';
import { experimentSummary } from './summary.ts';
import { cellProgress, computeCells, missingBlocks, storedCellKeys, tensorBlocks } from './tensor.ts';

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

/**
 * The pipeline's phases, in order, and the stored status each one runs under (core/status.ts). The
 * statuses are the API's and stay as they are; the phase names say what the worker does: the status
 * `capturing` is the baseline phase (the representations were captured while the runs trained).
 */
export const PHASE_STATUS = {
  runs: 'training',
  baseline: 'capturing',
  tensor: 'computing',
  summary: 'succeeded',
} as const satisfies Record<string, ExperimentStatusName>;
export type Phase = keyof typeof PHASE_STATUS;

/** The share of the progress bar training takes (an upload trains nothing: 0). */
const TRAIN_SHARE = 0.7;

/** One entry of an experiment's job: what its phases share. */
interface Attempt {
  ctx: PipelineContext;
  row: Experiment;
  signal: AbortSignal;
  spread: Spread | undefined;
  progress: ProgressReporter;
  /** when this entry began (the summary's `seconds`) */
  started: number;
  upload: boolean;
  trainShare: number;
}

/** The runs phase's result: the tensor's runs (one, twice, when Net_S = Net_R) and the spec's settings. */
interface Runs {
  handles: AttemptRun[];
  ref: AttemptRun;
  spec: AttemptRun;
  similarity: NormalisedSimilarity;
  /** the samples the summary reports when the runs' states do not say */
  fallbackSamples: number;
}

/** The baseline phase's result: the layers' recorded sizes, the pair passes and the baseline. */
interface Baseline {
  refInfo: RepresentationInfo[];
  specInfo: RepresentationInfo[];
  samples: number;
  passes: PairPass[];
  baseline: SavedBaseline;
}

/** The tensor phase's result. */
interface Tensor {
  total: number;
  storedBefore: number;
  computed: number;
}

/** Runs one experiment to a terminal state, or throws a transient error for BullMQ to retry. */
export async function processExperiment(
  ctx: PipelineContext,
  experimentId: string,
  signal: AbortSignal,
  spread?: Spread,
): Promise<void> {
  const row = await beginAttempt(ctx, experimentId, spread);
  if (!row) return;
  const upload = isUploadSpec(row.spec);
  const attempt: Attempt = {
    ctx,
    row,
    signal,
    spread,
    progress: new ProgressReporter(ctx.db, row.id),
    started: Date.now(),
    upload,
    trainShare: upload ? 0 : TRAIN_SHARE,
  };
  const runs = upload ? await uploadedRunsPhase(attempt) : await trainedRunsPhase(attempt);
  if (!runs) return; // canceled before it adopted its runs
  const baseline = await baselinePhase(attempt, runs);
  const tensor = await tensorPhase(attempt, runs, baseline);
  await summaryPhase(attempt, runs, baseline, tensor);
}

/**
 * The experiment to work on, its stored spec checked and this attempt counted (a spread experiment's
 * job entering again after its parts is the same attempt); null when there is nothing to do (gone,
 * finished, or still awaiting its uploaded representations).
 */
async function beginAttempt(ctx: PipelineContext, id: string, spread: Spread | undefined) {
  const { db } = ctx;
  const row = await db.experiment.findUnique({ where: { id } });
  if (!row || isTerminal(row.status) || row.status === AWAITING) return null;
  const schema = isUploadSpec(row.spec) ? UploadExperimentSpecSchema : ExperimentSpecSchema;
  if (!Value.Check(schema, row.spec)) {
    throw new PermanentFailure('INVALID_SPEC', 'stored spec does not match the experiment schema');
  }
  await db.experiment.update({
    where: { id: row.id },
    data: { ...(spread?.reentry ? {} : { attempts: { increment: 1 } }), backend: ctx.backend },
  });
  return row;
}

/** Moves the experiment to `phase`'s status (after the progress reported so far) and logs the phase. */
async function enterPhase(
  a: Attempt,
  phase: Exclude<Phase, 'summary'>,
  data: Prisma.ExperimentUpdateManyMutationInput,
): Promise<void> {
  await a.progress.flush();
  const moved = await advance(a.ctx.db, a.row.id, PHASE_STATUS[phase], data);
  a.ctx.log(`experiment ${a.row.id}: ${phase} phase${moved ? ` (status ${PHASE_STATUS[phase]})` : ''}`);
}

function runsOf(handles: AttemptRun[], similarity: NormalisedSimilarity, fallbackSamples: number): Runs {
  return { handles, ref: handles[0]!, spec: handles[handles.length - 1]!, similarity, fallbackSamples };
}

/** The runs phase of an upload: POST …/complete stored both runs' states; nothing to train. */
async function uploadedRunsPhase(a: Attempt): Promise<Runs> {
  const { ctx, row } = a;
  const u = normaliseUploadSpec(row.spec as UploadExperimentSpec);
  const stored = await storedHandles(
    ctx,
    [row.referenceRunId, row.specimenRunId],
    (_, why) =>
      new PermanentFailure(
        'REPRESENTATIONS_MISSING',
        why === 'gone'
          ? 'the uploaded representations are gone'
          : `the uploaded representations are not in this worker's artifact store (${ctx.artifacts.location}); the API and every worker must use the same ARTIFACT_URL (or share ARTIFACT_DIR)`,
      ),
  );
  const handles = stored.map((h) => ({ ...h, reused: true, resumedFromStep: null }));
  return runsOf(handles, u.similarity, u.samples);
}

/**
 * The runs phase of a trained experiment (status `training`): the reference run, then the specimen
 * run when it is another network, each reused, resumed or trained. Null when the experiment went
 * away before it adopted its runs (it is canceled).
 */
async function trainedRunsPhase(a: Attempt): Promise<Runs | null> {
  const e = normaliseExperimentSpec(a.row.spec as ExperimentSpec);
  const runs = e.specimen ? [e.reference, e.specimen] : [e.reference];
  const runIds = await adoptRunsOf(a, e, runs);
  if (!runIds) return null;
  await enterPhase(a, 'runs', { message: 'training' });
  await delegateRuns(a, runs.length, runIds);
  const handles: AttemptRun[] = [];
  for (const [i, run] of runs.entries()) {
    const label = runs.length > 1 ? (i === 0 ? 'reference: ' : 'specimen: ') : '';
    const share = (f: number) => (a.trainShare * (i + f)) / runs.length;
    const handle = await ensureRun(
      a.ctx,
      e,
      run,
      runIds[i]!,
      (f, message) => a.progress.report(share(f), `${label}${message}`),
      a.signal,
    );
    handles.push(handle);
    a.progress.report(share(1), `${label}${handle.reused ? 'reused' : 'trained'}`, true);
  }
  return runsOf(handles, e.similarity, e.probe.examples);
}

/**
 * Adopts the experiment's runs (reference, specimen) in one transaction (store/runs.ts): from then on
 * no other team's delete can remove them. Null, with the experiment canceled, when it was deleted,
 * finished or asked to cancel before it adopted anything.
 */
async function adoptRunsOf(
  a: Attempt,
  e: NormalisedExperiment,
  runs: NormalisedRunSpec[],
): Promise<[string, string] | null> {
  const defs = runs.map((r) => runDefinition(a.ctx, e, r));
  try {
    const adopted = await adoptRuns(a.ctx.db, a.row.id, defs[0]!, defs[defs.length - 1]!);
    return [adopted.referenceRunId, adopted.specimenRunId];
  } catch (err) {
    if (!(err instanceof ExperimentGone)) throw err;
    await advance(a.ctx.db, a.row.id, 'canceled', { message: 'canceled' });
    return null;
  }
}

/**
 * Two different networks that both need training are trained at once, by two workers: throws
 * WaitingForParts once they are handed over. (once: a later entry trains whatever its parts left)
 */
async function delegateRuns(a: Attempt, runCount: number, runIds: [string, string]): Promise<void> {
  const { spread, row } = a;
  const estimatedCells = (row.estimate as { cells?: number } | null)?.cells ?? 0;
  if (!spread || spread.reentry || runCount < 2 || estimatedCells < spread.minCells) return;
  const pending = await a.ctx.db.run.count({ where: { id: { in: runIds }, status: { not: 'done' } } });
  if (pending !== 2) return;
  const parts = (['reference', 'specimen'] as const).map((network, i) => ({
    experimentId: row.id,
    part: 'run' as const,
    network,
    runId: runIds[i]!,
  }));
  await a.progress.flush();
  if (await spread.delegate(parts)) throw new WaitingForParts(parts.length);
}

/**
 * The baseline phase (stored status `capturing`): the representations were saved at each checkpoint
 * while training; this reads their sizes and computes the random baseline, every measure on Gaussian
 * data with the same samples and widths per pair (a spread job entering again has it saved).
 */
async function baselinePhase(a: Attempt, runs: Runs): Promise<Baseline> {
  await enterPhase(a, 'baseline', { message: 'computing the random baseline' });
  a.signal.throwIfAborted();
  const refInfo = (await runs.ref.store.loadState())?.layers ?? [];
  const specInfo = (await runs.spec.store.loadState())?.layers ?? [];
  const samples = refInfo[0]?.samples ?? runs.fallbackSamples;
  // Conv-vs-conv pairs of a network mixing conv and dense layers use both layers' positions-as-samples
  // representations (core/cca/conv.ts); every other pair the layers' own. Each pass computes its pairs.
  const passes = convPairPasses(refInfo, specInfo);
  const baseline =
    a.spread?.savedBaseline ??
    (await randomBaseline(a.ctx, passes, refInfo, specInfo, runs.similarity.epsilon, a.signal));
  a.progress.report(a.trainShare + 0.02, 'random baseline computed', true);
  return { refInfo, specInfo, samples, passes, baseline };
}

/** baseline[refLayer][specLayer]: rho and CKA of Gaussian data with each pair's samples and widths. */
async function randomBaseline(
  ctx: PipelineContext,
  passes: PairPass[],
  refInfo: RepresentationInfo[],
  specInfo: RepresentationInfo[],
  epsilon: number,
  signal: AbortSignal,
): Promise<SavedBaseline> {
  const baseline: SavedBaseline = refInfo.map(() => specInfo.map(() => ({ rho: 0, cka: null })));
  for (const pass of passes) {
    const random = baselineLayers(pass.samples, pass.refWidths, pass.specWidths);
    for await (const cell of buildTensor({
      refLayers: refInfo.map((l, i) => ({ name: l.name, load: random.ref[i] })),
      specLayers: specInfo,
      checkpoints: 1,
      loadSpecimen: (j) => random.spec[j](),
      skip: (i, j) => !pass.pair(i, j),
      options: { engine: ctx.gemm, methods: ['cca', 'cka'], epsilon },
      signal,
    })) {
      baseline[cell.refLayer]![cell.specLayer] = { rho: cell.result.rho, cka: cell.result.cka };
    }
  }
  return baseline;
}

/**
 * The tensor phase (status `computing`): every (reference layer, specimen layer, checkpoint) cell not
 * stored yet. A large tensor is first handed to other workers in blocks (once: a later entry, which
 * has the baseline saved, computes whatever its parts left itself).
 */
async function tensorPhase(a: Attempt, runs: Runs, b: Baseline): Promise<Tensor> {
  const { ctx, row } = a;
  const { ref, spec } = runs;
  await enterPhase(a, 'tensor', { message: 'computing the CCA tensor' });
  const have = await storedCellKeys(ctx.db, row.id);
  const total = ref.layers.length * spec.layers.length * spec.checkpoints;
  if (have.size > 0) ctx.log(`experiment ${row.id}: resuming the tensor, ${have.size}/${total} cells stored`);
  await delegateBlocks(a, runs, b.baseline, have, total);
  // (what is still missing — all of it, or what a failed part left — is computed here)
  const storedBefore = await ctx.db.cell.count({ where: { experimentId: row.id } });
  const computed = await computeCells(
    ctx,
    row.id,
    ref,
    spec,
    runs.similarity,
    b.passes,
    [0, spec.checkpoints],
    a.signal,
    (n) => {
      const p = cellProgress(a.trainShare, n, total);
      a.progress.report(p.fraction, p.message);
    },
  );
  return { total, storedBefore, computed };
}

/** Hands the blocks of checkpoints with cells missing to other workers: throws WaitingForParts once they are. */
async function delegateBlocks(
  a: Attempt,
  { ref, spec }: Runs,
  baseline: SavedBaseline,
  have: ReadonlySet<string>,
  total: number,
): Promise<void> {
  const { spread } = a;
  if (!spread || spread.savedBaseline || total < spread.minCells || have.size >= total) return;
  if (spec.checkpoints <= 1) return;
  const parts = missingBlocks(
    tensorBlocks(spec.checkpoints, spread.blocks),
    have,
    ref.layers.length * spec.layers.length,
  ).map(([from, to]) => ({ experimentId: a.row.id, part: 'block' as const, from, to }));
  await a.progress.flush();
  if (parts.length > 0 && (await spread.delegate(parts, baseline))) throw new WaitingForParts(parts.length);
}

/**
 * The summary phase: checks that every cell is stored, builds the summary (summary.ts) and only then
 * writes success (a partial tensor is never reported as finished; a retry computes what is missing).
 */
async function summaryPhase(a: Attempt, runs: Runs, b: Baseline, t: Tensor): Promise<void> {
  const { ctx, row } = a;
  const { db } = ctx;
  const { ref, spec } = runs;
  const storedCells = await figureCells(db, row.id);
  if (storedCells.length !== t.total) {
    throw new Error(`tensor incomplete after computing: ${storedCells.length}/${t.total} cells stored`);
  }
  const specCheckpoints = await db.checkpoint.findMany({
    where: { runId: spec.runId },
    select: { index: true, step: true, fraction: true },
    orderBy: { index: 'asc' },
  });
  const seconds = (Date.now() - a.started) / 1000;
  const summary = experimentSummary({
    cells: t.total,
    seconds,
    source: a.upload ? 'upload' : 'trained',
    runs: runs.handles,
    cellsStoredBefore: t.storedBefore,
    cellsComputed: t.computed,
    parts: a.spread?.reentry ? await a.spread.results() : undefined,
    refLayers: ref.layers.map((l) => l.name),
    specLayers: spec.layers.map((l) => l.name),
    checkpoints: spec.checkpoints,
    refInfo: b.refInfo,
    specInfo: b.specInfo,
    sameRun: ref.runId === spec.runId,
    storedCells,
    specCheckpoints,
    baseline: b.baseline,
    samples: b.samples,
    passes: b.passes,
  });
  await a.progress.flush();
  // Success is written only now, after every cell batch above has been committed.
  const won = await advance(db, row.id, PHASE_STATUS.summary, {
    progress: 1,
    etaSeconds: 0,
    message: `done: ${t.total} cells`,
    summary,
  });
  if (won) ctx.log(`experiment ${row.id}: succeeded`);
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
  const row = await ctx.db.experiment.findUnique({ where: { id: data.experimentId } });
  if (!row || isTerminal(row.status) || row.status === AWAITING) return undefined;
  const startedAt = new Date().toISOString();
  const done = (extra: Partial<PartResult>): PartResult => ({
    part: data.part!,
    worker: ctx.workerName,
    startedAt,
    finishedAt: new Date().toISOString(),
    ...extra,
  });
  const progress = new ProgressReporter(ctx.db, row.id);
  if (data.part === 'run') {
    if (isUploadSpec(row.spec) || !data.runId || !data.network) return undefined;
    const reused = await runPart(ctx, row, data.network, data.runId, progress, signal);
    return done({ network: data.network, reused });
  }
  if (data.part === 'block' && data.from !== undefined && data.to !== undefined) {
    const cells = await blockPart(ctx, row, [data.from, data.to], progress, signal);
    return done({ from: data.from, to: data.to, cells });
  }
  throw new PermanentFailure('INVALID_JOB', `unknown part '${String(data.part)}'`);
}

/** A run part: trains (or reuses) one network of the experiment; says whether it was reused. */
async function runPart(
  ctx: PipelineContext,
  row: Experiment,
  network: 'reference' | 'specimen',
  runId: string,
  progress: ProgressReporter,
  signal: AbortSignal,
): Promise<boolean> {
  const e = normaliseExperimentSpec(row.spec as ExperimentSpec);
  const run = network === 'specimen' && e.specimen ? e.specimen : e.reference;
  const handle = await ensureRun(
    ctx,
    e,
    run,
    runId,
    // (two runs train at once: each reports its half of the training share)
    (f, message) =>
      progress.report((TRAIN_SHARE / 2) * f, `${network}: ${message} (the other network trains too)`),
    signal,
  );
  await progress.flush();
  return handle.reused;
}

/** A block part: the experiment's missing cells of checkpoints [from, to); returns how many it computed. */
async function blockPart(
  ctx: PipelineContext,
  row: Experiment,
  range: [number, number],
  progress: ProgressReporter,
  signal: AbortSignal,
): Promise<number> {
  const [ref, spec] = await storedHandles(ctx, [row.referenceRunId, row.specimenRunId]);
  const [refInfo, specInfo] = await Promise.all([ref!.store.loadState(), spec!.store.loadState()]);
  const passes = convPairPasses(refInfo?.layers ?? [], specInfo?.layers ?? []);
  const upload = isUploadSpec(row.spec);
  const similarity = upload
    ? normaliseUploadSpec(row.spec as UploadExperimentSpec).similarity
    : normaliseExperimentSpec(row.spec as ExperimentSpec).similarity;
  const total = ref!.layers.length * spec!.layers.length * spec!.checkpoints;
  const cells = await computeCells(ctx, row.id, ref!, spec!, similarity, passes, range, signal, (n) => {
    const p = cellProgress(upload ? 0 : TRAIN_SHARE, n, total);
    progress.report(p.fraction, p.message);
  });
  await progress.flush();
  return cells;
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
