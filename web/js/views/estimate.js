// The live estimate of the New experiment form: the spec goes to the dry run
// (POST /v1/experiments?dryRun=true: validated and estimated like a real submission, nothing stored)
// a moment after each edit; the answer shows time, memory, disk and the warnings, or the error that
// a submission would get.
import { ApiError, json } from '../api.js';
import { errorBox, h, loading } from '../dom.js';
import { seconds } from '../format.js';

/**
 * @typedef {import('../types.js').DryRun} DryRun
 * @typedef {import('../types.js').Estimate} Estimate
 */

/** Quiet time after the last keystroke before the dry run, ms. */
const DEBOUNCE_MS = 350;

/** The estimate panel; `check(text)` schedules a dry run of the spec text (the latest one wins). */
export function estimatePanel() {
  const body = h('div', { class: 'panel-body', 'aria-live': 'polite' }, h('span', { class: 'hint' }, '…'));
  const el = h(
    'section',
    { class: 'panel estimate', 'data-testid': 'estimate' },
    h(
      'div',
      { class: 'panel-head' },
      h('h2', {}, 'Estimate'),
      h('span', { class: 'hint' }, 'dry run: nothing is stored'),
    ),
    body,
  );
  let seq = 0;
  /** @type {ReturnType<typeof setTimeout>|undefined} */
  let timer;
  /** @type {AbortController|null} */
  let inflight = null;

  /** @param {string} text */
  const run = async (text, /** @type {number} */ mine) => {
    inflight?.abort();
    inflight = new AbortController();
    body.replaceChildren(loading('Estimating…'));
    el.dataset['state'] = 'pending';
    try {
      /** @type {DryRun} */
      const answer = await json('/v1/experiments?dryRun=true', {
        method: 'POST',
        body: text,
        signal: inflight.signal,
      });
      if (mine !== seq) return;
      body.replaceChildren(...describe(answer));
      el.dataset['state'] = 'ok';
    } catch (err) {
      if (mine !== seq || (err instanceof DOMException && err.name === 'AbortError')) return;
      body.replaceChildren(errorBox(err), ...violations(err));
      el.dataset['state'] = 'error';
    }
  };

  /** @param {string} text @param {string|null} [problem] a local problem (bad JSON): shown, no request */
  const check = (text, problem = null) => {
    seq += 1;
    const mine = seq;
    clearTimeout(timer);
    if (problem) {
      inflight?.abort();
      body.replaceChildren(errorBox(problem));
      el.dataset['state'] = 'error';
      return;
    }
    el.dataset['state'] = 'pending';
    timer = setTimeout(() => void run(text, mine), DEBOUNCE_MS);
  };
  return { el, check };
}

/** @param {DryRun} answer */
function describe(answer) {
  const est = /** @type {Estimate} */ (answer.estimate);
  const sec = est.seconds;
  return [
    h(
      'div',
      { class: 'stats' },
      h(
        'div',
        { class: 'stat', 'data-testid': 'estimate-time' },
        h('div', { class: 'k' }, 'time'),
        h('div', { class: 'v' }, `~${seconds(sec.total)}`),
      ),
      h(
        'div',
        { class: 'stat', 'data-testid': 'estimate-memory' },
        h('div', { class: 'k' }, 'memory'),
        h('div', { class: 'v' }, `${Math.round(est.memoryMB)} MB`),
      ),
      h(
        'div',
        { class: 'stat' },
        h('div', { class: 'k' }, 'disk'),
        h('div', { class: 'v' }, `${Math.round(est.diskMB)} MB`),
      ),
      h(
        'div',
        { class: 'stat' },
        h('div', { class: 'k' }, 'tensor cells'),
        h('div', { class: 'v' }, String(est.cells)),
      ),
    ),
    h(
      'p',
      { class: 'hint' },
      `training ~${seconds(sec.training)} · capture ~${seconds(sec.capture)} · tensor ~${seconds(sec.tensor)}, on this server's workers`,
    ),
    answer.warnings.length === 0
      ? h('p', { class: 'hint', 'data-testid': 'estimate-warnings' }, 'No warnings.')
      : h(
          'ul',
          { class: 'warn-list', 'data-testid': 'estimate-warnings' },
          ...answer.warnings.map((w) =>
            h('li', { 'data-code': w.code }, h('b', {}, w.code), ` ${w.message}`),
          ),
        ),
  ];
}

/** A 422's limit violations, one line each. @param {unknown} err */
function violations(err) {
  if (!(err instanceof ApiError) || err.status !== 422) return [];
  const d = /** @type {{ violations?: Array<{ message: string }> } | null} */ (
    err.details !== null && typeof err.details === 'object' ? err.details : null
  );
  const list = d?.violations ?? [];
  if (list.length <= 1) return [];
  return [h('ul', { class: 'warn-list' }, ...list.map((v) => h('li', {}, v.message)))];
}
