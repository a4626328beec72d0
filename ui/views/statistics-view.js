// The Statistics view of one trace: per (service, operation) the number of spans
// and errors, total, average, shortest and longest duration, self time and its
// share of the trace. Click a column heading to sort by it (again to reverse).
// Rows are virtualised and reused (lib/virtual-list.js), so a trace with 50,000
// distinct operations stays smooth.

import { ApiError, fetchStatistics } from '../api.js';
import { el, notice, setChildren } from '../lib/dom.js';
import { formatCount, formatDuration } from '../lib/format.js';
import { mountVirtualList } from '../lib/virtual-list.js';

const ROW_HEIGHT = 28;

const COLUMNS = [
  { key: 'service', label: 'Service', text: true },
  { key: 'operation', label: 'Operation', text: true },
  { key: 'numSpans', label: 'Spans', format: formatCount },
  { key: 'numErrors', label: 'Errors', format: formatCount },
  { key: 'totalUs', label: 'Total', format: formatDuration },
  { key: 'avgUs', label: 'Avg', format: formatDuration },
  { key: 'minUs', label: 'Min', format: formatDuration },
  { key: 'maxUs', label: 'Max', format: formatDuration },
  { key: 'selfTotalUs', label: 'Self total', format: formatDuration },
  { key: 'selfAvgUs', label: 'Self avg', format: formatDuration },
  { key: 'selfPercent', label: '% of trace', format: (value) => `${value.toFixed(1)}%` },
];

/** Returns { element, dispose() }. */
export function mountStatisticsView(view) {
  const holder = el('div', { class: 'stats-body' }, el('p', { class: 'loading' }, 'Counting…'));
  const element = el('div', { class: 'trace-view trace-view-statistics', id: 'statistics-view' }, holder);
  let disposed = false;
  fetchStatistics(view.traceId).then((stats) => {
    if (!disposed) render(holder, stats);
  }).catch((error) => {
    if (disposed) return;
    const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
    setChildren(holder, notice('error', `Cannot compute statistics${status}`, el('p', null, error.message)));
  });
  return { element, dispose() { disposed = true; } };
}

function render(holder, stats) {
  const rows = stats.operations.map((row) => ({ ...row, service: stats.services[row.serviceIndex]?.name ?? '', colorIndex: stats.services[row.serviceIndex]?.colorIndex ?? 0 }));
  let sortKey = 'selfTotalUs';
  let descending = true;

  const headings = COLUMNS.map((column) => {
    const button = el('button', { type: 'button', class: 'stats-sort', 'data-key': column.key }, column.label);
    button.addEventListener('click', () => {
      if (sortKey === column.key) descending = !descending;
      else { sortKey = column.key; descending = !column.text; }
      sort();
    });
    return el('div', { class: `stats-cell${column.text ? '' : ' num'}`, role: 'columnheader' }, button);
  });
  const head = el('div', { class: 'stats-row stats-head', role: 'row' }, headings);
  const list = mountVirtualList({
    rowHeight: ROW_HEIGHT,
    count: rows.length,
    className: 'stats-viewport',
    createRow() {
      const cells = COLUMNS.map((column) => el('div', { class: `stats-cell${column.text ? '' : ' num'}`, role: 'cell' }));
      const swatch = el('span', { class: 'swatch' });
      const service = document.createTextNode('');
      cells[0].append(swatch, service);
      const node = el('div', { class: 'stats-row', role: 'row' }, cells);
      node.parts = { cells, swatch, service };
      return node;
    },
    updateRow(node, index) {
      const row = rows[index];
      const { cells, swatch, service } = node.parts;
      node.className = row.numErrors > 0 ? 'stats-row is-error' : 'stats-row';
      node.dataset.index = String(index);
      swatch.className = `swatch svc-${row.colorIndex}`;
      service.data = row.service;
      for (let i = 1; i < COLUMNS.length; i += 1) {
        const column = COLUMNS[i];
        cells[i].textContent = column.format ? column.format(row[column.key]) : row[column.key];
      }
    },
  });
  const table = el('div', { class: 'stats-table', id: 'statistics-table', role: 'table', 'aria-label': 'Statistics per operation' }, head, list.element);
  setChildren(holder,
    el('p', { class: 'muted stats-note' }, `${formatCount(rows.length)} operations. Self time is time not covered by child spans; with parallel work the shares add up to more than 100%.`),
    table);

  function sort() {
    const direction = descending ? -1 : 1;
    rows.sort((a, b) => {
      const left = a[sortKey];
      const right = b[sortKey];
      const order = typeof left === 'string' ? left.localeCompare(right) : left - right;
      return order * direction || a.operation.localeCompare(b.operation);
    });
    for (const heading of headings) {
      const key = heading.firstChild.dataset.key;
      heading.setAttribute('aria-sort', key === sortKey ? (descending ? 'descending' : 'ascending') : 'none');
    }
    table.dataset.sort = `${sortKey}:${descending ? 'desc' : 'asc'}`;
    list.drawNow();
  }
  sort();
  holder.dataset.state = 'ready';
}
