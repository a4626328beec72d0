// The search page: form on the left; scatter plot, sort and results on the right.
// The URL carries the query: submitting pushes it, and loading the page with it
// runs the search, so a search can be shared and reloaded.

import {
  ApiError, fetchConfig, fetchExemplars, fetchHeatmap, fetchOperations, fetchServices, searchTraces,
} from '../api.js';
import { mountHeatmap } from '../components/heatmap.js';
import { mountSearchForm, queryFromParams } from '../components/search-form.js';
import { mountScatterPlot } from '../components/scatter-plot.js';
import { renderResultList, SORTS } from '../components/result-list.js';
import { el, notice, setChildren } from '../lib/dom.js';
import { formatCount, formatDuration, toGoDuration } from '../lib/format.js';

export function mountSearch(container, params, context) {
  document.title = 'Search · Tracery';
  let disposed = false;
  let disposePlot = () => {};
  const fromFile = params.get('source') === 'file';

  const results = el('section', { class: 'results', id: 'search-results', 'aria-live': 'polite' });
  const insights = el('section', { class: 'search-insights', id: 'search-insights' });
  let disposeHeatmap = () => {};
  const form = mountSearchForm(params, {
    onSubmit(next) {
      const sort = new URLSearchParams(window.location.search).get('sort');
      if (sort) next.set('sort', sort);
      context.navigate(`search?${next}`);
    },
    onServiceChange: (service) => loadOperations(service),
  });
  setChildren(container, el('div', { class: 'search-page' },
    el('aside', { class: 'search-sidebar' }, form.element),
    el('div', { class: 'search-main' }, insights, results)));

  async function loadOperations(service) {
    if (!service) { form.setOperations([]); return; }
    try {
      const operations = await fetchOperations(service);
      if (!disposed) form.setOperations(operations);
    } catch {
      if (!disposed) form.setOperations([]);
    }
  }

  function showResults(list, heading, linkSuffix) {
    disposePlot();
    const sortKey = SORTS[params.get('sort')] ? params.get('sort') : 'recent';
    const sort = el('select', { id: 'result-sort', 'aria-label': 'Sort results' },
      Object.entries(SORTS).map(([value, { label }]) => el('option', { value }, label)));
    sort.value = sortKey;
    const plot = el('div', { class: 'scatter-container', id: 'scatter' });
    const listHolder = el('div', null, renderResultList(list, sortKey, linkSuffix));
    sort.addEventListener('change', () => {
      const url = new URL(window.location.href);
      url.searchParams.set('sort', sort.value);
      history.replaceState(null, '', url);
      params.set('sort', sort.value);
      setChildren(listHolder, renderResultList(list, sort.value, linkSuffix));
    });
    const compare = el('button', { type: 'button', class: 'button', id: 'compare-selected', disabled: true, title: 'Tick two traces to compare them' }, 'Compare');
    listHolder.addEventListener('change', () => {
      const picked = [...listHolder.querySelectorAll('.result-compare:checked')];
      compare.disabled = picked.length !== 2;
      compare.textContent = picked.length === 2 ? 'Compare the two' : `Compare (${picked.length}/2)`;
    });
    compare.addEventListener('click', () => {
      const [a, b] = [...listHolder.querySelectorAll('.result-compare:checked')].map((box) => box.dataset.traceId);
      if (a && b) context.navigate(`compare?${new URLSearchParams({ a, b })}`);
    });
    const whySlow = fromFile ? null : whySlowLink();
    setChildren(results,
      plot,
      el('div', { class: 'results-bar' },
        el('h2', { class: 'results-count', id: 'results-count' }, heading),
        whySlow?.element,
        fromFile ? null : compare,
        el('label', { class: 'sort' }, 'Sort ', sort)),
      listHolder);
    disposePlot = mountScatterPlot(plot, list, (traceId) => context.navigate(`trace/${traceId}${linkSuffix}`),
      whySlow ? whySlow.setRange : null);
  }

  /**
   * "Why slow?" needs one service and one operation: the search's own. Slow means
   * above the 90th percentile, or the duration range brushed on the scatter plot
   * (`setRange`).
   */
  function whySlowLink() {
    const query = queryFromParams(params);
    if (!query.service || !query.operation) return null;
    const link = el('a', { class: 'button', id: 'why-slow-link' });
    const hint = el('span', { class: 'muted brush-hint', id: 'brush-hint' });
    const setRange = (range) => {
      const next = new URLSearchParams({
        service: query.service, operation: query.operation,
        start: String(Math.floor(query.startUs / 1000)), end: String(Math.ceil(query.endUs / 1000)),
      });
      if (range) {
        next.set('slowMin', String(range.minUs));
        next.set('slowMax', String(range.maxUs));
      }
      link.setAttribute('href', `why-slow?${next}`);
      link.textContent = range ? `Why slow? ${formatDuration(range.minUs)}–${formatDuration(range.maxUs)}` : 'Why slow?';
      link.title = range
        ? `What do the ${formatCount(range.numTraces)} traces between ${formatDuration(range.minUs)} and ${formatDuration(range.maxUs)} have in common, against the rest?`
        : 'What do the slow traces of this operation have in common? (Slow: above the 90th percentile; drag up or down on the plot to choose a range.)';
      hint.textContent = range
        ? `${formatCount(range.numTraces)} trace${range.numTraces === 1 ? '' : 's'} in the range; click the plot to clear`
        : 'or drag up or down on the plot to pick the slow range';
    };
    setRange(null);
    return { element: el('span', { class: 'why-slow-action' }, link, hint), setRange };
  }

  async function run() {
    if (fromFile) {
      const traces = [...context.fileTraces.values()];
      if (traces.length === 0) {
        setChildren(results, notice('info', 'The opened file is gone',
          el('p', null, 'Traces opened from a file live only in this page. Use "Open JSON…" to open it again.')));
        return;
      }
      const list = traces.map((trace) => ({
        traceId: trace.traceId, rootService: trace.rootService, rootOperation: trace.rootOperation,
        startUs: trace.startUs, durationUs: trace.durationUs, numSpans: trace.numSpans,
        numErrors: trace.numErrors, numOrphans: 0, services: trace.services,
      }));
      showResults(list, `${formatCount(list.length)} traces from ${context.fileName}`, '?source=file');
      return;
    }
    setChildren(results, el('p', { class: 'loading' }, 'Searching…'));
    let services;
    try {
      services = await fetchServices();
    } catch (error) {
      if (!disposed) showError(error);
      return;
    }
    if (disposed) return;
    form.setServices(services);
    if (params.get('service')) loadOperations(params.get('service'));
    if (services.length === 0) {
      await showNoTracesYet();
      return;
    }
    const query = queryFromParams(params);
    loadInsights(query);
    try {
      const list = await searchTraces(query);
      if (disposed) return;
      if (list.length === 0) {
        setChildren(results, notice('info', 'No traces match',
          el('p', null, 'Try a longer lookback, fewer tags, or "All services". Durations filter single spans, not whole traces.')));
        return;
      }
      showResults(list, `${formatCount(list.length)} trace${list.length === 1 ? '' : 's'}`, '');
    } catch (error) {
      if (!disposed) showError(error);
    }
  }

  async function showNoTracesYet() {
    let endpoints = null;
    try { endpoints = await fetchConfig(); } catch { /* the explanation still helps without addresses */ }
    if (disposed) return;
    const grpc = endpoints?.otlpGrpc || 'http://<tracery-host>:4317';
    const http = endpoints?.otlpHttp || 'http://<tracery-host>:4318';
    setChildren(results, notice('info', 'No traces yet',
      el('p', null, 'Tracery has not received any spans. Point an OpenTelemetry SDK or Collector at one of its OTLP endpoints:'),
      el('dl', { class: 'endpoints', id: 'endpoints' },
        el('dt', null, 'OTLP/gRPC'), el('dd', null, el('code', null, grpc)),
        el('dt', null, 'OTLP/HTTP'), el('dd', null, el('code', null, http))),
      el('p', null, 'For an SDK, set these environment variables and restart the service:'),
      el('pre', { class: 'code-block' },
        `OTEL_SERVICE_NAME=my-service\nOTEL_EXPORTER_OTLP_ENDPOINT=${grpc}\nOTEL_EXPORTER_OTLP_PROTOCOL=grpc\n\n`
        + `# or over HTTP:\nOTEL_EXPORTER_OTLP_ENDPOINT=${http}\nOTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`),
      el('p', null, 'Traces show up here as soon as they are exported; reload this page. You can also open a Jaeger or OTLP JSON file with "Open JSON…".')));
  }

  // From the ingest-time histograms: a latency heatmap of the window (brushing it
  // sets the time and duration filters) and, when asked for, the traces the
  // histograms kept for it (the slowest and failed ones), listed first.
  async function loadInsights(query) {
    const wantExemplars = params.get('exemplars') === '1';
    const [heatmap, exemplars] = await Promise.all([
      fetchHeatmap(query).catch(() => null),
      wantExemplars ? fetchExemplars(query).catch(() => []) : [],
    ]);
    if (disposed) return;
    const parts = [];
    if (exemplars.length > 0) {
      parts.push(el('h2', { class: 'insight-title' }, 'Exemplar traces: the slowest and failed calls of this window'),
        el('ol', { class: 'exemplar-list', id: 'exemplar-list' }, exemplars.map((exemplar) => el('li', null,
          el('a', { href: `trace/${exemplar.traceId}`, class: exemplar.error ? 'exemplar-error' : null, 'data-trace-id': exemplar.traceId },
            `${exemplar.error ? 'failed, ' : ''}${formatDuration(exemplar.durationUs)} · ${exemplar.traceId.slice(0, 8)}`)))));
    }
    const hasCalls = heatmap?.counts?.some((column) => column.some((count) => count > 0));
    const holder = el('div', { class: 'heatmap-container', id: 'heatmap' });
    if (hasCalls) {
      parts.push(el('h2', { class: 'insight-title' },
        `Latency of ${query.service || 'all services'}${query.operation ? `: ${query.operation}` : ''} (all span kinds; drag to filter by time and duration)`), holder);
    }
    setChildren(insights, parts);
    disposeHeatmap();
    disposeHeatmap = hasCalls ? mountHeatmap(holder, heatmap, (brush) => {
      const next = new URLSearchParams(window.location.search);
      next.set('lookback', 'custom');
      next.set('start', String(brush.startMs));
      next.set('end', String(brush.endMs));
      next.set('minDuration', toGoDuration(brush.minDurationUs));
      next.set('maxDuration', toGoDuration(brush.maxDurationUs));
      context.navigate(`search?${next}`);
    }) : () => {};
  }

  function showError(error) {
    const retry = el('button', { type: 'button', class: 'button' }, 'Retry');
    retry.addEventListener('click', run);
    const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
    setChildren(results, notice('error', `Search failed${status}`, el('p', null, error.message), retry));
  }

  run();
  return () => {
    disposed = true;
    disposePlot();
    disposeHeatmap();
  };
}
