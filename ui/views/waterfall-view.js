// The Waterfall view of the trace page: toolbar (find, expand/collapse, critical
// path, zoom reset, keys), minimap, the virtualised waterfall and the span detail
// panel. It owns the tree state; the components only draw it.

import { mountMinimap } from '../components/minimap.js';
import { renderSpanDetail } from '../components/span-detail.js';
import { mountWaterfall } from '../components/waterfall.js';
import { el, setChildren } from '../lib/dom.js';
import { createTreeState } from './tree-state.js';
import { createFind } from './trace-find.js';
import { renderShortcuts, waterfallKeys } from './trace-keys.js';

/**
 * Returns { element, firstPaint(), applyDeepLinks(params), showGroup(index), dispose() }: call
 * firstPaint once the element is in the document (it measures the viewport), then
 * applyDeepLinks with the page's `find` (or Jaeger UI's `uiFind`) and `span`.
 */
export function mountWaterfallView(view) {
  const { rows } = view;
  const numRows = rows.length;
  const tree = createTreeState(view);
  const { state, parentRow, rowBySpanId, positionOf } = tree;

  const expandAll = el('button', { type: 'button', class: 'button', id: 'expand-all', title: 'Expand all (])' }, 'Expand all');
  const collapseAll = el('button', { type: 'button', class: 'button', id: 'collapse-all', title: 'Collapse all ([)' }, 'Collapse all');
  const criticalToggle = el('input', { type: 'checkbox', id: 'critical-path-toggle', checked: true });
  const resetZoom = el('button', { type: 'button', class: 'button', id: 'reset-zoom', title: 'Reset zoom (0)', hidden: true }, 'Reset zoom');
  const detailHolder = el('div', { class: 'detail-holder' });

  const waterfall = mountWaterfall(state, {
    onSelect: (row) => select(row, { scroll: false }),
    onToggle: (row) => toggle(row),
    onToggleGroup: (row) => { if (tree.toggleGroup(row)) waterfall.invalidate(); },
  });
  const find = createFind(view, state, {
    onSelect: (row) => select(row),
    onChange: () => waterfall.invalidate(),
    onEscape: () => waterfall.viewport.focus(),
  });
  const minimap = mountMinimap(view, {
    onWindowChange(start, end) {
      state.windowStartUs = start;
      state.windowEndUs = end;
      resetZoom.hidden = start === 0 && end >= view.durationUs;
      waterfall.invalidate();
    },
  });
  const toolbar = el('div', { class: 'trace-toolbar' },
    find.element,
    expandAll, collapseAll,
    el('label', { class: 'toggle', title: 'Highlight the critical path (C)' }, criticalToggle, ' Critical path'),
    resetZoom,
    renderShortcuts());
  const body = el('div', { class: 'trace-body' }, waterfall.element, detailHolder);
  const element = el('div', { class: 'trace-view trace-view-waterfall' }, toolbar, minimap.element, body);

  function select(row, { scroll = true } = {}) {
    if (row < 0 || row >= numRows) return;
    tree.expandAncestors(row);
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
    if (tree.toggle(row)) waterfall.invalidate();
  }

  function setAllCollapsed(collapse) {
    tree.setAllCollapsed(collapse);
    waterfall.invalidate();
  }

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

  expandAll.addEventListener('click', () => setAllCollapsed(false));
  collapseAll.addEventListener('click', () => setAllCollapsed(true));
  criticalToggle.addEventListener('change', () => {
    state.showCriticalPath = criticalToggle.checked;
    waterfall.invalidate();
  });
  resetZoom.addEventListener('click', () => zoom(Infinity));

  const moveTo = (target) => {
    const clamped = Math.min(state.visible.length - 1, Math.max(0, target));
    if (clamped >= 0) select(state.visible[clamped]);
  };
  const position = () => (state.selected >= 0 ? positionOf(state.selected) : -1);
  const onKeyDown = waterfallKeys({
    moveBy: (delta) => { const at = position(); moveTo(at < 0 ? 0 : at + delta); },
    moveTo,
    last: () => moveTo(state.visible.length - 1),
    right: () => {
      if (state.selected < 0) return moveTo(0);
      if (state.collapsed[state.selected]) return toggle(state.selected);
      if (rows[state.selected].subtreeSize > 1) return select(state.selected + 1);
      return undefined;
    },
    left: () => {
      if (state.selected < 0) return undefined;
      if (rows[state.selected].subtreeSize > 1 && !state.collapsed[state.selected]) return toggle(state.selected);
      if (parentRow[state.selected] >= 0) return select(parentRow[state.selected]);
      return undefined;
    },
    enter: () => { if (state.selected >= 0) select(state.selected); else moveTo(0); },
    escape: () => {
      if (state.selected >= 0) closeDetail();
      else if (find.input.value) find.clear();
    },
    find: () => { find.input.focus(); find.input.select(); },
    step: (direction) => find.step(direction),
    collapseAll: setAllCollapsed,
    zoom,
    criticalPath: () => criticalToggle.click(),
  });

  let listening = false;
  function firstPaint() {
    document.addEventListener('keydown', onKeyDown);
    listening = true;
    waterfall.drawNow();
    minimap.redraw();
  }

  function applyDeepLinks(params) {
    // `uiFind` is Jaeger UI's name for the same parameter, so its links keep working.
    const initialFind = params.get('find') ?? params.get('uiFind');
    const initialSpan = params.get('span');
    if (initialFind) {
      find.input.value = initialFind;
      find.run();
    }
    if (initialSpan && rowBySpanId.has(initialSpan.toLowerCase())) select(rowBySpanId.get(initialSpan.toLowerCase()));
    else waterfall.viewport.focus({ preventScroll: true });
  }

  /** Unfolds N+1 group `index` and selects its first repeat. */
  function showGroup(index) {
    const group = state.groups[index];
    if (!group) return;
    if (state.groupCollapsed[index]) tree.toggleGroup(group.rows[0]);
    select(group.rows[0]);
  }

  return {
    element,
    firstPaint,
    applyDeepLinks,
    showGroup,
    dispose() {
      find.dispose();
      if (listening) document.removeEventListener('keydown', onKeyDown);
      waterfall.dispose();
      minimap.dispose();
    },
  };
}
