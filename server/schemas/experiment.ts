// Response schemas of the experiments resource.
import { type Static, Type } from '@sinclair/typebox';
import { ExperimentEstimateSchema } from '../../core/contracts/estimate.ts';
import { NormalisedExperimentSchema, NormalisedUploadSchema } from '../../core/contracts/spec.ts';
import { ExperimentSummaryRef } from '../../core/contracts/summary.ts';
import { WarningSchema } from '../../core/contracts/warning.ts';
import type { ExperimentSpec } from '../../core/spec/experiment.ts';
import { type UploadExperimentSpec, UploadExperimentSpecSchema } from '../../core/spec/upload.ts';
import { EXPERIMENT_STATUSES } from '../../core/status.ts';

export const ExperimentStatusSchema = Type.Union(
  EXPERIMENT_STATUSES.map((s) => Type.Literal(s)),
  {
    description:
      'queued → training → capturing → computing → succeeded | failed | canceled; experiments on uploaded ' +
      'activations start in awaiting_representations and are queued by POST …/complete',
  },
);

const Nullable = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const CheckpointSchema = Type.Object({
  index: Type.Integer(),
  step: Type.Integer(),
  fraction: Type.Number(),
  trainLoss: Nullable(Type.Number()),
  trainAccuracy: Nullable(Type.Number()),
  probeLoss: Nullable(Type.Number()),
  probeAccuracy: Nullable(Type.Number()),
});

export const LayerDetailSchema = Type.Object({
  name: Type.String(),
  kind: Type.String({ description: "'input', 'dense', 'conv' or 'logits' (uploads: 'dense' or 'conv')" }),
  features: Type.Integer({ description: 'columns of the matrix CCA sees' }),
  samples: Type.Integer({ description: 'rows of the matrix CCA sees' }),
  reduction: Nullable(
    Type.String({
      description:
        "how the layer became [samples, features]: 'none' (not conv-shaped), 'positions', 'mean', 'flatten' or 'pool'; null: not recorded (older or uploaded experiments)",
    }),
  ),
  reductionDetail: Nullable(Type.String({ description: 'the reduction in words' })),
});

export { WarningSchema };

/** The submitted specs as components (ExperimentSpecSchema has its $id; the upload spec gets one
 * here, its request schema stays without, as the POST body union holds both inline). */
export const UploadExperimentSpecComponent = { ...UploadExperimentSpecSchema, $id: 'UploadExperimentSpec' };
const ExperimentSpecRef = Type.Unsafe<ExperimentSpec>(Type.Ref('ExperimentSpec'));
const UploadExperimentSpecRef = Type.Unsafe<UploadExperimentSpec>(Type.Ref('UploadExperimentSpec'));

export const ExperimentSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    status: ExperimentStatusSchema,
    progress: Type.Object({
      phase: ExperimentStatusSchema,
      fraction: Type.Number({ minimum: 0, maximum: 1 }),
      message: Type.String(),
      etaSeconds: Nullable(Type.Number()),
    }),
    error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
    spec: Type.Union([ExperimentSpecRef, UploadExperimentSpecRef], {
      description: 'the submitted spec (ExperimentSpec, or UploadExperimentSpec for uploaded activations)',
    }),
    estimate: Nullable(ExperimentEstimateSchema),
    layers: Type.Object({ reference: Type.Array(Type.String()), specimen: Type.Array(Type.String()) }),
    layerDetails: Type.Object(
      { reference: Type.Array(LayerDetailSchema), specimen: Type.Array(LayerDetailSchema) },
      { description: 'each recorded layer: its matrix [samples, features] and how conv layers were reduced' },
    ),
    checkpoints: Type.Array(CheckpointSchema),
    timings: Type.Object({
      createdAt: Type.String({ format: 'date-time' }),
      queuedAt: Type.String({ format: 'date-time' }),
      trainingAt: Nullable(Type.String({ format: 'date-time' })),
      capturingAt: Nullable(Type.String({ format: 'date-time' })),
      computingAt: Nullable(Type.String({ format: 'date-time' })),
      finishedAt: Nullable(Type.String({ format: 'date-time' })),
    }),
    backend: Nullable(Type.String()),
    summary: Type.Union([ExperimentSummaryRef, Type.Null()], {
      description: 'per-layer results when succeeded, else null',
    }),
    warnings: Type.Array(Type.Ref('AnalysisWarning'), {
      description:
        'what limits the numbers: before the run, from the layer widths and the samples (few-samples); once ' +
        "succeeded, also from the ranks kept and each cell's null (constant-layer, rank-deficient, null-near-one)",
    }),
    links: Type.Record(Type.String(), Type.String()),
  },
  { $id: 'Experiment', title: 'Experiment' },
);
export type ExperimentView = Static<typeof ExperimentSchema>;

export const ExperimentListSchema = Type.Object({
  items: Type.Array(Type.Ref('Experiment')),
  nextCursor: Nullable(Type.String()),
});

export const SubmittedSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: ExperimentStatusSchema,
  estimate: ExperimentEstimateSchema,
  warnings: Type.Array(Type.Ref('AnalysisWarning'), {
    description: 'known before the run: e.g. few-samples when the probe set is under 10x a layer width',
  }),
  links: Type.Record(Type.String(), Type.String()),
});

export const DryRunSchema = Type.Object(
  {
    dryRun: Type.Literal(true),
    spec: Type.Union([NormalisedExperimentSchema, NormalisedUploadSchema], {
      description:
        'the spec normalised as the service would run it: defaults filled, presets expanded, checkpoint steps explicit',
    }),
    estimate: ExperimentEstimateSchema,
    warnings: Type.Array(Type.Ref('AnalysisWarning'), {
      description: 'the warnings a real submission would get (e.g. few-samples)',
    }),
  },
  { description: 'POST /v1/experiments?dryRun=true: validated and estimated; nothing stored or queued' },
);
