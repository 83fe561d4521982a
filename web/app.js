// repdyn web page: a small hash-routed app without a build step. Routes:
//   #/                                  the team's experiments (needs an API key, kept in localStorage)
//   #/experiments/ID                    one experiment, with the key
//   #/experiments/ID?share=TOKEN        one experiment through a share link, no key needed
// Every data request goes to the /v1 API with `Authorization: Bearer KEY` or `?share=TOKEN`.
// DOM is built with createElement only (never innerHTML), so names from the API cannot inject markup.

/**
 * @typedef {{ name: string, kind: string, features: number, samples: number,
 *   reduction: string|null, reductionDetail: string|null }} LayerDetail
 * @typedef {'awaiting_representations'|'queued'|'training'|'capturing'|'computing'|'succeeded'|'failed'|'canceled'} Status
 * @typedef {{ index: number, step: number, fraction: number, trainLoss: number|null,
 *   trainAccuracy: number|null, probeLoss: number|null, probeAccuracy: number|null }} Checkpoint
 * @typedef {{ id: string, name: string, status: Status,
 *   progress: { phase: Status, fraction: number, message: string, etaSeconds: number|null },
 *   error: { code: string, message: string } | null, spec: any, estimate: any,
 *   layers: { reference: string[], specimen: string[] }, checkpoints: Checkpoint[],
 *   layerDetails?: { reference: LayerDetail[], specimen: LayerDetail[] },
 *   timings: Record<string, string|null>, backend: string|null, summary: any,
 *   warnings?: Array<{code: string, message: string}> }} Experiment
 * @typedef {{ shape: number[], axes: string[], measure: string,
 *   labels: { refLayer: string[], specLayer: string[], checkpoint: any },
 *   values: any, counts?: any }} Slice
 * @typedef {{ name: 'list' } | { name: 'experiment', id: string, share: string|null }} Route
 */

const KEY_STORAGE = 'repdyn.apiKey';
const THEME_STORAGE = 'repdyn.theme';
const TERMINAL = ['succeeded', 'failed', 'canceled'];
const MEASURES = [
  ['rho', 'rho (√ mean of squared CCA coefficients)'],
  ['mean', 'mean CCA'],
  ['svcca', 'SVCCA'],
  ['pwcca', 'PWCCA'],
  ['cka', 'linear CKA'],
];
const SVG_NS = 'http://www.w3.org/2000/svg';

/** An API error answer: HTTP status, stable code and message. */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---------------------------------------------------------------- DOM helpers

/**
 * @typedef {Record<string, string|number|boolean|null|undefined|((ev: any) => void)>} Attrs
 * @typedef {Node|string|number|null|undefined|false} Child
 */

/**
 * @param {Element} el
 * @param {Attrs} attrs
 * @param {Child[]} children
 */
function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
  return el;
}

/**
 * An HTML element: h('div', { class: 'x', onClick: fn }, 'text', child).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Child|Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function h(tag, attrs = {}, ...children) {
  return /** @type {HTMLElementTagNameMap[K]} */ (fill(document.createElement(tag), attrs, children.flat()));
}

/**
 * An SVG element.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {...(Child|Child[])} children
 * @returns {SVGElement}
 */
function s(tag, attrs = {}, ...children) {
  return /** @type {SVGElement} */ (fill(document.createElementNS(SVG_NS, tag), attrs, children.flat()));
}

/** Experiments fetched per page of the list. */
const LIST_PAGE = 100;

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const sessionBox = /** @type {HTMLElement} */ (document.getElementById('session'));

/** @param {...(Child|Child[])} children */
function show(...children) {
  /** @type {(Node|string)[]} */
  const nodes = [];
  for (const c of children.flat())
    if (c !== null && c !== undefined && c !== false) nodes.push(typeof c === 'number' ? String(c) : c);
  main.replaceChildren(...nodes);
}

/** @param {string} text */
function toast(text) {
  const el = /** @type {HTMLElement} */ (document.getElementById('toast'));
  el.textContent = text;
  el.classList.add('show');
  clearTimeout(Number(el.dataset['timer']));
  el.dataset['timer'] = String(setTimeout(() => el.classList.remove('show'), 2200));
}

/** @param {unknown} err */
function errorBox(err) {
  if (err instanceof ApiError) {
    return h(
      'div',
      { class: 'error', role: 'alert' },
      h('strong', {}, err.message),
      ' ',
      h('code', {}, err.code),
    );
  }
  return h('div', { class: 'error', role: 'alert' }, String(err instanceof Error ? err.message : err));
}

// ---------------------------------------------------------------- formatting

/** @param {number} f */
const pct = (f) => `${f >= 0.1 || f === 0 ? Math.round(f * 100) : (f * 100).toPrecision(2)}%`;
/** @param {number|null|undefined} v */
const num = (v, digits = 3) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));

/** @param {number|null} seconds */
function eta(seconds) {
  if (seconds === null || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return `~${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `~${Math.round(seconds / 60)} min left`;
  return `~${(seconds / 3600).toFixed(1)} h left`;
}

/** @param {string|null} iso */
function ago(iso) {
  if (!iso) return '';
  const sec = (Date.now() - Date.parse(iso)) / 1000;
  if (sec < 45) return 'just now';
  if (sec < 3600) return `${Math.round(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.round(sec / 3600)} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** @param {string|null} a @param {string|null} b */
function duration(a, b) {
  if (!a || !b) return '';
  const sec = (Date.parse(b) - Date.parse(a)) / 1000;
  return sec < 90 ? `${Math.round(sec)} s` : `${Math.round(sec / 60)} min`;
}

/** A one-line description of the reference network from the spec. @param {any} spec */
function describeNet(spec) {
  if (spec?.source === 'upload') return 'uploaded activations';
  const ref = spec?.reference;
  if (!ref) return '';
  const arch = ref.architecture ?? {};
  const shape = Array.isArray(arch.hidden) ? `${arch.type ?? 'net'} ${arch.hidden.join('-')}` : arch.type;
  return [ref.dataset, shape].filter(Boolean).join(' · ');
}

// ---------------------------------------------------------------- colour

// viridis, 9 stops
const VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** @param {number} t in [0, 1] @returns {number[]} r, g, b */
function viridisRgb(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((v, k) => Math.round(v + (VIRIDIS[i + 1][k] - v) * f));
}

/** @param {number} t in [0, 1] @returns {string} */
function viridis(t) {
  const c = viridisRgb(t);
  return `rgb(${c[0]} ${c[1]} ${c[2]})`;
}

/** The class of dark or light text, whichever reads better on viridis(t). @param {number} t */
function inkOn(t) {
  const [r, g, b] = viridisRgb(t).map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.22 ? 'ink-dark' : 'ink-light';
}

// ---------------------------------------------------------------- API access

/** @returns {string|null} */
const storedKey = () => localStorage.getItem(KEY_STORAGE);

/**
 * Calls the API with the share token of the current view, or else the stored key.
 * @param {string} path
 * @param {{ method?: string, share?: string|null, key?: string|null, signal?: AbortSignal }} [opts]
 * @returns {Promise<Response>}
 */
async function call(path, opts = {}) {
  const share = opts.share ?? null;
  const key = opts.key !== undefined ? opts.key : storedKey();
  let url = path;
  /** @type {Record<string, string>} */
  const headers = {};
  if (share) url += `${path.includes('?') ? '&' : '?'}share=${encodeURIComponent(share)}`;
  else if (key) headers['authorization'] = `Bearer ${key}`;
  let res;
  try {
    res = await fetch(url, { method: opts.method ?? 'GET', headers, signal: opts.signal, cache: 'no-store' });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'UNREACHABLE', 'The repdyn API cannot be reached. Is the server running?');
  }
  if (!res.ok) {
    /** @type {any} */
    let body = null;
    try {
      body = await res.json();
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, body?.code ?? `HTTP_${res.status}`, body?.message ?? res.statusText);
  }
  return res;
}

/**
 * @param {string} path
 * @param {Parameters<typeof call>[1]} [opts]
 * @returns {Promise<any>}
 */
const json = async (path, opts) => (await call(path, opts)).json();

/**
 * Follows the SSE progress stream (fetch, so the key can travel in a header) until it ends.
 * @param {string} id
 * @param {string|null} share
 * @param {AbortSignal} signal
 * @param {(event: string, data: any) => void} onEvent
 */
async function followEvents(id, share, signal, onEvent) {
  const res = await call(`/v1/experiments/${id}/events`, { share, signal });
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}

// ---------------------------------------------------------------- routing

/** @returns {Route} */
function parseRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  const m = /^\/experiments\/([0-9a-fA-F-]{36})$/.exec(path);
  if (m) return { name: 'experiment', id: m[1], share: new URLSearchParams(query).get('share') };
  return { name: 'list' };
}

/** Aborted when the view changes: stops polling, streams and stale renders. */
let viewController = new AbortController();

function route() {
  viewController.abort();
  viewController = new AbortController();
  const signal = viewController.signal;
  const r = parseRoute();
  window.scrollTo(0, 0);
  if (r.name === 'experiment' && r.share) {
    renderSession({ share: true });
    void experimentView(r.id, r.share, signal);
    return;
  }
  const key = storedKey();
  if (!key) {
    renderSession({});
    signInView(null);
    return;
  }
  renderSession({ key });
  if (r.name === 'experiment') void experimentView(r.id, null, signal);
  else void listView(signal);
}

/** @param {{ key?: string, share?: boolean }} state */
function renderSession(state) {
  if (state.share) {
    sessionBox.replaceChildren(
      h('span', { class: 'badge', 'data-testid': 'shared-badge' }, 'Shared link · read-only'),
      ...(storedKey() ? [h('a', { href: '#/' }, 'Your experiments')] : []),
    );
  } else if (state.key) {
    sessionBox.replaceChildren(
      h('span', { class: 'mono', title: 'API key in use' }, `${state.key.slice(0, 12)}…`),
      h('button', { class: 'ghost', type: 'button', onClick: signOut }, 'Forget key'),
    );
  } else {
    sessionBox.replaceChildren();
  }
}

function signOut() {
  localStorage.removeItem(KEY_STORAGE);
  location.hash = '#/';
  route();
}

// ---------------------------------------------------------------- sign-in

/** @param {unknown} problem */
function signInView(problem) {
  const input = h('input', {
    type: 'password',
    name: 'key',
    placeholder: 'rdk_…',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-label': 'API key',
    required: true,
  });
  const status = h('div', {});
  if (problem) status.replaceChildren(errorBox(problem));
  const button = h('button', { class: 'primary', type: 'submit' }, 'Open');
  const form = h(
    'form',
    {
      onSubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        button.disabled = true;
        status.replaceChildren(
          h('span', { class: 'loading' }, h('span', { class: 'spinner' }), 'Checking key…'),
        );
        try {
          await json('/v1/experiments?limit=1', { key });
          localStorage.setItem(KEY_STORAGE, key);
          route();
        } catch (err) {
          button.disabled = false;
          status.replaceChildren(
            err instanceof ApiError && err.status === 401
              ? errorBox(new ApiError(401, err.code, `This key was not accepted: ${err.message}.`))
              : errorBox(err),
          );
          input.select();
        }
      },
    },
    input,
    button,
  );
  show(
    h(
      'section',
      { class: 'signin panel' },
      h(
        'div',
        { class: 'panel-body' },
        h('h1', {}, 'Open your team’s experiments'),
        h(
          'p',
          {},
          'Paste a team API key. It stays in this browser (localStorage) and is sent only to this server.',
        ),
        form,
        status,
        h(
          'p',
          { class: 'hint' },
          'No key? An admin creates one with ',
          h('code', {}, 'npx repdyn admin create-key --team NAME'),
          '. Share links open without a key.',
        ),
      ),
    ),
  );
  input.focus();
}

// ---------------------------------------------------------------- experiment list

/** @param {Experiment['progress']} p @param {Status} status */
function progressBar(p, status) {
  const bar = h('div', {
    class: `bar ${status === 'succeeded' ? 'done' : status === 'failed' ? 'failed' : ''}`,
  });
  const fill = h('span', {});
  fill.style.width = `${Math.round((status === 'succeeded' ? 1 : p.fraction) * 100)}%`;
  bar.append(fill);
  return bar;
}

/** @param {Status} status */
const pill = (status) =>
  h(
    'span',
    { class: `pill ${status}`, 'data-status': status },
    status === 'awaiting_representations' ? 'awaiting uploads' : status,
  );

/** Checkpoints declared by the spec (trained: count; uploaded: the list). @param {any} spec */
const declaredCheckpoints = (spec) =>
  spec?.reference?.checkpoints?.count ??
  (Array.isArray(spec?.checkpoints) ? spec.checkpoints.length : undefined);

/** @param {Experiment} e */
function listRow(e) {
  const open = () => {
    location.hash = `#/experiments/${e.id}`;
  };
  const active = !TERMINAL.includes(e.status);
  return h(
    'tr',
    {
      class: 'row',
      tabindex: 0,
      'data-id': e.id,
      onClick: open,
      onKeydown: (/** @type {KeyboardEvent} */ ev) => {
        if (ev.key === 'Enter') open();
      },
    },
    h('td', {}, h('div', { class: 'name' }, e.name), h('div', { class: 'id' }, e.id.slice(0, 8))),
    h('td', {}, pill(e.status)),
    h(
      'td',
      { class: 'progress-cell' },
      progressBar(e.progress, e.status),
      h(
        'div',
        { class: 'progress-text' },
        h(
          'span',
          {},
          active ? e.progress.message : e.status === 'succeeded' ? 'done' : (e.error?.code ?? e.status),
        ),
        h(
          'span',
          { class: 'num' },
          active ? `${pct(e.progress.fraction)} ${eta(e.progress.etaSeconds)}` : '',
        ),
      ),
    ),
    h('td', { class: 'muted' }, describeNet(e.spec)),
    h(
      'td',
      { class: 'muted num' },
      `${e.layers.specimen.length} × ${e.layers.reference.length} layers · ${e.checkpoints.length || declaredCheckpoints(e.spec) || '?'} ckpts`,
    ),
    h('td', { class: 'faint', title: e.timings['createdAt'] ?? '' }, ago(e.timings['createdAt'])),
  );
}

/** @param {AbortSignal} signal */
async function listView(signal) {
  show(h('p', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading experiments…'));
  let first = true;
  let pages = 1; // pages of LIST_PAGE shown; "Show older experiments" adds one
  /** @type {() => void} */
  let wake = () => {};
  while (!signal.aborted) {
    /** @type {Experiment[]} */
    const items = [];
    /** @type {string|null} */
    let cursor = null;
    try {
      for (let p = 0; p < pages; p++) {
        /** @type {{items: Experiment[], nextCursor: string|null}} */
        const page = await json(`/v1/experiments?limit=${LIST_PAGE}${cursor ? `&cursor=${cursor}` : ''}`, {
          signal,
        });
        items.push(...page.items);
        cursor = page.nextCursor;
        if (!cursor) break;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) {
        localStorage.removeItem(KEY_STORAGE);
        renderSession({});
        signInView(new ApiError(401, err.code, `The stored key no longer works: ${err.message}.`));
        return;
      }
      if (first) {
        show(errorBox(err));
        return;
      }
      await sleep(5000, signal);
      continue;
    }
    if (signal.aborted) return;
    const anyActive = items.some((e) => !TERMINAL.includes(e.status));
    const head = h(
      'div',
      { class: 'list-head' },
      h('h1', {}, 'Experiments'),
      h('span', { class: 'live', title: 'Refreshes by itself' }, anyActive ? 'live · updating' : 'live'),
    );
    if (items.length === 0) {
      show(
        head,
        h(
          'div',
          { class: 'panel empty' },
          h('h2', {}, 'No experiments yet'),
          h('div', {}, 'Submit one from the command line; it appears here with live progress.'),
          h('pre', {}, 'npx repdyn submit spec.json'),
        ),
      );
    } else {
      const focused =
        document.activeElement instanceof HTMLElement ? document.activeElement.dataset['id'] : undefined;
      const table = h(
        'table',
        { class: 'experiments', 'data-testid': 'experiments' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Name'),
            h('th', {}, 'Status'),
            h('th', {}, 'Progress'),
            h('th', {}, 'Network'),
            h('th', {}, 'Tensor'),
            h('th', {}, 'Created'),
          ),
        ),
        h('tbody', {}, items.map(listRow)),
      );
      const older = cursor
        ? h(
            'button',
            {
              class: 'ghost more',
              type: 'button',
              'data-testid': 'list-more',
              onClick: () => {
                pages += 1;
                wake();
              },
            },
            `Show older experiments (${items.length} shown)`,
          )
        : null;
      show(head, h('div', { class: 'panel' }, table), older);
      if (focused) /** @type {HTMLElement|null} */ (table.querySelector(`[data-id="${focused}"]`))?.focus();
    }
    first = false;
    await new Promise((resolve) => {
      wake = () => resolve(undefined);
      sleep(anyActive ? 1500 : 10000, signal).then(resolve);
    });
  }
}

/**
 * @param {number} ms
 * @param {AbortSignal} signal
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

// ---------------------------------------------------------------- one experiment

/**
 * @param {string} id
 * @param {string|null} share
 * @param {AbortSignal} signal
 */
async function experimentView(id, share, signal) {
  show(h('p', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading experiment…'));
  /** @type {Experiment} */
  let e;
  try {
    e = await json(`/v1/experiments/${id}`, { share, signal });
  } catch (err) {
    if (signal.aborted) return;
    const notFound = err instanceof ApiError && err.status === 404;
    show(
      crumbs(share),
      h(
        'div',
        { class: 'panel empty' },
        h(
          'h2',
          {},
          notFound ? (share ? 'This share link is not valid' : 'Experiment not found') : 'Could not load',
        ),
        h(
          'div',
          {},
          notFound
            ? share
              ? 'It may have been revoked, or the experiment deleted.'
              : 'It does not exist or belongs to another team.'
            : '',
        ),
        notFound ? null : errorBox(err),
      ),
    );
    return;
  }
  if (signal.aborted) return;
  document.title = `${e.name} · repdyn`;
  const header = experimentHeader(e, share);
  if (!TERMINAL.includes(e.status)) {
    const live = liveProgress(e);
    show(crumbs(share), header, live.el);
    // Follow the SSE stream; when it drops without an `end` (API restart, network), reconnect.
    let ended = false;
    for (let attempt = 0; !ended && !signal.aborted; attempt++) {
      try {
        await followEvents(id, share, signal, (event, data) => {
          live.update(data);
          header.querySelector('.pill')?.replaceWith(pill(data.status));
          attempt = 0;
          if (event === 'end') ended = true;
        });
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
          live.el.append(errorBox(err));
          return;
        }
      }
      if (ended || signal.aborted) break;
      const wait = Math.min(10, 2 ** attempt);
      live.say(`Connection lost; reconnecting in ${wait} s…`);
      await sleep(wait * 1000, signal);
    }
    if (ended && !signal.aborted) void experimentView(id, share, signal);
    return;
  }
  if (e.status !== 'succeeded') {
    show(
      crumbs(share),
      header,
      h(
        'div',
        { class: 'panel empty' },
        h('h2', {}, e.status === 'failed' ? 'This experiment failed' : 'This experiment was canceled'),
        e.error ? errorBox(new ApiError(0, e.error.code, e.error.message)) : h('div', {}, e.progress.message),
      ),
    );
    return;
  }
  const verdicts = h('div', { class: 'verdicts', 'data-testid': 'verdicts' });
  const explorer = h('div', { class: 'explorer' });
  const figures = h('div', { class: 'figures' });
  show(
    crumbs(share),
    header,
    verdicts,
    reductions(e),
    explorer,
    h('h2', { class: 'section-title' }, 'Figures'),
    figures,
  );
  void loadVerdicts(e, share, signal, verdicts);
  void renderExplorer(e, share, signal, explorer);
  renderFigures(e, share, signal, figures);
}

/**
 * How each conv-shaped layer became a [samples, features] matrix (null when no layer is conv-shaped
 * or the experiment predates the record): CCA compares the reduction, not the layer itself.
 * @param {Experiment} e
 */
function reductions(e) {
  const d = e.layerDetails;
  if (!d) return null;
  /** @type {Map<string, LayerDetail>} */
  const seen = new Map();
  for (const l of [...d.reference, ...d.specimen])
    if (l.reduction && l.reduction !== 'none' && !seen.has(l.name)) seen.set(l.name, l);
  if (seen.size === 0) return null;
  return h(
    'div',
    { class: 'verdicts', 'data-testid': 'reductions' },
    ...[...seen.values()].map((l) =>
      h(
        'div',
        { class: 'verdict' },
        h('span', { class: 'k' }, `conv reduction of ${l.name}`),
        h('span', { class: 'v' }, l.reduction ?? ''),
        h('span', { class: 'd' }, `${l.reductionDetail ?? ''} · matrix ${l.samples} × ${l.features}`),
      ),
    ),
  );
}

/** @param {string|null} share */
function crumbs(share) {
  if (share) return null;
  return h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← All experiments'));
}

/**
 * @param {Experiment} e
 * @param {string|null} share
 */
function experimentHeader(e, share) {
  const t = e.timings;
  const spec = e.spec ?? {};
  const ckpts = e.checkpoints.length || declaredCheckpoints(spec);
  /** @type {[string, string|number|undefined|null][]} */
  const facts = [
    ['network', describeNet(spec)],
    ['specimen', spec.specimen === 'same' ? 'same as reference' : spec.specimen ? 'its own network' : null],
    ['probe', spec.probe?.examples ? `${spec.probe.examples} ${spec.probe.split ?? 'test'} examples` : null],
    ['samples', spec.source === 'upload' && spec.samples ? spec.samples : null],
    [
      'checkpoints',
      ckpts
        ? `${ckpts}${spec.reference?.checkpoints?.spacing ? ` (${spec.reference.checkpoints.spacing})` : ''}`
        : null,
    ],
    ['backend', e.backend],
    ['took', duration(t['createdAt'] ?? null, t['finishedAt'] ?? null)],
    ['created', ago(t['createdAt'] ?? null)],
  ];
  const factList = h('dl', { class: 'facts' });
  for (const [k, v] of facts) {
    if (v === null || v === undefined || v === '') continue;
    factList.append(h('div', {}, h('dt', {}, k), h('dd', {}, String(v))));
  }
  return h(
    'section',
    { class: 'exp-head' },
    h(
      'div',
      {},
      h(
        'div',
        { class: 'exp-title' },
        h('h1', { 'data-testid': 'experiment-name' }, e.name),
        pill(e.status),
        h('span', { class: 'mono faint', title: 'experiment id' }, e.id),
      ),
      factList,
    ),
    share ? null : shareBox(e),
  );
}

/** The "Copy share link" button: creates a read-only link and copies it. @param {Experiment} e */
function shareBox(e) {
  const out = h('input', {
    type: 'text',
    readonly: true,
    hidden: true,
    'aria-label': 'Share link',
    'data-testid': 'share-url',
    onFocus: (/** @type {Event} */ ev) => /** @type {HTMLInputElement} */ (ev.target).select(),
  });
  const status = h('div', {});
  const button = h(
    'button',
    {
      type: 'button',
      'data-testid': 'share',
      title: 'Anyone with the link can read this experiment (no key needed)',
      onClick: async () => {
        button.disabled = true;
        status.replaceChildren();
        try {
          const created = await json(`/v1/experiments/${e.id}/shares`, { method: 'POST' });
          out.value = `${location.origin}${created.pageUrl}`;
          out.hidden = false;
          let copied = false;
          try {
            await navigator.clipboard.writeText(out.value);
            copied = true;
          } catch {
            out.focus();
          }
          toast(copied ? 'Share link copied to the clipboard' : 'Share link created; copy it from the box');
        } catch (err) {
          status.replaceChildren(errorBox(err));
        } finally {
          button.disabled = false;
        }
      },
    },
    'Copy share link',
  );
  return h('div', { class: 'share-box' }, button, out, status);
}

const PHASES = ['queued', 'training', 'capturing', 'computing'];

/** The live progress panel: phase steps, overall bar, message, ETA, connection note. @param {Experiment} e */
function liveProgress(e) {
  const message = h('span', {});
  const bar = progressBar(e.progress, e.status);
  const right = h('span', { class: 'num' });
  const note = h('div', { class: 'hint' });
  const steps = h('ol', { class: 'steps' });
  const el = h(
    'section',
    { class: 'panel', 'data-testid': 'live-progress' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'In progress'), h('span', { class: 'live' }, 'live')),
    h('div', { class: 'panel-body' }, steps, bar, h('div', { class: 'progress-text' }, message, right), note),
  );
  /** @param {{ status: Status, fraction: number, message: string, etaSeconds: number|null }} p */
  const update = (p) => {
    const at = PHASES.indexOf(p.status);
    const names = p.status === 'awaiting_representations' ? ['awaiting uploads', ...PHASES.slice(1)] : PHASES;
    steps.replaceChildren(
      ...names.map((name, k) =>
        h('li', { class: k < at ? 'done' : k === at || (at < 0 && k === 0) ? 'now' : '' }, name),
      ),
    );
    message.textContent = p.message;
    right.textContent = `${pct(p.fraction)}  ${eta(p.etaSeconds)}`;
    const inner = /** @type {HTMLElement} */ (bar.firstElementChild);
    inner.style.width = `${Math.round(p.fraction * 100)}%`;
    note.textContent = '';
  };
  update({
    status: e.status,
    fraction: e.progress.fraction,
    message: e.progress.message,
    etaSeconds: e.progress.etaSeconds,
  });
  /** @param {string} text */
  const say = (text) => {
    note.textContent = text;
  };
  return { el, update, say };
}

/**
 * @param {Experiment} e
 * @param {string|null} share
 * @param {AbortSignal} signal
 * @param {HTMLElement} box
 */
async function loadVerdicts(e, share, signal, box) {
  try {
    const a = await json(`/v1/experiments/${e.id}/analysis`, { share, signal });
    const conv = a.convergence;
    const crawl = a.crawl;
    const score = conv.score === 'rho' ? 'rho' : 'adjusted score';
    const order = conv.layers
      .filter((/** @type {any} */ l) => l.convergedAt !== null)
      .map((/** @type {any} */ l) => `${l.layer} ${pct(l.convergedAt)}`)
      .join(' · ');
    /** @param {string|null|undefined} reason */
    const why = (reason) =>
      reason ? h('span', { class: 'd reason', 'data-testid': 'verdict-reason' }, reason) : '';
    /** @type {Array<{code: string, message: string}>} */
    const warnings = [];
    const seen = new Set();
    for (const w of [...(a.warnings ?? []), ...(e.warnings ?? [])]) {
      if (seen.has(w.message)) continue;
      seen.add(w.message);
      warnings.push(w);
    }
    box.replaceChildren(
      h(
        'div',
        { class: 'verdict' },
        h('span', { class: 'k' }, 'convergence'),
        h('span', { class: `v ${conv.verdict === 'bottom-up' ? 'yes' : ''}` }, conv.verdict),
        h(
          'span',
          { class: 'd' },
          `${score} ≥ ${conv.threshold} before the end at: ${order || 'never'}`,
          conv.spearman === null ? '' : ` · Spearman ${num(conv.spearman, 2)}`,
        ),
        why(conv.reason),
      ),
      h(
        'div',
        { class: 'verdict' },
        h('span', { class: 'k' }, `top-down crawl of ${crawl.layer}`),
        h('span', { class: `v ${crawl.verdict === 'crawl' ? 'yes' : ''}` }, crawl.verdict),
        h(
          'span',
          { class: 'd' },
          crawl.steps
            .slice(0, 4)
            .map((/** @type {any} */ st) => `${pct(st.fraction)} → ${st.mostSimilar ?? '–'}`)
            .join(' · '),
        ),
        why(crawl.reason),
      ),
      warnings.length === 0
        ? ''
        : h(
            'div',
            { class: 'verdict warnings', 'data-testid': 'warnings' },
            h('span', { class: 'k' }, `warnings (${warnings.length})`),
            h(
              'ul',
              {},
              ...warnings
                .slice(0, 12)
                .map((w) => h('li', { 'data-code': w.code }, h('b', {}, w.code), ` ${w.message}`)),
            ),
            warnings.length > 12
              ? h('span', { class: 'd' }, `and ${warnings.length - 12} more (GET …/analysis)`)
              : '',
          ),
    );
  } catch (err) {
    if (!signal.aborted) box.replaceChildren(errorBox(err));
  }
}

// ---------------------------------------------------------------- heatmap + spectrum explorer

/**
 * @param {Experiment} e
 * @param {string|null} share
 * @param {AbortSignal} signal
 * @param {HTMLElement} box
 */
async function renderExplorer(e, share, signal, box) {
  const heatPanel = h('section', { class: 'panel', 'data-testid': 'heatmap-panel' });
  const spectrumPanel = h('section', { class: 'panel', 'data-testid': 'spectrum-panel' });
  box.replaceChildren(heatPanel, spectrumPanel);
  const ckpts = e.checkpoints;
  // The view's state lives in the URL too (…?ckpt=K&measure=M&ref=A&spec=B), so a reload or a copied
  // address opens the same checkpoint and cell.
  const [hashPath, hashQuery = ''] = location.hash.slice(1).split('?');
  const q = new URLSearchParams(hashQuery);
  const t0 = ckpts.findIndex((c) => String(c.index) === q.get('ckpt'));
  const i0 = e.layers.reference.indexOf(q.get('ref') ?? '');
  const j0 = e.layers.specimen.indexOf(q.get('spec') ?? '');
  /** @type {{ measure: string, t: number, cell: [number, number] | null }} */
  const state = {
    measure: MEASURES.some(([m]) => m === q.get('measure')) ? String(q.get('measure')) : 'rho',
    t: t0 >= 0 ? t0 : ckpts.length - 1,
    cell: i0 >= 0 && j0 >= 0 ? [i0, j0] : null,
  };
  const remember = () => {
    q.set('ckpt', String(ckpts[state.t]?.index ?? state.t));
    if (state.measure === 'rho') q.delete('measure');
    else q.set('measure', state.measure);
    if (state.cell) {
      q.set('ref', e.layers.reference[state.cell[0]]);
      q.set('spec', e.layers.specimen[state.cell[1]]);
    }
    if (!signal.aborted) history.replaceState(null, '', `#${hashPath}?${q}`);
  };
  /** @type {Map<string, Slice>} */
  const tensors = new Map();

  const measureSelect = h(
    'select',
    { 'aria-label': 'Measure', 'data-testid': 'measure' },
    MEASURES.map(([v, label]) => h('option', { value: v, selected: v === state.measure }, label)),
  );
  const slider = h('input', {
    type: 'range',
    min: 0,
    max: Math.max(0, ckpts.length - 1),
    step: 1,
    value: state.t,
    'aria-label': 'Checkpoint',
    'data-testid': 'checkpoint',
  });
  const ckptLabel = h('div', { class: 'ckpt-label num', 'data-testid': 'checkpoint-label' });
  const chart = h('div', { 'data-testid': 'heatmap' });
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
      h(
        'div',
        { class: 'controls' },
        h('label', {}, 'measure'),
        measureSelect,
        h('label', {}, 'checkpoint'),
        slider,
        ckptLabel,
      ),
      chart,
    ),
  );
  spectrumEmpty(spectrumPanel);

  /** @returns {Promise<Slice>} */
  const tensorOf = async (/** @type {string} */ measure) => {
    let t = tensors.get(measure);
    if (!t) {
      t = /** @type {Slice} */ (
        await json(`/v1/experiments/${e.id}/tensor?measure=${measure}`, { share, signal })
      );
      tensors.set(measure, t);
    }
    return t;
  };

  const draw = async () => {
    const c = ckpts[state.t];
    ckptLabel.textContent = c
      ? `#${c.index} · step ${c.step} · ${pct(c.fraction)} of training` +
        (c.probeAccuracy === null ? '' : ` · probe accuracy ${(c.probeAccuracy * 100).toFixed(1)}%`)
      : '';
    let slice;
    try {
      slice = await tensorOf(state.measure);
    } catch (err) {
      if (!signal.aborted) chart.replaceChildren(errorBox(err));
      return;
    }
    if (signal.aborted) return;
    const label = MEASURES.find(([m]) => m === state.measure)?.[0] ?? state.measure;
    chart.replaceChildren(
      heatmapSvg(slice, state.t, label, state.cell, (i, j) => {
        state.cell = [i, j];
        void draw();
      }),
    );
    remember();
    if (state.cell) void drawSpectrum();
  };

  const drawSpectrum = async () => {
    if (!state.cell) return;
    const [i, j] = state.cell;
    const c = ckpts[state.t];
    const rho = await tensorOf('rho');
    const refName = rho.labels.refLayer[i];
    const specName = rho.labels.specLayer[j];
    spectrumPanel.replaceChildren(
      h('div', { class: 'panel-head' }, h('h2', {}, 'Coefficient spectrum')),
      h('div', { class: 'panel-body loading' }, h('span', { class: 'spinner' }), 'Loading coefficients…'),
    );
    try {
      const q = `refLayer=${encodeURIComponent(refName)}&specLayer=${encodeURIComponent(specName)}&checkpoint=${c.index}`;
      const coef = /** @type {Slice} */ (
        await json(`/v1/experiments/${e.id}/tensor?measure=coefficients&${q}`, { share, signal })
      );
      if (signal.aborted || state.cell?.[0] !== i || state.cell?.[1] !== j || ckpts[state.t] !== c) return;
      await Promise.all(MEASURES.map(([m]) => tensorOf(m).catch(() => null)));
      if (signal.aborted) return;
      /** @type {number[]} */
      const values = coef.values[0][0].filter((/** @type {number|null} */ v) => v !== null);
      values.sort((a, b) => b - a);
      /** @type {Record<string, number|null>} */
      const scalars = {};
      for (const [m] of MEASURES) {
        const t = tensors.get(m);
        scalars[m] = t ? t.values[i][j][state.t] : null;
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
          spectrumSvg(values, scalars['rho']),
          h(
            'div',
            { class: 'stats' },
            stat('coefficients', String(values.length)),
            stat('largest', num(values[0])),
            ...MEASURES.filter(([m]) => scalars[m] !== null && scalars[m] !== undefined).map(([m]) =>
              stat(m, num(scalars[m])),
            ),
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

/** @param {string} k @param {string} v */
const stat = (k, v) => h('div', { class: 'stat' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v));

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
        'Click a cell of the heatmap to see its CCA coefficients, sorted from largest to smallest.',
      ),
    ),
  );
}

/**
 * The reference × specimen heatmap of one checkpoint: rows are specimen layers (input at the bottom),
 * columns final reference layers, viridis on [0, 1] like Figure 1.
 * @param {Slice} slice  [refLayer, specLayer, checkpoint]
 * @param {number} t
 * @param {string} measure
 * @param {[number, number]|null} selected
 * @param {(i: number, j: number) => void} onPick
 */
function heatmapSvg(slice, t, measure, selected, onPick) {
  const refs = slice.labels.refLayer;
  const specs = slice.labels.specLayer;
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
    role: 'img',
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
      /** @type {number|null} */
      const v = slice.values[i][j][t];
      const rect = s(
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
            if (ev.key === 'Enter' || ev.key === ' ') onPick(i, j);
          },
        },
        s('title', {}, `${specs[j]} (during training) × ${refs[i]} (final): ${measure} ${num(v)}`),
      );
      svg.append(rect);
      if (cell >= 30) {
        svg.append(
          s(
            'text',
            {
              class: `cell-value ${v === null ? 'ink-none' : inkOn(v)}`,
              x: x + cell / 2,
              y: y + cell / 2 + 3.5,
              'text-anchor': 'middle',
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

/**
 * Sorted CCA coefficients as a line with dots, and the cell's rho as a dashed line.
 * @param {number[]} values  descending
 * @param {number|null} rho
 */
function spectrumSvg(values, rho) {
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
    if (n <= 80) {
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

// ---------------------------------------------------------------- figures

/**
 * Figures 1–3 from the API, fetched with the key or token and shown as blob: images.
 * @param {Experiment} e
 * @param {string|null} share
 * @param {AbortSignal} signal
 * @param {HTMLElement} box
 */
function renderFigures(e, share, signal, box) {
  const top = e.layers.specimen.length > 2 ? e.layers.specimen[e.layers.specimen.length - 2] : undefined;
  /**
   * @param {string} testid
   * @param {string} title
   * @param {string} hint
   * @param {(extra: string) => string} pathOf
   * @param {HTMLSelectElement|null} picker
   * @param {boolean} wide
   */
  const figure = (testid, title, hint, pathOf, picker, wide) => {
    const frame = h(
      'div',
      { class: 'figure-frame' },
      h('span', { class: 'loading' }, h('span', { class: 'spinner' }), 'Rendering…'),
    );
    const download = h('a', { download: `${testid}.svg`, hidden: true }, 'SVG');
    const panel = h(
      'section',
      { class: `panel ${wide ? 'wide' : ''}`, 'data-testid': testid },
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
        const res = await call(pathOf(picker ? picker.value : ''), { share, signal });
        const blob = await res.blob();
        if (signal.aborted) return;
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        objectUrl = URL.createObjectURL(blob);
        const img = h('img', { src: objectUrl, alt: title });
        frame.replaceChildren(img);
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
    { 'aria-label': 'Specimen layer for Figure 3' },
    e.layers.specimen.map((name) => h('option', { value: name, selected: name === top }, name)),
  );
  const base = `/v1/experiments/${e.id}/figures`;
  box.replaceChildren(
    figure(
      'figure1',
      'Figure 1 · similarity during training',
      'rho at 0 %, 3 %, 50 %, 99 % of training',
      () => `${base}/heatmaps.svg?fractions=0,0.03,0.5,0.99`,
      null,
      true,
    ),
    figure(
      'figure2',
      'Figure 2 · bottom-up convergence',
      'each layer vs its final version',
      () => `${base}/convergence.svg`,
      null,
      true,
    ),
    figure(
      'figure3',
      'Figure 3 · top-down crawl',
      'one layer vs every final layer',
      (layer) => `${base}/crawl.svg?layer=${encodeURIComponent(layer)}`,
      layerPicker,
      true,
    ),
  );
}

// ---------------------------------------------------------------- theme

function applyTheme() {
  const choice = localStorage.getItem(THEME_STORAGE) ?? 'auto';
  const dark = choice === 'dark' || (choice === 'auto' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset['theme'] = dark ? 'dark' : 'light';
  const button = /** @type {HTMLElement} */ (document.getElementById('theme'));
  button.textContent = choice === 'auto' ? '◐' : choice === 'dark' ? '☾' : '☀';
  button.title = `Theme: ${choice} (click to change)`;
}

/** @type {HTMLElement} */ (document.getElementById('theme')).addEventListener('click', () => {
  const order = ['auto', 'light', 'dark'];
  const now = localStorage.getItem(THEME_STORAGE) ?? 'auto';
  localStorage.setItem(THEME_STORAGE, order[(order.indexOf(now) + 1) % order.length]);
  applyTheme();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);

applyTheme();
window.addEventListener('hashchange', route);
route();
