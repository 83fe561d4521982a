// What a key holder can do with an experiment: share it (a read-only link), cancel it while it runs,
// delete it (admin keys), each destructive action after a confirmation.
import { ApiError, call, json } from '../api.js';
import { confirmDialog, errorBox, h, toast } from '../dom.js';

/**
 * @typedef {import('../types.js').Experiment} Experiment
 * @typedef {import('../types.js').CreatedShare} CreatedShare
 */

/**
 * The action bar of an experiment's header.
 * @param {Experiment} e
 * @param {{ active: boolean }} opts active: still running (can be canceled; the live progress shows
 *   the cancel arrive)
 */
export function actionBar(e, opts) {
  const status = h('div', { class: 'action-status', 'aria-live': 'polite' });
  const shareOut = h('input', {
    type: 'text',
    readonly: true,
    hidden: true,
    'aria-label': 'Share link',
    'data-testid': 'share-url',
    onFocus: (/** @type {Event} */ ev) => /** @type {HTMLInputElement} */ (ev.target).select(),
  });
  /**
   * A button that runs `act` once at a time and shows its error under the bar.
   * @param {string} label
   * @param {Record<string, string>} attrs
   * @param {() => Promise<void>} act
   */
  const button = (label, attrs, act) => {
    const b = h('button', { type: 'button', ...attrs }, label);
    b.addEventListener('click', async () => {
      b.disabled = true;
      status.replaceChildren();
      try {
        await act();
      } catch (err) {
        status.replaceChildren(errorBox(explain(err)));
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };

  const share = button(
    'Copy share link',
    { 'data-testid': 'share', title: 'Anyone with the link can read this experiment (no key needed)' },
    async () => {
      /** @type {CreatedShare} */
      const created = await json(`/v1/experiments/${e.id}/shares`, { method: 'POST' });
      shareOut.value = `${location.origin}${created.pageUrl}`;
      shareOut.hidden = false;
      let copied = false;
      try {
        await navigator.clipboard.writeText(shareOut.value);
        copied = true;
      } catch {
        shareOut.focus();
      }
      toast(copied ? 'Share link copied to the clipboard' : 'Share link created; copy it from the box');
    },
  );

  const cancel = opts.active
    ? button('Cancel', { 'data-testid': 'cancel', title: 'Stop this experiment' }, async () => {
        const sure = await confirmDialog({
          title: `Cancel “${e.name}”?`,
          body: 'The workers stop it at the next step. What it computed so far is kept; it cannot be resumed.',
          confirm: 'Cancel experiment',
          danger: true,
        });
        if (!sure) return;
        await call(`/v1/experiments/${e.id}/cancel`, { method: 'POST' });
        toast('Cancel requested; the experiment stops at its next step');
      })
    : null;

  const remove = button(
    'Delete',
    { class: 'danger-ghost', 'data-testid': 'delete', title: 'Delete with its tensor and share links' },
    async () => {
      const sure = await confirmDialog({
        title: `Delete “${e.name}”?`,
        body:
          'This removes the experiment, its tensor, figures and share links' +
          (opts.active ? ', and stops it first' : '') +
          '. It cannot be undone.',
        confirm: 'Delete experiment',
        danger: true,
      });
      if (!sure) return;
      await call(`/v1/experiments/${e.id}`, { method: 'DELETE' });
      toast(`Deleted “${e.name}”`);
      location.hash = '#/';
    },
  );

  return h(
    'div',
    { class: 'share-box' },
    h('div', { class: 'actions' }, share, cancel, remove),
    shareOut,
    status,
  );
}

/** A 403 on delete or share means a member key: say which key is needed. @param {unknown} err */
function explain(err) {
  if (err instanceof ApiError && err.status === 403)
    return new ApiError(403, err.code, `${err.message} (this needs an admin key of the team)`);
  return err;
}
