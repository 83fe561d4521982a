// /v1/experiments/:id/figures/*.svg and /analysis: the paper's Figures 1–3 rendered server-side
// from the stored rho tensor, and the bottom-up / crawl verdicts. Readable with a team key or a
// share token; only finished (succeeded) experiments have a complete tensor to show.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_THRESHOLD } from '../../../../core/analysis/convergence.ts';
import { defaultTopLayer } from '../../../../core/analysis/crawl.ts';
import { analyseExperiment } from '../../../../core/analysis/index.ts';
import { DEFAULT_FRACTIONS, heatmapsSvg } from '../../../../core/figures/heatmaps.ts';
import { convergenceSvg, crawlSvg } from '../../../../core/figures/lines.ts';
import type { FigureScore } from '../../../../core/figures/notes.ts';
import type { FigureData } from '../../../../core/figures/types.ts';
import type { RouteDeps } from '../../../app.ts';
import { acquireFigurePool } from '../../../figure-pool.ts';
import { figure, finishedTensor } from '../../../figures.ts';
import { errorResponses, HttpError } from '../../../schemas/error.ts';
import { IdParams, ShareQuery } from '../../../schemas/params.ts';

const tags = ['figures'];
const Svg = Type.String({ description: 'an SVG document (image/svg+xml)' });
const Rho = Type.Union([Type.Number(), Type.Null()]);

const Num = Type.Union([Type.Number(), Type.Null()]);
const ScoreSchema = Type.Union(
  [Type.Literal('rho_adjusted'), Type.Literal('rho_adjusted_gaussian'), Type.Literal('rho')],
  {
    description:
      "the score the verdict compares: 'rho_adjusted' = (rho - null) / (1 - null) against each cell's permutation " +
      "null; 'rho_adjusted_gaussian' against the Gaussian baseline (tensors computed before the null existed); 'rho'",
  },
);
const ExclusionSchema = Type.Object({
  code: Type.String({
    description:
      "e.g. 'few-samples', 'null-near-one', 'final-checkpoint', 'trivial-checkpoint', 'input', 'excluded'",
  }),
  reason: Type.String(),
  layer: Type.Optional(Type.String()),
  refLayer: Type.Optional(Type.String()),
  specLayer: Type.Optional(Type.String()),
  checkpoint: Type.Optional(Type.Integer()),
});
const Reason = Type.Union([Type.String(), Type.Null()], {
  description:
    "why the verdict is 'inconclusive' (\"code: words\", e.g. 'few-samples: input has 784 features and 256 samples'); null otherwise",
});

const AnalysisSchema = Type.Object(
  {
    convergence: Type.Object({
      threshold: Type.Number({ description: 'score to the final version that counts as converged' }),
      layers: Type.Array(
        Type.Object({
          layer: Type.String(),
          depth: Type.Integer({ description: 'position among the layers both networks share' }),
          convergedAt: Type.Union([Type.Number(), Type.Null()], {
            description:
              'first fraction of training before the final checkpoint with score ≥ threshold and above its null; null: never',
          }),
          checkpoint: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
          scores: Type.Optional(
            Type.Array(Num, { description: 'score to its final version at each checkpoint' }),
          ),
          excluded: Type.Optional(Type.String({ description: 'why the layer is left out of the verdict' })),
        }),
      ),
      spearman: Type.Union([Type.Number(), Type.Null()], {
        description: 'rank correlation of convergence time with depth (over the judged layers)',
      }),
      verdict: Type.Union([
        Type.Literal('bottom-up'),
        Type.Literal('not-bottom-up'),
        Type.Literal('inconclusive'),
      ]),
      reason: Reason,
      score: ScoreSchema,
      excluded: Type.Array(ExclusionSchema),
      evidence: Type.Object({
        judged: Type.Array(Type.String()),
        converged: Type.Array(Type.String()),
        lastCheckpointCounted: Type.Boolean(),
      }),
    }),
    defaultTopLayer: Type.Union([Type.String(), Type.Null()], {
      description:
        "the specimen layer the crawl follows when ?layer= is not given: the last one below 'logits' (else the last)",
    }),
    crawl: Type.Object({
      layer: Type.String({ description: 'the specimen layer followed through training' }),
      steps: Type.Array(
        Type.Object({
          checkpoint: Type.Integer(),
          fraction: Type.Number(),
          mostSimilar: Type.Union([Type.String(), Type.Null()], {
            description: 'the judged final reference layer with the largest score',
          }),
          rho: Rho,
          rhoByLayer: Type.Record(Type.String(), Rho),
          score: Type.Optional(Num),
          scoreByLayer: Type.Optional(Type.Record(Type.String(), Num)),
          nullByLayer: Type.Optional(Type.Record(Type.String(), Num)),
          decision: Type.Optional(
            Type.Union([
              Type.Literal('below'),
              Type.Literal('not-below'),
              Type.Literal('undecided'),
              Type.Literal('excluded'),
            ]),
          ),
          early: Type.Optional(Type.Boolean()),
        }),
      ),
      verdict: Type.Union([Type.Literal('crawl'), Type.Literal('no-crawl'), Type.Literal('inconclusive')], {
        description:
          "'crawl': most checkpoints in the first third of training resemble a lower final layer, with evidence",
      }),
      reason: Reason,
      score: ScoreSchema,
      excluded: Type.Array(ExclusionSchema),
      evidence: Type.Object({
        early: Type.Integer(),
        below: Type.Integer(),
        notBelow: Type.Integer(),
        undecided: Type.Integer(),
        margin: Type.Number(),
        zMin: Type.Number(),
      }),
    }),
    warnings: Type.Array(Type.Ref('AnalysisWarning')),
  },
  { title: 'Analysis' },
);

/** "0,0.03,0.5" → [0, 0.03, 0.5]; 400 INVALID_FRACTIONS unless 1–12 numbers in [0, 1]. */
function parseFractions(text: string | undefined): number[] {
  if (text === undefined || text.trim() === '') return DEFAULT_FRACTIONS;
  const parts = text.split(',').map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.length > 12 || parts.some((p) => p === '') || values.some((v) => !(v >= 0 && v <= 1))) {
    throw new HttpError(
      400,
      'INVALID_FRACTIONS',
      'fractions must be 1 to 12 comma-separated numbers in [0, 1]',
      { field: 'fractions' },
    );
  }
  return values;
}

/** x axis scale of the line figures (Figures 2 and 3). */
const ScaleQuery = {
  scale: Type.Optional(
    Type.Union([Type.Literal('symlog'), Type.Literal('linear')], {
      default: 'symlog',
      description: 'x axis scale',
    }),
  ),
};

/** The score a line figure plots. */
const MeasureQuery = (fallback: FigureScore) => ({
  measure: Type.Optional(
    Type.Union([Type.Literal('rho'), Type.Literal('rho_adjusted')], {
      default: fallback,
      description:
        "'rho', or 'rho_adjusted' ((rho − null) / (1 − null), comparable across widths; rho where the cells have no null)",
    }),
  ),
});

export async function figureRoutes(scope: FastifyInstance, deps: RouteDeps): Promise<void> {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps;

  const pool = acquireFigurePool(deps.config.figureWorkers);
  scope.addHook('onClose', async () => {
    await pool.release();
  });

  function layerOf(data: FigureData, layer: string | undefined): string {
    const name = layer ?? defaultTopLayer(data.specLayers);
    if (name === undefined || !data.specLayers.includes(name)) {
      throw new HttpError(400, 'UNKNOWN_LAYER', `no specimen layer named ${name ?? '(none)'}`, {
        field: 'layer',
        layers: data.specLayers,
      });
    }
    return name;
  }

  app.get(
    '/v1/experiments/:id/figures/heatmaps.svg',
    {
      schema: {
        tags,
        summary: 'Figure 1: rho heatmaps (final layers × layers during training) at chosen fractions',
        description:
          'One heatmap per requested fraction of training, at the nearest checkpoint (a fraction below 1 never shows the final checkpoint); each panel names its step. ' +
          'x = final (reference) layers, y = specimen layers at that checkpoint, color = rho in [0, 1].',
        params: IdParams,
        querystring: Type.Object({
          fractions: Type.Optional(
            Type.String({
              description: 'comma-separated fractions of training in [0, 1]',
              default: DEFAULT_FRACTIONS.join(','),
              examples: ['0,0.03,0.5,0.99'],
            }),
          ),
          ...ShareQuery,
        }),
        produces: ['image/svg+xml'],
        response: { 200: Svg, ...errorResponses },
      },
    },
    async (request, reply) => {
      const fractions = parseFractions(request.query.fractions);
      return figure(
        deps,
        request,
        reply,
        (s) => s.refLayers * s.specLayers * Math.min(new Set(fractions).size, s.checkpoints),
        (data, notes) => heatmapsSvg(data, fractions, { notes }),
      );
    },
  );

  app.get(
    '/v1/experiments/:id/figures/convergence.svg',
    {
      schema: {
        tags,
        summary:
          "Figure 2: each specimen layer vs the reference's layer of the same name (its own final version when Net_S = Net_R)",
        description:
          'One line per layer both networks share (by name); gray dashed: the random baseline, one line per distinct value. ' +
          'States n, the measure and the null; the warnings are written under the plot.',
        params: IdParams,
        querystring: Type.Object({
          ...ScaleQuery,
          ...MeasureQuery('rho'),
          ...ShareQuery,
        }),
        produces: ['image/svg+xml'],
        response: { 200: Svg, ...errorResponses },
      },
    },
    async (request, reply) => {
      return figure(
        deps,
        request,
        reply,
        (s) => 2 * Math.max(s.refLayers, s.specLayers) * s.checkpoints,
        (data, notes) =>
          convergenceSvg(data, { xScale: request.query.scale, score: request.query.measure, notes }),
      );
    },
  );

  app.get(
    '/v1/experiments/:id/figures/crawl.svg',
    {
      schema: {
        tags,
        summary: 'Figure 3: one specimen layer during training vs every final layer',
        description:
          'One line per final reference layer, by default the adjusted score (width-insensitive) where the cells have a null; ' +
          "gray dashed: the null. Default layer: the last specimen layer below 'logits'. Warnings are written under the plot.",
        params: IdParams,
        querystring: Type.Object({
          layer: Type.Optional(Type.String({ minLength: 1, description: 'specimen layer name' })),
          ...ScaleQuery,
          ...MeasureQuery('rho_adjusted'),
          ...ShareQuery,
        }),
        produces: ['image/svg+xml'],
        response: { 200: Svg, ...errorResponses },
      },
    },
    async (request, reply) => {
      return figure(
        deps,
        request,
        reply,
        (s) => 2 * s.refLayers * s.checkpoints,
        (data, notes) =>
          crawlSvg(data, layerOf(data, request.query.layer), {
            xScale: request.query.scale,
            score: request.query.measure,
            notes,
          }),
      );
    },
  );

  app.get(
    '/v1/experiments/:id/analysis',
    {
      schema: {
        tags,
        summary:
          'Bottom-up convergence and top-down crawl verdicts of a finished experiment, with their evidence',
        description:
          "Verdicts are decided on the adjusted score (rho against each cell's null), leave out what is true by " +
          'construction or cannot be judged (`excluded`), and answer `inconclusive` with a `reason` when the data ' +
          'cannot decide; `warnings` lists what limits the numbers. See the README, "How the verdicts are decided".',
        params: IdParams,
        querystring: Type.Object({
          threshold: Type.Optional(
            Type.Number({
              minimum: 0,
              maximum: 1,
              default: DEFAULT_THRESHOLD,
              description:
                'score (the adjusted score when the tensor has its null) to the final layer that counts as converged',
            }),
          ),
          layer: Type.Optional(
            Type.String({
              minLength: 1,
              description: 'specimen layer the crawl follows (default: top layer)',
            }),
          ),
          ...ShareQuery,
        }),
        response: { 200: AnalysisSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { data, notes, ctx } = await finishedTensor(db, request, request.params.id);
      const layer = layerOf(data, request.query.layer);
      const analysis = analyseExperiment(data, ctx, {
        threshold: request.query.threshold ?? DEFAULT_THRESHOLD,
        layer,
      });
      return {
        ...analysis,
        defaultTopLayer: defaultTopLayer(data.specLayers) ?? null,
        warnings: notes.warnings,
      };
    },
  );
}
