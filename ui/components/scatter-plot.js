// Trace duration over start time, as SVG built with createElementNS. Bubble area
// grows with span count; error traces are marked; clicking a bubble opens it.
// With an `onBrush` handler, dragging up or down across the plot picks a duration
// range (a band over the whole time axis); the search page offers "Why slow?" for it.

import { svg } from '../lib/dom.js';
import { formatDuration, formatTimestamp, niceStep } from '../lib/format.js';

const HEIGHT = 180;
const MARGIN = { top: 12, right: 16, bottom: 26, left: 64 };

/** Drags shorter than this (px) are clicks: they clear the brushed range. */
const MIN_BRUSH_PX = 4;

/**
 * Renders into `container`; returns a cleanup function. onOpen(traceId) on click;
 * onBrush({ minUs, maxUs, numTraces }) after a brush, onBrush(null) when cleared
 * (optional: without it there is no brushing).
 */
export function mountScatterPlot(container, results, onOpen, onBrush = null) {
  let drawnWidth = 0;
  /** The brushed duration range [minUs, maxUs], kept across redraws. */
  let brushed = null;
  const brushing = onBrush && {
    get: () => brushed,
    set(range) {
      brushed = range;
      onBrush(range && {
        minUs: range[0],
        maxUs: range[1],
        numTraces: results.filter((result) => result.durationUs >= range[0] && result.durationUs <= range[1]).length,
      });
    },
  };
  const draw = () => {
    const width = Math.max(320, container.clientWidth);
    // ResizeObserver also reports the first size; only a real change redraws.
    if (width === drawnWidth) return;
    drawnWidth = width;
    container.replaceChildren(render(results, width, onOpen, brushing));
  };
  draw();
  // Redraw at the new width, at most once per frame.
  let frame = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(draw);
  });
  observer.observe(container);
  return () => {
    observer.disconnect();
    cancelAnimationFrame(frame);
  };
}

function render(results, width, onOpen, brushing) {
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  let minStart = Infinity;
  let maxStart = -Infinity;
  let maxDuration = 0;
  let maxSpans = 1;
  for (const result of results) {
    minStart = Math.min(minStart, result.startUs);
    maxStart = Math.max(maxStart, result.startUs);
    maxDuration = Math.max(maxDuration, result.durationUs);
    maxSpans = Math.max(maxSpans, result.numSpans);
  }
  if (maxStart === minStart) { minStart -= 1e6; maxStart += 1e6; }
  const yStep = niceStep(maxDuration || 1, 4);
  const yMax = Math.max(yStep, Math.ceil((maxDuration || 1) / yStep) * yStep);
  const x = (startUs) => MARGIN.left + ((startUs - minStart) / (maxStart - minStart)) * plotWidth;
  const y = (durationUs) => MARGIN.top + plotHeight - (durationUs / yMax) * plotHeight;

  const root = svg('svg', {
    class: brushing ? 'scatter scatter-brushable' : 'scatter', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
    role: 'img', 'aria-label': brushing ? 'Trace duration over start time; drag up or down to pick a duration range' : 'Trace duration over start time',
  });
  for (let value = 0; value <= yMax; value += yStep) {
    root.append(
      svg('line', { class: 'scatter-grid', x1: MARGIN.left, x2: width - MARGIN.right, y1: y(value), y2: y(value) }),
      svg('text', { class: 'scatter-label', x: MARGIN.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, formatDuration(value)));
  }
  const timeTicks = 4;
  for (let i = 0; i <= timeTicks; i += 1) {
    const at = minStart + ((maxStart - minStart) * i) / timeTicks;
    const anchor = i === 0 ? 'start' : i === timeTicks ? 'end' : 'middle';
    root.append(svg('text', { class: 'scatter-label', x: x(at), y: HEIGHT - 6, 'text-anchor': anchor },
      formatTimestamp(at).slice(11, 19)));
  }

  // Draw large bubbles first so small ones stay clickable on top.
  const ordered = [...results].sort((a, b) => b.numSpans - a.numSpans);
  for (const result of ordered) {
    const radius = 3 + 9 * Math.sqrt(result.numSpans / maxSpans);
    const point = svg('circle', {
      class: result.numErrors > 0 ? 'scatter-point scatter-error' : 'scatter-point',
      cx: x(result.startUs), cy: y(result.durationUs), r: radius.toFixed(1),
      tabindex: '0', 'data-trace-id': result.traceId, 'data-duration-us': String(result.durationUs),
    }, svg('title', null,
      `${result.rootService}: ${result.rootOperation}\n${formatDuration(result.durationUs)}, ${result.numSpans} spans`
      + `${result.numErrors ? `, ${result.numErrors} errors` : ''}\n${formatTimestamp(result.startUs)}`));
    root.append(point);
  }
  if (brushing) addBrush(root, brushing, { width, plotHeight, yMax, y });
  root.addEventListener('click', (event) => {
    const point = event.target.closest('[data-trace-id]');
    if (point && !root.dataset.justBrushed) onOpen(point.getAttribute('data-trace-id'));
    delete root.dataset.justBrushed;
  });
  root.addEventListener('keydown', (event) => {
    const point = event.target.closest('[data-trace-id]');
    if (point && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      onOpen(point.getAttribute('data-trace-id'));
    }
  });
  return root;
}

/** A vertical brush: a band across the plot between two durations. */
function addBrush(root, brushing, { width, plotHeight, yMax, y }) {
  const band = svg('rect', { class: 'scatter-brush', id: 'scatter-brush', x: MARGIN.left, width: width - MARGIN.left - MARGIN.right, y: 0, height: 0 });
  // The band goes under the bubbles, so they stay clickable.
  root.insertBefore(band, root.querySelector('.scatter-point'));
  const durationAt = (py) => {
    const clamped = Math.min(MARGIN.top + plotHeight, Math.max(MARGIN.top, py));
    return ((MARGIN.top + plotHeight - clamped) / plotHeight) * yMax;
  };
  const showRange = (range) => {
    band.style.display = range ? '' : 'none';
    if (range) {
      band.setAttribute('y', String(y(range[1])));
      band.setAttribute('height', String(Math.max(1, y(range[0]) - y(range[1]))));
    }
    for (const point of root.querySelectorAll('.scatter-point')) {
      const inRange = range && Number(point.dataset.durationUs) >= range[0] && Number(point.dataset.durationUs) <= range[1];
      point.classList.toggle('is-brushed', Boolean(inRange));
    }
  };
  showRange(brushing.get());
  const offsetY = (event) => event.clientY - root.getBoundingClientRect().top;
  let fromY = null;
  root.addEventListener('pointerdown', (event) => {
    if (event.button === 0) fromY = offsetY(event);
  });
  root.addEventListener('pointermove', (event) => {
    if (fromY === null) return;
    if ((event.buttons & 1) === 0) {
      // Released outside the plot before it became a drag.
      fromY = null;
      return;
    }
    const toY = offsetY(event);
    if (Math.abs(toY - fromY) < MIN_BRUSH_PX) return;
    // Captured only once it is a drag: capturing on pointerdown would retarget the
    // click on a bubble to the plot, and the bubble would no longer open.
    if (!root.hasPointerCapture(event.pointerId)) {
      try {
        root.setPointerCapture(event.pointerId);
      } catch {
        // A synthetic or already released pointer: dragging still works inside the plot.
      }
    }
    showRange([durationAt(Math.max(fromY, toY)), durationAt(Math.min(fromY, toY))]);
  });
  root.addEventListener('pointerup', (event) => {
    if (fromY === null) return;
    const [startY, endY] = [fromY, offsetY(event)];
    fromY = null;
    if (Math.abs(endY - startY) >= MIN_BRUSH_PX) {
      // The click that ends a drag over a bubble must not open it.
      root.dataset.justBrushed = '1';
      const range = [Math.floor(durationAt(Math.max(startY, endY))), Math.ceil(durationAt(Math.min(startY, endY)))];
      brushing.set(range);
      showRange(range);
    } else if (!event.target.closest('[data-trace-id]') && brushing.get()) {
      brushing.set(null);
      showRange(null);
    }
  });
}
