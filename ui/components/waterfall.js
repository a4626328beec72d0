// The virtualised waterfall. Rows have a fixed height and are absolutely
// positioned inside a spacer as tall as all visible rows; only the rows in the
// viewport plus an overscan are in the DOM, redrawn at most once per animation
// frame. Collapsing is done by the page, which hands over the list of visible
// row indices (collapse skips a row's subtree_size). Bars are percentages of the
// zoom window. One delegated click listener serves every row. The first row of a
// folded N+1 group stands for all its repeats: "× N", one bar from the first
// start to the last end.

import { el } from '../lib/dom.js';
import { formatDuration } from '../lib/format.js';
import { renderGrid, renderRuler } from './time-axis.js';

export const ROW_HEIGHT = 26;
const OVERSCAN = 20;
const INDENT_PX = 14;
/** Deeper rows stop indenting, so a 50,000-deep chain stays readable. */
const MAX_INDENT_LEVELS = 40;

/**
 * state: { view, visible (Int32Array of row indices), collapsed (Uint8Array),
 *          selected, matches (Uint8Array), currentMatch, windowStartUs, windowEndUs,
 *          showCriticalPath, groups, groupOf (Int32Array), groupCollapsed (Uint8Array) }
 * handlers: { onSelect(rowIndex), onToggle(rowIndex), onToggleGroup(rowIndex) }
 * Returns { element, viewport, invalidate(full), drawNow(), scrollToPosition(position), renderedRowCount(), dispose() }.
 */
export function mountWaterfall(state, handlers) {
  const ruler = el('div', { class: 'wf-ruler' });
  const splitter = el('div', { class: 'wf-splitter', role: 'separator', 'aria-orientation': 'vertical', title: 'Drag to resize' });
  const header = el('div', { class: 'wf-header' },
    el('div', { class: 'wf-header-name' }, 'Service & operation'),
    splitter,
    el('div', { class: 'wf-header-time' }, ruler));
  const grid = el('div', { class: 'wf-grid' });
  const spacer = el('div', { class: 'wf-spacer' });
  const viewport = el('div', { class: 'wf-viewport', id: 'waterfall-viewport', tabindex: '0', role: 'tree', 'aria-label': 'Spans' }, spacer);
  const element = el('div', { class: 'waterfall', id: 'waterfall' }, header, el('div', { class: 'wf-body' }, el('div', { class: 'wf-grid-holder' }, grid), viewport));
  const { rows } = state.view;
  const services = state.view.services;

  let scheduled = false;
  let stale = true;
  let lastRulerWindow = '';
  /** position in the visible list → { index, node } for the rows now in the DOM. */
  let mounted = new Map();

  // Scrolling only adds the rows that came into range and drops those that left;
  // any state change (selection, collapse, zoom, find) marks everything stale.
  function draw() {
    scheduled = false;
    const { visible } = state;
    spacer.style.height = `${visible.length * ROW_HEIGHT}px`;
    const windowKey = `${state.windowStartUs}:${state.windowEndUs}`;
    if (windowKey !== lastRulerWindow) {
      lastRulerWindow = windowKey;
      renderRuler(ruler, state.windowStartUs, state.windowEndUs);
      renderGrid(grid, state.windowStartUs, state.windowEndUs);
    }
    const height = viewport.clientHeight || 600;
    // After a collapse the list may be shorter than the old scroll position; clamp
    // here rather than wait for the browser's own clamp and a second frame.
    const maxTop = Math.max(0, visible.length * ROW_HEIGHT - height);
    if (viewport.scrollTop > maxTop) viewport.scrollTop = maxTop;
    const top = viewport.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    if (stale) {
      for (const { node } of mounted.values()) node.remove();
      mounted.clear();
      stale = false;
    }
    const next = new Map();
    const added = [];
    for (let position = first; position < last; position += 1) {
      const index = visible[position];
      const kept = mounted.get(position);
      if (kept && kept.index === index) {
        next.set(position, kept);
        mounted.delete(position);
      } else {
        const node = renderRow(index, position);
        next.set(position, { index, node });
        added.push(node);
      }
    }
    for (const { node } of mounted.values()) node.remove();
    spacer.append(...added);
    mounted = next;
  }

  function renderRow(index, position) {
    const group = state.groupOf[index];
    const groupHead = group >= 0 && state.groups[group].rows[0] === index;
    if (groupHead && state.groupCollapsed[group]) return renderGroupRow(index, position, state.groups[group]);
    const row = rows[index];
    const service = services[row.serviceIndex];
    const colorClass = `svc-${service?.colorIndex ?? 0}`;
    const classes = ['wf-row'];
    if (row.error) classes.push('is-error');
    if (index === state.selected) classes.push('is-selected');
    if (state.matches[index]) classes.push('is-match');
    if (index === state.currentMatch) classes.push('is-current-match');
    if (state.showCriticalPath && row.onCriticalPath) classes.push('is-critical');

    const hasChildren = row.subtreeSize > 1;
    const collapsed = state.collapsed[index] === 1;
    const toggle = hasChildren
      ? el('button', {
        type: 'button', class: 'wf-toggle', tabindex: '-1',
        'aria-label': collapsed ? 'Expand' : 'Collapse', title: collapsed ? `Expand (${row.subtreeSize - 1} hidden)` : 'Collapse',
      }, collapsed ? '▸' : '▾')
      : el('span', { class: 'wf-leaf' });
    const name = el('div', { class: 'wf-name' },
      toggle,
      el('span', { class: `wf-swatch ${colorClass}` }),
      el('span', { class: 'wf-service' }, service?.name ?? ''),
      el('span', { class: 'wf-op' }, row.name),
      row.error ? el('span', { class: 'wf-error-mark', title: 'Error' }, '!') : null,
      collapsed ? el('span', { class: 'wf-hidden-count' }, `+${row.subtreeSize - 1}`) : null,
      groupHead
        ? el('button', { type: 'button', class: 'wf-group-toggle', tabindex: '-1', title: 'Fold the repeats into one row' },
          `▾ × ${state.groups[group].rows.length}`)
        : null);
    const indentLevels = Math.min(row.depth, MAX_INDENT_LEVELS);
    name.style.paddingInlineStart = `${4 + indentLevels * INDENT_PX}px`;
    if (row.depth > MAX_INDENT_LEVELS) name.title = `depth ${row.depth}`;

    const time = el('div', { class: 'wf-time' });
    const windowSpan = Math.max(state.windowEndUs - state.windowStartUs, 1e-9);
    const left = ((row.startOffsetUs - state.windowStartUs) / windowSpan) * 100;
    const width = (row.durationUs / windowSpan) * 100;
    const bar = el('div', {
      class: `wf-bar ${colorClass}`,
      title: `${service?.name ?? ''}: ${row.name}\n${formatDuration(row.durationUs)} at +${formatDuration(row.startOffsetUs)}`,
    });
    bar.style.left = `${left}%`;
    bar.style.width = `max(2px, ${width}%)`;
    time.append(bar);
    if (state.showCriticalPath) {
      for (const [start, end] of row.criticalSections) {
        const segment = el('div', { class: 'wf-cp' });
        segment.style.left = `${((start - state.windowStartUs) / windowSpan) * 100}%`;
        segment.style.width = `max(1px, ${((end - start) / windowSpan) * 100}%)`;
        time.append(segment);
      }
    }
    for (const event of row.events) {
      const mark = el('div', { class: 'wf-event' });
      mark.style.left = `${((event.offsetUs - state.windowStartUs) / windowSpan) * 100}%`;
      time.append(mark);
    }
    const label = el('span', { class: 'wf-duration' }, formatDuration(row.durationUs));
    // Labels go right of the bar, or left of it when the bar ends near the edge.
    if (left + width > 80) {
      label.classList.add('wf-duration-before');
      label.style.right = `${100 - left}%`;
    } else {
      label.style.left = `${left + width}%`;
    }
    time.append(label);

    const line = el('div', {
      class: classes.join(' '), 'data-row': String(index), role: 'treeitem',
      'aria-level': String(row.depth + 1), 'aria-selected': index === state.selected ? 'true' : 'false',
      'aria-expanded': hasChildren ? String(!collapsed) : null,
    }, name, time);
    line.style.top = `${position * ROW_HEIGHT}px`;
    return line;
  }

  /** The row that stands for a folded group of repeated siblings. */
  function renderGroupRow(index, position, group) {
    const row = rows[index];
    const service = services[row.serviceIndex];
    const colorClass = `svc-${service?.colorIndex ?? 0}`;
    const count = group.rows.length;
    const classes = ['wf-row', 'wf-group'];
    if (index === state.selected) classes.push('is-selected');
    if (state.matches[index]) classes.push('is-match');
    if (index === state.currentMatch) classes.push('is-current-match');
    const name = el('div', { class: 'wf-name' },
      el('button', {
        type: 'button', class: 'wf-toggle wf-group-toggle', tabindex: '-1',
        'aria-label': `Show the ${count} repeated spans`, title: `Show the ${count} repeated spans`,
      }, '▸'),
      el('span', { class: `wf-swatch ${colorClass}` }),
      el('span', { class: 'wf-group-count' }, `× ${count}`),
      el('span', { class: 'wf-op', title: group.fingerprint }, group.fingerprint),
      el('span', {
        class: 'wf-group-mode',
        title: `${count} × ${formatDuration(group.totalUs / count)} on average, ${formatDuration(group.totalUs)} in total`,
      }, `${group.mode === 'parallel' ? 'parallel' : 'N+1'} · ${formatDuration(group.totalUs)}`));
    name.style.paddingInlineStart = `${4 + Math.min(row.depth, MAX_INDENT_LEVELS) * INDENT_PX}px`;
    const windowSpan = Math.max(state.windowEndUs - state.windowStartUs, 1e-9);
    const time = el('div', { class: 'wf-time' });
    for (const member of group.rows) {
      const memberRow = rows[member];
      const bar = el('div', { class: `wf-bar wf-group-bar ${colorClass}` });
      bar.style.left = `${((memberRow.startOffsetUs - state.windowStartUs) / windowSpan) * 100}%`;
      bar.style.width = `max(1px, ${(memberRow.durationUs / windowSpan) * 100}%)`;
      time.append(bar);
    }
    const line = el('div', {
      class: classes.join(' '), 'data-row': String(index), role: 'treeitem',
      'aria-level': String(row.depth + 1), 'aria-selected': index === state.selected ? 'true' : 'false',
      'aria-expanded': 'false',
    }, name, time);
    line.style.top = `${position * ROW_HEIGHT}px`;
    return line;
  }

  /** Schedules a redraw; `full` (the default) rebuilds every row, for state changes. */
  function invalidate(full = true) {
    if (full) stale = true;
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(draw);
    }
  }

  viewport.addEventListener('scroll', () => invalidate(false), { passive: true });
  viewport.addEventListener('click', (event) => {
    const line = event.target.closest('.wf-row');
    if (!line) return;
    const index = Number(line.getAttribute('data-row'));
    if (event.target.closest('.wf-group-toggle')) handlers.onToggleGroup(index);
    else if (event.target.closest('.wf-toggle')) handlers.onToggle(index);
    else handlers.onSelect(index);
  });

  // The name column's width is a CSS variable on the waterfall, set through the CSSOM.
  splitter.addEventListener('pointerdown', (event) => {
    event.preventDefault();
    splitter.setPointerCapture(event.pointerId);
    const bounds = element.getBoundingClientRect();
    const move = (moveEvent) => {
      const fraction = Math.min(0.8, Math.max(0.12, (moveEvent.clientX - bounds.left) / bounds.width));
      element.style.setProperty('--wf-name-width', `${(fraction * 100).toFixed(2)}%`);
    };
    const up = () => {
      splitter.removeEventListener('pointermove', move);
      splitter.removeEventListener('pointerup', up);
    };
    splitter.addEventListener('pointermove', move);
    splitter.addEventListener('pointerup', up);
  });

  const observer = new ResizeObserver(() => invalidate(false));
  observer.observe(viewport);

  return {
    element,
    viewport,
    invalidate,
    /** Draws now rather than on the next frame (first paint, tests). */
    drawNow() {
      stale = true;
      draw();
    },
    /** Scrolls so the row at `position` in the visible list is in view, centring it when it was far. */
    scrollToPosition(position) {
      const top = position * ROW_HEIGHT;
      const height = viewport.clientHeight;
      if (top < viewport.scrollTop || top + ROW_HEIGHT > viewport.scrollTop + height) {
        viewport.scrollTop = Math.max(0, top - height / 2);
      }
      invalidate(false);
    },
    renderedRowCount: () => mounted.size,
    dispose: () => observer.disconnect(),
  };
}
