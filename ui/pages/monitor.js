// The Monitor page: request rate, error rate and latency percentiles of every
// service, from the server's ingest-time histograms. A service opens its
// operations (sortable; impact = rate × p95); a point on a chart or an operation
// opens a search for that time bucket, exemplar traces first. The operations
// table also counts the traces with an N+1 finding, each count a link to them.

import { ApiError, fetchMonitorNPlusOne, fetchMonitorOperations, fetchMonitorServices } from '../api.js';
import { sparkline } from '../components/sparkline.js';
import { el, notice, setChildren } from '../lib/dom.js';
import { formatDuration, formatTimestamp } from '../lib/format.js';

const LOOKBACKS = [['15m', 15], ['1h', 60], ['6h', 360], ['24h', 1440], ['2d', 2880], ['7d', 10080]];
const KINDS = ['server', 'client', 'producer', 'consumer', 'internal', 'all'];
const COLUMNS = [
  ['name', 'Name'], ['rate', 'Req/s'], ['errorRate', 'Errors'], ['p50Us', 'P50'],
  ['p95Us', 'P95'], ['p99Us', 'P99'], ['impact', 'Impact'],
];

export function mountMonitor(container, params, context) {
  const service = params.get('service') ?? '';
  const lookback = LOOKBACKS.some(([value]) => value === params.get('lookback')) ? params.get('lookback') : '1h';
  const spanKind = KINDS.includes(params.get('spanKind')) ? params.get('spanKind') : 'server';
  const sortKey = COLUMNS.some(([key]) => key === params.get('sort')) ? params.get('sort') : 'impact';
  document.title = service ? `${service} · Monitor · Tracery` : 'Monitor · Tracery';
  let disposed = false;

  const withParams = (changes) => {
    const next = new URLSearchParams({ lookback, spanKind });
    if (service) next.set('service', service);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) next.delete(key);
      else next.set(key, value);
    }
    return `monitor?${next}`;
  };
  const lookbackSelect = el('select', { id: 'monitor-lookback', 'aria-label': 'Time window' },
    LOOKBACKS.map(([value]) => el('option', { value }, `Last ${value}`)));
  lookbackSelect.value = lookback;
  lookbackSelect.addEventListener('change', () => context.navigate(withParams({ lookback: lookbackSelect.value })));
  const kindSelect = el('select', { id: 'monitor-span-kind', 'aria-label': 'Span kind' },
    KINDS.map((kind) => el('option', { value: kind }, kind === 'all' ? 'All span kinds' : `${kind} spans`)));
  kindSelect.value = spanKind;
  kindSelect.addEventListener('change', () => context.navigate(withParams({ spanKind: kindSelect.value })));

  const body = el('section', { class: 'monitor-body', 'aria-live': 'polite' }, el('p', { class: 'loading' }, 'Loading…'));
  setChildren(container, el('div', { class: 'monitor-page' },
    el('div', { class: 'monitor-bar' },
      el('h2', { class: 'monitor-title' },
        service ? [el('a', { href: withParams({ service: null }) }, 'All services'), ` › ${service}`] : 'Services'),
      lookbackSelect, kindSelect),
    body));

  const lookbackMs = LOOKBACKS.find(([value]) => value === lookback)[1] * 60e3;

  /** A search for `operation` (or the whole service) over [startMs, endMs). */
  const searchUrl = (serviceName, operation, startMs, endMs) => {
    const search = new URLSearchParams({
      service: serviceName, lookback: 'custom', start: String(startMs), end: String(endMs), exemplars: '1',
    });
    if (operation) search.set('operation', operation);
    return `search?${search}`;
  };
  /** The traces behind an N+1 count: the same search, only traces with a finding. */
  const nPlusOneUrl = (operation, startMs, endMs) => `search?${new URLSearchParams({
    service, operation, lookback: 'custom', start: String(startMs), end: String(endMs), nPlusOne: 'true',
  })}`;
  /** Operation name → its N+1 cell, filled once the counts arrive. */
  const nPlusOneCells = new Map();

  function table(data, rows, isOperations) {
    const sorted = [...rows].sort((a, b) => {
      if (sortKey === 'name') return a.name.localeCompare(b.name);
      return (b[sortKey] ?? -1) - (a[sortKey] ?? -1);
    });
    const header = el('tr', null, COLUMNS.map(([key, label]) => el('th', { scope: 'col', 'aria-sort': key === sortKey ? 'descending' : null },
      el('a', { href: withParams({ sort: key }), class: key === sortKey ? 'sorted' : null, 'data-sort': key }, label))),
    isOperations ? el('th', { scope: 'col', title: 'Traces with an N+1 finding (repeated calls under one parent)' }, 'N+1') : null,
    el('th', { scope: 'col' }, 'Rate'), el('th', { scope: 'col' }, 'Error %'), el('th', { scope: 'col' }, 'Latency (p50, p95, p99)'));
    const at = (index) => formatTimestamp(data.timestampsMs[index] * 1000);
    const body = sorted.map((row) => {
      const serviceName = isOperations ? service : row.name;
      const operation = isOperations ? row.name : '';
      const pick = (index) => context.navigate(searchUrl(serviceName, operation,
        data.timestampsMs[index], data.timestampsMs[index] + data.stepMs));
      const name = isOperations
        ? el('a', { href: searchUrl(serviceName, operation, data.startMs, data.endMs), class: 'monitor-name' }, row.name)
        : el('a', { href: withParams({ service: row.name, sort: null }), class: 'monitor-name' }, row.name);
      return el('tr', { [isOperations ? 'data-operation' : 'data-service']: row.name },
        el('th', { scope: 'row' }, name),
        el('td', { class: 'num' }, row.rate.toFixed(2)),
        el('td', { class: row.errorRate > 0 ? 'num monitor-errors' : 'num' }, `${(row.errorRate * 100).toFixed(1)}%`),
        el('td', { class: 'num' }, formatDuration(row.p50Us)),
        el('td', { class: 'num' }, formatDuration(row.p95Us)),
        el('td', { class: 'num' }, formatDuration(row.p99Us)),
        el('td', { class: 'num' }, impactBar(row.impact, rows)),
        isOperations ? nPlusOneCell(row.name) : null,
        el('td', null, sparkline({ series: [{ values: row.points.rate, className: 'spark-rate' }], label: `${row.name} request rate`, onPick: pick, format: at })),
        el('td', null, sparkline({ series: [{ values: row.points.errorRate, className: 'spark-error' }], label: `${row.name} error rate`, onPick: pick, format: at })),
        el('td', null, sparkline({
          series: [
            { values: row.points.p50Us, className: 'spark-p50' },
            { values: row.points.p95Us, className: 'spark-p95' },
            { values: row.points.p99Us, className: 'spark-p99' },
          ],
          label: `${row.name} latency percentiles`, onPick: pick, format: at,
        })));
    });
    return el('table', { class: 'monitor-table', id: isOperations ? 'monitor-operations' : 'monitor-services' },
      el('thead', null, header), el('tbody', null, body));
  }

  function nPlusOneCell(operation) {
    const cell = el('td', { class: 'num monitor-n-plus-one', 'data-state': 'loading' }, '…');
    nPlusOneCells.set(operation, cell);
    return cell;
  }

  /** Fills the N+1 column: a count links to those traces; `≥` when sampled. */
  async function loadNPlusOne(startMs, endMs) {
    try {
      const { numExamined, complete, counts } = await fetchMonitorNPlusOne({ service, startMs, endMs });
      if (disposed) return;
      const scope = complete
        ? `of all ${numExamined} traces in the window`
        : `of the newest ${numExamined} traces in the window (there are more)`;
      for (const [operation, cell] of nPlusOneCells) {
        const traces = counts.get(operation) ?? 0;
        const text = complete || traces === 0 ? String(traces) : `≥ ${traces}`;
        cell.dataset.state = 'ready';
        cell.dataset.count = String(traces);
        cell.title = `${traces} ${traces === 1 ? 'trace' : 'traces'} with an N+1 finding, ${scope}`;
        setChildren(cell, traces > 0
          ? el('a', { href: nPlusOneUrl(operation, startMs, endMs), class: 'n-plus-one-count' }, text)
          : text);
      }
    } catch (error) {
      if (disposed) return;
      for (const cell of nPlusOneCells.values()) {
        cell.dataset.state = 'error';
        cell.title = `N+1 counts failed to load: ${error.message}`;
        setChildren(cell, '?');
      }
    }
  }

  function impactBar(impact, rows) {
    const max = Math.max(...rows.map((row) => row.impact), 1e-9);
    const bar = el('span', { class: 'impact-bar' });
    bar.style.width = `${Math.round((impact / max) * 100)}%`;
    return el('span', { class: 'impact', title: 'rate × p95' }, bar);
  }

  async function load() {
    try {
      const data = service
        ? await fetchMonitorOperations({ service, lookbackMs, spanKind })
        : await fetchMonitorServices({ lookbackMs, spanKind });
      if (disposed) return;
      const rows = data.rows;
      if (rows.length === 0) {
        setChildren(body, notice('info', 'No calls in this window',
          el('p', null, `No ${spanKind === 'all' ? '' : `${spanKind} `}spans started in the last ${lookback}. Try a longer window or another span kind.`)));
        return;
      }
      setChildren(body,
        el('p', { class: 'monitor-legend' }, `Every ${formatDuration(data.stepMs * 1000)} from ${formatTimestamp(data.startMs * 1000)}. `,
          'Click a name for ', service ? 'its traces' : 'its operations', ', a point on a chart for the traces of that moment. Lines: ',
          el('span', { class: 'legend-p50' }, 'p50'), ', ', el('span', { class: 'legend-p95' }, 'p95'), ', ', el('span', { class: 'legend-p99' }, 'p99'), '.'),
        table(data, rows, Boolean(service)));
      // After the table: the counts read whole traces, so they come later.
      if (service) loadNPlusOne(data.startMs, data.endMs);
    } catch (error) {
      if (disposed) return;
      const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
      setChildren(body, notice('error', `Metrics failed to load${status}`, el('p', null, error.message)));
    }
  }
  load();
  return () => { disposed = true; };
}
