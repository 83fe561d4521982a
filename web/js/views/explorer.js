// The heatmap explorer of a finished experiment: a measure (the API's slice measures), a checkpoint
// slider, the heatmap, a cell's coefficient spectrum, and downloads of what is on screen. The view's
// state lives in the address too (…?ckpt=K&measure=M&ref=A&spec=B), so a reload or a copied address
// opens the same view; names the address gives that this experiment lacks are reported, not ignored.
import { json } from '../api.js';
import { errorBox, h, loading, stat } from '../dom.js';
import { num, pct } from '../format.js';
import { heatmapSvg } from '../heatmap.js';
import { replaceQuery } from '../router.js';
import { spectrumSvg } from '../spectrum.js';
import { downloadBar } from './downloads.js';

/**
 * @typedef {import('../types.js').Experiment} Experiment
 * @typedef {import('../types.js').Meta} Meta
 * @typedef {import('../types.js').Slice} Slice
 */

/** Longer names for the measures the page knows; others show as the API names them. */
const MEASURE_LABELS = /** @type {Record<string, string>} */ ({
  rho: 'rho (√ mean of squared CCA coefficients)',
  mean: 'mean CCA',
  svcca: 'SVCCA',
  pwcca: 'PWCCA',
  cka: 'linear CKA',
  rho_null: 'rho of the permutation null',
  rho_adjusted: 'adjusted score (rho against its null)',
});
/** Measures with a vector per cell rather than a number: not a heatmap. */
const VECTOR_MEASURES = ['coefficients'];

/**
 * @param {Experiment} e
 * @param {Meta} m
 * @param {string|null} share
 * @param {URLSearchParams} q the address's query (kept up to date)
 * @param {AbortSignal} signal
 * @param {HTMLElement} box
 */
export async function renderExplorer(e, m, share, q, signal, box) {
  const heatPanel = h('section', { class: 'panel', 'data-testid': 'heatmap-panel' });
  const spectrumPanel = h('section', { class: 'panel', 'data-testid': 'spectrum-panel' });
  box.replaceChildren(heatPanel, spectrumPanel);
  const ckpts = e.checkpoints;
  const measures = m.measures.filter((x) => !VECTOR_MEASURES.includes(x));
  const refs = e.layers.reference;
  const specs = e.layers.specimen;

  const problems = [];
  const t0 = ckpts.findIndex((c) => String(c.index) === q.get('ckpt'));
  if (q.has('ckpt') && t0 < 0) problems.push(`checkpoint ${q.get('ckpt')} (there are ${ckpts.length})`);
  const i0 = refs.indexOf(q.get('ref') ?? '');
  if (q.has('ref') && i0 < 0) problems.push(`reference layer “${q.get('ref')}” (layers: ${refs.join(', ')})`);
  const j0 = specs.indexOf(q.get('spec') ?? '');
  if (q.has('spec') && j0 < 0)
    problems.push(`specimen layer “${q.get('spec')}” (layers: ${specs.join(', ')})`);
  const m0 = q.get('measure');
  if (m0 !== null && !measures.includes(m0)) problems.push(`measure “${m0}” (${measures.join(', ')})`);
  /** @type {{ measure: string, t: number, cell: [number, number] | null }} */
  const state = {
    measure: m0 !== null && measures.includes(m0) ? m0 : 'rho',
    t: t0 >= 0 ? t0 : ckpts.length - 1,
    cell: i0 >= 0 && j0 >= 0 ? [i0, j0] : null,
  };
  for (const key of ['ckpt', 'ref', 'spec', 'measure']) if (problems.length) q.delete(key);
  const remember = () => {
    q.set('ckpt', String(ckpts[state.t]?.index ?? state.t));
    if (state.measure === 'rho') q.delete('measure');
    else q.set('measure', state.measure);
    if (state.cell) {
      q.set('ref', refs[state.cell[0]]);
      q.set('spec', specs[state.cell[1]]);
    }
    if (!signal.aborted) replaceQuery(q);
  };
  /** @type {Map<string, Slice>} */
  const tensors = new Map();

  const measureSelect = h(
    'select',
    { id: 'measure', 'data-testid': 'measure' },
    measures.map((v) => h('option', { value: v, selected: v === state.measure }, MEASURE_LABELS[v] ?? v)),
  );
  const slider = h('input', {
    type: 'range',
    id: 'checkpoint',
    min: 0,
    max: Math.max(0, ckpts.length - 1),
    step: 1,
    value: state.t,
    'data-testid': 'checkpoint',
  });
  const ckptLabel = h('div', {
    class: 'ckpt-label num',
    'data-testid': 'checkpoint-label',
    'aria-live': 'polite',
  });
  const chart = h('div', { 'data-testid': 'heatmap' });
  const downloads = downloadBar(e, share);
  heatPanel.append(
    h(
      'div',
      { class: 'panel-head' },
      h('h2', {}, 'Similarity at a checkpoint'),
      h('span', { class: 'hint' }, 'rows: layers during training · columns: final layers'),
    ),
    h(
      'div',
      { class: 'panel-body' },
      problems.length
        ? h(
            'div',
            { class: 'error', role: 'alert', 'data-testid': 'address-note' },
            `The address names ${problems.join('; ')}, which this experiment does not have; showing the default view.`,
          )
        : null,
      h(
        'div',
        { class: 'controls' },
        h('label', { for: 'measure' }, 'measure'),
        measureSelect,
        h('label', { for: 'checkpoint' }, 'checkpoint'),
        slider,
        ckptLabel,
      ),
      chart,
      downloads.el,
    ),
  );
  spectrumEmpty(spectrumPanel);

  /** @returns {Promise<Slice>} */
  const tensorOf = async (/** @type {string} */ measure) => {
    let t = tensors.get(measure);
    if (!t) {
      /** @type {Slice} */
      const fetched = await json(`/v1/experiments/${e.id}/tensor?measure=${measure}`, { share, signal });
      t = fetched;
      tensors.set(measure, t);
    }
    return t;
  };
  /** @param {Slice} slice @param {number} i @param {number} j @param {number} t */
  const cellOf = (slice, i, j, t) => /** @type {(number|null)[][][]} */ (slice.values)[i][j][t];

  const draw = async () => {
    const c = ckpts[state.t];
    ckptLabel.textContent = c
      ? `#${c.index} · step ${c.step} · ${pct(c.fraction)} of training` +
        (c.probeAccuracy === null ? '' : ` · probe accuracy ${(c.probeAccuracy * 100).toFixed(1)}%`)
      : '';
    downloads.update(state.measure, c?.index ?? state.t);
    let slice;
    try {
      slice = await tensorOf(state.measure);
    } catch (err) {
      if (!signal.aborted) chart.replaceChildren(errorBox(err));
      return;
    }
    if (signal.aborted) return;
    const t = state.t;
    chart.replaceChildren(
      heatmapSvg(
        slice.labels,
        (i, j) => cellOf(slice, i, j, t),
        state.measure,
        state.cell,
        (i, j) => {
          state.cell = [i, j];
          void draw().then(() => {
            /** @type {HTMLElement|null} */ (
              chart.querySelector(`rect[data-ref="${refs[i]}"][data-spec="${specs[j]}"]`)
            )?.focus();
          });
        },
      ),
    );
    remember();
    if (state.cell) void drawSpectrum();
  };

  const drawSpectrum = async () => {
    if (!state.cell) return;
    const [i, j] = state.cell;
    const c = ckpts[state.t];
    const refName = refs[i];
    const specName = specs[j];
    spectrumPanel.replaceChildren(
      h('div', { class: 'panel-head' }, h('h2', {}, 'Coefficient spectrum')),
      h('div', { class: 'panel-body' }, loading('Loading coefficients…')),
    );
    try {
      const cellQuery = `refLayer=${encodeURIComponent(refName)}&specLayer=${encodeURIComponent(specName)}&checkpoint=${c.index}`;
      /** @type {Slice} */
      const coef = await json(`/v1/experiments/${e.id}/tensor?measure=coefficients&${cellQuery}`, {
        share,
        signal,
      });
      if (signal.aborted || state.cell?.[0] !== i || state.cell?.[1] !== j || ckpts[state.t] !== c) return;
      await Promise.all(measures.map((x) => tensorOf(x).catch(() => null)));
      if (signal.aborted) return;
      const values = /** @type {(number|null)[][][]} */ (coef.values)[0][0].filter(
        /** @returns {v is number} */ (v) => v !== null,
      );
      values.sort((a, b) => b - a);
      /** @type {Record<string, number|null>} */
      const scalars = {};
      for (const x of measures) {
        const t = tensors.get(x);
        scalars[x] = t ? cellOf(t, i, j, state.t) : null;
      }
      spectrumPanel.replaceChildren(
        h(
          'div',
          { class: 'panel-head' },
          h('h2', {}, 'Coefficient spectrum'),
          h(
            'span',
            { class: 'hint', 'data-testid': 'spectrum-title' },
            `${specName} at ${pct(c.fraction)} × final ${refName}`,
          ),
        ),
        h(
          'div',
          { class: 'panel-body' },
          spectrumSvg(values, scalars['rho'] ?? null),
          h(
            'div',
            { class: 'stats' },
            stat('coefficients', String(values.length)),
            stat('largest', num(values[0])),
            ...measures
              .filter((x) => scalars[x] !== null && scalars[x] !== undefined)
              .map((x) => stat(x, num(scalars[x]))),
          ),
        ),
      );
    } catch (err) {
      if (!signal.aborted) spectrumPanel.replaceChildren(errorBox(err));
    }
  };

  measureSelect.addEventListener('change', () => {
    state.measure = measureSelect.value;
    void draw();
  });
  slider.addEventListener('input', () => {
    state.t = Number(slider.value);
    void draw();
  });
  await draw();
}

/** @param {HTMLElement} panel */
function spectrumEmpty(panel) {
  panel.replaceChildren(
    h('div', { class: 'panel-head' }, h('h2', {}, 'Coefficient spectrum')),
    h(
      'div',
      { class: 'empty' },
      h('h2', {}, 'Pick a cell'),
      h(
        'div',
        {},
        'Click a cell of the heatmap (or focus it and press Enter) to see its CCA coefficients, sorted from largest to smallest.',
      ),
    ),
  );
}
