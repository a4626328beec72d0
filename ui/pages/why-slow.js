// "Why slow?" (`/why-slow?service=…&operation=…&start=<ms>&end=<ms>`): what the
// slow traces of one operation have in common. Slow means above the 90th
// percentile, or inside a duration range brushed on the distribution chart
// (`slowMin`/`slowMax` in µs). The server ranks attribute values and operations;
// this page draws them as paired bars, slow against the rest.

import { ApiError, fetchWhySlow } from '../api.js';
import { el, notice, setChildren, svg } from '../lib/dom.js';
import { formatCount, formatDuration, niceStep } from '../lib/format.js';

const CHART_HEIGHT = 150;
const CHART_MARGIN = { top: 10, right: 16, bottom: 24, left: 44 };
const NUM_BINS = 40;
const SHOWN_FINDINGS = 10;

export function mountWhySlow(container, params, context) {
  const service = params.get('service') ?? '';
  const operation = params.get('operation') ?? '';
  document.title = `Why slow? ${operation} · Tracery`;
  const nowMs = Date.now();
  const endMs = Number(params.get('end')) || nowMs;
  const startMs = Number(params.get('start')) || endMs - 3600e3;
  const slowMin = params.get('slowMin');
  const slowMax = params.get('slowMax');
  const body = el('div', { class: 'why-slow-body', id: 'why-slow-body' });
  const searchLink = el('a', { href: `search?${new URLSearchParams({ service, operation, lookback: 'custom', start: String(startMs), end: String(endMs) })}` }, 'Back to the search');
  setChildren(container, el('div', { class: 'why-slow-page view-page', id: 'why-slow-page' },
    el('header', { class: 'view-page-header' },
      el('h1', null, 'Why slow? ', el('span', { class: 'muted' }, `${service}: ${operation}`)), searchLink),
    body));
  if (!service || !operation) {
    setChildren(body, notice('info', 'Pick one operation',
      el('p', null, 'Search for one service and one operation, then follow "Why slow?" above the results.')));
    return () => {};
  }
  let disposed = false;
  setChildren(body, el('p', { class: 'loading' }, 'Comparing slow traces with the rest…'));
  fetchWhySlow({
    service, operation, startUs: startMs * 1000, endUs: endMs * 1000,
    slowMinUs: slowMin != null ? Number(slowMin) : null, slowMaxUs: slowMax != null ? Number(slowMax) : null,
  }).then((result) => {
    if (disposed) return;
    const navigateWith = (range) => {
      const next = new URLSearchParams({ service, operation, start: String(startMs), end: String(endMs) });
      if (range) { next.set('slowMin', String(Math.floor(range[0]))); next.set('slowMax', String(Math.ceil(range[1]))); }
      context.navigate(`why-slow?${next}`);
    };
    render(body, result, navigateWith);
  }).catch((error) => {
    if (disposed) return;
    const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
    setChildren(body, notice('error', `Cannot analyse this operation${status}`, el('p', null, error.message)));
  });
  return () => { disposed = true; };
}

function render(body, result, navigateWith) {
  if (result.numTraces === 0) {
    setChildren(body, notice('info', 'No traces in this period', el('p', null, 'Widen the time range on the search page.')));
    return;
  }
  const split = result.split === 'range'
    ? `${formatCount(result.numSlow)} of ${formatCount(result.numTraces)} traces in the brushed range ${formatDuration(result.slowMinUs)}–${formatDuration(result.slowMaxUs)}`
    : `${formatCount(result.numSlow)} of ${formatCount(result.numTraces)} traces above the 90th percentile (${formatDuration(result.slowMinUs)} and slower)`;
  const reset = result.split === 'range' ? el('button', { type: 'button', class: 'button', id: 'why-slow-reset' }, 'Back to p90') : null;
  reset?.addEventListener('click', () => navigateWith(null));
  const chart = renderDistribution(result, navigateWith);
  const attributes = result.attributes.slice(0, SHOWN_FINDINGS).map((finding) => pairedBars(
    `${finding.key}=${finding.value}`,
    `${percent(finding.slowShare)} of slow vs ${percent(finding.otherShare)} of others`,
    finding.slowShare, finding.otherShare, 1));
  const maxSelf = Math.max(1, ...result.operations.slice(0, SHOWN_FINDINGS).map((f) => Math.max(f.slowSelfUs, f.otherSelfUs)));
  const operations = result.operations.slice(0, SHOWN_FINDINGS).map((finding) => {
    const calls = finding.slowCalls - finding.otherCalls;
    const self = finding.slowSelfUs - finding.otherSelfUs;
    const callText = Math.abs(calls) >= 0.05 ? `${calls > 0 ? '+' : '−'}${formatCalls(Math.abs(calls))} call${Math.abs(calls) === 1 ? '' : 's'}, ` : '';
    return pairedBars(`${finding.service} · ${finding.operation}`,
      `${callText}${self >= 0 ? '+' : '−'}${formatDuration(Math.abs(self))} self-time per trace`,
      finding.slowSelfUs, finding.otherSelfUs, maxSelf);
  });
  setChildren(body,
    el('p', { class: 'why-slow-split', id: 'why-slow-split' }, split, ' ', reset),
    chart,
    el('p', { class: 'muted' }, 'Drag across the chart to choose which durations count as slow.'),
    el('div', { class: 'why-slow-columns' },
      el('section', { class: 'findings', id: 'why-slow-attributes' },
        el('h2', null, 'Attributes more common in slow traces'),
        attributes.length ? attributes : el('p', { class: 'muted' }, 'No attribute value stands out.')),
      el('section', { class: 'findings', id: 'why-slow-operations' },
        el('h2', null, 'Operations that take longer in slow traces'),
        operations.length ? operations : el('p', { class: 'muted' }, 'No operation stands out.'))),
    el('p', { class: 'legend' }, el('span', { class: 'bar-key bar-slow' }), ' slow traces ', el('span', { class: 'bar-key bar-other' }), ' the others'));
  body.dataset.state = 'ready';
}

function pairedBars(title, summary, slow, other, max) {
  const bar = (value, kind) => {
    const fill = el('div', { class: `bar-fill bar-${kind}` });
    fill.style.width = `${Math.max(0, Math.min(100, (100 * value) / max)).toFixed(1)}%`;
    return el('div', { class: 'bar-track' }, fill);
  };
  return el('div', { class: 'finding' },
    el('div', { class: 'finding-title' }, el('code', null, title)),
    el('div', { class: 'finding-summary' }, summary),
    bar(slow, 'slow'), bar(other, 'other'));
}

function renderDistribution(result, navigateWith) {
  const durations = result.durationsUs;
  const width = 720;
  const plotWidth = width - CHART_MARGIN.left - CHART_MARGIN.right;
  const plotHeight = CHART_HEIGHT - CHART_MARGIN.top - CHART_MARGIN.bottom;
  const maxDuration = Math.max(1, ...durations);
  const step = niceStep(maxDuration, 5);
  const xMax = Math.ceil(maxDuration / step) * step;
  const bins = new Array(NUM_BINS).fill(0);
  for (const us of durations) bins[Math.min(NUM_BINS - 1, Math.floor((us / xMax) * NUM_BINS))] += 1;
  const maxBin = Math.max(1, ...bins);
  const x = (us) => CHART_MARGIN.left + (us / xMax) * plotWidth;
  const root = svg('svg', { class: 'why-slow-chart', id: 'why-slow-chart', width, height: CHART_HEIGHT, viewBox: `0 0 ${width} ${CHART_HEIGHT}`, role: 'img', 'aria-label': 'Trace durations' });
  const binWidth = plotWidth / NUM_BINS;
  bins.forEach((count, index) => {
    if (count === 0) return;
    const binStart = (index * xMax) / NUM_BINS;
    const binEnd = ((index + 1) * xMax) / NUM_BINS;
    const isSlow = binEnd > result.slowMinUs && binStart <= result.slowMaxUs && result.numSlow > 0;
    const h = (count / maxBin) * plotHeight;
    root.append(svg('rect', { class: isSlow ? 'hist-bar hist-slow' : 'hist-bar', x: CHART_MARGIN.left + index * binWidth + 1, y: CHART_MARGIN.top + plotHeight - h, width: Math.max(1, binWidth - 2), height: h },
      svg('title', null, `${formatDuration(binStart)}–${formatDuration(binEnd)}: ${formatCount(count)} traces`)));
  });
  for (let value = 0; value <= xMax; value += step) {
    root.append(svg('text', { class: 'scatter-label', x: x(value), y: CHART_HEIGHT - 6, 'text-anchor': 'middle' }, formatDuration(value)));
  }
  root.append(svg('text', { class: 'scatter-label', x: CHART_MARGIN.left - 6, y: CHART_MARGIN.top + 8, 'text-anchor': 'end' }, formatCount(maxBin)));
  const brush = svg('rect', { class: 'brush', x: 0, y: CHART_MARGIN.top, width: 0, height: plotHeight, visibility: 'hidden' });
  root.append(brush);
  const toUs = (clientX) => {
    const box = root.getBoundingClientRect();
    const px = ((clientX - box.left) / box.width) * width;
    return Math.max(0, Math.min(xMax, ((px - CHART_MARGIN.left) / plotWidth) * xMax));
  };
  let from = null;
  root.addEventListener('pointerdown', (event) => {
    from = toUs(event.clientX);
    try { root.setPointerCapture(event.pointerId); } catch { /* synthetic events have no capturable pointer */ }
    brush.setAttribute('visibility', 'visible');
    brush.setAttribute('x', String(x(from)));
    brush.setAttribute('width', '0');
  });
  root.addEventListener('pointermove', (event) => {
    if (from === null) return;
    const to = toUs(event.clientX);
    brush.setAttribute('x', String(x(Math.min(from, to))));
    brush.setAttribute('width', String(Math.abs(x(to) - x(from))));
  });
  root.addEventListener('pointerup', (event) => {
    if (from === null) return;
    const to = toUs(event.clientX);
    const range = [Math.min(from, to), Math.max(from, to)];
    from = null;
    if (range[1] - range[0] > xMax / 200) navigateWith(range);
    else brush.setAttribute('visibility', 'hidden');
  });
  return el('div', { class: 'why-slow-chart-holder' }, root);
}

function percent(share) {
  return `${Math.round(share * 100)}%`;
}

function formatCalls(value) {
  return Number.isInteger(value) ? formatCount(value) : value.toFixed(1);
}
