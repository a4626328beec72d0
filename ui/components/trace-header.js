// The trace page's header: root service and operation, trace ID, download (or
// where an opened file came from), the facts, per-service badges and warnings.

import { traceJsonUrl } from '../api.js';
import { el } from '../lib/dom.js';
import { formatCount, formatDuration, formatTimestamp } from '../lib/format.js';

/** `actions` are extra controls for the title row (such as Compare). */
export function renderTraceHeader(view, context, ...actions) {
  const services = view.services.map((service) => el('span', {
    class: `badge svc-${service.colorIndex}${service.numErrors > 0 ? ' badge-error' : ''}`,
  }, el('span', { class: 'swatch' }), `${service.name} ${formatCount(service.numSpans)}`));
  const download = view.source === 'server'
    ? el('a', { class: 'button', id: 'download-json', href: traceJsonUrl(view.traceId), download: `trace-${view.traceId}.json` }, 'Download JSON')
    : el('span', { class: 'muted', id: 'opened-file' }, `opened from ${context.fileName || 'a file'}`,
      context.fileSkipped ? `; ${context.fileSkipped.numSpans} unreadable span${context.fileSkipped.numSpans === 1 ? '' : 's'} left out (${context.fileSkipped.firstReason})` : '');
  return el('header', { class: 'trace-header' },
    el('div', { class: 'trace-title-row' },
      el('h1', { class: 'trace-title', id: 'trace-title' },
        el('span', { class: 'trace-root-service' }, view.rootService || '(unknown service)'),
        ': ',
        el('span', { class: 'trace-root-op' }, view.rootOperation || '(missing root span)')),
      el('code', { class: 'trace-id', id: 'trace-id' }, view.traceId),
      download,
      actions),
    el('dl', { class: 'trace-facts', id: 'trace-facts' },
      fact('Start', formatTimestamp(view.startUs)),
      fact('Duration', formatDuration(view.durationUs)),
      fact('Services', formatCount(view.services.length)),
      fact('Depth', formatCount(view.maxDepth + 1)),
      fact('Spans', formatCount(view.numSpans)),
      fact('Errors', formatCount(view.numErrors), view.numErrors > 0 ? 'fact-error' : null)),
    el('div', { class: 'trace-services' }, services),
    view.warnings.length > 0 ? el('ul', { class: 'warnings trace-warnings' }, view.warnings.map((warning) => el('li', null, warning))) : null);
}

function fact(label, value, extraClass) {
  return el('div', { class: extraClass ? `fact ${extraClass}` : 'fact' }, el('dt', null, label), el('dd', null, value));
}
