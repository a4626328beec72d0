// The trace minimap: every span drawn on a canvas (cheap even for 50,000 spans),
// a time ruler, and a viewport window that can be dragged to pan, resized by its
// edges, or redrawn by dragging across the map to zoom. Double-click resets.

import { el } from '../lib/dom.js';
import { renderRuler } from './time-axis.js';

const HEIGHT = 64;
const MIN_WINDOW_FRACTION = 0.0005;

/**
 * mountMinimap(view, { onWindowChange(startUs, endUs) })
 * → { element, setWindow(startUs, endUs), redraw(), dispose() }
 */
export function mountMinimap(view, { onWindowChange }) {
  const canvas = el('canvas', { class: 'mm-canvas', 'aria-hidden': 'true' });
  const windowBox = el('div', { class: 'mm-window', id: 'minimap-window', title: 'Drag to pan; drag the edges to zoom; double-click to reset' },
    el('div', { class: 'mm-handle mm-handle-start', 'data-edge': 'start' }),
    el('div', { class: 'mm-handle mm-handle-end', 'data-edge': 'end' }));
  const shadeBefore = el('div', { class: 'mm-shade' });
  const shadeAfter = el('div', { class: 'mm-shade' });
  const map = el('div', { class: 'mm-map', id: 'minimap' }, canvas, shadeBefore, shadeAfter, windowBox);
  const ruler = el('div', { class: 'mm-ruler' });
  const element = el('div', { class: 'minimap' }, ruler, map);
  const total = Math.max(view.durationUs, 1);
  let windowStart = 0;
  let windowEnd = total;

  function place() {
    const startPct = (windowStart / total) * 100;
    const endPct = (windowEnd / total) * 100;
    windowBox.style.left = `${startPct}%`;
    windowBox.style.width = `${endPct - startPct}%`;
    shadeBefore.style.left = '0';
    shadeBefore.style.width = `${startPct}%`;
    shadeAfter.style.left = `${endPct}%`;
    shadeAfter.style.width = `${100 - endPct}%`;
  }

  function redraw() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, map.clientWidth);
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(HEIGHT * ratio);
    const context = canvas.getContext('2d');
    if (!context) return;
    const styles = getComputedStyle(document.documentElement);
    const colors = view.services.map((service) => styles.getPropertyValue(`--svc-${service.colorIndex}`).trim() || '#888');
    const errorColor = styles.getPropertyValue('--error').trim() || '#d33';
    context.clearRect(0, 0, canvas.width, canvas.height);
    const { rows } = view;
    const rowHeight = Math.max(1, canvas.height / Math.max(rows.length, 1));
    const scale = canvas.width / total;
    // Batch by colour: one fillStyle change per service instead of per span.
    for (let service = 0; service < colors.length; service += 1) {
      context.fillStyle = colors[service];
      for (let i = 0; i < rows.length; i += 1) {
        const row = rows[i];
        if (row.serviceIndex !== service || row.error) continue;
        context.fillRect(row.startOffsetUs * scale, (i * canvas.height) / rows.length, Math.max(1, row.durationUs * scale), rowHeight);
      }
    }
    context.fillStyle = errorColor;
    for (let i = 0; i < rows.length; i += 1) {
      const row = rows[i];
      if (!row.error) continue;
      context.fillRect(row.startOffsetUs * scale, (i * canvas.height) / rows.length, Math.max(2, row.durationUs * scale), Math.max(2, rowHeight));
    }
    renderRuler(ruler, 0, total, Math.max(2, Math.floor(width / 110)));
  }

  function emit() {
    place();
    onWindowChange(windowStart, windowEnd);
  }

  // Pointer interactions. Dragging the window pans it and dragging its edges
  // resizes it; dragging anywhere else (or anywhere, while the window spans the
  // whole trace) selects a new window. A click without a drag centres the window.
  map.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    map.setPointerCapture(event.pointerId);
    const bounds = map.getBoundingClientRect();
    const at = (clientX) => Math.min(1, Math.max(0, (clientX - bounds.left) / bounds.width)) * total;
    const edge = event.target.getAttribute?.('data-edge');
    const zoomed = windowEnd - windowStart < total * 0.999;
    const panning = !edge && event.target === windowBox && zoomed;
    const origin = at(event.clientX);
    const startX = event.clientX;
    const startWindow = [windowStart, windowEnd];
    const minimum = total * MIN_WINDOW_FRACTION;
    let dragged = false;
    const move = (moveEvent) => {
      // A few pixels of jitter is still a click.
      if (!dragged && Math.abs(moveEvent.clientX - startX) < 3) return;
      dragged = true;
      const here = at(moveEvent.clientX);
      if (edge === 'start') windowStart = Math.min(here, windowEnd - minimum);
      else if (edge === 'end') windowEnd = Math.max(here, windowStart + minimum);
      else if (panning) {
        const width = startWindow[1] - startWindow[0];
        windowStart = Math.min(total - width, Math.max(0, startWindow[0] + here - origin));
        windowEnd = windowStart + width;
      } else {
        windowStart = Math.min(origin, here);
        windowEnd = Math.max(Math.max(origin, here), windowStart + minimum);
      }
      emit();
    };
    const up = () => {
      map.removeEventListener('pointermove', move);
      map.removeEventListener('pointerup', up);
      if (!dragged && !edge && zoomed) {
        const width = startWindow[1] - startWindow[0];
        windowStart = Math.min(total - width, Math.max(0, origin - width / 2));
        windowEnd = windowStart + width;
        emit();
      }
    };
    map.addEventListener('pointermove', move);
    map.addEventListener('pointerup', up);
  });
  map.addEventListener('dblclick', () => {
    windowStart = 0;
    windowEnd = total;
    emit();
  });

  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(redraw);
  });
  observer.observe(map);
  const onTheme = () => redraw();
  document.addEventListener('tracery:themechange', onTheme);
  place();

  return {
    element,
    redraw,
    setWindow(startUs, endUs) {
      windowStart = startUs;
      windowEnd = endUs;
      place();
    },
    dispose() {
      observer.disconnect();
      cancelAnimationFrame(frame);
      document.removeEventListener('tracery:themechange', onTheme);
    },
  };
}
