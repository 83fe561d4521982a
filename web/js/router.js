// Hash routes of the page:
//   #/                                  the team's experiments (needs an API key, kept in localStorage)
//   #/new                               the New experiment form
//   #/experiments/ID[?ckpt=&measure=&ref=&spec=]          one experiment, with the key
//   #/experiments/ID?share=TOKEN        one experiment through a share link, no key needed
// Each view gets an AbortSignal that aborts when the route changes (stops streams, polls, renders).

/**
 * @typedef {{ name: 'list' } | { name: 'new' } |
 *   { name: 'experiment', id: string, share: string|null, query: URLSearchParams }} Route
 */

/** @returns {Route} */
export function parseRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  if (path === '/new') return { name: 'new' };
  const m = /^\/experiments\/([0-9a-fA-F-]{36})$/.exec(path);
  if (m) {
    const params = new URLSearchParams(query);
    return { name: 'experiment', id: m[1], share: params.get('share'), query: params };
  }
  return { name: 'list' };
}

/** @param {string} id */
export const experimentHref = (id) => `#/experiments/${id}`;

/**
 * Replaces the query of the current route without a navigation (the view's state: checkpoint, cell).
 * @param {URLSearchParams} query
 */
export function replaceQuery(query) {
  const [path] = location.hash.slice(1).split('?');
  const q = String(query);
  history.replaceState(null, '', `#${path}${q ? `?${q}` : ''}`);
}

/** Aborted when the view changes. */
let viewController = new AbortController();

/** A fresh signal for the view about to render; the previous view's is aborted. */
export function nextView() {
  viewController.abort();
  viewController = new AbortController();
  return viewController.signal;
}
