// The team's experiments, newest first, refreshed by itself (fast while any is unfinished), 100 a
// page with "Show older experiments".
import { ApiError, json, meta } from '../api.js';
import { errorBox, h, loading, show, sleep } from '../dom.js';
import { ago, declaredCheckpoints, describeSpec, eta, pct } from '../format.js';
import { experimentHref } from '../router.js';
import { pill, progressBar } from './progress.js';

/**
 * @typedef {import('../types.js').Experiment} Experiment
 * @typedef {import('../types.js').ExperimentPage} ExperimentPage
 */

/** Experiments fetched per page of the list. */
const LIST_PAGE = 100;

/** @param {Experiment} e @param {string[]} terminal the terminal statuses (GET /v1/meta) */
function listRow(e, terminal) {
  const open = () => {
    location.hash = experimentHref(e.id);
  };
  const active = !terminal.includes(e.status);
  const { dataset, network } = describeSpec(e.spec);
  return h(
    'tr',
    {
      class: 'row',
      'data-id': e.id,
      onClick: (/** @type {MouseEvent} */ ev) => {
        if (!(ev.target instanceof HTMLAnchorElement)) open();
      },
    },
    h(
      'td',
      {},
      h('a', { class: 'name', href: experimentHref(e.id) }, e.name),
      h('div', { class: 'id' }, e.id.slice(0, 8)),
    ),
    h('td', {}, pill(e.status)),
    h(
      'td',
      { class: 'progress-cell' },
      progressBar(e.progress.fraction, e.status),
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
    h('td', { class: 'muted' }, network),
    h('td', { class: 'muted' }, dataset),
    h(
      'td',
      { class: 'muted num' },
      `${e.layers.specimen.length} × ${e.layers.reference.length} layers · ${e.checkpoints.length || declaredCheckpoints(e.spec) || '?'} ckpts`,
    ),
    h('td', { class: 'faint', title: e.timings.createdAt }, ago(e.timings.createdAt)),
  );
}

const newButton = () => h('a', { class: 'button primary', href: '#/new' }, 'New experiment');

/**
 * @param {AbortSignal} signal
 * @param {(problem: ApiError) => void} onKeyRefused the stored key stopped working
 */
export async function listView(signal, onKeyRefused) {
  show(h('p', {}, loading('Loading experiments…')));
  let first = true;
  let pages = 1; // pages of LIST_PAGE shown; "Show older experiments" adds one
  /** @type {() => void} */
  let wake = () => {};
  while (!signal.aborted) {
    /** @type {Experiment[]} */
    const items = [];
    /** @type {string|null} */
    let cursor = null;
    /** @type {string[]} */
    let terminal;
    try {
      terminal = (await meta()).terminalStatuses;
      for (let p = 0; p < pages; p++) {
        /** @type {ExperimentPage} */
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
        onKeyRefused(new ApiError(401, err.code, `The stored key no longer works: ${err.message}.`));
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
    const anyActive = items.some((e) => !terminal.includes(e.status));
    const head = h(
      'div',
      { class: 'list-head' },
      h('h1', {}, 'Experiments'),
      h('span', { class: 'live', title: 'Refreshes by itself' }, anyActive ? 'live · updating' : 'live'),
      h('span', { class: 'spacer' }),
      newButton(),
    );
    if (items.length === 0) {
      show(
        head,
        h(
          'div',
          { class: 'panel empty' },
          h('h2', {}, 'No experiments yet'),
          h(
            'div',
            {},
            'Start one with New experiment (a preset or your own spec), or from the command line; it appears here with live progress.',
          ),
          h('pre', {}, 'npx repdyn submit spec.json'),
        ),
      );
    } else {
      const focused =
        document.activeElement instanceof HTMLAnchorElement
          ? document.activeElement.closest('tr')?.dataset['id']
          : undefined;
      const table = h(
        'table',
        { class: 'experiments', 'data-testid': 'experiments' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Name', 'Status', 'Progress', 'Network', 'Dataset', 'Tensor', 'Created'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          items.map((e) => listRow(e, terminal)),
        ),
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
      if (focused) /** @type {HTMLElement|null} */ (table.querySelector(`[data-id="${focused}"] a`))?.focus();
    }
    first = false;
    await new Promise((resolve) => {
      wake = () => resolve(undefined);
      sleep(anyActive ? 1500 : 10000, signal).then(resolve);
    });
  }
}
