// The trace page: loads the trace (from the server or an opened file), then shows
// the header, the Compare action and one of the views: Waterfall
// (views/waterfall-view.js), Flamegraph or Statistics, picked by tabs and `?view=`.

import { ApiError, fetchTrace } from '../api.js';
import { renderNPlusOneBanner } from '../components/n-plus-one-banner.js';
import { renderTraceHeader } from '../components/trace-header.js';
import { el, notice, setChildren } from '../lib/dom.js';
import { mountFlamegraphView } from '../views/flamegraph-view.js';
import { loadPercentiles } from '../views/percentiles.js';
import { mountStatisticsView } from '../views/statistics-view.js';
import { mountWaterfallView } from '../views/waterfall-view.js';

export function mountTrace(container, traceId, params, context) {
  document.title = `Trace ${traceId.slice(0, 7)} · Tracery`;
  let dispose = () => {};
  let disposed = false;
  setChildren(container, el('p', { class: 'loading' }, `Loading trace ${traceId}…`));

  const load = async () => {
    performance.clearMarks();
    performance.clearMeasures();
    performance.mark('tracery:trace-start');
    let view = null;
    if (params.get('source') === 'file') {
      view = context.fileTraces.get(traceId) ?? null;
      if (!view) {
        setChildren(container, notice('info', 'The opened file is gone',
          el('p', null, 'Traces opened from a file live only in this page. Use "Open JSON…" to open it again, or '),
          el('a', { href: `trace/${traceId}` }, 'look for this trace on the server')));
        return;
      }
    } else {
      try {
        view = await fetchTrace(traceId);
        performance.mark('tracery:trace-received');
      } catch (error) {
        if (!disposed) showError(container, traceId, error, load);
        return;
      }
    }
    if (disposed) return;
    dispose = render(container, view, params, context);
  };
  load();
  return () => {
    disposed = true;
    dispose();
  };
}

function showError(container, traceId, error, retry) {
  if (error instanceof ApiError && error.status === 404) {
    setChildren(container, notice('info', 'Trace not found',
      el('p', null, 'No spans with trace ID ', el('code', null, traceId), ' are stored.'),
      el('p', null, 'Check the ID, or whether the trace is older than the retention period. Spans can take a moment to arrive after a request ends. '),
      el('a', { href: 'search' }, 'Search traces')));
    return;
  }
  const button = el('button', { type: 'button', class: 'button' }, 'Retry');
  button.addEventListener('click', retry);
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
  setChildren(container, notice('error', `Cannot load this trace${status}`, el('p', null, error.message), button));
}

const VIEWS = {
  waterfall: 'Waterfall',
  flamegraph: 'Flamegraph',
  statistics: 'Statistics',
};

function render(container, view, params, context) {
  // The flamegraph and statistics come from the server, which knows only stored traces.
  const views = view.source === 'server' ? VIEWS : { waterfall: VIEWS.waterfall };
  let current = views[params.get('view')] ? params.get('view') : 'waterfall';
  const tabs = Object.entries(views).map(([key, label]) => {
    const tab = el('button', { type: 'button', role: 'tab', class: 'view-tab', id: `view-tab-${key}`, 'aria-selected': String(key === current) }, label);
    tab.addEventListener('click', () => show(key));
    return tab;
  });
  const compare = renderCompareAction(view, context);
  const header = renderTraceHeader(view, context, compare);
  const holder = el('div', { class: 'trace-view-holder' });
  // N+1 groups are shown in the waterfall: "Show" switches to it first.
  const banner = renderNPlusOneBanner(view, {
    onShow: (index) => {
      show('waterfall');
      mounted?.showGroup?.(index);
    },
  });
  const page = el('div', { class: 'trace-page', id: 'trace-page', 'data-trace-id': view.traceId, 'data-view': current },
    header, banner, el('div', { class: 'view-tabs', role: 'tablist', 'aria-label': 'Trace views' }, tabs), holder);
  setChildren(container, page);

  let mounted = null;
  function mount(key, first) {
    mounted?.dispose();
    if (key === 'waterfall') {
      mounted = mountWaterfallView(view);
      holder.replaceChildren(mounted.element);
      mounted.firstPaint();
      if (first) markRendered(view, page);
      mounted.applyDeepLinks(first ? params : new URLSearchParams());
      const waterfallView = mounted;
      if (view.source === 'server') {
        // Percentile badges and slow-span shading arrive after the first paint.
        loadPercentiles(view)
          .then(() => {
            if (mounted !== waterfallView) return;
            waterfallView.showPercentiles();
            page.setAttribute('data-percentiles', 'ready');
          })
          .catch(() => { /* the trace is still useful without them */ });
      }
    } else {
      mounted = key === 'flamegraph' ? mountFlamegraphView(view, params) : mountStatisticsView(view);
      holder.replaceChildren(mounted.element);
      if (first) markRendered(view, page);
    }
  }

  function show(key) {
    if (key === current) return;
    current = key;
    for (const tab of tabs) tab.setAttribute('aria-selected', String(tab.id === `view-tab-${key}`));
    page.dataset.view = key;
    const url = new URL(window.location.href);
    if (key === 'waterfall') url.searchParams.delete('view');
    else url.searchParams.set('view', key);
    url.searchParams.delete('span');
    history.replaceState(null, '', url);
    mount(key, false);
  }

  mount(current, true);
  return () => mounted?.dispose();
}

/** Timings for the browser tests and for anyone profiling: load (fetch, parse,
 * normalise), render (state, first paint) and both. */
function markRendered(view, page) {
  performance.mark('tracery:trace-rendered');
  performance.measure('tracery:trace-first-render', 'tracery:trace-start', 'tracery:trace-rendered');
  if (view.source === 'server') {
    performance.measure('tracery:trace-load', 'tracery:trace-start', 'tracery:trace-received');
    performance.measure('tracery:trace-render', 'tracery:trace-received', 'tracery:trace-rendered');
  }
  page.setAttribute('data-state', 'ready');
}

/** "Compare…": another trace's ID, then the merged tree of both. */
function renderCompareAction(view, context) {
  if (view.source !== 'server') return null;
  const input = el('input', { type: 'search', id: 'compare-with', placeholder: 'Other trace ID', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Compare with trace ID', pattern: '[0-9a-fA-F]{1,32}', required: true });
  const form = el('form', { class: 'compare-form', id: 'compare-form', hidden: true }, input,
    el('button', { type: 'submit', class: 'button' }, 'Compare'));
  const open = el('button', { type: 'button', class: 'button', id: 'compare-open' }, 'Compare…');
  open.addEventListener('click', () => { form.hidden = false; open.hidden = true; input.focus(); });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const other = input.value.trim().toLowerCase();
    if (!/^[0-9a-f]{1,32}$/.test(other)) return;
    context.navigate(`compare?${new URLSearchParams({ a: view.traceId, b: other })}`);
  });
  return el('span', { class: 'compare-action' }, open, form);
}
