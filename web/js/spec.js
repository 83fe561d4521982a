// Editing an experiment spec (plain JSON) from the New experiment form's fields: each field is a
// path in the spec; a preset's "small" variant shortens training for a quick look.

/** @typedef {Record<string, unknown>} Spec */

/**
 * The form's fields: label, path in the spec, and which of the preset's defaults shows as the
 * placeholder (the value the server fills when the field is left empty).
 * @type {Array<{ id: string, label: string, path: string[], defaults: [ 'training'|'checkpoints'|'probe', string ] }>}
 */
export const FIELDS = [
  {
    id: 'epochs',
    label: 'Epochs',
    path: ['reference', 'training', 'epochs'],
    defaults: ['training', 'epochs'],
  },
  {
    id: 'trainExamples',
    label: 'Training examples',
    path: ['reference', 'training', 'trainExamples'],
    defaults: ['training', 'trainExamples'],
  },
  {
    id: 'checkpoints',
    label: 'Checkpoints',
    path: ['reference', 'checkpoints', 'count'],
    defaults: ['checkpoints', 'count'],
  },
  { id: 'probe', label: 'Probe examples', path: ['probe', 'examples'], defaults: ['probe', 'examples'] },
];

/** A preset's small variant: minutes on two cores, enough to see the shape of the dynamics. */
export const SMALL = { epochs: 1, trainExamples: 2048, checkpoints: 6, probe: 500 };

/**
 * @param {unknown} v
 * @returns {v is Spec}
 */
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The value at a path, or undefined.
 * @param {unknown} spec
 * @param {string[]} path
 * @returns {unknown}
 */
export function getPath(spec, path) {
  let at = spec;
  for (const key of path) {
    if (!isObject(at)) return undefined;
    at = at[key];
  }
  return at;
}

/**
 * Sets (or, with undefined, removes) the value at a path, creating the objects on the way; removes
 * objects left empty.
 * @param {Spec} spec
 * @param {string[]} path
 * @param {unknown} value
 */
export function setPath(spec, path, value) {
  /** @type {Spec[]} */
  const chain = [spec];
  let at = spec;
  for (const key of path.slice(0, -1)) {
    if (!isObject(at[key])) {
      if (value === undefined) return;
      at[key] = {};
    }
    at = /** @type {Spec} */ (at[key]);
    chain.push(at);
  }
  const last = path[path.length - 1];
  if (value === undefined) delete at[last];
  else at[last] = value;
  for (let k = chain.length - 1; k > 0; k--)
    if (Object.keys(chain[k]).length === 0) delete chain[k - 1][path[k - 1]];
}

/**
 * Parses the spec text: the object, or an error message naming the line and column.
 * @param {string} text
 * @returns {{ spec: Spec } | { error: string }}
 */
export function parseSpec(text) {
  try {
    const spec = JSON.parse(text);
    if (!isObject(spec)) return { error: 'The spec must be a JSON object ({ … }).' };
    return { spec };
  } catch (err) {
    return { error: `Not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** @param {Spec} spec */
export const specText = (spec) => JSON.stringify(spec, null, 2);
