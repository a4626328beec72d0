// The trace page: loads the trace (from the server or an opened file), then
// composes the header (components/trace-header.js) with its Compare action
// (components/compare-action.js), the N+1 banner, the view tabs
// (components/view-tabs.js) and one of the views: Waterfall
// (views/waterfall-view.js), Flamegraph or Statistics, picked by tabs and `?view=`.

import { ApiError, fetchTrace } from '../api.js';
import { renderCompareAction } from '../components/compare-action.js';
import { renderNPlusOneBanner } from '../components/n-plus-one-banner.js';
import { renderTraceHeader } from '../components/trace-header.js';
import { renderViewTabs } from '../components/view-tabs.js';
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

/** Composes the page: header (with Compare…), N+1 banner, view tabs and the current view. */
function render(container, view, params, context) {
  // The flamegraph and statistics come from the server, which knows only stored traces.
  const views = view.source === 'server' ? VIEWS : { waterfall: VIEWS.waterfall };
  let current = views[params.get('view')] ? params.get('view') : 'waterfall';
  let mounted = null;
  const tabs = renderViewTabs(views, current, show);
  const holder = el('div', { class: 'trace-view-holder' });
  // N+1 groups are shown in the waterfall: "Show" switches to it first.
  const banner = renderNPlusOneBanner(view, {
    onShow: (index) => {
      show('waterfall');
      mounted?.showGroup?.(index);
    },
  });
  const page = el('div', { class: 'trace-page', id: 'trace-page', 'data-trace-id': view.traceId, 'data-view': current },
    renderTraceHeader(view, context, renderCompareAction(view, context)), banner, tabs.element, holder);
  setChildren(container, page);

  function mount(key, first) {
    mounted?.dispose();
    mounted = mountView(key, view, { params, first, page });
    holder.replaceChildren(mounted.element);
    mounted.afterAttach?.();
    if (first) markRendered(view, page);
  }

  function show(key) {
    if (key === current) return;
    current = key;
    tabs.select(key);
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

/**
 * One view of the trace: { element, dispose(), afterAttach?(), showGroup?(index) }.
 * The waterfall follows the page's deep links (`span`, `find`) on the first mount only.
 */
function mountView(key, view, { params, first, page }) {
  if (key === 'flamegraph') return mountFlamegraphView(view, params);
  if (key === 'statistics') return mountStatisticsView(view);
  const waterfall = mountWaterfallView(view);
  let disposed = false;
  return {
    element: waterfall.element,
    showGroup: waterfall.showGroup,
    dispose() {
      disposed = true;
      waterfall.dispose();
    },
    afterAttach() {
      waterfall.firstPaint();
      waterfall.applyDeepLinks(first ? params : new URLSearchParams());
      if (view.source !== 'server') return;
      // Percentile badges and slow-span shading arrive after the first paint.
      loadPercentiles(view)
        .then(() => {
          if (disposed) return;
          waterfall.showPercentiles();
          page.setAttribute('data-percentiles', 'ready');
        })
        .catch(() => { /* the trace is still useful without them */ });
    },
  };
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
