// The waterfall's keyboard: the key map and the "Keys" help that lists it.

import { el } from '../lib/dom.js';

/** The help shown under "Keys"; keep it in step with `waterfallKeys`. */
export function renderShortcuts() {
  return el('details', { class: 'shortcuts' }, el('summary', null, 'Keys'),
    el('dl', null, [
      ['↑ ↓ / k j', 'previous / next span'], ['← →', 'collapse / expand, or go to parent / child'],
      ['Enter', 'show details'], ['Esc', 'close details, clear find'], ['/', 'find'], ['n / N', 'next / previous match'],
      ['[ / ]', 'collapse / expand all'], ['+ / − / 0', 'zoom in / out / reset'], ['c', 'critical path'],
    ].map(([keys, what]) => [el('dt', null, keys), el('dd', null, what)])));
}

/**
 * A keydown listener for the document. actions: { moveBy(delta), moveTo(position),
 * last(), right(), left(), enter(), escape(), find(), step(direction),
 * collapseAll(collapse), zoom(factor), criticalPath() }.
 */
export function waterfallKeys(actions) {
  const map = {
    ArrowDown: () => actions.moveBy(1), j: () => actions.moveBy(1),
    ArrowUp: () => actions.moveBy(-1), k: () => actions.moveBy(-1),
    Home: () => actions.moveTo(0), End: () => actions.last(),
    ArrowRight: () => actions.right(), ArrowLeft: () => actions.left(),
    Enter: () => actions.enter(), Escape: () => actions.escape(),
    '/': () => actions.find(),
    n: () => actions.step(1), N: () => actions.step(-1),
    '[': () => actions.collapseAll(true), ']': () => actions.collapseAll(false),
    '+': () => actions.zoom(0.5), '=': () => actions.zoom(0.5), '-': () => actions.zoom(2), '0': () => actions.zoom(Infinity),
    c: () => actions.criticalPath(),
  };
  return (event) => {
    const typing = event.target.closest?.('input, select, textarea, [contenteditable]');
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const handled = map[event.key];
    if (handled) {
      event.preventDefault();
      handled();
    }
  };
}
