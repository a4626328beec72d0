// The trace page: header facts, toolbar (find, expand/collapse, critical path,
// download), minimap, the virtualised waterfall and the span detail panel. The
// page owns the state; components only draw it.

import { ApiError, fetchTrace, traceJsonUrl } from '../api.js';
import { mountMinimap } from '../components/minimap.js';
import { renderSpanDetail } from '../components/span-detail.js';
import { mountWaterfall } from '../components/waterfall.js';
import { el, notice, setChildren } from '../lib/dom.js';
import { formatCount, formatDuration, formatTimestamp } from '../lib/format.js';

export function mountTrace(container, traceId, params, context) {
  document.title = `Trace ${traceId.slice(0, 7)} · Tracery`;
  let dispose = () => {};
  let disposed = false;
  setChildren(container, el('p', { class: 'loading' }, `Loading trace ${traceId}…`));

  const load = async () => {
    performance.clearMarks();
    performance.clearMeasures();
    performance.mark('tracery:trace-start');
    let view = null;
    if (params.get('source') === 'file') {
      view = context.fileTraces.get(traceId) ?? null;
      if (!view) {
        setChildren(container, notice('info', 'The opened file is gone',
          el('p', null, 'Traces opened from a file live only in this page. Use "Open JSON…" to open it again, or '),
          el('a', { href: `/trace/${traceId}` }, 'look for this trace on the server')));
        return;
      }
    } else {
      try {
        view = await fetchTrace(traceId);
        performance.mark('tracery:trace-received');
      } catch (error) {
        if (!disposed) showError(container, traceId, error, load);
        return;
      }
    }
    if (disposed) return;
    dispose = render(container, view, params, context);
  };
  load();
  return () => {
    disposed = true;
    dispose();
  };
}

function showError(container, traceId, error, retry) {
  if (error instanceof ApiError && error.status === 404) {
    setChildren(container, notice('info', 'Trace not found',
      el('p', null, 'No spans with trace ID ', el('code', null, traceId), ' are stored.'),
      el('p', null, 'Check the ID, or whether the trace is older than the retention period. Spans can take a moment to arrive after a request ends. '),
      el('a', { href: '/search' }, 'Search traces')));
    return;
  }
  const button = el('button', { type: 'button', class: 'button' }, 'Retry');
  button.addEventListener('click', retry);
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
  setChildren(container, notice('error', `Cannot load this trace${status}`, el('p', null, error.message), button));
}

function render(container, view, params, context) {
  const { rows } = view;
  const numRows = rows.length;
  const parentRow = new Int32Array(numRows).fill(-1);
  const rowBySpanId = new Map();
  {
    // Parents from depths: in preorder a row's parent is the last row one level up.
    const lastAtDepth = [];
    for (let i = 0; i < numRows; i += 1) {
      const { depth } = rows[i];
      parentRow[i] = depth > 0 ? lastAtDepth[depth - 1] : -1;
      lastAtDepth[depth] = i;
      if (!rowBySpanId.has(rows[i].spanId)) rowBySpanId.set(rows[i].spanId, i);
    }
  }

  const state = {
    view,
    collapsed: new Uint8Array(numRows),
    visible: new Int32Array(0),
    selected: -1,
    matches: new Uint8Array(numRows),
    matchList: [],
    currentMatch: -1,
    windowStartUs: 0,
    windowEndUs: Math.max(view.durationUs, 1),
    showCriticalPath: true,
  };

  function recomputeVisible() {
    const visible = new Int32Array(numRows);
    let count = 0;
    for (let i = 0; i < numRows;) {
      visible[count] = i;
      count += 1;
      i += state.collapsed[i] ? rows[i].subtreeSize : 1;
    }
    state.visible = visible.subarray(0, count);
  }
  recomputeVisible();

  /** Index of `row` in the visible list, or -1; visible is sorted, so binary search. */
  function positionOf(row) {
    let low = 0;
    let high = state.visible.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (state.visible[middle] === row) return middle;
      if (state.visible[middle] < row) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  function expandAncestors(row) {
    let changed = false;
    for (let parent = parentRow[row]; parent >= 0; parent = parentRow[parent]) {
      if (state.collapsed[parent]) { state.collapsed[parent] = 0; changed = true; }
    }
    if (changed) recomputeVisible();
  }

  // ---- header and toolbar
  const header = renderHeader(view, context);
  const findInput = el('input', { type: 'search', id: 'trace-find', placeholder: 'Find spans (name, service, attribute)…', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Find in trace' });
  const findCount = el('span', { class: 'find-count', id: 'trace-find-count', 'aria-live': 'polite' });
  const findPrev = el('button', { type: 'button', class: 'button', id: 'find-prev', title: 'Previous match (Shift+N)', 'aria-label': 'Previous match' }, '↑');
  const findNext = el('button', { type: 'button', class: 'button', id: 'find-next', title: 'Next match (N)', 'aria-label': 'Next match' }, '↓');
  const expandAll = el('button', { type: 'button', class: 'button', id: 'expand-all', title: 'Expand all (])' }, 'Expand all');
  const collapseAll = el('button', { type: 'button', class: 'button', id: 'collapse-all', title: 'Collapse all ([)' }, 'Collapse all');
  const criticalToggle = el('input', { type: 'checkbox', id: 'critical-path-toggle', checked: true });
  const resetZoom = el('button', { type: 'button', class: 'button', id: 'reset-zoom', title: 'Reset zoom (0)', hidden: true }, 'Reset zoom');
  const toolbar = el('div', { class: 'trace-toolbar' },
    el('div', { class: 'find' }, findInput, findCount, findPrev, findNext),
    expandAll, collapseAll,
    el('label', { class: 'toggle', title: 'Highlight the critical path (C)' }, criticalToggle, ' Critical path'),
    resetZoom,
    el('details', { class: 'shortcuts' }, el('summary', null, 'Keys'),
      el('dl', null, [
        ['↑ ↓ / k j', 'previous / next span'], ['← →', 'collapse / expand, or go to parent / child'],
        ['Enter', 'show details'], ['Esc', 'close details, clear find'], ['/', 'find'], ['n / N', 'next / previous match'],
        ['[ / ]', 'collapse / expand all'], ['+ / − / 0', 'zoom in / out / reset'], ['c', 'critical path'],
      ].map(([keys, what]) => [el('dt', null, keys), el('dd', null, what)]))));

  // ---- waterfall, minimap and detail panel
  const detailHolder = el('div', { class: 'detail-holder' });
  const waterfall = mountWaterfall(state, {
    onSelect: (row) => select(row, { scroll: false }),
    onToggle: (row) => toggle(row),
  });
  const minimap = mountMinimap(view, {
    onWindowChange(start, end) {
      state.windowStartUs = start;
      state.windowEndUs = end;
      resetZoom.hidden = start === 0 && end >= view.durationUs;
      waterfall.invalidate();
    },
  });
  const body = el('div', { class: 'trace-body' }, waterfall.element, detailHolder);
  const page = el('div', { class: 'trace-page', id: 'trace-page', 'data-trace-id': view.traceId }, header, toolbar, minimap.element, body);
  setChildren(container, page);

  function select(row, { scroll = true } = {}) {
    if (row < 0 || row >= numRows) return;
    expandAncestors(row);
    state.selected = row;
    if (scroll) waterfall.scrollToPosition(positionOf(row));
    setChildren(detailHolder, renderSpanDetail(view, row, {
      onClose: closeDetail,
      onSelectSpan: (spanId) => { const target = rowBySpanId.get(spanId); if (target !== undefined) select(target); },
      rowBySpanId,
    }));
    body.classList.add('has-detail');
    const url = new URL(window.location.href);
    url.searchParams.set('span', rows[row].spanId);
    history.replaceState(null, '', url);
    waterfall.invalidate();
  }

  function closeDetail() {
    state.selected = -1;
    detailHolder.replaceChildren();
    body.classList.remove('has-detail');
    const url = new URL(window.location.href);
    url.searchParams.delete('span');
    history.replaceState(null, '', url);
    waterfall.invalidate();
  }

  function toggle(row) {
    if (rows[row].subtreeSize <= 1) return;
    state.collapsed[row] = state.collapsed[row] ? 0 : 1;
    recomputeVisible();
    // A selection hidden inside the collapsed subtree moves up to the collapsed row.
    if (state.selected > row && state.selected < row + rows[row].subtreeSize && state.collapsed[row]) {
      state.selected = row;
    }
    waterfall.invalidate();
  }

  function setAllCollapsed(collapse) {
    for (let i = 0; i < numRows; i += 1) state.collapsed[i] = collapse && rows[i].subtreeSize > 1 ? 1 : 0;
    recomputeVisible();
    if (state.selected >= 0 && positionOf(state.selected) < 0) {
      let row = state.selected;
      while (parentRow[row] >= 0 && positionOf(row) < 0) row = parentRow[row];
      state.selected = row;
    }
    waterfall.invalidate();
  }

  // ---- find
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

  function runFind() {
    const terms = findInput.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
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
    if (terms.length > 0) url.searchParams.set('find', findInput.value.trim());
    else url.searchParams.delete('find');
    history.replaceState(null, '', url);
    updateFindCount();
    if (state.matchList.length > 0) stepMatch(1);
    waterfall.invalidate();
  }

  function updateFindCount() {
    if (!findInput.value.trim()) findCount.textContent = '';
    else if (state.matchList.length === 0) findCount.textContent = 'no matches';
    else {
      const at = state.matchList.indexOf(state.currentMatch);
      findCount.textContent = `${at >= 0 ? at + 1 : 0} of ${formatCount(state.matchList.length)}`;
    }
  }

  function stepMatch(direction) {
    const list = state.matchList;
    if (list.length === 0) return;
    let at = list.indexOf(state.currentMatch);
    at = at < 0 ? (direction > 0 ? 0 : list.length - 1) : (at + direction + list.length) % list.length;
    state.currentMatch = list[at];
    select(list[at]);
    updateFindCount();
  }

  let findTimer = 0;
  let lastFind = '';
  findInput.addEventListener('input', () => {
    clearTimeout(findTimer);
    findTimer = setTimeout(runFind, numRows > 5000 ? 200 : 60);
  });
  findInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      clearTimeout(findTimer);
      if (state.matchList.length === 0 || findInput.value.trim().toLowerCase() !== lastFind) runFind();
      else stepMatch(event.shiftKey ? -1 : 1);
      lastFind = findInput.value.trim().toLowerCase();
    } else if (event.key === 'Escape') {
      findInput.value = '';
      runFind();
      waterfall.viewport.focus();
    }
  });
  findPrev.addEventListener('click', () => stepMatch(-1));
  findNext.addEventListener('click', () => stepMatch(1));
  expandAll.addEventListener('click', () => setAllCollapsed(false));
  collapseAll.addEventListener('click', () => setAllCollapsed(true));
  criticalToggle.addEventListener('change', () => {
    state.showCriticalPath = criticalToggle.checked;
    waterfall.invalidate();
  });
  function zoom(factor) {
    const total = Math.max(view.durationUs, 1);
    const centre = (state.windowStartUs + state.windowEndUs) / 2;
    const width = Math.min(total, Math.max(total * 0.0005, (state.windowEndUs - state.windowStartUs) * factor));
    const start = Math.min(total - width, Math.max(0, centre - width / 2));
    state.windowStartUs = start;
    state.windowEndUs = start + width;
    minimap.setWindow(state.windowStartUs, state.windowEndUs);
    resetZoom.hidden = width >= total;
    waterfall.invalidate();
  }
  resetZoom.addEventListener('click', () => zoom(Infinity));

  // ---- keyboard
  function onKeyDown(event) {
    const typing = event.target.closest?.('input, select, textarea, [contenteditable]');
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const position = state.selected >= 0 ? positionOf(state.selected) : -1;
    const moveTo = (target) => {
      const clamped = Math.min(state.visible.length - 1, Math.max(0, target));
      if (clamped >= 0) select(state.visible[clamped]);
    };
    const handled = {
      ArrowDown: () => moveTo(position + 1), j: () => moveTo(position + 1),
      ArrowUp: () => moveTo(position < 0 ? 0 : position - 1), k: () => moveTo(position < 0 ? 0 : position - 1),
      Home: () => moveTo(0), End: () => moveTo(state.visible.length - 1),
      ArrowRight: () => {
        if (state.selected < 0) return moveTo(0);
        if (state.collapsed[state.selected]) return toggle(state.selected);
        if (rows[state.selected].subtreeSize > 1) return select(state.selected + 1);
        return undefined;
      },
      ArrowLeft: () => {
        if (state.selected < 0) return undefined;
        if (rows[state.selected].subtreeSize > 1 && !state.collapsed[state.selected]) return toggle(state.selected);
        if (parentRow[state.selected] >= 0) return select(parentRow[state.selected]);
        return undefined;
      },
      Enter: () => { if (state.selected >= 0) select(state.selected); else moveTo(0); },
      Escape: () => {
        if (state.selected >= 0) closeDetail();
        else if (findInput.value) { findInput.value = ''; runFind(); }
      },
      '/': () => { findInput.focus(); findInput.select(); },
      n: () => stepMatch(1), N: () => stepMatch(-1),
      '[': () => setAllCollapsed(true), ']': () => setAllCollapsed(false),
      '+': () => zoom(0.5), '=': () => zoom(0.5), '-': () => zoom(2), '0': () => zoom(Infinity),
      c: () => criticalToggle.click(),
    }[event.key];
    if (handled) {
      event.preventDefault();
      handled();
    }
  }
  document.addEventListener('keydown', onKeyDown);

  // ---- first paint, then the deep-link parameters
  waterfall.drawNow();
  minimap.redraw();
  // Timings for the browser tests and for anyone profiling: load (fetch, parse,
  // normalise), render (state, first waterfall and minimap paint) and both.
  performance.mark('tracery:trace-rendered');
  performance.measure('tracery:trace-first-render', 'tracery:trace-start', 'tracery:trace-rendered');
  if (view.source === 'server') {
    performance.measure('tracery:trace-load', 'tracery:trace-start', 'tracery:trace-received');
    performance.measure('tracery:trace-render', 'tracery:trace-received', 'tracery:trace-rendered');
  }
  page.setAttribute('data-state', 'ready');

  // `uiFind` is Jaeger UI's name for the same parameter, so its links keep working.
  const initialFind = params.get('find') ?? params.get('uiFind');
  const initialSpan = params.get('span');
  if (initialFind) {
    findInput.value = initialFind;
    runFind();
  }
  if (initialSpan && rowBySpanId.has(initialSpan.toLowerCase())) select(rowBySpanId.get(initialSpan.toLowerCase()));
  else waterfall.viewport.focus({ preventScroll: true });

  return () => {
    clearTimeout(findTimer);
    document.removeEventListener('keydown', onKeyDown);
    waterfall.dispose();
    minimap.dispose();
  };
}

function renderHeader(view, context) {
  const services = view.services.map((service) => el('span', {
    class: `badge svc-${service.colorIndex}${service.numErrors > 0 ? ' badge-error' : ''}`,
  }, el('span', { class: 'swatch' }), `${service.name} ${formatCount(service.numSpans)}`));
  const download = view.source === 'server'
    ? el('a', { class: 'button', id: 'download-json', href: traceJsonUrl(view.traceId), download: `trace-${view.traceId}.json` }, 'Download JSON')
    : el('span', { class: 'muted' }, `opened from ${context.fileName || 'a file'}`);
  return el('header', { class: 'trace-header' },
    el('div', { class: 'trace-title-row' },
      el('h1', { class: 'trace-title', id: 'trace-title' },
        el('span', { class: 'trace-root-service' }, view.rootService || '(unknown service)'),
        ': ',
        el('span', { class: 'trace-root-op' }, view.rootOperation || '(missing root span)')),
      el('code', { class: 'trace-id', id: 'trace-id' }, view.traceId),
      download),
    el('dl', { class: 'trace-facts', id: 'trace-facts' },
      headerFact('Start', formatTimestamp(view.startUs)),
      headerFact('Duration', formatDuration(view.durationUs)),
      headerFact('Services', formatCount(view.services.length)),
      headerFact('Depth', formatCount(view.maxDepth + 1)),
      headerFact('Spans', formatCount(view.numSpans)),
      headerFact('Errors', formatCount(view.numErrors), view.numErrors > 0 ? 'fact-error' : null)),
    el('div', { class: 'trace-services' }, services),
    view.warnings.length > 0 ? el('ul', { class: 'warnings trace-warnings' }, view.warnings.map((warning) => el('li', null, warning))) : null);
}

function headerFact(label, value, extraClass) {
  return el('div', { class: extraClass ? `fact ${extraClass}` : 'fact' }, el('dt', null, label), el('dd', null, value));
}
