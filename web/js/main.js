// repdyn web page: hash-routed ES modules, no build step (see router.js for the routes). This module
// wires the routes to the views, the session box (key in use / shared link) and the colour theme.
import { forgetKey, storedKey } from './api.js';
import { focusHeadingOnShow, h } from './dom.js';
import { nextView, parseRoute } from './router.js';
import { experimentView } from './views/experiment.js';
import { listView } from './views/list.js';
import { newExperimentView } from './views/new.js';
import { signInView } from './views/signin.js';

const THEME_STORAGE = 'repdyn.theme';
const sessionBox = /** @type {HTMLElement} */ (document.getElementById('session'));
const themeButton = /** @type {HTMLButtonElement} */ (document.getElementById('theme'));

function route() {
  const signal = nextView();
  const r = parseRoute();
  window.scrollTo(0, 0);
  focusHeadingOnShow();
  document.title = 'repdyn';
  if (r.name === 'experiment' && r.share) {
    renderSession({ share: true });
    void experimentView(r.id, r.share, r.query, signal);
    return;
  }
  const key = storedKey();
  if (!key) {
    renderSession({});
    signInView(null, route);
    return;
  }
  renderSession({ key });
  if (r.name === 'experiment') void experimentView(r.id, null, r.query, signal);
  else if (r.name === 'new') void newExperimentView(signal);
  else
    void listView(signal, (problem) => {
      forgetKey();
      renderSession({});
      signInView(problem, route);
    });
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
      h(
        'button',
        {
          class: 'ghost',
          type: 'button',
          onClick: () => {
            forgetKey();
            location.hash = '#/';
            route();
          },
        },
        'Forget key',
      ),
    );
  } else {
    sessionBox.replaceChildren();
  }
}

function applyTheme() {
  const choice = localStorage.getItem(THEME_STORAGE) ?? 'auto';
  const dark = choice === 'dark' || (choice === 'auto' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset['theme'] = dark ? 'dark' : 'light';
  themeButton.textContent = choice === 'auto' ? '◐' : choice === 'dark' ? '☾' : '☀';
  themeButton.title = `Theme: ${choice} (click to change)`;
}

themeButton.addEventListener('click', () => {
  const order = ['auto', 'light', 'dark'];
  const now = localStorage.getItem(THEME_STORAGE) ?? 'auto';
  localStorage.setItem(THEME_STORAGE, order[(order.indexOf(now) + 1) % order.length]);
  applyTheme();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);

applyTheme();
window.addEventListener('hashchange', route);
route();
