// DOM helpers: elements are built with createElement only (never innerHTML), so names from the API
// cannot inject markup.
import { ApiError } from './api.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

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
export function h(tag, attrs = {}, ...children) {
  return /** @type {HTMLElementTagNameMap[K]} */ (fill(document.createElement(tag), attrs, children.flat()));
}

/**
 * An SVG element.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {...(Child|Child[])} children
 * @returns {SVGElement}
 */
export function s(tag, attrs = {}, ...children) {
  return /** @type {SVGElement} */ (fill(document.createElementNS(SVG_NS, tag), attrs, children.flat()));
}

let headingFocusPending = false;

/** After a route change, the next view's heading takes the focus (keyboard and screen-reader users
 * start at the new content, not at the link they followed). */
export function focusHeadingOnShow() {
  headingFocusPending = true;
}

/** @param {...(Child|Child[])} children the new content of <main> */
export function show(...children) {
  const main = /** @type {HTMLElement} */ (document.getElementById('main'));
  /** @type {(Node|string)[]} */
  const nodes = [];
  for (const c of children.flat())
    if (c !== null && c !== undefined && c !== false) nodes.push(typeof c === 'number' ? String(c) : c);
  main.replaceChildren(...nodes);
  const heading = headingFocusPending ? main.querySelector('h1') : null;
  if (heading) {
    headingFocusPending = false;
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

/** A short note at the bottom of the window (role=status, so screen readers hear it). @param {string} text */
export function toast(text) {
  const el = /** @type {HTMLElement} */ (document.getElementById('toast'));
  el.textContent = text;
  el.classList.add('show');
  clearTimeout(Number(el.dataset['timer']));
  el.dataset['timer'] = String(setTimeout(() => el.classList.remove('show'), 2200));
}

/** @param {unknown} err */
export function errorBox(err) {
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

/** @param {string} text */
export const loading = (text) => h('span', { class: 'loading' }, h('span', { class: 'spinner' }), text);

/** @param {string} k @param {string} v */
export const stat = (k, v) =>
  h('div', { class: 'stat' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v));

/**
 * A labelled form control: <label for=id>text</label> then the control.
 * @param {string} text
 * @param {HTMLInputElement|HTMLSelectElement|HTMLTextAreaElement} control
 * @param {string} [hint]
 */
export function field(text, control, hint) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  if (hint) control.setAttribute('aria-describedby', `${control.id}-hint`);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, text),
    control,
    hint ? h('span', { class: 'hint', id: `${control.id}-hint` }, hint) : null,
  );
}

/**
 * Asks before a destructive action, in a modal <dialog> (focus stays inside; Escape keeps). Resolves
 * true when the person confirms.
 * @param {{ title: string, body: string, confirm: string, danger?: boolean }} opts
 * @returns {Promise<boolean>}
 */
export function confirmDialog(opts) {
  return new Promise((resolve) => {
    const keep = h('button', { type: 'button', value: 'keep' }, 'Keep');
    const go = h('button', { type: 'button', class: opts.danger ? 'danger' : 'primary' }, opts.confirm);
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title', 'data-testid': 'confirm' },
      h('h2', { id: 'confirm-title' }, opts.title),
      h('p', { class: 'confirm-text' }, opts.body),
      h('div', { class: 'actions' }, keep, go),
    );
    /** @param {boolean} answer */
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    keep.addEventListener('click', () => done(false));
    go.addEventListener('click', () => done(true));
    dialog.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    keep.focus();
  });
}

/**
 * Resolves after ms, or at once when the signal aborts.
 * @param {number} ms
 * @param {AbortSignal} signal
 * @returns {Promise<void>}
 */
export function sleep(ms, signal) {
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
