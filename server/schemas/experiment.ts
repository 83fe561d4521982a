// Response schemas of the experiments resource.
import { type Static, Type } from '@sinclair/typebox';
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

export const WarningSchema = Type.Object(
  {
    code: Type.String({
      description:
        "lower-kebab-case: 'few-samples', 'constant-layer', 'rank-deficient', 'conv-reduction', 'null-near-one', …",
    }),
    message: Type.String({ description: 'plain words naming the layer(s) and the numbers' }),
    network: Type.Optional(Type.Union([Type.Literal('reference'), Type.Literal('specimen')])),
    layer: Type.Optional(Type.String()),
    refLayer: Type.Optional(Type.String()),
    specLayer: Type.Optional(Type.String()),
    checkpoint: Type.Optional(Type.Integer()),
  },
  { $id: 'AnalysisWarning', title: 'AnalysisWarning' },
);

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
    spec: Type.Unknown({ description: 'the submitted spec' }),
    estimate: Type.Unknown({ description: 'memory/time estimate made before queueing' }),
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
    summary: Type.Unknown({ description: 'per-layer results when succeeded, else null' }),
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
  estimate: Type.Unknown(),
  warnings: Type.Array(Type.Ref('AnalysisWarning'), {
    description: 'known before the run: e.g. few-samples when the probe set is under 10x a layer width',
  }),
  links: Type.Record(Type.String(), Type.String()),
});

export const DryRunSchema = Type.Object(
  {
    dryRun: Type.Literal(true),
    spec: Type.Unknown({
      description:
        'the spec normalised as the service would run it: defaults filled, presets expanded, checkpoint steps explicit',
    }),
    estimate: Type.Unknown({ description: 'the estimate a real submission answers with' }),
    warnings: Type.Array(Type.Ref('AnalysisWarning'), {
      description: 'the warnings a real submission would get (e.g. few-samples)',
    }),
  },
  { description: 'POST /v1/experiments?dryRun=true: validated and estimated; nothing stored or queued' },
);
