// Boot and the history router. Pages are mounted into #app and return a cleanup
// function that the router calls before mounting the next page.

import { openTraceFile } from './api.js';
import { mountCompare } from './pages/compare.js';
import { mountDependencies } from './pages/dependencies.js';
import { mountMonitor } from './pages/monitor.js';
import { mountSearch } from './pages/search.js';
import { mountTrace } from './pages/trace.js';
import { mountWhySlow } from './pages/why-slow.js';
import { el, notice, setChildren } from './lib/dom.js';

// Anything the Content-Security-Policy blocks is a bug in this UI: count it where
// the browser tests (and anyone in devtools) can see it.
document.addEventListener('securitypolicyviolation', (event) => {
  const root = document.documentElement;
  root.dataset.cspViolations = String(Number(root.dataset.cspViolations ?? 0) + 1);
  console.error(`CSP blocked ${event.blockedURI || 'inline code'} (${event.violatedDirective})`);
});

const app = document.getElementById('app');
const TRACE_ID = /^[0-9a-f]{1,32}$/i;

// The UI lives under the <base href> the server writes (its --base-path, `/` by
// default). Links and navigate() take paths relative to it (`search?…`,
// `trace/<id>`); routes are matched on the path below it, with a leading slash.
const basePath = new URL(document.baseURI).pathname;

/** The path below the base (`/search`), or null for a URL outside the UI. */
function routeOf(url) {
  if (url.origin !== window.location.origin) return null;
  if (`${url.pathname}/` === basePath) return '/';
  if (!url.pathname.startsWith(basePath)) return null;
  return `/${url.pathname.slice(basePath.length)}`;
}

/** Shared with pages: navigation, and traces opened from files (kept in memory only). */
const context = {
  navigate,
  fileTraces: new Map(),
  fileName: '',
  /** { numSpans, firstReason } of spans the server could not read from the file, or null. */
  fileSkipped: null,
};

let cleanup = null;

/** `path` is relative to the base (`search?service=a`) or an absolute path inside it. */
function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const url = new URL(window.location.href);
  const route = routeOf(url) ?? url.pathname;
  const traceMatch = route.match(/^\/trace\/([^/]+)\/?$/);
  if (route === '/' || route === '') {
    navigate(`search${url.search}`, { replace: true });
  } else if (route === '/search' || route === '/search/') {
    cleanup = mountSearch(app, url.searchParams, context);
  } else if (route === '/compare') {
    cleanup = mountCompare(app, url.searchParams, context);
  } else if (route === '/why-slow') {
    cleanup = mountWhySlow(app, url.searchParams, context);
  } else if (route === '/dependencies') {
    cleanup = mountDependencies(app, url.searchParams, context);
  } else if (route === '/monitor' || route === '/monitor/') {
    cleanup = mountMonitor(app, url.searchParams, context);
  } else if (traceMatch) {
    cleanup = mountTrace(app, decodeURIComponent(traceMatch[1]).toLowerCase(), url.searchParams, context);
  } else {
    document.title = 'Not found · Tracery';
    setChildren(app, notice('error', 'Page not found',
      el('p', null, `Nothing lives at ${url.pathname}. `, el('a', { href: 'search' }, 'Search traces'), ' instead.')));
  }
}

// One delegated listener turns same-origin links into history navigation.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest?.('a[href]');
  if (!link || link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, document.baseURI);
  const route = routeOf(url);
  // Other origins, paths outside the base, and the API (downloads) load normally.
  if (route === null || route.startsWith('/api/') || route.startsWith('/internal/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', render);

// The trace-ID box: Enter opens the trace, and so does pasting a valid ID.
const traceIdForm = document.getElementById('trace-id-form');
const traceIdInput = document.getElementById('trace-id-input');
function openTraceId() {
  const id = traceIdInput.value.trim();
  if (!TRACE_ID.test(id)) {
    traceIdInput.setCustomValidity('A trace ID is 1 to 32 hex digits');
    traceIdInput.reportValidity();
    return;
  }
  traceIdInput.setCustomValidity('');
  traceIdInput.value = '';
  traceIdInput.blur();
  navigate(`trace/${id.toLowerCase()}`);
}
traceIdForm.addEventListener('submit', (event) => {
  event.preventDefault();
  openTraceId();
});
traceIdInput.addEventListener('input', () => traceIdInput.setCustomValidity(''));
traceIdInput.addEventListener('paste', () => {
  // The pasted text lands in the input after this event.
  setTimeout(() => {
    if (TRACE_ID.test(traceIdInput.value.trim())) openTraceId();
  }, 0);
});

// Opening a JSON file: the server reads it (without storing it) and sends back
// each trace's view; one trace opens directly, several are listed on /search.
const fileInput = document.getElementById('open-file-input');
fileInput.addEventListener('change', async () => {
  const file = fileInput.files?.[0];
  fileInput.value = '';
  if (!file) return;
  try {
    const { traces, skipped } = await openTraceFile(file);
    context.fileTraces = new Map(traces.map((trace) => [trace.traceId, trace]));
    context.fileName = file.name;
    context.fileSkipped = skipped;
    if (traces.length === 1) navigate(`trace/${traces[0].traceId}?source=file`);
    else navigate('search?source=file');
  } catch (error) {
    if (cleanup) cleanup();
    cleanup = null;
    setChildren(app, notice('error', `Cannot open ${file.name}`, el('p', null, error.message)));
  }
});

// Themes: the OS preference unless the user picked one with the toggle.
const THEME_KEY = 'tracery.theme';
const themeToggle = document.getElementById('theme-toggle');
const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');
function effectiveTheme() {
  return document.documentElement.dataset.theme || (darkQuery.matches ? 'dark' : 'light');
}
function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  themeToggle.textContent = next === 'dark' ? 'Dark theme' : 'Light theme';
  document.dispatchEvent(new CustomEvent('tracery:themechange'));
}
themeToggle.addEventListener('click', () => {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  try { localStorage.setItem(THEME_KEY, next); } catch { /* private mode: not remembered */ }
  applyTheme(next);
});
darkQuery.addEventListener('change', () => applyTheme(document.documentElement.dataset.theme));
let savedTheme = null;
try { savedTheme = localStorage.getItem(THEME_KEY); } catch { /* storage may be disabled */ }
applyTheme(savedTheme === 'light' || savedTheme === 'dark' ? savedTheme : null);

render();
