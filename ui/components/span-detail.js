// The span detail side panel: facts, warnings, typed attributes (span, resource,
// scope), events as logs with times relative to the trace, and links.

import { el } from '../lib/dom.js';
import { formatCount, formatDuration, formatTimestamp } from '../lib/format.js';

/**
 * renderSpanDetail(view, rowIndex, { onClose, onSelectSpan(spanId), rowBySpanId })
 * Returns the panel element.
 */
export function renderSpanDetail(view, rowIndex, { onClose, onSelectSpan, rowBySpanId }) {
  const row = view.rows[rowIndex];
  const service = view.services[row.serviceIndex];
  const resource = view.resources[row.resourceIndex];
  const scope = view.scopes[row.scopeIndex];
  const close = el('button', { type: 'button', class: 'button icon-button', id: 'detail-close', title: 'Close (Esc)', 'aria-label': 'Close span details' }, '×');
  close.addEventListener('click', onClose);

  const spanLink = (spanId, label) => {
    const target = rowBySpanId.get(spanId);
    if (target === undefined) return el('code', null, spanId);
    const button = el('button', { type: 'button', class: 'link-button', 'data-span-id': spanId }, label ?? spanId);
    button.addEventListener('click', () => onSelectSpan(spanId));
    return button;
  };

  const status = row.statusCode === 'unset' ? 'unset' : row.statusCode.toUpperCase();
  const criticalUs = row.criticalSections.reduce((sum, [start, end]) => sum + (end - start), 0);
  const facts = el('dl', { class: 'facts' },
    fact('Service', el('span', null, el('span', { class: `swatch svc-${service?.colorIndex ?? 0}` }), service?.name ?? '')),
    fact('Operation', row.name),
    fact('Kind', row.kind || 'unspecified'),
    fact('Status', el('span', { class: row.statusCode === 'error' ? 'status-error' : null }, status),
      row.statusMessage ? el('span', { class: 'status-message' }, ` ${row.statusMessage}`) : null),
    fact('Start', `+${formatDuration(row.startOffsetUs)}`, el('span', { class: 'muted' }, `  ${formatTimestamp(view.startUs + row.startOffsetUs)}`)),
    fact('Duration', formatDuration(row.durationUs)),
    row.percentile ? percentileFact(row) : null,
    criticalUs > 0 ? fact('Critical path', formatDuration(criticalUs)) : null,
    fact('Span ID', el('code', { class: 'span-id' }, row.spanId)),
    row.parentSpanId ? fact('Parent', spanLink(row.parentSpanId)) : null,
    scope && (scope.name || scope.version) ? fact('Scope', `${scope.name}${scope.version ? ` ${scope.version}` : ''}`) : null);

  const sections = [];
  if (row.warnings.length > 0) {
    sections.push(section('Warnings', el('ul', { class: 'warnings' }, row.warnings.map((warning) => el('li', null, warning))), 'detail-warnings'));
  }
  sections.push(section(`Attributes (${row.attributes.length})`, attributeTable(row.attributes), 'detail-attributes'));
  if (row.events.length > 0) {
    sections.push(section(`Events (${row.events.length})`, el('ol', { class: 'events' }, row.events.map((event, i) => el('li', null,
      el('details', { open: row.events.length <= 5 || i === 0 },
        el('summary', null,
          el('span', { class: 'event-time' }, `+${formatDuration(event.offsetUs)}`),
          el('span', { class: 'event-since-start muted' }, ` (${formatDuration(event.offsetUs - row.startOffsetUs)} into the span)`),
          ' ',
          el('span', { class: 'event-name' }, event.name)),
        attributeTable(event.attributes))))), 'detail-events'));
  }
  if (row.links.length > 0) {
    sections.push(section(`Links (${row.links.length})`, el('ul', { class: 'links' }, row.links.map((link) => {
      const sameTrace = link.traceId === view.traceId || link.traceId.replace(/^0+/, '') === view.traceId.replace(/^0+/, '');
      const target = sameTrace
        ? spanLink(link.spanId, describe(view, link.spanId, rowBySpanId))
        : el('a', { href: `trace/${link.traceId}?span=${link.spanId}` }, `trace ${link.traceId.slice(0, 12)}… span ${link.spanId}`);
      return el('li', null, target, link.attributes.length ? attributeTable(link.attributes) : null);
    })), 'detail-links'));
  }
  if (resource) {
    sections.push(section(`Resource (${resource.attributes.length + 1})`,
      attributeTable([{ key: 'service.name', type: 'string', value: service?.name ?? '' }, ...resource.attributes]), 'detail-resource'));
  }
  if (scope && scope.attributes.length > 0) {
    sections.push(section(`Scope attributes (${scope.attributes.length})`, attributeTable(scope.attributes), 'detail-scope'));
  }
  const permalink = el('a', { href: `trace/${view.traceId}?span=${row.spanId}`, class: 'permalink' }, 'Link to this span');

  return el('aside', { class: 'span-detail', id: 'span-detail', 'aria-label': 'Span details' },
    el('div', { class: 'detail-head' },
      el('h2', { class: 'detail-title' }, el('span', { class: 'detail-service' }, service?.name ?? ''), ' ', el('span', { class: 'detail-op' }, row.name)),
      close),
    facts,
    ...sections,
    view.source === 'server' ? permalink : null);
}

function describe(view, spanId, rowBySpanId) {
  const index = rowBySpanId.get(spanId);
  if (index === undefined) return spanId;
  const target = view.rows[index];
  return `${view.services[target.serviceIndex]?.name ?? ''}: ${target.name}`;
}

/**
 * The percentile badge's `dt`/`dd` pair: where the span's duration falls among its
 * operation's calls that hour (`row.percentile`, see views/percentiles.js).
 */
export function percentileFact(row) {
  return fact('Percentile', el('span', {
    class: row.slow ? 'percentile-badge slow' : 'percentile-badge', id: 'percentile-badge',
    title: `Among ${row.name} calls that started in the same hour; p95 ${formatDuration(row.percentile.p95Us)}`,
  }, `p${row.percentile.percentile} of ${formatCount(row.percentile.numCalls)} calls`));
}

function fact(label, ...value) {
  return [el('dt', null, label), el('dd', null, ...value)];
}

function section(title, body, id) {
  return el('section', { class: 'detail-section', id }, el('h3', null, title), body);
}

/** Attributes as a table of key, value and type; values are always text. */
export function attributeTable(attributes) {
  if (attributes.length === 0) return el('p', { class: 'muted' }, 'none');
  return el('table', { class: 'attributes' }, el('tbody', null, attributes.map((attribute) => el('tr', null,
    el('th', { scope: 'row' }, attribute.key),
    el('td', { class: `attr-value attr-${attribute.type}` }, displayValue(attribute)),
    el('td', { class: 'attr-type' }, attribute.type)))));
}

function displayValue({ type, value }) {
  if (value === null || value === undefined) return type === 'empty' ? '(empty)' : '';
  if (type === 'string' && value === '') return '""';
  return String(value);
}
