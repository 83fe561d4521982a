// Experiment specification: reference run + specimen run ('same' = Net_S is Net_R, the paper's main
// setting) + probe set + similarity settings. The API validates requests against this schema; the
// worker validates job data again with normaliseExperimentSpec.
import { createHash } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { positionsGrid } from '../cca/conv.ts';
import type { NormalisedExperiment, NormalisedSimilarity } from '../contracts/spec.ts';
import { DATASETS } from '../data/info.ts';
import { describeNetwork } from '../nets/describe.ts';
import {
  type CaptureOptions,
  type ConvMode,
  canonicalJson,
  type NormalisedRunSpec,
  normaliseProbeSpec,
  normaliseRunSpec,
  ProbeSpecSchema,
  RunSpecSchema,
  SpecError,
} from './run.ts';
import { Text } from './text.ts';

/** A schema without its $id, to be held inline (its $id would otherwise appear twice in one schema). */
export function inline<T extends object>(schema: T): T {
  const { $id: _id, ...rest } = schema as T & { $id?: string };
  return rest as T;
}

export const SIMILARITY_METHODS = ['cca', 'svcca', 'pwcca', 'cka'] as const;
export type SimilarityMethod = (typeof SIMILARITY_METHODS)[number];

export const SimilaritySpecSchema = Type.Object(
  {
    methods: Type.Optional(
      Type.Array(Type.Union(SIMILARITY_METHODS.map((m) => Type.Literal(m))), {
        minItems: 1,
        uniqueItems: true,
        description: 'Measures per cell; rho and mean CCA are always computed. Default all.',
      }),
    ),
    svccaThreshold: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'SVCCA variance kept (default 0.99)' }),
    ),
    epsilon: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 0.1,
        description: 'Rank tolerance relative to the largest singular value (default 1e-10)',
      }),
    ),
    convMode: Type.Optional(
      Type.Union(
        [Type.Literal('positions'), Type.Literal('mean'), Type.Literal('flatten'), Type.Literal('pool')],
        {
          description:
            "How conv layers become [samples, features], in every pair. Default: 'positions' (positions as samples, on the common grid of the conv layers) when every layer of both networks is convolutional; else per pair: 'positions' for conv-vs-conv pairs, 'pool' (average-pooled to the finest grid within 1 feature per 10 examples, flattened) for pairs with a dense layer or the input. 'pool' is for trained networks only",
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ExperimentSpecSchema = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 200, description: 'A label for people' }),
    reference: inline(RunSpecSchema),
    specimen: Type.Union([Type.Literal('same'), inline(RunSpecSchema)], {
      description: '"same" (Net_S = Net_R) or a second run spec (a different network)',
    }),
    probe: Type.Optional(inline(ProbeSpecSchema)),
    similarity: Type.Optional(SimilaritySpecSchema),
  },
  { additionalProperties: false, $id: 'ExperimentSpec', title: 'ExperimentSpec' },
);
export type ExperimentSpec = Static<typeof ExperimentSpecSchema>;

/** The spec as the service runs it (core/contracts/spec.ts): specimen null when "same". */
export type { NormalisedExperiment, NormalisedSimilarity };

export type SimilaritySpec = Static<typeof SimilaritySpecSchema>;

/** Similarity settings with every default filled; methods in canonical order. */
export function normaliseSimilarity(s: SimilaritySpec, defaultConvMode: ConvMode): NormalisedSimilarity {
  return {
    methods: [...(s.methods ?? SIMILARITY_METHODS)].sort(
      (a, b) => SIMILARITY_METHODS.indexOf(a) - SIMILARITY_METHODS.indexOf(b),
    ),
    svccaThreshold: s.svccaThreshold ?? 0.99,
    epsilon: s.epsilon ?? 1e-10,
    convMode: s.convMode ?? defaultConvMode,
    convPairs: 'same',
  };
}

export interface CaptureLimits {
  representationFeatures: number;
  convSamples: number;
}

/** Fills every default and checks cross-field consistency; throws SpecError naming the field. */
export function normaliseExperimentSpec(spec: ExperimentSpec): NormalisedExperiment {
  const reference = prefixed('reference', () => normaliseRunSpec(spec.reference));
  const specimen =
    spec.specimen === 'same' ? null : prefixed('specimen', () => normaliseRunSpec(spec.specimen as never));
  if (specimen && specimen.dataset !== reference.dataset) {
    throw new SpecError(
      'specimen.dataset',
      'must equal reference.dataset: both networks see the same probe set',
    );
  }
  const probe = prefixed('', () => normaliseProbeSpec(spec.probe ?? {}, reference.dataset));
  const s = spec.similarity ?? {};
  const similarity = normaliseSimilarity(s, 'positions');
  const info = DATASETS[reference.dataset];
  const describe = (run: NormalisedRunSpec, field: string) =>
    prefixed(field, () => describeNetwork(run.architecture, info.shape, info.classes));
  const refNet = describe(reference, 'reference.architecture');
  const specNet = specimen ? describe(specimen, 'specimen.architecture') : refNet;
  // In 'positions' mode a conv layer has examples*h*w samples, a dense layer one per example: CCA
  // needs equal sample counts, so networks mixing both (every trained conv net: its logits are dense)
  // reduce per pair by default: conv-vs-conv pairs use positions as samples (on the common grid of the
  // conv layers, so rows correspond), pairs with a dense layer or the input use 'pool' — each conv
  // layer average-pooled to the finest grid that keeps 10 examples per feature, flattened, so the
  // input image keeps its spatial layout (not its 3 mean colours).
  const layers = [...refNet.layers, ...specNet.layers];
  const mixed = layers.some((l) => l.shape.length === 3) && layers.some((l) => l.shape.length === 1);
  if (mixed && similarity.convMode === 'positions') {
    if (s.convMode === 'positions') {
      throw new SpecError(
        'similarity.convMode',
        "'positions' needs every layer to be convolutional (dense layers have one sample per example); use 'mean' or 'flatten'",
      );
    }
    similarity.convMode = 'pool';
    similarity.convPairs = 'positions';
  }
  return {
    name: spec.name,
    reference,
    specimen,
    probe,
    similarity,
    networks: { reference: refNet, specimen: specNet },
  };
}

function prefixed<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SpecError && prefix && !err.field.startsWith(prefix)) {
      throw new SpecError(
        `${prefix}.${err.field}`,
        err.message.replace(`${err.field}: `, ''),
        err.code,
        err.fields.map((f) => `${prefix}.${f}`),
      );
    }
    if (err instanceof RangeError) throw new SpecError(prefix || 'spec', err.message);
    throw err;
  }
}

/** Capture options of an experiment (part of a run's artifact key). */
export function captureOptions(e: NormalisedExperiment, limits: CaptureLimits): CaptureOptions {
  const capture: CaptureOptions = {
    convMode: e.similarity.convMode,
    maxFeatures: limits.representationFeatures,
    maxSamples: limits.convSamples,
  };
  const grid = commonPositionsGrid(e);
  if (grid) capture.positionsGrid = grid;
  return capture;
}

/**
 * The common grid of the experiment's positions-as-samples representations (both networks, so rows
 * correspond across them): over every conv-shaped layer in 'positions' mode, over the conv layers
 * but the input when conv-vs-conv pairs use positions; undefined when none do.
 */
export function commonPositionsGrid(e: NormalisedExperiment): [number, number] | undefined {
  const layers = [...e.networks.reference.layers, ...e.networks.specimen.layers];
  if (e.similarity.convMode === 'positions') return positionsGrid(layers.map((l) => l.shape));
  if (e.similarity.convPairs !== 'positions') return undefined;
  return positionsGrid(layers.filter((l) => l.kind !== 'input').map((l) => l.shape));
}

/** sha256 of the canonical JSON of a spec: equal bodies give equal hashes (idempotency). */
export function specHash(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}
