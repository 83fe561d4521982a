// Vega-Lite spec → SVG string, entirely in Node: the headless 'none' renderer needs no canvas and
// no DOM. Figures carry their data inline, so nothing is ever loaded from files or the network.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A loader that refuses every load: inline data only (layer names come from users). */
const noLoader = vega.loader();
noLoader.load = async (uri: string) => {
  throw new Error(`figures load no external data (${uri})`);
};

/** Renders a spec to SVG; the API replaces it with a pool of worker threads (server/figure-pool.ts)
 * so that figures never render on its event loop. */
export type SvgRenderer = (spec: TopLevelSpec) => Promise<string>;

let renderer: SvgRenderer | null = null;

/** Installs `next` as the renderer every figure uses (null: render in this thread); returns the previous one. */
export function useSvgRenderer(next: SvgRenderer | null): SvgRenderer | null {
  const previous = renderer;
  renderer = next;
  return previous;
}

export function renderSvg(spec: TopLevelSpec): Promise<string> {
  return renderer ? renderer(spec) : renderSvgHere(spec);
}

/** Renders in the calling thread (what a figure worker thread runs). */
export async function renderSvgHere(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none', loader: noLoader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** 0.03125 → "3.1%", 0.5 → "50%", 0 → "0%". */
export function percent(fraction: number): string {
  const p = fraction * 100;
  const digits = p === 0 || p >= 10 ? 0 : p >= 1 ? 1 : 2;
  return `${Number(p.toFixed(digits))}%`;
}

/** Shared look of every figure. */
export const baseConfig = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  title: { fontSize: 15, subtitleFontSize: 11, anchor: 'start' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, titleLimit: 240, labelLimit: 200 },
} as const;
