// The Dependencies page (`/dependencies`): services as boxes in columns laid out
// by the server (callers left of callees, rows ordered to keep edges short), calls
// as curves whose width grows with the call count. Hover a service to highlight
// its calls; click it to search its traces.

import { ApiError, fetchDependencyGraph } from '../api.js';
import { el, notice, setChildren, svg } from '../lib/dom.js';
import { formatCount } from '../lib/format.js';

const COLUMN_WIDTH = 340;
const ROW_HEIGHT = 44;
const NODE_WIDTH = 190;
const NODE_HEIGHT = 30;
const MARGIN = 20;
const LOOKBACKS = [['1h', 3600e3], ['6h', 6 * 3600e3], ['24h', 24 * 3600e3], ['7 days', 7 * 24 * 3600e3]];

export function mountDependencies(container, params, context) {
  document.title = 'Dependencies · Tracery';
  const lookback = LOOKBACKS.find(([label]) => label === params.get('lookback')) ?? LOOKBACKS[2];
  const select = el('select', { id: 'dependencies-lookback', 'aria-label': 'Lookback' },
    LOOKBACKS.map(([label]) => el('option', { value: label }, `Last ${label}`)));
  select.value = lookback[0];
  select.addEventListener('change', () => context.navigate(`dependencies?${new URLSearchParams({ lookback: select.value })}`));
  const body = el('div', { class: 'dependencies-body', id: 'dependencies-body' }, el('p', { class: 'loading' }, 'Loading the service map…'));
  setChildren(container, el('div', { class: 'dependencies-page view-page', id: 'dependencies-page' },
    el('header', { class: 'view-page-header' }, el('h1', null, 'Dependencies'), select,
      el('span', { class: 'muted' }, 'Calls between services; click a service to search its traces.')),
    body));
  let disposed = false;
  fetchDependencyGraph(lookback[1]).then((graph) => {
    if (disposed) return;
    if (graph.nodes.length === 0) {
      setChildren(body, notice('info', 'No calls between services yet',
        el('p', null, 'The map shows calls from one service to another (a span whose parent belongs to another service) in the chosen period.')));
      return;
    }
    setChildren(body, renderGraph(graph, context));
    body.dataset.state = 'ready';
  }).catch((error) => {
    if (disposed) return;
    const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
    setChildren(body, notice('error', `Cannot load dependencies${status}`, el('p', null, error.message)));
  });
  return () => { disposed = true; };
}

function renderGraph(graph, context) {
  const width = MARGIN * 2 + Math.max(1, graph.numLayers) * COLUMN_WIDTH - (COLUMN_WIDTH - NODE_WIDTH);
  const height = MARGIN * 2 + Math.max(1, graph.maxRows) * ROW_HEIGHT;
  const place = (node) => ({ x: MARGIN + node.layer * COLUMN_WIDTH, y: MARGIN + node.row * ROW_HEIGHT });
  const maxCalls = Math.max(1, ...graph.edges.map((edge) => edge.callCount));
  const root = svg('svg', { class: 'dependency-graph', id: 'dependency-graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Service dependency map' });
  // Arrowheads in user units: sized by the stroke width they grew to 35 px.
  const defs = svg('defs', null, svg('marker', { id: 'dep-arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' },
    svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'dep-arrow' })));
  root.append(defs);
  const edgeLayer = svg('g', { class: 'dep-edges' });
  const nodeLayer = svg('g', { class: 'dep-nodes' });
  const edgesOf = graph.nodes.map(() => []);
  graph.edges.forEach((edge, index) => {
    const from = place(graph.nodes[edge.parent]);
    const to = place(graph.nodes[edge.child]);
    const x1 = from.x + NODE_WIDTH;
    const y1 = from.y + NODE_HEIGHT / 2;
    const x2 = to.x;
    const y2 = to.y + NODE_HEIGHT / 2;
    const bend = Math.max(40, Math.abs(x2 - x1) / 2);
    const backwards = x2 <= x1;
    const d = backwards
      ? `M ${x1} ${y1} C ${x1 + 60} ${y1 - 70}, ${x2 - 60} ${y2 - 70}, ${x2} ${y2}`
      : `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`;
    const strokeWidth = 1 + 4 * (Math.log10(1 + edge.callCount) / Math.log10(1 + maxCalls));
    const path = svg('path', { class: backwards ? 'dep-edge dep-edge-back' : 'dep-edge', d, 'marker-end': 'url(#dep-arrow)', 'data-edge': String(index) },
      svg('title', null, `${graph.services[graph.nodes[edge.parent].serviceIndex].name} → ${graph.services[graph.nodes[edge.child].serviceIndex].name}: ${formatCount(edge.callCount)} calls`));
    path.style.strokeWidth = `${strokeWidth.toFixed(2)}px`;
    const label = svg('text', { class: 'dep-count', x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, 'text-anchor': 'middle' }, formatCount(edge.callCount));
    const group = svg('g', { class: 'dep-edge-group' }, path, label);
    edgesOf[edge.parent].push(group);
    edgesOf[edge.child].push(group);
    edgeLayer.append(group);
  });
  graph.nodes.forEach((node, index) => {
    const { x, y } = place(node);
    const service = graph.services[node.serviceIndex];
    const name = service.name.length > 26 ? `${service.name.slice(0, 25)}…` : service.name;
    const group = svg('g', { class: 'dep-node', tabindex: '0', role: 'link', 'data-service': service.name, transform: `translate(${x} ${y})` },
      svg('rect', { class: `dep-box svc-${service.colorIndex}`, width: NODE_WIDTH, height: NODE_HEIGHT, rx: 6 }),
      svg('rect', { class: `dep-stripe svc-${service.colorIndex}`, width: 6, height: NODE_HEIGHT, rx: 3 }),
      svg('text', { class: 'dep-name', x: 14, y: NODE_HEIGHT / 2 + 4 }, name),
      svg('title', null, `${service.name}\n${formatCount(node.callsIn)} calls in, ${formatCount(node.callsOut)} calls out\nClick to search its traces`));
    const highlight = (on) => {
      group.classList.toggle('is-hovered', on);
      root.classList.toggle('has-hover', on);
      for (const edge of edgesOf[index]) edge.classList.toggle('is-highlighted', on);
    };
    group.addEventListener('mouseenter', () => highlight(true));
    group.addEventListener('mouseleave', () => highlight(false));
    const open = () => context.navigate(`search?${new URLSearchParams({ service: service.name })}`);
    group.addEventListener('click', open);
    group.addEventListener('keydown', (event) => { if (event.key === 'Enter') open(); });
    nodeLayer.append(group);
  });
  root.append(edgeLayer, nodeLayer);
  return el('div', { class: 'dependency-scroller' }, root);
}
