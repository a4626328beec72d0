// Compare two traces (`/compare?a=<id>&b=<id>`): one merged tree whose nodes are
// matched by (service, operation, path from the root), marked as only in A, only
// in B or in both, with the difference in calls and in time ("+3 calls, +120ms").

import { ApiError, fetchComparison } from '../api.js';
import { el, notice, setChildren } from '../lib/dom.js';
import { formatCount, formatDuration } from '../lib/format.js';
import { mountVirtualList } from '../lib/virtual-list.js';

const ROW_HEIGHT = 26;
const INDENT_PX = 14;
const MAX_INDENT_LEVELS = 40;
const TRACE_ID = /^[0-9a-f]{1,32}$/;

export function mountCompare(container, params, context) {
  document.title = 'Compare traces · Tracery';
  const a = (params.get('a') ?? '').trim().toLowerCase();
  const b = (params.get('b') ?? '').trim().toLowerCase();
  const form = renderForm(a, b, context);
  const body = el('div', { class: 'compare-body', id: 'compare-body' });
  setChildren(container, el('div', { class: 'compare-page view-page', id: 'compare-page' },
    el('header', { class: 'view-page-header' }, el('h1', null, 'Compare traces'), form), body));
  let disposed = false;
  if (!TRACE_ID.test(a) || !TRACE_ID.test(b)) {
    setChildren(body, notice('info', 'Pick two traces',
      el('p', null, 'Enter two trace IDs above, tick two traces in the search results, or use "Compare…" on a trace page.')));
    return () => {};
  }
  setChildren(body, el('p', { class: 'loading' }, 'Comparing…'));
  fetchComparison(a, b).then((comparison) => {
    if (!disposed) render(body, comparison);
  }).catch((error) => {
    if (disposed) return;
    const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
    setChildren(body, notice('error', `Cannot compare these traces${status}`, el('p', null, error.message)));
  });
  return () => { disposed = true; };
}

function renderForm(a, b, context) {
  const inputA = el('input', { type: 'search', id: 'compare-a', value: a, placeholder: 'Trace A', 'aria-label': 'Trace A', spellcheck: 'false', autocomplete: 'off' });
  const inputB = el('input', { type: 'search', id: 'compare-b', value: b, placeholder: 'Trace B', 'aria-label': 'Trace B', spellcheck: 'false', autocomplete: 'off' });
  const form = el('form', { class: 'compare-ids' }, inputA, el('span', { class: 'muted' }, 'vs'), inputB,
    el('button', { type: 'submit', class: 'button' }, 'Compare'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    context.navigate(`compare?${new URLSearchParams({ a: inputA.value.trim(), b: inputB.value.trim() })}`);
  });
  return form;
}

function render(body, comparison) {
  const { nodes, services } = comparison;
  const counts = { a: 0, b: 0, both: 0 };
  for (const node of nodes) counts[node.presence] += 1;
  const traceSummary = (label, trace) => el('div', { class: `compare-trace compare-trace-${label.toLowerCase()}` },
    el('span', { class: `presence-swatch presence-${label.toLowerCase()}` }),
    el('strong', null, `${label}: `),
    el('a', { href: `trace/${trace.traceId}` }, `${trace.rootServiceName}: ${trace.rootOperationName}`),
    ` ${formatDuration(trace.durationUs)}, ${formatCount(trace.numSpans)} spans `,
    el('code', { class: 'muted' }, trace.traceId.slice(0, 12)));
  const delta = comparison.b.durationUs - comparison.a.durationUs;
  const legend = el('div', { class: 'compare-legend', id: 'compare-legend' },
    el('span', null, el('span', { class: 'presence-swatch presence-both' }), `in both (${formatCount(counts.both)})`),
    el('span', null, el('span', { class: 'presence-swatch presence-a' }), `only in A (${formatCount(counts.a)})`),
    el('span', null, el('span', { class: 'presence-swatch presence-b' }), `only in B (${formatCount(counts.b)})`),
    el('span', { class: 'muted' }, `B − A: ${signedDuration(delta)}`));
  const header = el('div', { class: 'compare-row compare-head' },
    el('div', { class: 'compare-name' }, 'Service & operation'),
    el('div', { class: 'num' }, 'Calls A → B'),
    el('div', { class: 'num' }, 'Time A → B'),
    el('div', { class: 'num' }, 'Difference'));
  const list = mountVirtualList({
    rowHeight: ROW_HEIGHT,
    count: nodes.length,
    className: 'compare-viewport',
    createRow() {
      const swatch = el('span', { class: 'swatch' });
      const service = el('span', { class: 'compare-service' });
      const operation = el('span', { class: 'compare-op' });
      const name = el('div', { class: 'compare-name' }, swatch, service, ' ', operation);
      const calls = el('div', { class: 'num' });
      const time = el('div', { class: 'num' });
      const difference = el('div', { class: 'num' });
      const row = el('div', { class: 'compare-row' }, name, calls, time, difference);
      row.parts = { swatch, service, operation, name, calls, time, difference };
      return row;
    },
    updateRow(row, index) {
      const node = nodes[index];
      const service = services[node.serviceIndex];
      const parts = row.parts;
      row.className = `compare-row presence-row-${node.presence}`;
      row.dataset.index = String(index);
      row.dataset.presence = node.presence;
      parts.swatch.className = `swatch svc-${service?.colorIndex ?? 0}`;
      parts.service.textContent = service?.name ?? '';
      parts.operation.textContent = node.operation;
      parts.name.style.paddingInlineStart = `${Math.min(node.depth, MAX_INDENT_LEVELS) * INDENT_PX + 6}px`;
      const callDelta = node.numSpansB - node.numSpansA;
      const timeDelta = node.durationUsB - node.durationUsA;
      parts.calls.textContent = `${formatCount(node.numSpansA)} → ${formatCount(node.numSpansB)}`;
      parts.time.textContent = `${formatDuration(node.durationUsA)} → ${formatDuration(node.durationUsB)}`;
      parts.difference.className = `num ${timeDelta > 0 ? 'slower' : timeDelta < 0 ? 'faster' : ''}`;
      parts.difference.textContent = node.presence === 'both'
        ? `${callDelta ? `${callDelta > 0 ? '+' : '−'}${formatCount(Math.abs(callDelta))} call${Math.abs(callDelta) === 1 ? '' : 's'}, ` : ''}${signedDuration(timeDelta)}`
        : node.presence === 'a' ? 'only in A' : 'only in B';
    },
  });
  setChildren(body,
    el('div', { class: 'compare-traces' }, traceSummary('A', comparison.a), traceSummary('B', comparison.b)),
    legend,
    el('div', { class: 'compare-table', id: 'compare-table' }, header, list.element));
  list.drawNow();
  body.dataset.state = 'ready';
}

function signedDuration(micros) {
  if (micros === 0) return '±0';
  return `${micros > 0 ? '+' : '−'}${formatDuration(Math.abs(micros))}`;
}
