// The analysis of a finished experiment: the convergence and crawl verdicts with their reasons, the
// warnings that limit the numbers, the full crawl table (every checkpoint the crawl judged), and how
// conv layers were reduced.
import { json } from '../api.js';
import { errorBox, h } from '../dom.js';
import { num, pct } from '../format.js';

/**
 * @typedef {import('../types.js').Experiment} Experiment
 * @typedef {import('../types.js').Analysis} Analysis
 * @typedef {import('../types.js').CrawlStep} CrawlStep
 * @typedef {import('../types.js').Warning} Warning
 * @typedef {import('../types.js').LayerDetail} LayerDetail
 */

/** Warnings shown before "and N more". */
const WARNINGS_SHOWN = 12;

/**
 * Loads GET …/analysis into `box`; resolves with the analysis (null when it could not be loaded).
 * @param {Experiment} e
 * @param {string|null} share
 * @param {AbortSignal} signal
 * @param {HTMLElement} box
 * @returns {Promise<Analysis|null>}
 */
export async function loadVerdicts(e, share, signal, box) {
  try {
    /** @type {Analysis} */
    const a = await json(`/v1/experiments/${e.id}/analysis`, { share, signal });
    if (!signal.aborted) box.replaceChildren(...verdictCards(a, e), crawlTable(a));
    return a;
  } catch (err) {
    if (!signal.aborted) box.replaceChildren(errorBox(err));
    return null;
  }
}

/** @param {string|null|undefined} reason */
const why = (reason) =>
  reason ? h('span', { class: 'd reason', 'data-testid': 'verdict-reason' }, reason) : '';

/** @param {Analysis} a @param {Experiment} e */
function verdictCards(a, e) {
  const conv = a.convergence;
  const crawl = a.crawl;
  const score = conv.score === 'rho' ? 'rho' : 'adjusted score';
  const order = conv.layers
    .filter((l) => l.convergedAt !== null)
    .map((l) => `${l.layer} ${pct(/** @type {number} */ (l.convergedAt))}`)
    .join(' · ');
  /** @type {Warning[]} */
  const warnings = [];
  const seen = new Set();
  for (const w of [...a.warnings, ...e.warnings]) {
    if (seen.has(w.message)) continue;
    seen.add(w.message);
    warnings.push(w);
  }
  return [
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
      h('span', { class: 'd' }, `${crawl.steps.length} checkpoints judged; every one in the table below`),
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
              .slice(0, WARNINGS_SHOWN)
              .map((w) => h('li', { 'data-code': w.code }, h('b', {}, w.code), ` ${w.message}`)),
          ),
          warnings.length > WARNINGS_SHOWN
            ? h('span', { class: 'd' }, `and ${warnings.length - WARNINGS_SHOWN} more (GET …/analysis)`)
            : '',
        ),
  ];
}

/**
 * Every step of the crawl: which final layer the followed layer resembles most at each checkpoint,
 * with its score and the decision the verdict counted.
 * @param {Analysis} a
 */
function crawlTable(a) {
  const crawl = a.crawl;
  const scoreName = crawl.score === 'rho' ? 'rho' : 'adjusted score';
  /** @param {CrawlStep} st */
  const scoreOf = (st) => (st.score !== undefined ? st.score : st.rho);
  return h(
    'details',
    { class: 'crawl-steps', open: true },
    h('summary', {}, `Crawl of ${crawl.layer}: the most similar final layer at each checkpoint`),
    h(
      'table',
      { class: 'steps-table', 'data-testid': 'crawl-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['checkpoint', 'training', 'most similar final layer', scoreName, 'rho', 'decision'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...crawl.steps.map((st) =>
          h(
            'tr',
            { 'data-checkpoint': st.checkpoint },
            h('td', { class: 'num' }, `#${st.checkpoint}`),
            h('td', { class: 'num' }, pct(st.fraction)),
            h('td', {}, st.mostSimilar ?? '–'),
            h('td', { class: 'num' }, num(scoreOf(st))),
            h('td', { class: 'num' }, num(st.rho)),
            h('td', {}, `${st.decision ?? ''}${st.early ? ' · early' : ''}`),
          ),
        ),
      ),
    ),
  );
}

/**
 * How each conv-shaped layer became a [samples, features] matrix (null when no layer is conv-shaped):
 * CCA compares the reduction, not the layer itself.
 * @param {Experiment} e
 */
export function reductions(e) {
  const d = e.layerDetails;
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
