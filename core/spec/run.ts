// Run and probe specifications: TypeBox schemas (the API validates requests against them), the
// deterministic normalisation that fills every default, and the key that identifies a run.
import { createHash } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { NormalisedRunSpec, ResolvedArchitecture, ResolvedOptimizer } from '../contracts/spec.ts';
import { DATASETS, type DatasetName } from '../data/info.ts';
import { PRESETS, type PresetName } from '../nets/presets.ts';
import { INT32_MAX } from './text.ts';

export type { DatasetName } from '../data/info.ts';

const PositiveInt = (max: number, description?: string) =>
  Type.Integer({ minimum: 1, maximum: max, ...(description ? { description } : {}) });

export const DatasetNameSchema = Type.Union(
  [Type.Literal('mnist'), Type.Literal('fashion-mnist'), Type.Literal('cifar10')],
  { description: 'Data set the network is trained on' },
);

export const ActivationSchema = Type.Union(
  [Type.Literal('relu'), Type.Literal('tanh'), Type.Literal('sigmoid'), Type.Literal('linear')],
  { description: 'Non-linearity of every hidden layer' },
);
export type Activation = Static<typeof ActivationSchema>;

export const PresetArchitectureSchema = Type.Object(
  { preset: Type.Union([Type.Literal('mnist-fc'), Type.Literal('cifar10-conv')]) },
  { additionalProperties: false, description: 'A named architecture (see core/nets/presets.ts)' },
);

export const MlpArchitectureSchema = Type.Object(
  {
    type: Type.Literal('mlp'),
    hidden: Type.Array(PositiveInt(8192), {
      maxItems: 32,
      description: 'Widths of the hidden layers fc1, fc2, …',
    }),
    activation: Type.Optional(ActivationSchema),
  },
  { additionalProperties: false },
);
export type MlpArchitecture = Static<typeof MlpArchitectureSchema>;

export const ConvBlockSchema = Type.Object(
  {
    filters: PositiveInt(1024),
    kernel: PositiveInt(11, 'Square kernel size; stride 1 and same padding'),
    pool: Type.Optional(PositiveInt(8, 'Max-pool window and stride after the activation (1 = none)')),
  },
  { additionalProperties: false },
);
export type ConvBlock = Static<typeof ConvBlockSchema>;

export const ConvArchitectureSchema = Type.Object(
  {
    type: Type.Literal('conv'),
    conv: Type.Array(ConvBlockSchema, { minItems: 1, maxItems: 16, description: 'Layers conv1, conv2, …' }),
    dense: Type.Optional(
      Type.Array(PositiveInt(8192), { maxItems: 16, description: 'Dense layers fc1, … after flattening' }),
    ),
    activation: Type.Optional(ActivationSchema),
  },
  { additionalProperties: false },
);
export type ConvArchitecture = Static<typeof ConvArchitectureSchema>;

export const ArchitectureSchema = Type.Union([
  PresetArchitectureSchema,
  MlpArchitectureSchema,
  ConvArchitectureSchema,
]);
export type Architecture = Static<typeof ArchitectureSchema>;

/** Architecture with every optional field filled and presets expanded (core/contracts/spec.ts). */
export type { ResolvedArchitecture };

export const SgdSchema = Type.Object(
  {
    type: Type.Literal('sgd'),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10 }),
    momentum: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Default 0' })),
  },
  { additionalProperties: false },
);
export const AdamSchema = Type.Object(
  {
    type: Type.Literal('adam'),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 10 }),
    beta1: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Default 0.9' })),
    beta2: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Default 0.999' })),
    epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Default 1e-7' })),
  },
  { additionalProperties: false },
);
export const OptimizerSchema = Type.Union([SgdSchema, AdamSchema]);
export type Optimizer = Static<typeof OptimizerSchema>;
export type { ResolvedOptimizer };

export const TrainingSchema = Type.Object(
  {
    epochs: Type.Optional(PositiveInt(1000, 'Passes over trainExamples (give epochs or steps)')),
    steps: Type.Optional(PositiveInt(10_000_000, 'Optimizer steps (give epochs or steps)')),
    batchSize: Type.Optional(PositiveInt(8192)),
    trainExamples: Type.Optional(
      PositiveInt(1_000_000, 'Deterministic subset of the train split; default all'),
    ),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: INT32_MAX })),
    optimizer: Type.Optional(OptimizerSchema),
  },
  { additionalProperties: false },
);

export const CheckpointScheduleSchema = Type.Union([
  Type.Object(
    {
      count: Type.Integer({
        minimum: 2,
        maximum: 1000,
        description: 'Checkpoints including step 0 and the last',
      }),
      spacing: Type.Optional(
        Type.Union([Type.Literal('log'), Type.Literal('linear')], { description: 'Default log' }),
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      steps: Type.Array(Type.Integer({ minimum: 0, maximum: INT32_MAX }), {
        minItems: 1,
        maxItems: 1000,
        description: 'Explicit steps; 0 and the last step are always added',
      }),
    },
    { additionalProperties: false },
  ),
]);
export type CheckpointSchedule = Static<typeof CheckpointScheduleSchema>;

export const RunSpecSchema = Type.Object(
  {
    dataset: DatasetNameSchema,
    architecture: ArchitectureSchema,
    training: Type.Optional(TrainingSchema),
    checkpoints: Type.Optional(CheckpointScheduleSchema),
  },
  { additionalProperties: false, $id: 'RunSpec' },
);
export type RunSpec = Static<typeof RunSpecSchema>;

/** A run spec after normaliseRunSpec: every default filled, presets expanded, schedule explicit. */
export type { NormalisedRunSpec };

export const ProbeSpecSchema = Type.Object(
  {
    split: Type.Optional(
      Type.Union([Type.Literal('test'), Type.Literal('train')], { description: 'Default test' }),
    ),
    examples: Type.Optional(PositiveInt(100_000, 'Default 10000 (capped at the split size)')),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: INT32_MAX, description: 'Default 0' })),
  },
  { additionalProperties: false, $id: 'ProbeSpec' },
);
export type ProbeSpec = Static<typeof ProbeSpecSchema>;
export type NormalisedProbeSpec = Required<ProbeSpec>;

/** How conv layers become matrices; see core/cca/conv.ts. */
export type ConvMode = 'positions' | 'mean' | 'flatten' | 'pool';
/** How representations are captured; stored in a run's JSON `spec` column (a type alias, not an
 * interface, so it is a JSON value to Prisma without a cast). */
export type CaptureOptions = {
  convMode: ConvMode;
  /** A representation with more features than this is refused before training. */
  maxFeatures: number;
  /** Cap on samples (rows) in 'positions' mode; rows are subsampled deterministically. */
  maxSamples: number;
  /**
   * The common grid of positions-as-samples representations (core/cca/conv.ts positionsGrid): every
   * layer's positions are pooled to it, so (example, position) rows correspond across layers. In
   * 'positions' mode every conv-shaped layer uses it (absent: each layer its own grid, as recorded
   * before it existed). In another mode it means conv-vs-conv pairs use positions as samples: every
   * conv layer (not the input) also stores a positions representation on this grid.
   */
  positionsGrid?: [number, number];
};

export class SpecError extends Error {
  /** INVALID_SPEC, or a more specific stable code (PRESET_DATASET_CONFLICT). */
  readonly code: string;
  /** JSON path of the offending field, e.g. 'training.steps'. */
  readonly field: string;
  /** Every field involved when the problem is a conflict between fields (field is the first). */
  readonly fields: string[];
  constructor(field: string, message: string, code = 'INVALID_SPEC', fields: string[] = [field]) {
    super(`${field}: ${message}`);
    this.name = 'SpecError';
    this.field = field;
    this.code = code;
    this.fields = fields;
  }
}

export const DEFAULT_TRAINING = { batchSize: 64, epochs: 1, seed: 0 } as const;
export const DEFAULT_OPTIMIZER: ResolvedOptimizer = { type: 'sgd', learningRate: 0.01, momentum: 0.9 };
export const DEFAULT_CHECKPOINTS = { count: 20, spacing: 'log' } as const;
export const DEFAULT_PROBE_EXAMPLES = 10000;

function resolveOptimizer(o: Optimizer): ResolvedOptimizer {
  if (o.type === 'sgd') return { type: 'sgd', learningRate: o.learningRate, momentum: o.momentum ?? 0 };
  return {
    type: 'adam',
    learningRate: o.learningRate,
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.999,
    epsilon: o.epsilon ?? 1e-7,
  };
}

/** Expands a preset and fills optional fields of a generic architecture. */
export function resolveArchitecture(a: Architecture): ResolvedArchitecture {
  if ('preset' in a) return resolveArchitecture(PRESETS[a.preset].architecture);
  if (a.type === 'mlp') return { type: 'mlp', hidden: [...a.hidden], activation: a.activation ?? 'relu' };
  return {
    type: 'conv',
    conv: a.conv.map((c) => ({ filters: c.filters, kernel: c.kernel, pool: c.pool ?? 1 })),
    dense: [...(a.dense ?? [])],
    activation: a.activation ?? 'relu',
  };
}

/** The ~99 % checkpoint of `total` steps: the last step at or below 99 % (at least one before the end). */
export function nearlyFinalStep(total: number): number {
  return Math.min(total - 1, Math.floor(0.99 * total));
}

/** count points 0 … total, strictly increasing, 'log' (geometric from 1) or 'linear' spacing. */
function spacedSteps(count: number, total: number, spacing: 'log' | 'linear' | undefined): number[] {
  if (total + 1 <= count) return Array.from({ length: total + 1 }, (_, i) => i);
  const points: number[] = [0];
  for (let i = 1; i < count; i++) {
    const t = i / (count - 1);
    let s = spacing === 'linear' ? Math.round(t * total) : Math.round(total ** ((i - 1) / (count - 2 || 1)));
    if (spacing !== 'linear' && count === 2) s = total;
    // Keep strictly increasing and leave room for the remaining points.
    s = Math.max(s, points[points.length - 1] + 1);
    s = Math.min(s, total - (count - 1 - i));
    points.push(s);
  }
  return points;
}

/**
 * Checkpoint steps for a schedule over `total` optimizer steps: sorted, distinct, always containing
 * 0 and `total`. The first count-1 points run from 0 to the ~99 % step (nearlyFinalStep): 'log'
 * places them geometrically from 1 (pushing collisions forward so early checkpoints stay distinct),
 * 'linear' evenly; the final step is the count-th point. So the paper's "99 % of training" panel is
 * a real checkpoint distinct from the final one (whose rho to itself is 1 by construction). With
 * fewer than count distinct steps available (total < count-1) every step is a checkpoint.
 */
export function checkpointSteps(schedule: CheckpointSchedule, total: number): number[] {
  const steps = new Set<number>([0, total]);
  if ('steps' in schedule) {
    for (const s of schedule.steps) {
      if (s > total) throw new SpecError('checkpoints.steps', `step ${s} is after the last step ${total}`);
      steps.add(s);
    }
    return [...steps].sort((a, b) => a - b);
  }
  const count = schedule.count;
  if (total + 1 <= count || count < 3) return spacedSteps(count, total, schedule.spacing);
  // count-1 points spaced over 0 … ~99 %, then the final step: the ~99 % step is always distinct.
  return [...spacedSteps(count - 1, nearlyFinalStep(total), schedule.spacing), total];
}

/**
 * Fills every default deterministically (so sha256 of the result identifies identical runs):
 * presets expand to their architecture and training defaults, epochs become steps
 * (epochs × ceil(trainExamples / batchSize)), the checkpoint schedule becomes explicit steps.
 * Throws SpecError naming the field for inconsistent input the schema cannot express.
 */
export function normaliseRunSpec(spec: RunSpec): NormalisedRunSpec {
  const info = DATASETS[spec.dataset];
  const presetName: PresetName | undefined =
    'preset' in spec.architecture ? spec.architecture.preset : undefined;
  const preset = presetName ? PRESETS[presetName] : undefined;
  if (preset && preset.dataset !== spec.dataset) {
    throw new SpecError(
      'dataset',
      `"${spec.dataset}" conflicts with architecture.preset "${presetName}", which is built for ${preset.dataset}; ` +
        `set dataset to "${preset.dataset}" or give an architecture instead of the preset`,
      'PRESET_DATASET_CONFLICT',
      ['dataset', 'architecture.preset'],
    );
  }
  const t = { ...preset?.training, ...spec.training };
  if (spec.training?.epochs !== undefined && spec.training?.steps !== undefined) {
    throw new SpecError('training', 'give epochs or steps, not both');
  }
  // A user's epochs or steps replaces the preset's length of training.
  if (spec.training?.steps !== undefined) delete t.epochs;
  if (spec.training?.epochs !== undefined) delete t.steps;

  const trainExamples = t.trainExamples ?? info.counts.train;
  if (trainExamples > info.counts.train) {
    throw new SpecError(
      'training.trainExamples',
      `${trainExamples} exceeds the ${info.counts.train} examples of the ${spec.dataset} train split`,
    );
  }
  const batchSize = t.batchSize ?? DEFAULT_TRAINING.batchSize;
  const stepsPerEpoch = Math.ceil(trainExamples / batchSize);
  const steps = t.steps ?? (t.epochs ?? DEFAULT_TRAINING.epochs) * stepsPerEpoch;
  const schedule = spec.checkpoints ?? preset?.checkpoints ?? DEFAULT_CHECKPOINTS;
  return {
    dataset: spec.dataset,
    architecture: resolveArchitecture(spec.architecture),
    training: {
      steps,
      batchSize,
      trainExamples,
      seed: t.seed ?? DEFAULT_TRAINING.seed,
      optimizer: resolveOptimizer(t.optimizer ?? DEFAULT_OPTIMIZER),
    },
    checkpoints: { steps: checkpointSteps(schedule, steps) },
  };
}

export function normaliseProbeSpec(probe: ProbeSpec, dataset: DatasetName): NormalisedProbeSpec {
  const split = probe.split ?? 'test';
  const available = DATASETS[dataset].counts[split];
  const examples = probe.examples ?? Math.min(DEFAULT_PROBE_EXAMPLES, available);
  if (examples > available) {
    throw new SpecError(
      'probe.examples',
      `${examples} exceeds the ${available} examples of the ${dataset} ${split} split`,
    );
  }
  return { split, examples, seed: probe.seed ?? 0 };
}

/** JSON with object keys sorted recursively (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** sha256 hex of the canonical JSON of (normalised run, probe, capture options): the artifact key. */
export function runKey(spec: NormalisedRunSpec, probe: NormalisedProbeSpec, capture: CaptureOptions): string {
  return createHash('sha256')
    .update(canonicalJson({ run: spec, probe, capture }))
    .digest('hex');
}
