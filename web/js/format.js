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
 * @typedef {import('./types.js').Experiment['spec']} SubmittedSpec the spec as GET /v1/experiments/ID returns it
 * @typedef {import('./types.js').Schemas['UploadExperimentSpec']} UploadSpec
 */

/** Whether a submitted spec declares uploaded activations. @param {SubmittedSpec} spec @returns {spec is UploadSpec} */
export const isUploadSpec = (spec) => 'source' in spec && spec.source === 'upload';

/**
 * What a spec trains on and with what: { dataset, network }. A preset is named as the preset
 * (its dataset is the preset's), a generic architecture by its type and widths.
 * @param {SubmittedSpec} spec
 * @returns {{ dataset: string, network: string }}
 */
export function describeSpec(spec) {
  if (isUploadSpec(spec)) return { dataset: '', network: 'uploaded activations' };
  const arch = spec.reference.architecture;
  let network;
  if ('preset' in arch) network = `preset ${arch.preset}`;
  else if (arch.type === 'mlp') network = `mlp ${arch.hidden.join('-') || '(no hidden layer)'}`;
  else
    network = `conv ${arch.conv.map((c) => c.filters).join('-')}${
      arch.dense?.length ? ` + fc ${arch.dense.join('-')}` : ''
    }`;
  return { dataset: spec.reference.dataset, network };
}

/**
 * Checkpoints declared by the spec (trained: count; uploaded: the list; explicit steps: unknown
 * until trained, as 0 and the last step are added). @param {SubmittedSpec} spec
 */
export function declaredCheckpoints(spec) {
  if (isUploadSpec(spec)) return spec.checkpoints.length;
  const c = spec.reference.checkpoints;
  return c && 'count' in c ? c.count : undefined;
}

/** The spacing of a trained spec's checkpoint count ('log' or 'linear'), if given. @param {SubmittedSpec} spec */
export function declaredSpacing(spec) {
  if (isUploadSpec(spec)) return undefined;
  const c = spec.reference.checkpoints;
  return c && 'spacing' in c ? c.spacing : undefined;
}

/** The probe set of a spec in words ("256 test examples"), or ''. @param {SubmittedSpec} spec */
export function describeProbe(spec) {
  if (isUploadSpec(spec) || spec.probe?.examples === undefined) return '';
  return `${spec.probe.examples} ${spec.probe.split ?? 'test'} examples`;
}

/** A file name from free text: "web tiny" → "web-tiny". @param {string} text */
export const slug = (text) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60) || 'experiment';
