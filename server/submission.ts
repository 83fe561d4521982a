// What a POST /v1/experiments body becomes before anything is stored: the spec normalised, its
// estimate, its limit check, its dataset check and the warnings known at submission. The real POST
// and its dry run (?dryRun=true) both start here, so they refuse the same bodies with the same codes.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/index.ts';
import { convReductionWarnings } from '../core/analysis/conv-reduction.ts';
import { declaredWarnings } from '../core/analysis/index.ts';
import type { AnalysisWarning } from '../core/analysis/warnings.ts';
import type { ExperimentEstimate, UploadEstimate } from '../core/contracts/estimate.ts';
import { fromJson } from '../core/contracts/json.ts';
import { datasetAvailability } from '../core/data/load.ts';
import {
  checkLimits,
  checkUploadLimits,
  type Estimate,
  estimateExperiment,
  type LimitViolation,
  representationShape,
} from '../core/estimate.ts';
import {
  commonPositionsGrid,
  type ExperimentSpec,
  type NormalisedExperiment,
  normaliseExperimentSpec,
  specHash,
} from '../core/spec/experiment.ts';
import { SpecError } from '../core/spec/run.ts';
import {
  type NormalisedUpload,
  normaliseUploadSpec,
  requiredRepresentations,
  type UploadExperimentSpec,
  type UploadNetwork,
} from '../core/spec/upload.ts';
import type { Prisma } from '../store/db.ts';
import { enqueueOrDefer } from '../store/queue.ts';
import { pingRedis } from '../store/redis.ts';
import { type Created, createExperiment, type NewLayer } from '../store/repository.ts';
import type { RouteDeps } from './app.ts';
import { decompositionEngine } from './engine.ts';
import { HttpError } from './schemas/error.ts';
import { links, uploadLinks } from './views.ts';

type LayerRow = NewLayer & { reduction: string; reductionDetail: string | null };

export type { UploadEstimate };

export type Submission =
  | {
      kind: 'trained';
      spec: ExperimentSpec;
      normalised: NormalisedExperiment;
      estimate: Estimate;
      layers: LayerRow[];
      warnings: AnalysisWarning[];
    }
  | {
      kind: 'upload';
      spec: UploadExperimentSpec;
      normalised: NormalisedUpload;
      estimate: UploadEstimate;
      /** layer widths are known only once the arrays arrive: warnings come with POST …/complete */
      warnings: AnalysisWarning[];
    };

/** Normalises and checks a trained spec; HttpError 400 (spec) or 422 (limits, dataset). */
export function planTrained(spec: ExperimentSpec, config: Config): Submission & { kind: 'trained' } {
  const normalised = specOrBadRequest(() => normaliseExperimentSpec(spec));
  const estimate = estimateExperiment(normalised, config.limits, decompositionEngine(config));
  refuseViolations(checkLimits(normalised, estimate, config.limits), estimate);
  checkDataset(normalised, config);
  const grid = commonPositionsGrid(normalised);
  const layers = (['reference', 'specimen'] as const).flatMap((network) =>
    normalised.networks[network].layers.map((l, index): LayerRow => {
      const shape = representationShape(
        l,
        normalised.probe.examples,
        normalised.similarity.convMode,
        config.limits.convSamples,
        config.limits.representationFeatures,
        grid,
      );
      return {
        network,
        index,
        name: l.name,
        kind: l.kind,
        features: shape.features,
        samples: shape.samples,
        reduction: shape.reduction,
        reductionDetail: shape.reductionDetail,
      };
    }),
  );
  // estimate-time warnings: e.g. 256 probe examples cannot judge a 784-wide input; how each conv
  // layer will be reduced
  const warnings = [...declaredWarnings(layers), ...convReductionWarnings(layers)];
  return { kind: 'trained', spec, normalised, estimate, layers, warnings };
}

/** Normalises and checks an upload spec; HttpError 400 (spec) or 422 (limits). */
export function planUpload(spec: UploadExperimentSpec, config: Config): Submission & { kind: 'upload' } {
  const normalised = specOrBadRequest(() => normaliseUploadSpec(spec));
  const n = normalised.checkpoints.length;
  const estimate: UploadEstimate = {
    cells: normalised.layers.reference.length * normalised.layers.specimen.length * n,
    checkpoints: n,
    samples: normalised.samples,
    representations: requiredRepresentations(normalised).length,
    note: 'memory and time are estimated from the uploaded shapes at POST …/complete',
  };
  refuseViolations(checkUploadLimits(estimate, config.limits), estimate);
  return { kind: 'upload', spec, normalised, estimate, warnings: [] };
}

function specOrBadRequest<T>(normalise: () => T): T {
  try {
    return normalise();
  } catch (err) {
    if (err instanceof SpecError) {
      throw new HttpError(400, err.code, err.message, {
        field: err.field,
        ...(err.fields.length > 1 ? { fields: err.fields } : {}),
      });
    }
    throw err;
  }
}

export function refuseViolations(violations: LimitViolation[], estimate: unknown): void {
  if (violations.length === 0) return;
  const first = violations[0];
  throw new HttpError(422, first.code, first.message, { field: first.field, violations, estimate });
}

/** 422 DATASET_UNAVAILABLE when the files of the experiment's data set are not on this machine. */
function checkDataset(e: NormalisedExperiment, config: Config): void {
  const dataset = e.reference.dataset;
  const { available, searched } = datasetAvailability(dataset, {
    cacheDir: config.artifactDir,
    sharedDir: config.sharedDir,
    cifarDir: config.cifarDir,
  });
  if (available) return;
  throw new HttpError(
    422,
    'DATASET_UNAVAILABLE',
    `the ${dataset} data set is not available on this server: set CIFAR_DIR to the official binary ` +
      'version (data_batch_1.bin … test_batch.bin) or SHARED_DIR to a directory holding ' +
      `datasets/cifar-10-jpg.tar.gz, then restart the service; looked at ${searched.join(', ')}`,
    { field: 'reference.dataset', dataset, env: ['CIFAR_DIR', 'SHARED_DIR'], searched },
  );
}

/** The answer of a dry run (200): what a submission would be, nothing stored. */
export function dryRunView(plan: Submission) {
  return { dryRun: true as const, spec: plan.normalised, estimate: plan.estimate, warnings: plan.warnings };
}

/**
 * Stores the planned experiment behind its Idempotency-Key and, for a trained one, queues it.
 * Redis unreachable before anything is stored → 503 QUEUE_UNAVAILABLE and nothing is kept; Redis
 * lost between that check and the enqueue → the row is kept (202) and the workers' reconciler
 * enqueues it from Postgres. Never a row that nobody will run. An upload experiment is created
 * awaiting its representations (201); nothing is queued until POST …/complete.
 */
export async function submitExperiment(
  deps: RouteDeps,
  plan: Submission,
  teamId: string,
  idempotencyKey: string | undefined,
  log: FastifyBaseLogger,
) {
  const base = {
    teamId,
    activeLimit: deps.config.limits.activeExperiments,
    name: plan.spec.name,
    spec: plan.spec,
    specHash: specHash(plan.spec),
    idempotencyKey,
    estimate: plan.estimate,
    checkpointCount: plan.estimate.checkpoints,
  };
  if (plan.kind === 'upload') {
    const created = await createExperiment(deps.db, { ...base, ...uploadRows(plan) });
    // layer widths are known only once the arrays arrive: warnings come with POST …/complete (202)
    return {
      status: 201 as const,
      body: { ...submitted(created), warnings: [], links: uploadLinks(created.id) },
    };
  }
  const created = await createExperiment(deps.db, { ...base, kind: 'trained', layers: plan.layers }, () =>
    queueReachable(deps),
  );
  if (!created.replayed) {
    const failed = await enqueueOrDefer(deps.queue, created.id);
    if (failed)
      log.warn({ err: failed, experimentId: created.id }, 'enqueue failed; the reconciler will retry');
  }
  const warnings = created.replayed
    ? [...declaredWarnings(created.layers), ...convReductionWarnings(created.layers)]
    : plan.warnings;
  return { status: 202 as const, body: { ...submitted(created), warnings, links: links(created.id) } };
}

function submitted(created: Created) {
  return { id: created.id, status: created.status, estimate: fromJson<ExperimentEstimate>(created.estimate) };
}

async function queueReachable(deps: RouteDeps): Promise<void> {
  try {
    await pingRedis(deps.redis);
  } catch {
    throw new HttpError(503, 'QUEUE_UNAVAILABLE', 'the work queue (Redis) is unreachable; try again shortly');
  }
}

/** The rows of an upload experiment: a run per network (one when Net_S = Net_R) and its layers. */
function uploadRows(plan: Submission & { kind: 'upload' }) {
  const u = plan.normalised;
  const id = randomUUID();
  const lastStep = u.checkpoints[u.checkpoints.length - 1].step;
  const final = [{ index: 0, step: lastStep, fraction: 1 }];
  const runSpec = (network: UploadNetwork): Prisma.InputJsonValue => ({
    source: 'upload',
    experimentId: id,
    network,
    layers: u.layers[network],
    checkpoints: network === 'specimen' ? u.checkpoints : final,
  });
  const layers = (network: UploadNetwork): NewLayer[] =>
    u.layers[network].map((name, index) => ({
      network,
      index,
      name,
      kind: 'uploaded',
      features: 0,
      samples: u.samples,
    }));
  return {
    kind: 'upload' as const,
    id,
    same: u.same,
    runSpecs: { reference: runSpec('reference'), specimen: runSpec('specimen') },
    checkpoints: { reference: final, specimen: u.checkpoints.map((c) => ({ ...c })) },
    layers: [...layers('reference'), ...layers('specimen')],
    message: `awaiting ${plan.estimate.representations} representations (PUT …/activations/…), then POST …/complete`,
  };
}
