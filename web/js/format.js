// Numbers, times and one-line descriptions as the page shows them.

/** @param {number} f a fraction in [0, 1] */
export const pct = (f) => `${f >= 0.1 || f === 0 ? Math.round(f * 100) : (f * 100).toPrecision(2)}%`;

/** @param {number|null|undefined} v */
export const num = (v, digits = 3) =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits);

/** @param {number|null|undefined} seconds */
export function eta(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return `~${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `~${Math.round(seconds / 60)} min left`;
  return `~${(seconds / 3600).toFixed(1)} h left`;
}

/** A duration in words: "40 s", "12 min", "1.5 h". @param {number} seconds */
export function seconds(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** @param {string|null|undefined} iso */
export function ago(iso) {
  if (!iso) return '';
  const sec = (Date.now() - Date.parse(iso)) / 1000;
  if (sec < 45) return 'just now';
  if (sec < 3600) return `${Math.round(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.round(sec / 3600)} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** @param {string|null|undefined} a @param {string|null|undefined} b */
export function duration(a, b) {
  if (!a || !b) return '';
  return seconds((Date.parse(b) - Date.parse(a)) / 1000);
}

/**
 * @param {unknown} v
 * @returns {Record<string, any>}
 */
const obj = (v) => (v !== null && typeof v === 'object' ? /** @type {Record<string, any>} */ (v) : {});

/**
 * What a spec trains on and with what: { dataset, network }. A preset is named as the preset
 * (its dataset is the preset's), a generic architecture by its type and widths.
 * @param {unknown} spec the submitted spec (GET /v1/experiments/ID `spec`)
 * @returns {{ dataset: string, network: string }}
 */
export function describeSpec(spec) {
  const sp = obj(spec);
  if (sp['source'] === 'upload') return { dataset: '', network: 'uploaded activations' };
  const ref = obj(sp['reference']);
  const arch = obj(ref['architecture']);
  let network = '';
  if (typeof arch['preset'] === 'string') network = `preset ${arch['preset']}`;
  else if (arch['type'] === 'mlp' && Array.isArray(arch['hidden']))
    network = `mlp ${arch['hidden'].join('-') || '(no hidden layer)'}`;
  else if (arch['type'] === 'conv' && Array.isArray(arch['conv']))
    network = `conv ${arch['conv'].map((/** @type {any} */ c) => c?.filters).join('-')}${
      Array.isArray(arch['dense']) && arch['dense'].length ? ` + fc ${arch['dense'].join('-')}` : ''
    }`;
  else if (typeof arch['type'] === 'string') network = arch['type'];
  return { dataset: typeof ref['dataset'] === 'string' ? ref['dataset'] : '', network };
}

/** Checkpoints declared by the spec (trained: count; uploaded: the list). @param {unknown} spec */
export function declaredCheckpoints(spec) {
  const sp = obj(spec);
  const count = obj(obj(sp['reference'])['checkpoints'])['count'];
  if (typeof count === 'number') return count;
  return Array.isArray(sp['checkpoints']) ? sp['checkpoints'].length : undefined;
}

/** The probe set of a spec in words ("256 test examples"), or ''. @param {unknown} spec */
export function describeProbe(spec) {
  const probe = obj(obj(spec)['probe']);
  return typeof probe['examples'] === 'number'
    ? `${probe['examples']} ${probe['split'] ?? 'test'} examples`
    : '';
}

/** @param {unknown} spec */
export const specOf = obj;

/** A file name from free text: "web tiny" → "web-tiny". @param {string} text */
export const slug = (text) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60) || 'experiment';
