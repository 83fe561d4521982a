// Downloads of the tensor shown in the explorer: the current slice (one measure at one checkpoint,
// [refLayer, specLayer]) and the whole tensor of that measure ([refLayer, specLayer, checkpoint]), as
// .npy (float32, NaN for missing cells) or CSV (long form). Each button names the shape it saves.
import { download } from '../api.js';
import { errorBox, h } from '../dom.js';
import { slug } from '../format.js';

/**
 * @typedef {import('../types.js').Experiment} Experiment
 */

/**
 * The download bar; `update` re-labels it for the measure and checkpoint on screen.
 * @param {Experiment} e
 * @param {string|null} share
 */
export function downloadBar(e, share) {
  const nRef = e.layers.reference.length;
  const nSpec = e.layers.specimen.length;
  const nCkpt = e.checkpoints.length;
  const status = h('div', { class: 'hint', 'data-testid': 'download-status', 'aria-live': 'polite' });
  let measure = 'rho';
  let checkpoint = 0;

  /**
   * @param {'slice'|'tensor'} what
   * @param {'npy'|'csv'} format
   */
  const button = (what, format) => {
    const b = h(
      'button',
      { type: 'button', class: 'small', 'data-testid': `download-${what}-${format}` },
      `.${format}`,
    );
    b.addEventListener('click', async () => {
      const name =
        what === 'slice'
          ? `${slug(e.name)}-${measure}-ckpt${checkpoint}.${format}`
          : `${slug(e.name)}-${measure}.${format}`;
      const query = `measure=${measure}&format=${format}${what === 'slice' ? `&checkpoint=${checkpoint}` : ''}`;
      b.disabled = true;
      status.replaceChildren(`Preparing ${name}…`);
      try {
        const headers = await download(`/v1/experiments/${e.id}/tensor?${query}`, name, share);
        const shape = headers.get('x-repdyn-shape');
        status.replaceChildren(
          `Saved ${name}${shape ? ` · shape ${shape.split(',').join(' × ')} (${headers.get('x-repdyn-axes')?.split(',').join(' × ')})` : ''}`,
        );
      } catch (err) {
        status.replaceChildren(errorBox(err));
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };

  /** @param {string} testid @param {number[]} shape @param {string} axes */
  const shapeLabel = (testid, shape, axes) =>
    h(
      'span',
      { class: 'shape num', 'data-testid': testid, 'data-shape': shape.join(','), title: axes },
      shape.join(' × '),
    );
  const sliceTitle = h('span', {});
  const tensorTitle = h('span', {});
  const el = h(
    'div',
    { class: 'downloads', role: 'group', 'aria-label': 'Download' },
    h(
      'div',
      { class: 'download-row' },
      h('span', { class: 'k' }, 'this checkpoint'),
      sliceTitle,
      shapeLabel('slice-shape', [nRef, nSpec], 'refLayer × specLayer'),
      button('slice', 'npy'),
      button('slice', 'csv'),
    ),
    h(
      'div',
      { class: 'download-row' },
      h('span', { class: 'k' }, 'whole tensor'),
      tensorTitle,
      shapeLabel('tensor-shape', [nRef, nSpec, nCkpt], 'refLayer × specLayer × checkpoint'),
      button('tensor', 'npy'),
      button('tensor', 'csv'),
    ),
    status,
  );
  /** @param {string} m the measure @param {number} k the checkpoint index */
  const update = (m, k) => {
    measure = m;
    checkpoint = k;
    sliceTitle.textContent = `${m} at checkpoint #${k}`;
    tensorTitle.textContent = `${m}, every checkpoint`;
  };
  return { el, update };
}
