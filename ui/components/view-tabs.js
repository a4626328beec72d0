// The trace page's view tabs (Waterfall, Flamegraph, Statistics): one button per
// view, the current one marked with aria-selected.

import { el } from '../lib/dom.js';

/**
 * views: { key: label }; onPick(key) when a tab is clicked.
 * Returns { element, select(key) } (select only marks the tab).
 */
export function renderViewTabs(views, current, onPick) {
  const tabs = Object.entries(views).map(([key, label]) => {
    const tab = el('button', { type: 'button', role: 'tab', class: 'view-tab', id: `view-tab-${key}`, 'aria-selected': String(key === current) }, label);
    tab.addEventListener('click', () => onPick(key));
    return tab;
  });
  return {
    element: el('div', { class: 'view-tabs', role: 'tablist', 'aria-label': 'Trace views' }, tabs),
    select(key) {
      for (const tab of tabs) tab.setAttribute('aria-selected', String(tab.id === `view-tab-${key}`));
    },
  };
}
