// New experiment: start from a preset (GET /v1/presets: its layers, dataset and default schedule; the
// preset's defaults or a small variant) or paste a spec; a few fields edit the spec, the spec text is
// what is submitted; the live estimate (dry run) shows time, memory and warnings before submitting.
import { json, presets } from '../api.js';
import { errorBox, field, h, loading, show } from '../dom.js';
import { experimentHref } from '../router.js';
import { FIELDS, getPath, parseSpec, SMALL, setPath, specText } from '../spec.js';
import { estimatePanel } from './estimate.js';

/**
 * @typedef {import('../types.js').Preset} Preset
 * @typedef {import('../types.js').Submitted} Submitted
 * @typedef {import('../spec.js').Spec} Spec
 */

const PASTE = '';

/** @param {AbortSignal} signal */
export async function newExperimentView(signal) {
  document.title = 'New experiment · repdyn';
  show(h('p', {}, loading('Loading presets…')));
  /** @type {Preset[]} */
  let list;
  try {
    list = (await presets()).presets;
  } catch (err) {
    if (!signal.aborted) show(crumbs(), errorBox(err));
    return;
  }
  if (signal.aborted) return;

  const presetSelect = h(
    'select',
    { id: 'preset', 'data-testid': 'preset' },
    ...list.map((p) => h('option', { value: p.name }, `${p.name} (${p.dataset})`)),
    h('option', { value: PASTE }, 'none: paste or write a spec'),
  );
  const sizeSelect = h(
    'select',
    { id: 'size', 'data-testid': 'size' },
    h('option', { value: 'small' }, 'small (quick look)'),
    h('option', { value: 'full' }, 'the preset’s schedule'),
  );
  const about = h('div', { class: 'preset-about', 'data-testid': 'preset-about' });
  const nameInput = h('input', { type: 'text', id: 'name', required: true, maxlength: 200 });
  const inputs = FIELDS.map((f) => ({
    f,
    input: h('input', { type: 'number', id: `field-${f.id}`, min: 1, step: 1, inputmode: 'numeric' }),
  }));
  const specArea = h('textarea', {
    id: 'spec',
    rows: 18,
    spellcheck: 'false',
    autocomplete: 'off',
    'data-testid': 'spec',
  });
  const estimate = estimatePanel();
  const submit = h(
    'button',
    { class: 'primary', type: 'submit', 'data-testid': 'submit' },
    'Submit experiment',
  );
  const status = h('div', { 'aria-live': 'polite' });

  /** @returns {Preset|undefined} */
  const preset = () => list.find((p) => p.name === presetSelect.value);

  /** The fields follow the spec text (when it parses); the estimate follows both. */
  const fromText = () => {
    const parsed = parseSpec(specArea.value);
    if ('error' in parsed) {
      estimate.check(specArea.value, parsed.error);
      return;
    }
    const spec = parsed.spec;
    nameInput.value = typeof spec['name'] === 'string' ? spec['name'] : '';
    const upload = spec['source'] === 'upload';
    const p = preset();
    for (const { f, input } of inputs) {
      const v = getPath(spec, f.path);
      input.value = typeof v === 'number' ? String(v) : '';
      input.disabled = upload;
      const d = p ? getPath(p.defaults, f.defaults) : undefined;
      input.placeholder = typeof d === 'number' ? `${d} (default)` : 'default';
    }
    estimate.check(specArea.value);
  };

  /** Writes a change into the spec text. @param {(spec: Spec) => void} edit */
  const edit = (edit) => {
    const parsed = parseSpec(specArea.value);
    if ('error' in parsed) {
      estimate.check(specArea.value, `${parsed.error} (fix the spec text to use the fields)`);
      return;
    }
    edit(parsed.spec);
    specArea.value = specText(parsed.spec);
    estimate.check(specArea.value);
  };

  /** Starts over from the chosen preset's example, in the chosen size. */
  const fromPreset = () => {
    const p = preset();
    about.replaceChildren(...describePreset(p));
    sizeSelect.disabled = !p;
    if (!p) {
      specArea.focus();
      return;
    }
    /** @type {Spec} */
    const spec = structuredClone(p.example);
    const name = nameInput.value.trim();
    if (name) spec['name'] = name;
    if (sizeSelect.value === 'small') {
      setPath(spec, ['reference', 'training', 'steps'], undefined);
      for (const { f } of inputs) setPath(spec, f.path, SMALL[/** @type {keyof typeof SMALL} */ (f.id)]);
    }
    specArea.value = specText(spec);
    fromText();
  };

  presetSelect.addEventListener('change', fromPreset);
  sizeSelect.addEventListener('change', fromPreset);
  nameInput.addEventListener('input', () => edit((spec) => setPath(spec, ['name'], nameInput.value)));
  for (const { f, input } of inputs)
    input.addEventListener('input', () =>
      edit((spec) => {
        const n = input.value === '' ? undefined : Number(input.value);
        setPath(spec, f.path, n);
        if (f.id === 'epochs' && n !== undefined)
          setPath(spec, ['reference', 'training', 'steps'], undefined);
      }),
    );
  specArea.addEventListener('input', fromText);

  const form = h(
    'form',
    {
      class: 'new-form',
      'aria-labelledby': 'new-title',
      onSubmit: async (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const parsed = parseSpec(specArea.value);
        if ('error' in parsed) {
          status.replaceChildren(errorBox(parsed.error));
          specArea.focus();
          return;
        }
        submit.disabled = true;
        status.replaceChildren(loading('Submitting…'));
        try {
          /** @type {Submitted} */
          const created = await json('/v1/experiments', { method: 'POST', body: specArea.value });
          location.hash = experimentHref(created.id);
        } catch (err) {
          if (signal.aborted) return;
          status.replaceChildren(errorBox(err));
          submit.disabled = false;
        }
      },
    },
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h2', {}, 'Start from')),
      h(
        'div',
        { class: 'panel-body form-grid' },
        field('Preset', presetSelect),
        field(
          'Size',
          sizeSelect,
          `small: ${SMALL.epochs} epoch on ${SMALL.trainExamples} examples, ${SMALL.checkpoints} checkpoints, ${SMALL.probe} probe examples`,
        ),
        about,
      ),
    ),
    h(
      'section',
      { class: 'panel' },
      h(
        'div',
        { class: 'panel-head' },
        h('h2', {}, 'Settings'),
        h('span', { class: 'hint' }, 'empty = the default'),
      ),
      h(
        'div',
        { class: 'panel-body form-grid' },
        field('Name', nameInput),
        ...inputs.map(({ f, input }) => field(f.label, input)),
      ),
    ),
    h(
      'section',
      { class: 'panel' },
      h(
        'div',
        { class: 'panel-head' },
        h('h2', {}, h('label', { for: 'spec' }, 'Experiment spec (JSON)')),
        h('span', { class: 'hint' }, 'what is submitted; paste your own, the fields above follow it'),
      ),
      h('div', { class: 'panel-body' }, specArea),
    ),
    estimate.el,
    h('div', { class: 'form-actions' }, submit, h('a', { href: '#/' }, 'Back to the list'), status),
  );
  show(crumbs(), h('div', { class: 'list-head' }, h('h1', { id: 'new-title' }, 'New experiment')), form);
  nameInput.value = 'my experiment';
  fromPreset();
  presetSelect.focus();
}

/** @param {Preset|undefined} p */
function describePreset(p) {
  if (!p)
    return [
      h(
        'p',
        { class: 'hint' },
        'Write the spec below: a reference network (dataset, architecture, training, checkpoints), a specimen and a probe set, or "source": "upload" for your own activations (see the README).',
      ),
    ];
  return [
    h(
      'p',
      {},
      h('b', {}, p.name),
      ' trains on ',
      h('b', { 'data-testid': 'preset-dataset' }, p.dataset),
      `: ${p.description}`,
    ),
    h(
      'ol',
      { class: 'layer-chain', 'aria-label': `layers of ${p.name}` },
      ...p.layers.map((l) =>
        h(
          'li',
          {},
          h('span', {}, l.name),
          h('span', { class: 'faint' }, ` ${l.kind === l.name ? '' : `${l.kind} · `}${l.features}`),
        ),
      ),
    ),
  ];
}

function crumbs() {
  return h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← All experiments'));
}
