// A latency heatmap: time columns × duration rows (logarithmic), shaded by how
// many calls fell in each cell, from the server's ingest-time histograms.
// Dragging a rectangle (a brush) picks a time range and a duration range.

import { svg } from '../lib/dom.js';
import { formatDuration, formatTimestamp } from '../lib/format.js';

const HEIGHT = 160;
const MARGIN = { top: 8, right: 12, bottom: 22, left: 64 };

/**
 * mountHeatmap(container, heatmap, onBrush) → cleanup
 * heatmap: { stepMs, timestampsMs: [], rowStartsUs: [], counts: [[n per row] per column] }
 * onBrush({ startMs, endMs, minDurationUs, maxDurationUs }) after a drag.
 */
export function mountHeatmap(container, heatmap, onBrush) {
  const width = Math.max(320, container.clientWidth || 640);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const numColumns = heatmap.timestampsMs.length;
  const numRows = heatmap.rowStartsUs.length;
  const columnWidth = plotWidth / Math.max(1, numColumns);
  const rowHeight = plotHeight / Math.max(1, numRows);
  let maxCount = 1;
  for (const column of heatmap.counts) for (const count of column) maxCount = Math.max(maxCount, count);

  const root = svg('svg', {
    class: 'heatmap', id: 'latency-heatmap', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
    role: 'img', 'aria-label': 'Latency heatmap: calls by start time and duration; drag to filter',
  });
  const cells = svg('g', { class: 'heatmap-cells' });
  heatmap.counts.forEach((column, columnIndex) => {
    column.forEach((count, rowIndex) => {
      if (count === 0) return;
      const cell = svg('rect', {
        class: 'heatmap-cell',
        x: (MARGIN.left + columnIndex * columnWidth).toFixed(1),
        y: (MARGIN.top + plotHeight - (rowIndex + 1) * rowHeight).toFixed(1),
        width: Math.max(1, columnWidth - 0.5).toFixed(1),
        height: Math.max(1, rowHeight - 0.5).toFixed(1),
      }, svg('title', null, `${count} calls, ${formatDuration(heatmap.rowStartsUs[rowIndex])}+`));
      // Log scale, so one slow call still shows next to thousands of fast ones.
      cell.style.opacity = (0.15 + 0.85 * (Math.log1p(count) / Math.log1p(maxCount))).toFixed(2);
      cells.append(cell);
    });
  });
  root.append(cells);
  for (let rowIndex = 0; rowIndex < numRows; rowIndex += Math.max(1, Math.ceil(numRows / 5))) {
    root.append(svg('text', {
      class: 'scatter-label', x: MARGIN.left - 6, 'text-anchor': 'end',
      y: (MARGIN.top + plotHeight - rowIndex * rowHeight).toFixed(1),
    }, formatDuration(heatmap.rowStartsUs[rowIndex])));
  }
  if (numColumns > 0) {
    const ticks = [0, Math.floor(numColumns / 2), numColumns - 1];
    for (const index of ticks) {
      root.append(svg('text', {
        class: 'scatter-label', y: HEIGHT - 6, 'text-anchor': 'middle',
        x: (MARGIN.left + (index + 0.5) * columnWidth).toFixed(1),
      }, formatTimestamp(heatmap.timestampsMs[index] * 1000).slice(11, 16)));
    }
  }
  const brush = svg('rect', { class: 'heatmap-brush', x: 0, y: 0, width: 0, height: 0 });
  brush.style.display = 'none';
  root.append(brush);

  // Plot coordinates → (time, duration).
  const columnAt = (px) => Math.min(numColumns - 1, Math.max(0, Math.floor((px - MARGIN.left) / columnWidth)));
  const rowAt = (py) => Math.min(numRows - 1, Math.max(0, Math.floor((MARGIN.top + plotHeight - py) / rowHeight)));
  const point = (event) => {
    const box = root.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  };
  let from = null;
  const onDown = (event) => {
    if (numColumns === 0 || numRows === 0) return;
    from = point(event);
    try {
      root.setPointerCapture(event.pointerId);
    } catch {
      // A synthetic or already released pointer: dragging still works inside the chart.
    }
    brush.style.display = '';
    draw(from);
  };
  const draw = (to) => {
    brush.setAttribute('x', Math.min(from.x, to.x));
    brush.setAttribute('y', Math.min(from.y, to.y));
    brush.setAttribute('width', Math.abs(to.x - from.x));
    brush.setAttribute('height', Math.abs(to.y - from.y));
  };
  const onMove = (event) => { if (from) draw(point(event)); };
  const onUp = (event) => {
    if (!from) return;
    const to = point(event);
    const [c0, c1] = [columnAt(Math.min(from.x, to.x)), columnAt(Math.max(from.x, to.x))];
    const [r0, r1] = [rowAt(Math.max(from.y, to.y)), rowAt(Math.min(from.y, to.y))];
    from = null;
    const nextRow = heatmap.rowStartsUs[r1 + 1] ?? heatmap.rowStartsUs[r1] * 10 ** (1 / 5);
    onBrush({
      startMs: heatmap.timestampsMs[c0],
      endMs: heatmap.timestampsMs[c1] + heatmap.stepMs,
      minDurationUs: Math.floor(heatmap.rowStartsUs[r0]),
      maxDurationUs: Math.ceil(nextRow),
    });
  };
  root.addEventListener('pointerdown', onDown);
  root.addEventListener('pointermove', onMove);
  root.addEventListener('pointerup', onUp);
  container.replaceChildren(root);
  return () => root.remove();
}
