// One experiment: its header (facts, status, actions), live progress while it runs (SSE, reconnects
// when the stream drops), then verdicts, the heatmap explorer with downloads, and Figures 1-3.
import { ApiError, json, meta } from '../api.js';
import { errorBox, h, loading, show, sleep } from '../dom.js';
import {
  ago,
  declaredCheckpoints,
  declaredSpacing,
  describeProbe,
  describeSpec,
  duration,
  isUploadSpec,
} from '../format.js';
import { followEvents } from '../sse.js';
import { actionBar } from './actions.js';
import { renderExplorer } from './explorer.js';
import { renderFigures } from './figures.js';
import { liveProgress, pill } from './progress.js';
import { loadVerdicts, reductions } from './verdicts.js';

/**
 * @typedef {import('../types.js').Experiment} Experiment
 * @typedef {import('../types.js').Meta} Meta
 */

/**
 * @param {string} id
 * @param {string|null} share
 * @param {URLSearchParams} query the address's view state (checkpoint, measure, cell)
 * @param {AbortSignal} signal
 */
export async function experimentView(id, share, query, signal) {
  show(h('p', {}, loading('Loading experiment…')));
  /** @type {Experiment} */
  let e;
  /** @type {Meta} */
  let m;
  try {
    [e, m] = await Promise.all([json(`/v1/experiments/${id}`, { share, signal }), meta(share)]);
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
  const active = !m.terminalStatuses.includes(e.status);
  const header = experimentHeader(e, share ? null : actionBar(e, { active }));
  if (active) {
    const live = liveProgress({ ...e.progress, status: e.status }, m.statuses, m.terminalStatuses, m.phases);
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
    if (ended && !signal.aborted) void experimentView(id, share, query, signal);
    return;
  }
  if (e.status !== 'succeeded') {
    show(
      crumbs(share),
      header,
      h(
        'div',
        { class: 'panel empty', 'data-testid': 'finished-without-results' },
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
  const analysis = loadVerdicts(e, share, signal, verdicts);
  void renderExplorer(e, m, share, query, signal, explorer);
  renderFigures(e, m, analysis, share, signal, figures);
}

/** @param {string|null} share */
function crumbs(share) {
  if (share) return null;
  return h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← All experiments'));
}

/**
 * The title, status, facts of the spec and (with a key) the action bar.
 * @param {Experiment} e
 * @param {HTMLElement|null} actions
 */
function experimentHeader(e, actions) {
  const t = e.timings;
  const spec = e.spec;
  const { dataset, network } = describeSpec(spec);
  const ckpts = e.checkpoints.length || declaredCheckpoints(spec);
  const spacing = declaredSpacing(spec);
  /** @type {[string, string|number|undefined|null][]} */
  const facts = [
    ['network', network],
    ['dataset', dataset],
    ['specimen', spec.specimen === 'same' ? 'same as reference' : spec.specimen ? 'its own network' : null],
    ['probe', describeProbe(spec)],
    ['samples', isUploadSpec(spec) ? spec.samples : null],
    ['checkpoints', ckpts ? `${ckpts}${spacing ? ` (${spacing})` : ''}` : null],
    ['backend', e.backend],
    ['took', duration(t.createdAt, t.finishedAt)],
    ['created', ago(t.createdAt)],
  ];
  const factList = h('dl', { class: 'facts', 'data-testid': 'facts' });
  for (const [k, v] of facts) {
    if (v === null || v === undefined || v === '') continue;
    factList.append(h('div', {}, h('dt', {}, k), h('dd', { 'data-fact': k }, String(v))));
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
    actions,
  );
}
