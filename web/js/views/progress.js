// Status pills, progress bars and the live progress panel of a running experiment.
import { h } from '../dom.js';
import { eta, pct } from '../format.js';

/**
 * @typedef {import('../types.js').Status} Status
 * @typedef {import('../sse.js').ProgressEvent} ProgressEvent
 */

/** @param {string} status */
export const statusLabel = (status) => (status === 'awaiting_representations' ? 'awaiting uploads' : status);

/** @param {Status} status */
export const pill = (status) =>
  h('span', { class: `pill ${status}`, 'data-status': status }, statusLabel(status));

/** @param {number} fraction @param {Status} status */
export function progressBar(fraction, status) {
  const bar = h('div', {
    class: `bar ${status === 'succeeded' ? 'done' : status === 'failed' ? 'failed' : ''}`,
    role: 'progressbar',
    'aria-valuemin': 0,
    'aria-valuemax': 100,
  });
  const inner = h('span', {});
  bar.append(inner);
  setBar(bar, status === 'succeeded' ? 1 : fraction);
  return bar;
}

/** @param {HTMLElement} bar @param {number} fraction */
function setBar(bar, fraction) {
  const inner = /** @type {HTMLElement} */ (bar.firstElementChild);
  inner.style.width = `${Math.round(fraction * 100)}%`;
  bar.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
}

/**
 * The live progress panel: the phases in order (from the API's status list, up to the terminal
 * ones), the overall bar, message, ETA and a connection note.
 * @param {ProgressEvent} first
 * @param {string[]} statuses every status, in order (GET /v1/meta)
 * @param {string[]} terminal the terminal ones
 * @param {Record<string, string>} [words] what happens in each status, in words (GET /v1/meta)
 */
export function liveProgress(first, statuses, terminal, words = {}) {
  const phases = statuses.filter((st) => !terminal.includes(st));
  const message = h('span', {});
  const bar = progressBar(first.fraction, first.status);
  const right = h('span', { class: 'num' });
  const note = h('div', { class: 'hint' });
  const steps = h('ol', { class: 'steps' });
  const doing = h('div', { class: 'hint', 'data-testid': 'phase-words' });
  const el = h(
    'section',
    { class: 'panel', 'data-testid': 'live-progress' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'In progress'), h('span', { class: 'live' }, 'live')),
    h(
      'div',
      { class: 'panel-body' },
      steps,
      doing,
      bar,
      h('div', { class: 'progress-text' }, message, right),
      note,
    ),
  );
  /** @param {ProgressEvent} p */
  const update = (p) => {
    // uploads wait for their representations instead of being queued; trained runs never wait
    const shown = phases.filter((st) =>
      p.status === 'awaiting_representations' ? st !== 'queued' : st !== 'awaiting_representations',
    );
    const at = shown.indexOf(p.status);
    steps.replaceChildren(
      ...shown.map((name, k) =>
        h(
          'li',
          {
            class: k < at ? 'done' : k === at ? 'now' : '',
            'aria-current': k === at ? 'step' : null,
            title: words[name] ?? null,
          },
          statusLabel(name),
        ),
      ),
    );
    doing.textContent = words[p.status] ? `${statusLabel(p.status)}: ${words[p.status]}` : '';
    message.textContent = p.message;
    right.textContent = `${pct(p.fraction)}  ${eta(p.etaSeconds)}`;
    setBar(bar, p.fraction);
    note.textContent = '';
  };
  update(first);
  /** @param {string} text */
  const say = (text) => {
    note.textContent = text;
  };
  return { el, update, say };
}
