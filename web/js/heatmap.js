// The reference × specimen heatmap of one checkpoint (rows: specimen layers, input at the bottom;
// columns: final reference layers; viridis on [0, 1] like Figure 1). Cells are focusable buttons.
import { inkOn, viridis } from './colour.js';
import { s } from './dom.js';
import { num } from './format.js';

/**
 * @param {{ refLayer: string[], specLayer: string[] }} labels
 * @param {(i: number, j: number) => number|null} valueAt the cell of reference layer i, specimen layer j
 * @param {string} measure
 * @param {[number, number]|null} selected
 * @param {(i: number, j: number) => void} onPick
 */
export function heatmapSvg(labels, valueAt, measure, selected, onPick) {
  const refs = labels.refLayer;
  const specs = labels.specLayer;
  const longest = Math.max(...refs.map((r) => r.length), ...specs.map((r) => r.length));
  const cell = Math.max(22, Math.min(60, Math.floor(420 / Math.max(refs.length, specs.length))));
  const left = Math.max(48, longest * 7 + 14) + 18;
  const rotate = refs.some((r) => r.length * 7 > cell);
  const bottom = rotate ? Math.max(40, longest * 5.5 + 24) : 40;
  const top = 6;
  const w = cell * refs.length;
  const hgt = cell * specs.length;
  const legendX = left + w + 22;
  const width = legendX + 52;
  const height = top + hgt + bottom;
  const svg = s('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'group',
    'aria-label': `${measure} heatmap`,
  });
  const gradId = 'viridis-grad';
  const grad = s('linearGradient', { id: gradId, x1: 0, y1: 1, x2: 0, y2: 0 });
  for (let k = 0; k <= 10; k++) grad.append(s('stop', { offset: k / 10, 'stop-color': viridis(k / 10) }));
  svg.append(s('defs', {}, grad));
  for (let j = 0; j < specs.length; j++) {
    const row = specs.length - 1 - j; // input at the bottom
    const y = top + row * cell;
    svg.append(s('text', { x: left - 8, y: y + cell / 2 + 4, 'text-anchor': 'end' }, specs[j]));
    for (let i = 0; i < refs.length; i++) {
      const x = left + i * cell;
      const v = valueAt(i, j);
      svg.append(
        s(
          'rect',
          {
            class: v === null ? 'cell missing' : 'cell',
            x,
            y,
            width: cell,
            height: cell,
            rx: 2,
            fill: v === null ? null : viridis(v),
            tabindex: 0,
            role: 'button',
            'data-ref': refs[i],
            'data-spec': specs[j],
            'aria-label': `${specs[j]} vs final ${refs[i]}: ${measure} ${num(v)}`,
            onClick: () => onPick(i, j),
            onKeydown: (/** @type {KeyboardEvent} */ ev) => {
              if (ev.key === 'Enter' || ev.key === ' ') {
                ev.preventDefault();
                onPick(i, j);
              }
            },
          },
          s('title', {}, `${specs[j]} (during training) × ${refs[i]} (final): ${measure} ${num(v)}`),
        ),
      );
      if (cell >= 30) {
        svg.append(
          s(
            'text',
            {
              class: `cell-value ${v === null ? 'ink-none' : inkOn(v)}`,
              x: x + cell / 2,
              y: y + cell / 2 + 3.5,
              'text-anchor': 'middle',
              'aria-hidden': 'true',
            },
            v === null ? '–' : v.toFixed(2),
          ),
        );
      }
    }
  }
  if (selected) {
    const [i, j] = selected;
    svg.append(
      s('rect', {
        class: 'selected',
        x: left + i * cell + 1,
        y: top + (specs.length - 1 - j) * cell + 1,
        width: cell - 2,
        height: cell - 2,
        rx: 2,
      }),
    );
  }
  for (let i = 0; i < refs.length; i++) {
    const x = left + i * cell + cell / 2;
    const y = top + hgt + 14;
    svg.append(
      rotate
        ? s('text', { x, y, 'text-anchor': 'end', transform: `rotate(-35 ${x} ${y})` }, refs[i])
        : s('text', { x, y, 'text-anchor': 'middle' }, refs[i]),
    );
  }
  svg.append(
    s(
      'text',
      { class: 'axis-title', x: left + w / 2, y: height - 4, 'text-anchor': 'middle' },
      'final layer (reference)',
    ),
    s(
      'text',
      {
        class: 'axis-title',
        x: 0,
        y: 0,
        'text-anchor': 'middle',
        transform: `translate(10 ${top + hgt / 2}) rotate(-90)`,
      },
      'layer during training (specimen)',
    ),
  );
  // colour scale
  svg.append(s('rect', { x: legendX, y: top, width: 12, height: hgt, rx: 2, fill: `url(#${gradId})` }));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const y = top + hgt - v * hgt;
    svg.append(s('line', { class: 'axis', x1: legendX + 12, x2: legendX + 16, y1: y, y2: y }));
    svg.append(s('text', { x: legendX + 19, y: y + 4 }, v.toFixed(2)));
  }
  return svg;
}
