// Query tokens. When the server is started with --query-token-file, its data
// routes answer 401 until a request carries `Authorization: Bearer <token>`.
// The UI asks for the token once, keeps it in sessionStorage (gone when the tab
// closes, never sent anywhere but this server), and adds it to every request.

import { el } from './lib/dom.js';

const STORAGE_KEY = 'tracery.queryToken';

/** Headers that carry the token, if the user gave one. */
export function authHeaders() {
  const token = sessionStorage.getItem(STORAGE_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

let asking = null;

/**
 * Shows the token dialog and resolves once the user has entered a token; every
 * request refused meanwhile waits for the same answer. `rejected` says the stored
 * token was refused, so the dialog explains why it asks again.
 */
export function askForToken(rejected) {
  if (!asking) {
    asking = new Promise((resolve) => {
      const input = el('input', {
        id: 'token-input', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
      });
      const form = el('form', { class: 'token-form', method: 'dialog' },
        el('h2', null, 'This Tracery needs a token'),
        el('p', null, rejected
          ? 'The server did not accept that token. Enter a query token:'
          : 'Its query API is protected. Enter a query token (ask whoever runs it):'),
        el('label', { for: 'token-input' }, 'Token'),
        input,
        el('button', { type: 'submit', class: 'button primary', id: 'token-submit' }, 'Use token'));
      const dialog = el('dialog', { id: 'token-dialog', class: 'token-dialog' }, form);
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        sessionStorage.setItem(STORAGE_KEY, token);
        dialog.close();
        dialog.remove();
        asking = null;
        resolve();
      });
      // Escape would leave the page without data and no way back: keep it open.
      dialog.addEventListener('cancel', (event) => event.preventDefault());
      document.body.append(dialog);
      dialog.showModal();
      input.focus();
    });
  }
  return asking;
}

/** fetch() with the token, asking for one (again) whenever the server answers 401. */
export async function fetchWithToken(url, init = {}) {
  for (;;) {
    const hadToken = Boolean(sessionStorage.getItem(STORAGE_KEY));
    const response = await fetch(url, { ...init, headers: { ...init.headers, ...authHeaders() } });
    if (response.status !== 401) return response;
    if (hadToken) sessionStorage.removeItem(STORAGE_KEY);
    await askForToken(hadToken);
  }
}
