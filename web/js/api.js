// Access to the /v1 API: every request carries the stored key (`Authorization: Bearer KEY`) or the
// share token of the current view (`?share=TOKEN`); errors become ApiError with the API's stable code.
// The rules the page needs (statuses, terminal statuses, figure fractions, measures, presets) come
// from the API (GET /v1/meta, GET /v1/presets), fetched once per page load.

/**
 * @typedef {import('./types.js').Meta} Meta
 * @typedef {import('./types.js').PresetList} PresetList
 */

const KEY_STORAGE = 'repdyn.apiKey';

/** An API error answer: HTTP status, stable code, message and details. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {unknown} [details]
   */
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** @returns {string|null} */
export const storedKey = () => localStorage.getItem(KEY_STORAGE);
/** @param {string} key */
export const rememberKey = (key) => localStorage.setItem(KEY_STORAGE, key);
export const forgetKey = () => localStorage.removeItem(KEY_STORAGE);

/**
 * @typedef {{ method?: string, share?: string|null, key?: string|null, signal?: AbortSignal,
 *   body?: unknown }} CallOptions
 */

/**
 * Calls the API with the share token of the current view, or else the stored key. A body is sent
 * as JSON.
 * @param {string} path
 * @param {CallOptions} [opts]
 * @returns {Promise<Response>}
 */
export async function call(path, opts = {}) {
  const share = opts.share ?? null;
  const key = opts.key !== undefined ? opts.key : storedKey();
  let url = path;
  /** @type {Record<string, string>} */
  const headers = {};
  if (share) url += `${path.includes('?') ? '&' : '?'}share=${encodeURIComponent(share)}`;
  else if (key) headers['authorization'] = `Bearer ${key}`;
  /** @type {string|undefined} */
  let body;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers,
      body,
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'UNREACHABLE', 'The repdyn API cannot be reached. Is the server running?');
  }
  if (!res.ok) {
    /** @type {{ code?: string, message?: string, details?: unknown } | null} */
    let answer = null;
    try {
      answer = await res.json();
    } catch {
      // not JSON
    }
    throw new ApiError(
      res.status,
      answer?.code ?? `HTTP_${res.status}`,
      answer?.message ?? res.statusText,
      answer?.details,
    );
  }
  return res;
}

/**
 * The JSON answer of a call. T is the contract the caller expects (a type from ./types.js).
 * @template T
 * @param {string} path
 * @param {CallOptions} [opts]
 * @returns {Promise<T>}
 */
export const json = async (path, opts) => /** @type {Promise<T>} */ ((await call(path, opts)).json());

/** @type {Promise<Meta>|null} */
let metaPromise = null;

/**
 * The server's lists (statuses, terminal statuses, figure fractions, slice measures), once per load.
 * @param {string|null} [share] the share token when the page has no key
 * @returns {Promise<Meta>}
 */
export function meta(share = null) {
  if (!metaPromise) {
    metaPromise = json('/v1/meta', { share: storedKey() ? null : share });
    metaPromise.catch(() => {
      metaPromise = null;
    });
  }
  return metaPromise;
}

/** @type {Promise<PresetList>|null} */
let presetsPromise = null;

/** The named architectures with their defaults and an example spec (GET /v1/presets), once per load. */
export function presets() {
  if (!presetsPromise) {
    /** @type {Promise<PresetList>} */
    const p = json('/v1/presets');
    presetsPromise = p;
    p.catch(() => {
      presetsPromise = null;
    });
  }
  return presetsPromise;
}

/**
 * Fetches a file from the API (with the key or token) and saves it under `name` through a blob: link.
 * Resolves with the response headers (the .npy answer announces its shape in x-repdyn-shape).
 * @param {string} path
 * @param {string} name
 * @param {string|null} share
 * @returns {Promise<Headers>}
 */
export async function download(path, name, share) {
  const res = await call(path, { share });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return res.headers;
}
