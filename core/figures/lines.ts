// The paper's Figures 2 and 3: rho over the fraction of training, one solid line per layer, with
// each layer's random baseline as a dashed line of the same color.
import type { TopLevelSpec } from 'vega-lite';
import { defaultTopLayer } from '../analysis/crawl.ts';
import { baseConfig, renderSvg } from './render.ts';
import type { FigureData } from './types.ts';

export type XScale = 'linear' | 'symlog';

export interface LineOptions {
  /** x axis scale: 'symlog' (default) spreads the early, log-spaced checkpoints; 0 stays visible */
  xScale?: XScale;
  title?: string;
}

const TRAINED = 'during training';
const BASELINE = 'random baseline';

interface Series {
  /** legend label of the line */
  name: string;
  /** rho at checkpoint t, by position in data.checkpoints */
  rho: (t: number) => number | null;
  baseline: number | null;
}

function lineSpec(
  data: FigureData,
  series: Series[],
  text: { title: string; subtitle: string; legend: string },
  xScale: XScale,
): TopLevelSpec {
  const fractions = data.checkpoints.map((c) => c.fraction);
  const first = Math.min(...fractions);
  const last = Math.max(...fractions);
  const values = series.flatMap((s) => [
    ...data.checkpoints.map((c, t) => ({
      layer: s.name,
      kind: TRAINED,
      fraction: c.fraction,
      step: c.step,
      rho: s.rho(t),
    })),
    ...(s.baseline === null || data.checkpoints.length === 0
      ? []
      : [first, last].map((fraction) => ({
          layer: s.name,
          kind: BASELINE,
          fraction,
          step: null,
          rho: s.baseline,
        }))),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: text.title, subtitle: text.subtitle },
    width: 460,
    height: 300,
    data: { values },
    layer: [
      {
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          x: {
            field: 'fraction',
            type: 'quantitative',
            title: 'fraction of training',
            scale:
              xScale === 'symlog' ? { type: 'symlog', constant: 0.01, domain: [0, 1] } : { domain: [0, 1] },
            axis: {
              format: '.0%',
              values: xScale === 'symlog' ? [0, 0.01, 0.03, 0.1, 0.25, 0.5, 1] : undefined,
            },
          },
          y: { field: 'rho', type: 'quantitative', title: 'rho (CCA similarity)', scale: { domain: [0, 1] } },
          color: { field: 'layer', type: 'nominal', sort: series.map((s) => s.name), title: text.legend },
          strokeDash: {
            field: 'kind',
            type: 'nominal',
            sort: [TRAINED, BASELINE],
            scale: {
              domain: [TRAINED, BASELINE],
              range: [
                [1, 0],
                [5, 4],
              ],
            },
            title: 'curve',
          },
        },
      },
      {
        transform: [{ filter: `datum.kind === '${TRAINED}'` }],
        mark: { type: 'point', filled: true, size: 30 },
        encoding: {
          x: { field: 'fraction', type: 'quantitative' },
          y: { field: 'rho', type: 'quantitative' },
          color: { field: 'layer', type: 'nominal', sort: series.map((s) => s.name), title: text.legend },
          tooltip: [
            { field: 'layer', title: text.legend },
            { field: 'fraction', format: '.1%' },
            { field: 'step' },
            { field: 'rho', format: '.3f' },
          ],
        },
      },
    ],
    config: baseConfig,
  } as TopLevelSpec;
}

const position = (data: FigureData) => (t: number) => data.checkpoints[t].index;

/** Figure 2: each specimen layer vs the final reference layer of the same name. */
export function convergenceSpec(data: FigureData, options: LineOptions = {}): TopLevelSpec {
  const at = position(data);
  const series: Series[] = [];
  data.specLayers.forEach((name, j) => {
    const i = data.refLayers.indexOf(name);
    if (i < 0) return;
    series.push({ name, rho: (t) => data.rho(i, j, at(t)), baseline: data.baseline?.(i, j) ?? null });
  });
  const shared = series.length === 0 ? ' · no specimen layer has a reference layer of the same name' : '';
  return lineSpec(
    data,
    series,
    {
      title: options.title ?? 'Bottom-up convergence: each layer vs its own final version',
      subtitle: `rho(layer at checkpoint, same layer at the end of training); dashed: random baseline${shared}`,
      legend: 'layer',
    },
    options.xScale ?? 'symlog',
  );
}

/** Figure 3: one specimen layer during training vs every final reference layer. */
export function crawlSpec(
  data: FigureData,
  layer = defaultTopLayer(data.specLayers),
  options: LineOptions = {},
): TopLevelSpec {
  const j = layer === undefined ? -1 : data.specLayers.indexOf(layer);
  if (layer === undefined || j < 0) throw new RangeError(`no specimen layer named ${layer}`);
  const at = position(data);
  const series: Series[] = data.refLayers.map((name, i) => ({
    name,
    rho: (t) => data.rho(i, j, at(t)),
    baseline: data.baseline?.(i, j) ?? null,
  }));
  return lineSpec(
    data,
    series,
    {
      title: options.title ?? `Top-down crawl: specimen layer ${layer} vs every final layer`,
      subtitle: `rho(${layer} at checkpoint, final reference layer); dashed: random baseline`,
      legend: 'final (reference) layer',
    },
    options.xScale ?? 'symlog',
  );
}

export async function convergenceSvg(data: FigureData, options?: LineOptions): Promise<string> {
  return renderSvg(convergenceSpec(data, options));
}

export async function crawlSvg(data: FigureData, layer?: string, options?: LineOptions): Promise<string> {
  return renderSvg(crawlSpec(data, layer, options));
}

export { defaultTopLayer };
