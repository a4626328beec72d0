// "Compare…" on the trace page: asks for another trace's ID, then opens the
// merged tree of both on /compare.

import { el } from '../lib/dom.js';

/** Only stored traces can be compared (the server merges them); null for a file. */
export function renderCompareAction(view, context) {
  if (view.source !== 'server') return null;
  const input = el('input', { type: 'search', id: 'compare-with', placeholder: 'Other trace ID', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Compare with trace ID', pattern: '[0-9a-fA-F]{1,32}', required: true });
  const form = el('form', { class: 'compare-form', id: 'compare-form', hidden: true }, input,
    el('button', { type: 'submit', class: 'button' }, 'Compare'));
  const open = el('button', { type: 'button', class: 'button', id: 'compare-open' }, 'Compare…');
  open.addEventListener('click', () => { form.hidden = false; open.hidden = true; input.focus(); });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const other = input.value.trim().toLowerCase();
    if (!/^[0-9a-f]{1,32}$/.test(other)) return;
    context.navigate(`compare?${new URLSearchParams({ a: view.traceId, b: other })}`);
  });
  return el('span', { class: 'compare-action' }, open, form);
}
