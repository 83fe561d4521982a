// The spec normalised as the service runs it (POST /v1/experiments?dryRun=true answers it as `spec`):
// every default filled, presets expanded, checkpoint steps explicit. core/spec's normalisers return
// these types (NormalisedExperiment, NormalisedUpload).
import { type Static, Type } from '@sinclair/typebox';
import { SIMILARITY_METHODS } from '../spec/experiment.ts';
import { ActivationSchema, DatasetNameSchema } from '../spec/run.ts';

const ConvModeSchema = Type.Union(
  [Type.Literal('positions'), Type.Literal('mean'), Type.Literal('flatten'), Type.Literal('pool')],
  { description: 'how conv layers become [samples, features] (core/cca/conv.ts)' },
);

/** Architecture with every optional field filled and presets expanded. */
export const ResolvedArchitectureSchema = Type.Union([
  Type.Object({
    type: Type.Literal('mlp'),
    hidden: Type.Array(Type.Integer()),
    activation: ActivationSchema,
  }),
  Type.Object({
    type: Type.Literal('conv'),
    conv: Type.Array(Type.Object({ filters: Type.Integer(), kernel: Type.Integer(), pool: Type.Integer() })),
    dense: Type.Array(Type.Integer()),
    activation: ActivationSchema,
  }),
]);

export const ResolvedOptimizerSchema = Type.Union([
  Type.Object({ type: Type.Literal('sgd'), learningRate: Type.Number(), momentum: Type.Number() }),
  Type.Object({
    type: Type.Literal('adam'),
    learningRate: Type.Number(),
    beta1: Type.Number(),
    beta2: Type.Number(),
    epsilon: Type.Number(),
  }),
]);

/** A run spec after normaliseRunSpec: every default filled, presets expanded, schedule explicit. */
export const NormalisedRunSpecSchema = Type.Object({
  dataset: DatasetNameSchema,
  architecture: ResolvedArchitectureSchema,
  training: Type.Object({
    steps: Type.Integer(),
    batchSize: Type.Integer(),
    trainExamples: Type.Integer(),
    seed: Type.Integer(),
    optimizer: ResolvedOptimizerSchema,
  }),
  checkpoints: Type.Object({
    steps: Type.Array(Type.Integer(), {
      description: 'sorted, distinct, always containing 0 and training.steps',
    }),
  }),
});

export const NormalisedProbeSpecSchema = Type.Object({
  split: Type.Union([Type.Literal('test'), Type.Literal('train')]),
  examples: Type.Integer(),
  seed: Type.Integer(),
});

export const NormalisedSimilaritySchema = Type.Object({
  methods: Type.Array(Type.Union(SIMILARITY_METHODS.map((m) => Type.Literal(m)))),
  svccaThreshold: Type.Number(),
  epsilon: Type.Number(),
  convMode: ConvModeSchema,
  convPairs: Type.Union([Type.Literal('positions'), Type.Literal('same')], {
    description:
      "how conv-vs-conv pairs are reduced: 'positions' (positions as samples on the common grid of the conv layers) in a network mixing conv and dense layers whose convMode was not chosen; 'same' (convMode, like every other pair) otherwise",
  }),
});

export const LayerInfoSchema = Type.Object({
  name: Type.String({ description: "stable name: 'input', 'conv1'…, 'fc1'…, 'logits'" }),
  kind: Type.Union([
    Type.Literal('input'),
    Type.Literal('dense'),
    Type.Literal('conv'),
    Type.Literal('logits'),
  ]),
  shape: Type.Array(Type.Integer(), {
    description: 'output shape per example: [features] or [h, w, channels]',
  }),
});

export const NetworkDescriptionSchema = Type.Object({
  architecture: ResolvedArchitectureSchema,
  layers: Type.Array(LayerInfoSchema, { description: 'recorded layers in forward order' }),
  parameters: Type.Integer({ description: 'trainable parameters (weights + biases)' }),
  flopsPerExample: Type.Number({ description: 'multiply-adds × 2 of one forward pass, per example' }),
});

export const NormalisedExperimentSchema = Type.Object(
  {
    name: Type.String(),
    reference: NormalisedRunSpecSchema,
    specimen: Type.Union([NormalisedRunSpecSchema, Type.Null()], {
      description: 'null when the specimen is the reference run itself ("same")',
    }),
    probe: NormalisedProbeSpecSchema,
    similarity: NormalisedSimilaritySchema,
    networks: Type.Object({ reference: NetworkDescriptionSchema, specimen: NetworkDescriptionSchema }),
  },
  { title: 'NormalisedExperiment' },
);

export const NormalisedUploadSchema = Type.Object(
  {
    name: Type.String(),
    samples: Type.Integer(),
    same: Type.Boolean({
      description: "true: specimen 'same' — the reference representations are the specimen's last checkpoint",
    }),
    layers: Type.Object({ reference: Type.Array(Type.String()), specimen: Type.Array(Type.String()) }),
    checkpoints: Type.Array(
      Type.Object({ index: Type.Integer(), step: Type.Integer(), fraction: Type.Number() }),
    ),
    similarity: NormalisedSimilaritySchema,
  },
  { title: 'NormalisedUpload' },
);

export type ResolvedArchitecture = Static<typeof ResolvedArchitectureSchema>;
export type ResolvedOptimizer = Static<typeof ResolvedOptimizerSchema>;
export type NormalisedRunSpec = Static<typeof NormalisedRunSpecSchema>;
export type NormalisedSimilarity = Static<typeof NormalisedSimilaritySchema>;
export type LayerInfo = Static<typeof LayerInfoSchema>;
export type NetworkDescription = Static<typeof NetworkDescriptionSchema>;
export type NormalisedExperiment = Static<typeof NormalisedExperimentSchema>;
export type NormalisedUpload = Static<typeof NormalisedUploadSchema>;
