// Sign-in: the team's API key, checked against the API, then kept in localStorage.
import { ApiError, json, rememberKey } from '../api.js';
import { errorBox, h, loading, show } from '../dom.js';

/**
 * @param {unknown} problem an error to show above the form (a key that stopped working), or null
 * @param {() => void} done called once a key is accepted
 */
export function signInView(problem, done) {
  const input = h('input', {
    type: 'password',
    name: 'key',
    id: 'api-key',
    placeholder: 'rdk_…',
    autocomplete: 'off',
    spellcheck: 'false',
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
        status.replaceChildren(loading('Checking key…'));
        try {
          await json('/v1/experiments?limit=1', { key });
          rememberKey(key);
          done();
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
    h('label', { for: 'api-key', class: 'visually-hidden' }, 'API key'),
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
