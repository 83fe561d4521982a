// The summary a finished experiment stores (worker/processors/experiment.ts writes it; GET
// /v1/experiments/:id answers it as `summary`; the figures, the page and the CLI read it).
import { type Static, Type } from '@sinclair/typebox';
import type { WarningSchema } from './warning.ts';

const Nullable = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Network = Type.Union([Type.Literal('reference'), Type.Literal('specimen')]);

/** A reference to the registered AnalysisWarning schema, typed as it. */
export const WarningRef = Type.Unsafe<Static<typeof WarningSchema>>(Type.Ref('AnalysisWarning'));

/** What a part job of a spread experiment returns (the summary lists them: who did what, when). */
export const PartResultSchema = Type.Object({
  part: Type.Union([Type.Literal('run'), Type.Literal('block')], {
    description: "'run': a run's training; 'block': checkpoints [from, to) of the tensor",
  }),
  worker: Type.String({ description: 'host:pid of the worker that did it' }),
  startedAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.String({ format: 'date-time' }),
  network: Type.Optional(Network),
  reused: Type.Optional(Type.Boolean()),
  from: Type.Optional(Type.Integer()),
  to: Type.Optional(Type.Integer()),
  cells: Type.Optional(Type.Integer()),
});
export type PartResult = Static<typeof PartResultSchema>;

/** baseline[refLayer][specLayer]: rho and CKA of Gaussian data with the pair's samples and widths. */
export const BaselineSchema = Type.Array(
  Type.Array(
    Type.Object({
      rho: Nullable(Type.Number()),
      cka: Nullable(Type.Number()),
    }),
  ),
  {
    description:
      "baseline[refLayer][specLayer]: rho and CKA of Gaussian data with the pair's samples and widths (null: not a number)",
  },
);
export type Baseline = Static<typeof BaselineSchema>;

/** How one pass reduced its pairs (core/analysis/conv-reduction.ts). */
export const PairReductionSchema = Type.Object({
  reduction: Type.Union([Type.Literal('layers'), Type.Literal('positions')]),
  pairs: Type.Integer({
    description: '(reference layer, specimen layer) pairs the pass computed, per checkpoint',
  }),
  samples: Type.Integer({ description: 'samples (rows) CCA saw in these pairs' }),
  detail: Type.String({ description: 'in words' }),
});
export type PairReduction = Static<typeof PairReductionSchema>;

export const ExperimentSummarySchema = Type.Object(
  {
    cells: Type.Integer({ description: 'cells of the tensor' }),
    seconds: Type.Number({ description: 'from the first attempt starting to the tensor being complete' }),
    reusedRuns: Type.Integer({ description: 'runs another experiment had already trained' }),
    source: Type.Union([Type.Literal('trained'), Type.Literal('upload')]),
    finalAttempt: Type.Object(
      {
        runs: Type.Array(
          Type.Object({
            reused: Type.Boolean(),
            resumedFromStep: Nullable(Type.Integer({ description: 'null: trained from step 0 or reused' })),
          }),
        ),
        cellsStoredBefore: Type.Integer({ description: 'cells an earlier attempt had stored' }),
        cellsComputed: Type.Integer({ description: 'cells this attempt computed' }),
      },
      {
        description:
          'what the attempt that finished did: each run reused, resumed from a saved step or trained from step 0, and the cells it computed next to those an earlier attempt had stored',
      },
    ),
    parts: Type.Optional(
      Type.Array(PartResultSchema, {
        description:
          'a spread experiment: the parts other workers did (runs trained, tensor blocks), who and when',
      }),
    ),
    layers: Type.Array(
      Type.Object({
        layer: Type.String(),
        rhoToFinal: Nullable(
          Type.Array(Nullable(Type.Number()), {
            description:
              "rho of the specimen layer at each checkpoint to the reference's layer of the same name",
          }),
        ),
      }),
      { description: "each specimen layer against its own final version over training (Figure 2's data)" },
    ),
    baseline: BaselineSchema,
    samples: Type.Integer({ description: 'probe samples of the (non-positions) representations' }),
    warnings: Type.Array(WarningRef, {
      description: 'what limits the numbers; GET /v1/experiments/:id shows them as `warnings`',
    }),
    null: Type.Optional(
      Type.Object(
        { kind: Type.Literal('permutation'), seed: Type.Integer() },
        { description: "each cell's null is a permutation null (the specimen's rows shuffled, seeded)" },
      ),
    ),
    pairReductions: Type.Optional(
      Type.Array(PairReductionSchema, {
        description: "how the pairs were reduced: each pass's pairs, samples and (conv-vs-conv) reduction",
      }),
    ),
  },
  {
    $id: 'ExperimentSummary',
    title: 'ExperimentSummary',
    description: 'per-layer results of a succeeded experiment',
  },
);
export type ExperimentSummary = Static<typeof ExperimentSummarySchema>;

/** A reference to the registered ExperimentSummary schema, typed as it. */
export const ExperimentSummaryRef = Type.Unsafe<ExperimentSummary>(Type.Ref('ExperimentSummary'));
