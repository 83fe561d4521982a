// The paper's Figure 1: slices of the rho tensor at chosen fractions of training, one heatmap per
// slice. x = final (reference) layers, y = specimen layers at that checkpoint, color = rho.
import type { TopLevelSpec } from 'vega-lite';
import { type FigureNotes, factsText, footerLines, footerSpecs, type ScoredData } from './notes.ts';
import { baseConfig, percent, renderSvg } from './render.ts';
import type { FigureCheckpoint } from './types.ts';

export const DEFAULT_FRACTIONS = [0, 0.03, 0.5, 0.99];

/**
 * The checkpoint whose fraction is nearest each requested one (the earlier on ties), deduplicated, in
 * training order. A fraction below 1 never picks the final checkpoint (when there is another): with
 * Net_S = Net_R the final checkpoint is the reference itself, its diagonal 1 by construction, so it
 * must not stand in for "99 % of training".
 */
export function nearestCheckpoints(checkpoints: FigureCheckpoint[], fractions: number[]): FigureCheckpoint[] {
  return pickPanes(checkpoints, fractions).map((p) => p.checkpoint);
}

function pickPanes(
  checkpoints: FigureCheckpoint[],
  fractions: number[],
): Array<{ checkpoint: FigureCheckpoint; requested: number[] }> {
  if (checkpoints.length === 0) return [];
  const last = checkpoints.reduce((a, c) => (c.fraction > a.fraction ? c : a));
  const earlier = checkpoints.filter((c) => c !== last);
  const picked = new Map<FigureCheckpoint, number[]>();
  for (const f of fractions) {
    const pool = f < 1 && earlier.length > 0 ? earlier : checkpoints;
    let best = pool[0];
    for (const c of pool) if (Math.abs(c.fraction - f) < Math.abs(best.fraction - f)) best = c;
    picked.set(best, [...(picked.get(best) ?? []), f]);
  }
  return [...picked.entries()]
    .map(([checkpoint, requested]) => ({ checkpoint, requested }))
    .sort((a, b) => a.checkpoint.fraction - b.checkpoint.fraction);
}

export interface HeatmapOptions {
  title?: string;
  notes?: FigureNotes;
}

export function heatmapsSpec(
  data: ScoredData,
  fractions: number[] = DEFAULT_FRACTIONS,
  options: HeatmapOptions = {},
): TopLevelSpec {
  const picks = pickPanes(data.checkpoints, fractions);
  const panes = picks.map((p) => p.checkpoint);
  const lastStep = Math.max(0, ...data.checkpoints.map((c) => c.step));
  const paneTitle = (c: FigureCheckpoint) =>
    `${percent(c.fraction)} of training (step ${c.step} of ${lastStep})`;
  const notes = options.notes ?? {};
  const nearest = picks
    .map(
      (p) =>
        `${p.requested.map(percent).join('/')} → ${percent(p.checkpoint.fraction)} (step ${p.checkpoint.step})`,
    )
    .join(', ');
  const values = panes.flatMap((c) =>
    data.refLayers.flatMap((ref, i) =>
      data.specLayers.map((spec, j) => ({ pane: paneTitle(c), ref, spec, rho: data.rho(i, j, c.index) })),
    ),
  );
  const cell = Math.max(16, Math.min(40, Math.floor(240 / Math.max(data.refLayers.length, 1))));
  const paneWidth = cell * data.refLayers.length;
  const footer = footerLines(notes, 150);
  const heatmaps = {
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
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: options.title ?? 'Layer-by-layer similarity (rho) during training',
      subtitle: [
        'rows: specimen layers at the checkpoint · columns: final reference layers',
        `panels: the checkpoints nearest ${nearest}`,
        ...factsText(data, notes, 'rho (mean CCA coefficient)'),
      ],
    },
    vconcat: [heatmaps, ...footerSpecs(footer, Math.max(paneWidth * panes.length, 400))],
    config: { ...baseConfig, view: { stroke: null } },
  } as TopLevelSpec;
}

export async function heatmapsSvg(
  data: ScoredData,
  fractions?: number[],
  options?: HeatmapOptions,
): Promise<string> {
  return renderSvg(heatmapsSpec(data, fractions, options));
}
