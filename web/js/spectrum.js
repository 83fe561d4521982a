// A cell's CCA coefficients, sorted, as a line with dots, and the cell's rho as a dashed line.
import { s } from './dom.js';
import { num } from './format.js';

/** Dots are drawn up to this many coefficients (the line carries the rest). */
const MAX_DOTS = 80;

/**
 * @param {number[]} values descending
 * @param {number|null} rho
 */
export function spectrumSvg(values, rho) {
  const width = 520;
  const height = 260;
  const m = { l: 40, r: 16, t: 12, b: 36 };
  const iw = width - m.l - m.r;
  const ih = height - m.t - m.b;
  const n = values.length;
  const x = (/** @type {number} */ k) => m.l + (n <= 1 ? iw / 2 : (k / (n - 1)) * iw);
  const y = (/** @type {number} */ v) => m.t + (1 - Math.max(0, Math.min(1, v))) * ih;
  const svg = s('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': 'sorted CCA coefficients',
    'data-testid': 'spectrum',
    'data-count': n,
  });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(s('line', { class: v === 0 ? 'axis' : 'grid', x1: m.l, x2: m.l + iw, y1: y(v), y2: y(v) }));
    svg.append(s('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, v.toFixed(2)));
  }
  const ticks = n <= 1 ? [0] : [...new Set([0, Math.round((n - 1) / 2), n - 1])];
  for (const k of ticks) svg.append(s('text', { x: x(k), y: m.t + ih + 16, 'text-anchor': 'middle' }, k + 1));
  svg.append(
    s(
      'text',
      { class: 'axis-title', x: m.l + iw / 2, y: height - 4, 'text-anchor': 'middle' },
      'CCA direction (sorted)',
    ),
  );
  if (n > 0) {
    const line = values.map((v, k) => `${k === 0 ? 'M' : 'L'}${x(k).toFixed(1)},${y(v).toFixed(1)}`).join('');
    svg.append(
      s('path', { class: 'area', d: `${line}L${x(n - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z` }),
    );
    svg.append(s('path', { class: 'series', d: line }));
    if (n <= MAX_DOTS) {
      values.forEach((v, k) => {
        svg.append(
          s('circle', { class: 'dot', cx: x(k), cy: y(v), r: 2.6 }, s('title', {}, `#${k + 1}: ${num(v)}`)),
        );
      });
    }
  }
  if (rho !== null && rho !== undefined) {
    svg.append(s('line', { class: 'ref-line', x1: m.l, x2: m.l + iw, y1: y(rho), y2: y(rho) }));
    svg.append(
      s(
        'text',
        { class: 'ref-label', x: m.l + iw - 2, y: y(rho) - 5, 'text-anchor': 'end' },
        `rho ${num(rho)}`,
      ),
    );
  }
  return svg;
}
