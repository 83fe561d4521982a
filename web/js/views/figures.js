// Figures 1-3 from the API, fetched with the key or token and shown as blob: images, each with its
// SVG download. Figure 1's fractions come from GET /v1/meta; Figure 3 follows the server's default
// top layer until another layer is picked (the picker shows it once the analysis names it).
import { call } from '../api.js';
import { errorBox, h, loading } from '../dom.js';

/**
 * @typedef {import('../types.js').Experiment} Experiment
 * @typedef {import('../types.js').Meta} Meta
 * @typedef {import('../types.js').Analysis} Analysis
 */

/**
 * @param {Experiment} e
 * @param {Meta} m
 * @param {Promise<Analysis|null>} analysis
 * @param {string|null} share
 * @param {AbortSignal} signal
 * @param {HTMLElement} box
 */
export function renderFigures(e, m, analysis, share, signal, box) {
  /**
   * @param {string} testid
   * @param {string} title
   * @param {string} hint
   * @param {() => string} pathOf
   * @param {HTMLSelectElement|null} picker
   */
  const figure = (testid, title, hint, pathOf, picker) => {
    const frame = h('div', { class: 'figure-frame' }, loading('Rendering…'));
    const download = h(
      'a',
      { download: `${testid}.svg`, hidden: true, 'aria-label': `Download ${title} as SVG` },
      'SVG',
    );
    const panel = h(
      'section',
      { class: 'panel wide', 'data-testid': testid },
      h(
        'div',
        { class: 'panel-head' },
        h('h3', {}, title),
        h('div', { class: 'tools' }, h('span', { class: 'hint' }, hint), picker, download),
      ),
      frame,
    );
    /** @type {string|null} */
    let objectUrl = null;
    const load = async () => {
      try {
        const res = await call(pathOf(), { share, signal });
        const blob = await res.blob();
        if (signal.aborted) return;
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        objectUrl = URL.createObjectURL(blob);
        frame.replaceChildren(h('img', { src: objectUrl, alt: title }));
        download.setAttribute('href', objectUrl);
        download.hidden = false;
      } catch (err) {
        if (!signal.aborted) frame.replaceChildren(errorBox(err));
      }
    };
    picker?.addEventListener('change', () => void load());
    signal.addEventListener('abort', () => {
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    });
    void load();
    return panel;
  };

  const layerPicker = h(
    'select',
    { 'aria-label': 'Specimen layer for Figure 3', 'data-testid': 'figure3-layer' },
    h('option', { value: '' }, 'top layer (default)'),
    e.layers.specimen.map((name) => h('option', { value: name }, name)),
  );
  // the server's default crawl layer, named once the analysis arrives
  void analysis.then((a) => {
    const name = a ? (a.defaultTopLayer ?? a.crawl.layer) : null;
    const option = /** @type {HTMLOptionElement} */ (layerPicker.options[0]);
    if (name && !signal.aborted) option.textContent = `${name} (top layer, default)`;
  });
  const base = `/v1/experiments/${e.id}/figures`;
  const fractions = m.figureFractions;
  box.replaceChildren(
    figure(
      'figure1',
      'Figure 1 · similarity during training',
      `rho at ${fractions.map((f) => `${Number((f * 100).toPrecision(3))} %`).join(', ')} of training`,
      () => `${base}/heatmaps.svg?fractions=${fractions.join(',')}`,
      null,
    ),
    figure(
      'figure2',
      'Figure 2 · bottom-up convergence',
      'each layer vs its final version',
      () => `${base}/convergence.svg`,
      null,
    ),
    figure(
      'figure3',
      'Figure 3 · top-down crawl',
      'one layer vs every final layer',
      () =>
        layerPicker.value
          ? `${base}/crawl.svg?layer=${encodeURIComponent(layerPicker.value)}`
          : `${base}/crawl.svg`,
      layerPicker,
    ),
  );
}
