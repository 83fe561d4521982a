// The paper's Figure 1: slices of the rho tensor at chosen fractions of training, one heatmap per
// slice. x = final (reference) layers, y = specimen layers at that checkpoint, color = rho.
import type { TopLevelSpec } from 'vega-lite';
import { baseConfig, percent, renderSvg } from './render.ts';
import type { FigureCheckpoint, FigureData } from './types.ts';

export const DEFAULT_FRACTIONS = [0, 0.03, 0.5, 0.99];

/** The checkpoint whose fraction is nearest each requested one (the earlier on ties), deduplicated. */
export function nearestCheckpoints(checkpoints: FigureCheckpoint[], fractions: number[]): FigureCheckpoint[] {
  if (checkpoints.length === 0) return [];
  const picked: FigureCheckpoint[] = [];
  for (const f of fractions) {
    let best = checkpoints[0];
    for (const c of checkpoints) if (Math.abs(c.fraction - f) < Math.abs(best.fraction - f)) best = c;
    if (!picked.includes(best)) picked.push(best);
  }
  return picked.sort((a, b) => a.fraction - b.fraction);
}

export function heatmapsSpec(
  data: FigureData,
  fractions: number[] = DEFAULT_FRACTIONS,
  options: { title?: string } = {},
): TopLevelSpec {
  const panes = nearestCheckpoints(data.checkpoints, fractions);
  const paneTitle = (c: FigureCheckpoint) => `${percent(c.fraction)} of training (step ${c.step})`;
  const values = panes.flatMap((c) =>
    data.refLayers.flatMap((ref, i) =>
      data.specLayers.map((spec, j) => ({ pane: paneTitle(c), ref, spec, rho: data.rho(i, j, c.index) })),
    ),
  );
  const cell = Math.max(16, Math.min(40, Math.floor(240 / Math.max(data.refLayers.length, 1))));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: options.title ?? 'Layer-by-layer similarity (rho) during training',
      subtitle: `rows: specimen layers at the checkpoint · columns: final reference layers · checkpoints nearest ${fractions.map(percent).join(', ')}`,
    },
    data: { values },
    facet: {
      column: {
        field: 'pane',
        type: 'nominal',
        sort: panes.map(paneTitle),
        title: 'fraction of training',
        header: { labelFontSize: 12, titleFontSize: 12 },
      },
    },
    spec: {
      width: cell * data.refLayers.length,
      height: cell * data.specLayers.length,
      encoding: {
        x: {
          field: 'ref',
          type: 'nominal',
          sort: data.refLayers,
          title: 'final (reference) layer',
          axis: { labelAngle: -40 },
        },
        y: {
          field: 'spec',
          type: 'nominal',
          sort: [...data.specLayers].reverse(),
          title: 'layer during training (specimen)',
        },
      },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
          encoding: {
            color: {
              field: 'rho',
              type: 'quantitative',
              title: 'rho',
              scale: { domain: [0, 1], scheme: 'viridis' },
              legend: { gradientLength: 160 },
            },
            tooltip: [
              { field: 'spec', title: 'specimen' },
              { field: 'ref', title: 'reference' },
              { field: 'rho', format: '.3f' },
            ],
          },
        },
        {
          mark: { type: 'text', fontSize: 9 },
          encoding: {
            text: { field: 'rho', type: 'quantitative', format: '.2f' },
            color: { condition: { test: 'datum.rho > 0.6', value: 'black' }, value: 'white' },
          },
        },
      ],
    },
    resolve: { scale: { color: 'shared' } },
    config: baseConfig,
  } as TopLevelSpec;
}

export async function heatmapsSvg(
  data: FigureData,
  fractions?: number[],
  options?: { title?: string },
): Promise<string> {
  return renderSvg(heatmapsSpec(data, fractions, options));
}
