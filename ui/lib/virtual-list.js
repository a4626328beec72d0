// A virtualised list of fixed-height rows: only the rows in view (plus an
// overscan) are in the DOM, redrawn at most once per animation frame. Used by the
// statistics table and the comparison, which can hold tens of thousands of rows.
//
// Row elements are made once and reused, as the waterfall keeps its rows: when
// scrolling, a row still in range is left alone and a row that left the range is
// refilled (`updateRow`) for one that came in, so a frame creates no elements and
// only rewrites the text of the rows that changed. `invalidate()` (new order,
// new data) refills every row in place.

import { el } from './dom.js';

const OVERSCAN = 20;

/**
 * mountVirtualList({ rowHeight, count, createRow() → Element, updateRow(node, index), className })
 * → { element, viewport, setCount(count), invalidate(), drawNow(), renderedCount() }
 */
export function mountVirtualList({ rowHeight, count, createRow, updateRow, className }) {
  const spacer = el('div', { class: 'vl-spacer' });
  const viewport = el('div', { class: `vl-viewport ${className ?? ''}`, tabindex: '0' }, spacer);
  let total = count;
  let scheduled = false;
  let stale = false;
  /** index → node for the rows now filled and shown. */
  let shown = new Map();
  /** Rows out of range, taken out of the DOM and kept for reuse. */
  const spare = [];

  function draw() {
    scheduled = false;
    spacer.style.height = `${total * rowHeight}px`;
    const height = viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(viewport.scrollTop / rowHeight) - OVERSCAN);
    const last = Math.min(total, Math.ceil((viewport.scrollTop + height) / rowHeight) + OVERSCAN);
    const next = new Map();
    // Rows still in range stay as they are (unless everything is stale).
    for (const [index, node] of shown) {
      if (index >= first && index < last && !stale) next.set(index, node);
      else spare.push(node);
    }
    const added = [];
    for (let index = first; index < last; index += 1) {
      if (next.has(index)) continue;
      const node = spare.pop() ?? createRow();
      if (!node.isConnected) added.push(node);
      updateRow(node, index);
      node.style.top = `${index * rowHeight}px`;
      next.set(index, node);
    }
    for (const node of spare) node.remove();
    if (added.length > 0) spacer.append(...added);
    shown = next;
    stale = false;
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(draw);
    }
  }

  viewport.addEventListener('scroll', schedule, { passive: true });
  return {
    element: viewport,
    viewport,
    setCount(next) { total = next; stale = true; schedule(); },
    /** Refills every shown row on the next frame (the data or its order changed). */
    invalidate() { stale = true; schedule(); },
    /** Refills and draws now rather than on the next frame (first paint, sorting). */
    drawNow() { stale = true; draw(); },
    renderedCount: () => shown.size,
  };
}
