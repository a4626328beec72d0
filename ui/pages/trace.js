// The trace page: loads the trace (from the server or an opened file), then shows
// the header and the view: the waterfall (views/waterfall-view.js).

import { ApiError, fetchTrace } from '../api.js';
import { renderNPlusOneBanner } from '../components/n-plus-one-banner.js';
import { renderTraceHeader } from '../components/trace-header.js';
import { el, notice, setChildren } from '../lib/dom.js';
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
          el('a', { href: `/trace/${traceId}` }, 'look for this trace on the server')));
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
      el('a', { href: '/search' }, 'Search traces')));
    return;
  }
  const button = el('button', { type: 'button', class: 'button' }, 'Retry');
  button.addEventListener('click', retry);
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
  setChildren(container, notice('error', `Cannot load this trace${status}`, el('p', null, error.message), button));
}

function render(container, view, params, context) {
  const header = renderTraceHeader(view, context);
  const waterfallView = mountWaterfallView(view);
  const banner = renderNPlusOneBanner(view, { onShow: (index) => waterfallView.showGroup(index) });
  const page = el('div', { class: 'trace-page', id: 'trace-page', 'data-trace-id': view.traceId }, header, banner, waterfallView.element);
  setChildren(container, page);
  waterfallView.firstPaint();
  // Timings for the browser tests and for anyone profiling: load (fetch, parse,
  // normalise), render (state, first waterfall and minimap paint) and both.
  performance.mark('tracery:trace-rendered');
  performance.measure('tracery:trace-first-render', 'tracery:trace-start', 'tracery:trace-rendered');
  if (view.source === 'server') {
    performance.measure('tracery:trace-load', 'tracery:trace-start', 'tracery:trace-received');
    performance.measure('tracery:trace-render', 'tracery:trace-received', 'tracery:trace-rendered');
  }
  page.setAttribute('data-state', 'ready');
  waterfallView.applyDeepLinks(params);
  return () => waterfallView.dispose();
}
