// Time ticks for a window of a trace, as positioned elements: labelled in the
// ruler, bare as grid lines over the waterfall.

import { el } from '../lib/dom.js';
import { formatDuration, niceStep } from '../lib/format.js';

/** Tick offsets (µs from the trace start) inside [startUs, endUs]. */
export function ticks(startUs, endUs, approximateCount = 6) {
  const step = niceStep(endUs - startUs, approximateCount);
  const first = Math.ceil(startUs / step) * step;
  const values = [];
  for (let value = first; value <= endUs + step * 1e-9 && values.length < 50; value += step) values.push(value);
  return values;
}

/** Fills `container` with labelled ticks for the window [startUs, endUs]. */
export function renderRuler(container, startUs, endUs, approximateCount = 6) {
  const span = Math.max(endUs - startUs, 1e-9);
  const values = ticks(startUs, endUs, approximateCount);
  const lefts = values.map((value) => ((value - startUs) / span) * 100);
  container.replaceChildren(...values.map((value, i) => {
    const left = lefts[i];
    // The last label hangs left of its tick; drop the label before it when the two would touch.
    const crowded = i === values.length - 2 && lefts[i + 1] > 92 && lefts[i + 1] - left < 10;
    const tick = el('div', { class: left > 92 ? 'tick tick-end' : 'tick' },
      crowded ? null : el('span', { class: 'tick-label' }, formatDuration(value)));
    tick.style.left = `${left}%`;
    return tick;
  }));
}

/** Fills `container` with unlabelled grid lines for the window [startUs, endUs]. */
export function renderGrid(container, startUs, endUs, approximateCount = 6) {
  const span = Math.max(endUs - startUs, 1e-9);
  container.replaceChildren(...ticks(startUs, endUs, approximateCount).map((value) => {
    const line = el('div', { class: 'grid-line' });
    line.style.left = `${((value - startUs) / span) * 100}%`;
    return line;
  }));
}
