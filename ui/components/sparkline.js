// A small line chart of one or more series over the same time points, as SVG.
// Missing values (null) break the line. Each time point is a transparent column
// that can be clicked (or focused and Enter'd) to pick it.

import { svg } from '../lib/dom.js';

const WIDTH = 140;
const HEIGHT = 32;
const PAD = 2;

/**
 * sparkline({ series: [{ values: [number|null], className }], label, onPick, format })
 * onPick(index) is called with the clicked time point; format(index) titles columns.
 */
export function sparkline({ series, label, onPick, format }) {
  const numPoints = Math.max(0, ...series.map((line) => line.values.length));
  let max = 0;
  for (const line of series) {
    for (const value of line.values) if (value != null && value > max) max = value;
  }
  if (max === 0) max = 1;
  const x = (index) => PAD + (numPoints <= 1 ? 0 : (index / (numPoints - 1)) * (WIDTH - 2 * PAD));
  const y = (value) => HEIGHT - PAD - (value / max) * (HEIGHT - 2 * PAD);
  const root = svg('svg', {
    class: 'sparkline', width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img', 'aria-label': label,
  });
  for (const line of series) {
    let path = '';
    let pen = false;
    line.values.forEach((value, index) => {
      if (value == null) { pen = false; return; }
      path += `${pen ? 'L' : 'M'}${x(index).toFixed(1)},${y(value).toFixed(1)}`;
      pen = true;
    });
    // A lone point between gaps would be invisible as a path: mark it with a dot.
    line.values.forEach((value, index) => {
      const before = line.values[index - 1];
      const after = line.values[index + 1];
      if (value != null && before == null && after == null) {
        root.append(svg('circle', { class: `spark-dot ${line.className}`, cx: x(index), cy: y(value), r: 1.5 }));
      }
    });
    if (path) root.append(svg('path', { class: `spark-line ${line.className}`, d: path }));
  }
  if (onPick && numPoints > 0) {
    const columnWidth = numPoints <= 1 ? WIDTH : (WIDTH - 2 * PAD) / (numPoints - 1);
    for (let index = 0; index < numPoints; index += 1) {
      const hasData = series.some((line) => line.values[index] != null);
      if (!hasData) continue;
      root.append(svg('rect', {
        class: 'spark-pick', x: Math.max(0, x(index) - columnWidth / 2), y: 0,
        width: columnWidth, height: HEIGHT, 'data-point-index': index, tabindex: '-1',
      }, svg('title', null, format ? format(index) : String(index))));
    }
    root.addEventListener('click', (event) => {
      const column = event.target.closest('[data-point-index]');
      if (column) onPick(Number(column.getAttribute('data-point-index')));
    });
  }
  return root;
}
