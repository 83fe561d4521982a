// What clients need to know about the service's rules, from the one place each is defined: the
// architecture presets (GET /v1/presets) and the status, figure and measure lists (GET /v1/meta).
// The page and the CLI read these instead of copying them.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DATASETS } from '../../../core/data/info.ts';
import { DEFAULT_FRACTIONS } from '../../../core/figures/heatmaps.ts';
import { describeNetwork } from '../../../core/nets/describe.ts';
import { PRESETS, type PresetName } from '../../../core/nets/presets.ts';
import { SLICE_MEASURES } from '../../../core/slice.ts';
import type { ExperimentSpec } from '../../../core/spec/experiment.ts';
import { CheckpointScheduleSchema, normaliseProbeSpec, TrainingSchema } from '../../../core/spec/run.ts';
import { EXPERIMENT_STATUSES, STATUS_PHASES, TERMINAL_STATUSES } from '../../../core/status.ts';
import { principalOf } from '../../plugins/auth.ts';
import { errorResponses } from '../../schemas/error.ts';

const tags = ['meta'];

/** Probe examples of a preset's example spec (the demo's setting: quick to capture, enough to judge). */
const EXAMPLE_PROBE_EXAMPLES = 2500;

const PresetSchema = Type.Object({
  name: Type.String({ description: 'the value of architecture.preset' }),
  dataset: Type.String({ description: 'the data set the preset is built for (a spec must name it)' }),
  description: Type.String(),
  layers: Type.Array(
    Type.Object({
      name: Type.String(),
      kind: Type.String({ description: "'input', 'dense', 'conv' or 'logits'" }),
      features: Type.Integer({ description: 'values per example (h × w × channels for conv layers)' }),
    }),
    { description: 'the recorded layers, bottom to top' },
  ),
  defaults: Type.Object({
    training: Type.Object(TrainingSchema.properties, {
      description: "the preset's training settings (a spec's own fields win)",
    }),
    checkpoints: Type.Union(CheckpointScheduleSchema.anyOf, { description: 'the checkpoint schedule' }),
    probe: Type.Object({
      split: Type.String(),
      examples: Type.Integer(),
      seed: Type.Integer(),
    }),
  }),
  example: Type.Unsafe<ExperimentSpec>(
    Type.Ref('ExperimentSpec', {
      description: 'a complete experiment spec using the preset (Net_S = Net_R), valid as a POST body',
    }),
  ),
});
type PresetView = Static<typeof PresetSchema>;

const MetaSchema = Type.Object({
  statuses: Type.Array(Type.String(), { description: 'every experiment status, in lifecycle order' }),
  terminalStatuses: Type.Array(Type.String(), { description: 'statuses an experiment never leaves' }),
  phases: Type.Record(Type.String(), Type.String(), {
    description: "what happens in each status, in words ('capturing' computes the random baseline)",
  }),
  figureFractions: Type.Array(Type.Number(), {
    description: "Figure 1's default fractions of training (GET …/figures/heatmaps.svg)",
  }),
  measures: Type.Array(Type.String(), {
    description: 'the measures a slice can read (GET …/tensor?measure=)',
  }),
});

export function presetView(name: PresetName): PresetView {
  const preset = PRESETS[name];
  const info = DATASETS[preset.dataset];
  const network = describeNetwork(preset.architecture, info.shape, info.classes);
  return {
    name,
    dataset: preset.dataset,
    description: preset.description,
    layers: network.layers.map((l) => ({
      name: l.name,
      kind: l.kind,
      features: l.shape.reduce((a, b) => a * b, 1),
    })),
    defaults: {
      training: { ...preset.training },
      checkpoints: { ...preset.checkpoints },
      probe: normaliseProbeSpec({}, preset.dataset),
    },
    example: {
      name: `${name} (preset)`,
      reference: { dataset: preset.dataset, architecture: { preset: name } },
      specimen: 'same',
      probe: { split: 'test', examples: EXAMPLE_PROBE_EXAMPLES, seed: 0 },
    },
  };
}

export async function metaRoutes(scope: FastifyInstance): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/v1/presets',
    {
      schema: {
        tags,
        summary: 'The named architectures (architecture.preset) with their layers and default schedules',
        response: { 200: Type.Object({ presets: Type.Array(PresetSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      principalOf(request); // a key of any role; share tokens read one experiment only
      return { presets: (Object.keys(PRESETS) as PresetName[]).map(presetView) };
    },
  );

  app.get(
    '/v1/meta',
    {
      schema: {
        tags,
        summary: "The service's lists: statuses, terminal statuses, Figure 1's fractions, slice measures",
        description: 'Needs a key or a live share token (?share=TOKEN).',
        response: { 200: MetaSchema, ...errorResponses },
      },
    },
    async (request) => {
      // a key, or a live share token (a shared page needs the same rules)
      if (!request.shareOwner) principalOf(request);
      return {
        statuses: [...EXPERIMENT_STATUSES],
        terminalStatuses: [...TERMINAL_STATUSES],
        phases: { ...STATUS_PHASES },
        figureFractions: [...DEFAULT_FRACTIONS],
        measures: [...SLICE_MEASURES],
      };
    },
  );
}
