// The Flamegraph view of one trace: the server's call frames (spans merged by
// service, operation and path) on a canvas, as wide as their time on the critical
// path or their self time (switchable). Parallel siblings are never stacked as if
// they ran one after another: on the critical path only the sibling that held the
// trace up has width; in self time the total is the work done, which can exceed
// the wall clock. Click a frame to zoom into it, click the root or "Reset" to zoom
// out; hover for its numbers.

import { ApiError, fetchFlamegraph } from '../api.js';
import { el, notice, setChildren } from '../lib/dom.js';
import { formatCount, formatDuration } from '../lib/format.js';

const FRAME_HEIGHT = 20;
const MIN_DRAWN_PX = 0.5;
const LABEL_MIN_PX = 36;

const MODES = {
  critical: { label: 'Critical path', x: 'criticalXUs', width: 'criticalTotalUs', total: 'criticalTotalUs' },
  self: { label: 'Self time', x: 'selfXUs', width: 'selfTotalUs', total: 'selfTotalUs' },
};

/** Returns { element, dispose() }; `params` may carry `flame=self`. */
export function mountFlamegraphView(view, params) {
  const holder = el('div', { class: 'flame-body' }, el('p', { class: 'loading' }, 'Building the flamegraph…'));
  const element = el('div', { class: 'trace-view trace-view-flamegraph', id: 'flamegraph-view' }, holder);
  let disposed = false;
  let cleanup = () => {};
  fetchFlamegraph(view.traceId).then((flame) => {
    if (!disposed) cleanup = render(holder, flame, params);
  }).catch((error) => {
    if (disposed) return;
    const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
    setChildren(holder, notice('error', `Cannot build the flamegraph${status}`, el('p', null, error.message)));
  });
  return { element, dispose() { disposed = true; cleanup(); } };
}

function render(holder, flame, params) {
  let mode = params.get('flame') === 'self' ? 'self' : 'critical';
  const { frames } = flame;
  // Frames per depth, for hit testing.
  const byDepth = [];
  for (let i = 0; i < frames.length; i += 1) (byDepth[frames[i].depth] ??= []).push(i);
  const maxDepth = byDepth.length;
  let focus = -1; // the zoomed frame, or -1 for all

  const modeButtons = Object.entries(MODES).map(([key, { label }]) => {
    const button = el('button', { type: 'button', class: 'button', id: `flame-mode-${key}`, 'aria-pressed': String(key === mode) }, label);
    button.addEventListener('click', () => setMode(key));
    return button;
  });
  const reset = el('button', { type: 'button', class: 'button', id: 'flame-reset', hidden: true }, 'Reset zoom');
  const total = el('span', { class: 'muted', id: 'flame-total' });
  const canvas = el('canvas', { class: 'flame-canvas', id: 'flame-canvas', 'aria-label': 'Flamegraph', role: 'img' });
  const detail = el('div', { class: 'flame-detail', id: 'flame-detail', 'aria-live': 'polite' }, 'Hover a frame for its numbers; click to zoom.');
  const scroller = el('div', { class: 'flame-scroller' }, canvas);
  setChildren(holder,
    el('div', { class: 'trace-toolbar' }, el('div', { class: 'segmented', role: 'group', 'aria-label': 'Frame width' }, modeButtons), reset, total),
    detail, scroller);

  const styles = getComputedStyle(document.documentElement);
  const serviceColors = flame.services.map((service) => styles.getPropertyValue(`--svc-${service.colorIndex}`).trim() || '#888');
  const errorColor = styles.getPropertyValue('--error').trim() || '#d33';
  const textColor = '#fff';

  function range() {
    const axis = MODES[mode];
    if (focus < 0) return [0, Math.max(flame[axis.total], 1)];
    return [frames[focus][axis.x], Math.max(frames[focus][axis.width], 1)];
  }

  function draw() {
    const axis = MODES[mode];
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(200, scroller.clientWidth);
    const height = Math.max(1, maxDepth) * FRAME_HEIGHT;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const context = canvas.getContext('2d');
    if (!context) return;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    context.font = '12px system-ui, sans-serif';
    context.textBaseline = 'middle';
    const [start, span] = range();
    const scale = width / span;
    let drawn = 0;
    for (let i = 0; i < frames.length; i += 1) {
      const frame = frames[i];
      const w = frame[axis.width] * scale;
      if (w < MIN_DRAWN_PX) continue;
      const x = (frame[axis.x] - start) * scale;
      if (x + w <= 0 || x >= width) continue;
      const y = frame.depth * FRAME_HEIGHT;
      context.fillStyle = frame.numErrors > 0 ? errorColor : serviceColors[frame.serviceIndex];
      context.globalAlpha = focus >= 0 && frame.depth < frames[focus].depth ? 0.45 : 1;
      const left = Math.max(0, x);
      const right = Math.min(width, x + w);
      context.fillRect(left, y + 1, Math.max(1, right - left - 1), FRAME_HEIGHT - 2);
      if (right - left >= LABEL_MIN_PX) {
        const maxChars = Math.floor((right - left - 8) / 7);
        const label = frame.operation.length > maxChars ? `${frame.operation.slice(0, Math.max(1, maxChars - 1))}…` : frame.operation;
        context.fillStyle = textColor;
        context.fillText(label, left + 4, y + FRAME_HEIGHT / 2);
      }
      drawn += 1;
    }
    context.globalAlpha = 1;
    total.textContent = mode === 'critical'
      ? `critical path ${formatDuration(flame.criticalTotalUs)} of ${formatDuration(flame.durationUs)}`
      : `self time ${formatDuration(flame.selfTotalUs)} in ${formatDuration(flame.durationUs)} of wall clock`;
    canvas.dataset.framesDrawn = String(drawn);
    canvas.dataset.mode = mode;
    canvas.dataset.focus = String(focus);
    reset.hidden = focus < 0;
  }

  function frameAt(event) {
    const axis = MODES[mode];
    const box = canvas.getBoundingClientRect();
    const depth = Math.floor((event.clientY - box.top) / FRAME_HEIGHT);
    const [start, span] = range();
    const at = start + ((event.clientX - box.left) / box.width) * span;
    for (const i of byDepth[depth] ?? []) {
      const frame = frames[i];
      if (frame[axis.width] > 0 && at >= frame[axis.x] && at < frame[axis.x] + frame[axis.width]) return i;
    }
    return -1;
  }

  function describe(index) {
    const frame = frames[index];
    const axis = MODES[mode];
    const share = (100 * frame[axis.width]) / Math.max(flame[axis.total], 1);
    const service = flame.services[frame.serviceIndex]?.name ?? '';
    detail.textContent = `${service} · ${frame.operation}: ${formatCount(frame.numSpans)} span${frame.numSpans === 1 ? '' : 's'}`
      + `${frame.numErrors ? ` (${formatCount(frame.numErrors)} errors)` : ''}, `
      + `${MODES[mode].label.toLowerCase()} ${formatDuration(frame[axis.width])} (${share.toFixed(1)}%), `
      + `self ${formatDuration(frame.selfUs)}, on critical path ${formatDuration(frame.criticalUs)}, total duration ${formatDuration(frame.durationUs)}`;
  }

  function setMode(next) {
    mode = next;
    for (const button of modeButtons) button.setAttribute('aria-pressed', String(button.id === `flame-mode-${next}`));
    const url = new URL(window.location.href);
    if (next === 'self') url.searchParams.set('flame', 'self');
    else url.searchParams.delete('flame');
    history.replaceState(null, '', url);
    if (focus >= 0 && frames[focus][MODES[mode].width] === 0) focus = -1;
    draw();
  }

  canvas.addEventListener('mousemove', (event) => {
    const index = frameAt(event);
    if (index >= 0) describe(index);
  });
  canvas.addEventListener('click', (event) => {
    const index = frameAt(event);
    focus = index === focus || (index >= 0 && frames[index].depth === 0) ? -1 : index;
    if (index >= 0) describe(index);
    draw();
  });
  reset.addEventListener('click', () => { focus = -1; draw(); });
  let frame = 0;
  const observer = new ResizeObserver(() => { cancelAnimationFrame(frame); frame = requestAnimationFrame(draw); });
  observer.observe(scroller);
  draw();
  holder.dataset.state = 'ready';
  return () => { observer.disconnect(); cancelAnimationFrame(frame); };
}
