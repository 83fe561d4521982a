// Vega-Lite spec → SVG string, entirely in Node: the headless 'none' renderer needs no canvas and
// no DOM. Figures carry their data inline, so nothing is ever loaded from files or the network.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A loader that refuses every load: inline data only (layer names come from users). */
const noLoader = vega.loader();
noLoader.load = async (uri: string) => {
  throw new Error(`figures load no external data (${uri})`);
};

// Helvetica advance widths in em (from its AFM metrics), for the characters figures use. Vega's own
// estimate without a canvas (0.8 em per character) is ~50 % too wide, which left a third of every
// figure empty beside long labels.
const NARROW = "il.,:;'|!ijtf[]() ";
const WIDE = 'mwMW@%';
function charWidth(ch: string): number {
  if (NARROW.includes(ch)) return ch === ' ' ? 0.278 : ch === 't' || ch === 'f' ? 0.278 : 0.24;
  if (WIDE.includes(ch)) return 0.86;
  if (/[0-9]/.test(ch)) return 0.556;
  if (/[A-Z]/.test(ch)) return 0.68;
  if (/[a-z]/.test(ch)) return ch === 'r' ? 0.333 : 0.53;
  return 0.58;
}

/**
 * Estimated width in pixels of `text` at `fontSize` (bold ~6 % wider): Helvetica's widths plus 10 %,
 * room for the wider fallback fonts (DejaVu Sans) where Helvetica and Arial are missing.
 */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) em += charWidth(ch);
  return em * fontSize * 1.1 * (bold ? 1.06 : 1);
}

type TextItem = { fontSize?: number; fontWeight?: string | number };
(vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics.width =
  (item, text) => {
    const value = text == null ? '' : String(text).trim();
    const size = item.fontSize != null ? +item.fontSize || 0 : 11;
    const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
    return textWidth(value, size, bold);
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
