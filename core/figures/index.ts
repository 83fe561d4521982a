// Server-side SVG figures of an experiment's rho tensor (the paper's Figures 1–3).
export { figureDataFromCells } from './data.ts';
export { DEFAULT_FRACTIONS, heatmapsSpec, heatmapsSvg, nearestCheckpoints } from './heatmaps.ts';
export {
  convergenceSpec,
  convergenceSvg,
  crawlSpec,
  crawlSvg,
  defaultTopLayer,
  type LineOptions,
} from './lines.ts';
export { percent, renderSvg } from './render.ts';
export type { FigureCheckpoint, FigureData, RhoCell } from './types.ts';
