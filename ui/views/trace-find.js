// Find in a trace: every word must appear in a span's service, name, ID, kind,
// status message, attributes (`key=value`), events or resource attributes.
// Matches go into the tree state for the waterfall to highlight.

import { el } from '../lib/dom.js';
import { formatCount } from '../lib/format.js';

/**
 * handlers: { onSelect(row), onChange(), onEscape() }
 * Returns { element, input, run(), step(direction), clear(), dispose() }.
 */
export function createFind(view, state, handlers) {
  const { rows } = view;
  const numRows = rows.length;
  const input = el('input', { type: 'search', id: 'trace-find', placeholder: 'Find spans (name, service, attribute)…', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Find in trace' });
  const count = el('span', { class: 'find-count', id: 'trace-find-count', 'aria-live': 'polite' });
  const previous = el('button', { type: 'button', class: 'button', id: 'find-prev', title: 'Previous match (Shift+N)', 'aria-label': 'Previous match' }, '↑');
  const next = el('button', { type: 'button', class: 'button', id: 'find-next', title: 'Next match (N)', 'aria-label': 'Next match' }, '↓');
  const element = el('div', { class: 'find' }, input, count, previous, next);

  let haystacks = null;
  function haystackOf(row) {
    if (!haystacks) haystacks = new Array(numRows);
    if (haystacks[row] === undefined) {
      const r = rows[row];
      const parts = [view.services[r.serviceIndex]?.name ?? '', r.name, r.spanId, r.kind, r.statusMessage];
      for (const a of r.attributes) parts.push(`${a.key}=${a.value}`);
      for (const e of r.events) {
        parts.push(e.name);
        for (const a of e.attributes) parts.push(`${a.key}=${a.value}`);
      }
      for (const a of view.resources[r.resourceIndex]?.attributes ?? []) parts.push(`${a.key}=${a.value}`);
      haystacks[row] = parts.join('\n').toLowerCase();
    }
    return haystacks[row];
  }

  function run() {
    const terms = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    state.matches.fill(0);
    state.matchList = [];
    state.currentMatch = -1;
    if (terms.length > 0) {
      for (let row = 0; row < numRows; row += 1) {
        const text = haystackOf(row);
        if (terms.every((term) => text.includes(term))) {
          state.matches[row] = 1;
          state.matchList.push(row);
        }
      }
    }
    const url = new URL(window.location.href);
    if (terms.length > 0) url.searchParams.set('find', input.value.trim());
    else url.searchParams.delete('find');
    history.replaceState(null, '', url);
    updateCount();
    if (state.matchList.length > 0) step(1);
    handlers.onChange();
  }

  function updateCount() {
    if (!input.value.trim()) count.textContent = '';
    else if (state.matchList.length === 0) count.textContent = 'no matches';
    else {
      const at = state.matchList.indexOf(state.currentMatch);
      count.textContent = `${at >= 0 ? at + 1 : 0} of ${formatCount(state.matchList.length)}`;
    }
  }

  function step(direction) {
    const list = state.matchList;
    if (list.length === 0) return;
    let at = list.indexOf(state.currentMatch);
    at = at < 0 ? (direction > 0 ? 0 : list.length - 1) : (at + direction + list.length) % list.length;
    state.currentMatch = list[at];
    handlers.onSelect(list[at]);
    updateCount();
  }

  function clear() {
    input.value = '';
    run();
  }

  let timer = 0;
  let lastFind = '';
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, numRows > 5000 ? 200 : 60);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      clearTimeout(timer);
      if (state.matchList.length === 0 || input.value.trim().toLowerCase() !== lastFind) run();
      else step(event.shiftKey ? -1 : 1);
      lastFind = input.value.trim().toLowerCase();
    } else if (event.key === 'Escape') {
      clear();
      handlers.onEscape();
    }
  });
  previous.addEventListener('click', () => step(-1));
  next.addEventListener('click', () => step(1));

  return { element, input, run, step, clear, dispose: () => clearTimeout(timer) };
}
