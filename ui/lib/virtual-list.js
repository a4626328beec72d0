// A virtualised list of fixed-height rows: only the rows in view (plus an
// overscan) are in the DOM, redrawn at most once per animation frame. Used by the
// statistics table and the comparison, which can hold tens of thousands of rows.

import { el } from './dom.js';

const OVERSCAN = 20;

/**
 * mountVirtualList({ rowHeight, count, renderRow(index) → Element, className })
 * → { element, viewport, setCount(count), invalidate(), drawNow(), renderedCount() }
 */
export function mountVirtualList({ rowHeight, count, renderRow, className }) {
  const spacer = el('div', { class: 'vl-spacer' });
  const viewport = el('div', { class: `vl-viewport ${className ?? ''}`, tabindex: '0' }, spacer);
  let total = count;
  let scheduled = false;

  function drawNow() {
    scheduled = false;
    spacer.style.height = `${total * rowHeight}px`;
    const height = viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(viewport.scrollTop / rowHeight) - OVERSCAN);
    const last = Math.min(total, Math.ceil((viewport.scrollTop + height) / rowHeight) + OVERSCAN);
    const nodes = [];
    for (let index = first; index < last; index += 1) {
      const node = renderRow(index);
      node.style.top = `${index * rowHeight}px`;
      nodes.push(node);
    }
    spacer.replaceChildren(...nodes);
  }

  function invalidate() {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(drawNow);
    }
  }

  viewport.addEventListener('scroll', invalidate, { passive: true });
  return {
    element: viewport,
    viewport,
    setCount(next) { total = next; invalidate(); },
    invalidate,
    drawNow,
    renderedCount: () => spacer.childElementCount,
  };
}
