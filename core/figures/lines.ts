// The paper's Figures 2 and 3: a score over the fraction of training, one solid line per layer, with
// the null each line is judged against as gray dashed lines: one line per distinct null value (layers of
// equal widths share a null, and so one labelled line), or, for the adjusted score, the line at 0.
// The legend sits above the plot so the plot takes the figure's full width; the facts (n, measure,
// null, conv reductions) and the warnings are written under it.
import type { TopLevelSpec } from 'vega-lite';
import { defaultTopLayer } from '../analysis/crawl.ts';
import {
  type FigureNotes,
  type FigureScore,
  factsText,
  footerLines,
  footerSpecs,
  resolveScore,
  SCORE_TITLE,
  type ScoredData,
  scoreAccessor,
} from './notes.ts';
import { baseConfig, renderSvg } from './render.ts';

export type XScale = 'linear' | 'symlog';

export interface LineOptions {
  /** x axis scale: 'symlog' (default) spreads the early, log-spaced checkpoints; 0 stays visible */
  xScale?: XScale;
  title?: string;
  /** the score plotted: Figure 2 defaults to rho, Figure 3 to the adjusted score where it exists */
  score?: FigureScore;
  notes?: FigureNotes;
}

/** Width of the plot area in pixels: the legend goes under it, so this is nearly the figure's width. */
const PLOT_WIDTH = 620;

interface Series {
  /** legend label of the line */
  name: string;
  /** the score at checkpoint t, by position in data.checkpoints */
  value: (t: number) => number | null;
  /** the pair's random baseline (rho), where known */
  baseline: number | null;
}

/** Baseline lines: one per distinct value (to 3 decimals), labelled with the layers sharing it. */
export function baselineGroups(series: Series[]): Array<{ value: number; layers: string[] }> {
  const groups = new Map<string, { value: number; layers: string[] }>();
  for (const s of series) {
    if (s.baseline === null) continue;
    const key = s.baseline.toFixed(3);
    const g = groups.get(key) ?? { value: s.baseline, layers: [] };
    g.layers.push(s.name);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => a.value - b.value);
}

/** Label heights for sorted values, pushed apart to at least `gap` so labels do not overprint. */
function spread(values: number[], gap: number): number[] {
  const out: number[] = [];
  for (const v of values) out.push(out.length === 0 ? v : Math.max(v, out[out.length - 1] + gap));
  return out;
}

function lineSpec(
  data: ScoredData,
  series: Series[],
  text: { title: string; subtitle: string; legend: string },
  score: FigureScore,
  xScale: XScale,
  notes: FigureNotes,
): TopLevelSpec {
  const values = series.flatMap((s) =>
    data.checkpoints.map((c, t) => ({
      layer: s.name,
      fraction: c.fraction,
      step: c.step,
      score: s.value(t),
    })),
  );
  // What each line is judged against: the adjusted score's null is 0 by definition; rho's is the
  // random baseline, one gray line per distinct value.
  const references =
    score === 'rho_adjusted'
      ? [{ value: 0, label: 'null (adjusted score 0)' }]
      : baselineGroups(series).map((g) => ({
          value: g.value,
          label: `baseline ${g.layers.join(', ')}: ${g.value.toFixed(2)}`,
        }));
  const labelY = spread(
    references.map((r) => r.value),
    0.045,
  );
  const refValues = references.map((r, k) => ({ ...r, labelY: labelY[k], dash: k }));
  const finite = values.map((v) => v.score).filter((v): v is number => v !== null && Number.isFinite(v));
  const low = Math.min(0, ...finite, ...refValues.map((r) => r.value));
  const yDomain = [low < 0 ? Math.floor(low * 10) / 10 : 0, 1];
  const x = {
    field: 'fraction',
    type: 'quantitative',
    title: 'fraction of training',
    scale: xScale === 'symlog' ? { type: 'symlog', constant: 0.01, domain: [0, 1] } : { domain: [0, 1] },
    axis: {
      format: '.0%',
      values: xScale === 'symlog' ? [0, 0.01, 0.03, 0.1, 0.25, 0.5, 1] : undefined,
    },
  };
  const y = { field: 'score', type: 'quantitative', title: SCORE_TITLE[score], scale: { domain: yDomain } };
  const color = {
    field: 'layer',
    type: 'nominal',
    sort: series.map((s) => s.name),
    title: text.legend,
    legend: {
      orient: 'top',
      direction: 'horizontal',
      columns: 8,
      symbolStrokeWidth: 3,
      titleLimit: PLOT_WIDTH,
    },
  };
  const dashes = [
    [6, 4],
    [2, 3],
    [10, 3, 2, 3],
    [4, 2],
    [1, 5],
    [8, 2, 1, 2],
  ];
  const plot = {
    width: PLOT_WIDTH,
    height: 300,
    layer: [
      ...(refValues.length === 0
        ? []
        : [
            {
              data: { values: refValues },
              layer: [
                {
                  mark: { type: 'rule', color: '#777777', strokeWidth: 1.3 },
                  encoding: {
                    y: { field: 'value', type: 'quantitative', scale: { domain: yDomain } },
                    strokeDash: {
                      field: 'dash',
                      type: 'ordinal',
                      scale: {
                        domain: refValues.map((r) => r.dash),
                        range: refValues.map((_, k) => dashes[k % 6]),
                      },
                      legend: null,
                    },
                  },
                },
                {
                  mark: {
                    type: 'text',
                    align: 'right',
                    baseline: 'bottom',
                    dy: -2,
                    fontSize: 10,
                    color: '#555555',
                  },
                  encoding: {
                    x: { value: PLOT_WIDTH - 4 },
                    y: { field: 'labelY', type: 'quantitative' },
                    text: { field: 'label' },
                  },
                },
              ],
            },
          ]),
      {
        data: { values },
        layer: [
          {
            mark: { type: 'line', strokeWidth: 2 },
            encoding: { x, y, color },
          },
          {
            mark: { type: 'point', filled: true, size: 30 },
            encoding: {
              x: { field: 'fraction', type: 'quantitative' },
              y: { field: 'score', type: 'quantitative' },
              color,
              tooltip: [
                { field: 'layer', title: text.legend },
                { field: 'fraction', format: '.1%' },
                { field: 'step' },
                { field: 'score', title: score, format: '.3f' },
              ],
            },
          },
        ],
      },
    ],
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: text.title, subtitle: [text.subtitle, ...factsText(data, notes, SCORE_TITLE[score])] },
    vconcat: [plot, ...footerSpecs(footerLines(notes, 110), PLOT_WIDTH)],
    config: { ...baseConfig, view: { stroke: '#dddddd' } },
  } as TopLevelSpec;
}

const position = (data: ScoredData) => (t: number) => data.checkpoints[t].index;

/**
 * Figure 2: each specimen layer vs the final reference layer of the same name — its own final version
 * when Net_S = Net_R, the reference network's layer of that name for two networks.
 */
export function convergenceSpec(data: ScoredData, options: LineOptions = {}): TopLevelSpec {
  const at = position(data);
  const score = options.score ?? 'rho';
  const scoreOf = scoreAccessor(data, resolveScore(data, score));
  const series: Series[] = [];
  data.specLayers.forEach((name, j) => {
    const i = data.refLayers.indexOf(name);
    if (i < 0) return;
    series.push({ name, value: (t) => scoreOf(i, j, at(t)), baseline: data.baseline?.(i, j) ?? null });
  });
  const shared = series.length === 0 ? ' · no specimen layer has a reference layer of the same name' : '';
  const notes = options.notes ?? {};
  const two = notes.networks === 'different';
  const plotted = resolveScore(data, score);
  return lineSpec(
    data,
    series,
    two
      ? {
          title:
            options.title ??
            "Convergence to the reference: each specimen layer vs the reference network's layer of the same name",
          subtitle: `${plotted}(specimen layer at checkpoint, final layer of the same name in the reference network)${shared}`,
          legend: "specimen layer (vs the reference's layer of the same name)",
        }
      : {
          title: options.title ?? 'Bottom-up convergence: each layer vs its own final version',
          subtitle: `${plotted}(layer at checkpoint, same layer at the end of training)${shared}`,
          legend: 'layer (vs its own final version)',
        },
    plotted,
    options.xScale ?? 'symlog',
    notes,
  );
}

/** Figure 3: one specimen layer during training vs every final reference layer. */
export function crawlSpec(
  data: ScoredData,
  layer = defaultTopLayer(data.specLayers),
  options: LineOptions = {},
): TopLevelSpec {
  const j = layer === undefined ? -1 : data.specLayers.indexOf(layer);
  if (layer === undefined || j < 0) throw new RangeError(`no specimen layer named ${layer}`);
  const at = position(data);
  const plotted = resolveScore(data, options.score ?? 'rho_adjusted');
  const scoreOf = scoreAccessor(data, plotted);
  const series: Series[] = data.refLayers.map((name, i) => ({
    name,
    value: (t) => scoreOf(i, j, at(t)),
    baseline: data.baseline?.(i, j) ?? null,
  }));
  const two = options.notes?.networks === 'different';
  const widthNote =
    plotted === 'rho'
      ? ' · raw rho: a narrow final layer can score high for its width alone'
      : ' · adjusted for each pair’s null, comparable across widths';
  return lineSpec(
    data,
    series,
    {
      title: options.title ?? `Top-down crawl: specimen layer ${layer} vs every final layer`,
      subtitle: `${plotted}(${layer} at checkpoint, final ${two ? 'reference-network' : 'reference'} layer)${widthNote}`,
      legend: 'final (reference) layer',
    },
    plotted,
    options.xScale ?? 'symlog',
    options.notes ?? {},
  );
}

export async function convergenceSvg(data: ScoredData, options?: LineOptions): Promise<string> {
  return renderSvg(convergenceSpec(data, options));
}

export async function crawlSvg(data: ScoredData, layer?: string, options?: LineOptions): Promise<string> {
  return renderSvg(crawlSpec(data, layer, options));
}

export { defaultTopLayer };
