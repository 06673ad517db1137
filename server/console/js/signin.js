// The sign-in screen: a key is checked with GET /api/v1/me before it is kept for this tab.
import * as api from './api.js';
import {$, show} from './dom.js';

export function showSignIn(message) {
  show($('app'), false);
  show($('signin'), true);
  const error = $('signin-error');
  error.textContent = message || '';
  show(error, Boolean(message));
  $('signin-key').focus();
}

// Calls `enter(me)` once a key is accepted; a wrong or revoked key stays on this screen with
// the server's reason, an ingest-only key is turned away.
export function initSignIn(enter) {
  $('signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const candidate = $('signin-key').value.trim();
    const button = $('signin-submit');
    button.disabled = true;
    try {
      const who = await api.me(candidate);
      if (who.role === 'ingest') {
        showSignIn('This key can only ingest events; sign in with a read or admin key.');
        return;
      }
      api.setKey(candidate);
      $('signin-key').value = '';
      enter(who);
    } catch (error) {
      const reason = error.status === 401
        ? `This key was not accepted: ${error.message}.`
        : `Signing in failed: ${error.message}`;
      showSignIn(reason);
    } finally {
      button.disabled = false;
    }
  });
}
