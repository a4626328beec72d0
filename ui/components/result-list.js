// The list of search results: one link per trace with its root, duration, span
// and error counts, per-service badges and start time (absolute and relative),
// and a checkbox to pick two traces to compare.

import { el } from '../lib/dom.js';
import { formatCount, formatDuration, formatRelative, formatTimestamp } from '../lib/format.js';

export const SORTS = {
  recent: { label: 'Most recent', compare: (a, b) => b.startUs - a.startUs },
  longest: { label: 'Longest first', compare: (a, b) => b.durationUs - a.durationUs },
  shortest: { label: 'Shortest first', compare: (a, b) => a.durationUs - b.durationUs },
  spans: { label: 'Most spans', compare: (a, b) => b.numSpans - a.numSpans },
  fewest: { label: 'Fewest spans', compare: (a, b) => a.numSpans - b.numSpans },
};

/** Builds the list element; `linkSuffix` is appended to each trace URL (e.g. "?source=file"). */
export function renderResultList(results, sortKey, linkSuffix = '') {
  const sorted = [...results].sort((SORTS[sortKey] ?? SORTS.recent).compare);
  const longest = sorted.reduce((max, result) => Math.max(max, result.durationUs), 1);
  const now = Date.now();
  return el('ol', { class: 'result-list', id: 'result-list' }, sorted.map((result) => {
    const bar = el('span', { class: 'result-bar' });
    bar.style.width = `${Math.max(0.5, (100 * result.durationUs) / longest)}%`;
    const pick = el('input', { type: 'checkbox', class: 'result-compare', 'data-trace-id': result.traceId, 'aria-label': `Select ${result.traceId.slice(0, 7)} to compare`, title: 'Select two traces to compare' });
    return el('li', { class: result.numErrors > 0 ? 'result has-error' : 'result' },
      pick,
      el('a', { class: 'result-link', href: `trace/${result.traceId}${linkSuffix}`, 'data-trace-id': result.traceId },
        el('div', { class: 'result-head' },
          el('span', { class: 'result-name' },
            el('span', { class: 'result-service' }, result.rootService || '(unknown service)'),
            ': ',
            el('span', { class: 'result-operation' }, result.rootOperation || '(missing root span)')),
          el('span', { class: 'result-id' }, result.traceId.slice(0, 7)),
          el('span', { class: 'result-duration' }, formatDuration(result.durationUs))),
        el('div', { class: 'result-track' }, bar),
        el('div', { class: 'result-meta' },
          el('span', { class: 'result-spans' }, `${formatCount(result.numSpans)} span${result.numSpans === 1 ? '' : 's'}`),
          result.numErrors > 0 ? el('span', { class: 'result-errors' }, `${formatCount(result.numErrors)} error${result.numErrors === 1 ? '' : 's'}`) : null,
          result.numOrphans > 0 ? el('span', { class: 'result-orphans' }, `${formatCount(result.numOrphans)} orphan${result.numOrphans === 1 ? '' : 's'}`) : null,
          result.numNPlusOne > 0 ? el('span', {
            class: 'result-n-plus-one', title: `${result.numNPlusOne} run${result.numNPlusOne === 1 ? '' : 's'} of repeated queries or calls`,
          }, result.numNPlusOne === 1 ? 'N+1' : `N+1 ×${result.numNPlusOne}`) : null,
          el('span', { class: 'result-services' }, result.services.map((service) => el('span', {
            class: `badge svc-${service.colorIndex}${service.numErrors > 0 ? ' badge-error' : ''}`,
            title: service.numErrors > 0 ? `${service.numErrors} error spans` : null,
          }, el('span', { class: 'swatch' }), `${service.name} ${formatCount(service.numSpans)}`))),
          el('span', { class: 'result-time' },
            el('time', { datetime: new Date(result.startUs / 1000).toISOString() }, formatTimestamp(result.startUs)),
            el('span', { class: 'result-relative' }, formatRelative(result.startUs, now))))));
  }));
}
