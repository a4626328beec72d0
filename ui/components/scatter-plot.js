// Trace duration over start time, as SVG built with createElementNS. Bubble area
// grows with span count; error traces are marked; clicking a bubble opens it.

import { svg } from '../lib/dom.js';
import { formatDuration, formatTimestamp, niceStep } from '../lib/format.js';

const HEIGHT = 180;
const MARGIN = { top: 12, right: 16, bottom: 26, left: 64 };

/** Renders into `container`; returns a cleanup function. onOpen(traceId) on click. */
export function mountScatterPlot(container, results, onOpen) {
  let drawnWidth = 0;
  const draw = () => {
    const width = Math.max(320, container.clientWidth);
    // ResizeObserver also reports the first size; only a real change redraws.
    if (width === drawnWidth) return;
    drawnWidth = width;
    container.replaceChildren(render(results, width, onOpen));
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

function render(results, width, onOpen) {
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
    class: 'scatter', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
    role: 'img', 'aria-label': 'Trace duration over start time',
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
      tabindex: '0', 'data-trace-id': result.traceId,
    }, svg('title', null,
      `${result.rootService}: ${result.rootOperation}\n${formatDuration(result.durationUs)}, ${result.numSpans} spans`
      + `${result.numErrors ? `, ${result.numErrors} errors` : ''}\n${formatTimestamp(result.startUs)}`));
    root.append(point);
  }
  root.addEventListener('click', (event) => {
    const point = event.target.closest('[data-trace-id]');
    if (point) onOpen(point.getAttribute('data-trace-id'));
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
