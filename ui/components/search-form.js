// The search form: service and operation pickers, tags and filter expressions,
// the N+1 checkbox, time range, span duration bounds and limit. It reads and writes the URL's query parameters, so a
// search can be shared and reloaded; it does not fetch anything itself.

import { el, setChildren } from '../lib/dom.js';
import { parseDuration, parseTagExpressions } from '../lib/format.js';

export const LOOKBACKS = ['5m', '15m', '30m', '1h', '2h', '3h', '6h', '12h', '24h', '2d', '3d', '5d', '7d', '2w', '3w', '4w'];
const LOOKBACK_LABELS = { m: 'minutes', h: 'hours', d: 'days', w: 'weeks' };
const UNIT_MICROS = { m: 60e6, h: 3600e6, d: 86400e6, w: 7 * 86400e6 };
export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1500;

/**
 * mountSearchForm(params, { onSubmit, onServiceChange }) → { element, setServices, setOperations }
 * onSubmit(urlParams) gets the URLSearchParams for the new search, already validated.
 */
export function mountSearchForm(params, { onSubmit, onServiceChange }) {
  const service = el('select', { id: 'search-service', name: 'service' }, el('option', { value: '' }, 'All services'));
  const operation = el('select', { id: 'search-operation', name: 'operation' }, el('option', { value: '' }, 'All operations'));
  const tags = el('input', {
    id: 'search-tags', name: 'tags', type: 'text', spellcheck: 'false', autocomplete: 'off',
    placeholder: 'http.status_code>=500 customer.tier=gold',
  });
  const nPlusOne = el('input', { id: 'search-n-plus-one', name: 'nPlusOne', type: 'checkbox' });
  const lookback = el('select', { id: 'search-lookback', name: 'lookback' },
    LOOKBACKS.map((value) => el('option', { value }, lookbackLabel(value))),
    el('option', { value: 'custom' }, 'Custom range…'));
  const start = el('input', { id: 'search-start', name: 'start', type: 'datetime-local', step: '1' });
  const end = el('input', { id: 'search-end', name: 'end', type: 'datetime-local', step: '1' });
  const customRange = el('div', { class: 'custom-range' },
    field('From', start), field('To', end));
  const minDuration = el('input', { id: 'search-min-duration', name: 'minDuration', type: 'text', placeholder: 'e.g. 100ms', autocomplete: 'off' });
  const maxDuration = el('input', { id: 'search-max-duration', name: 'maxDuration', type: 'text', placeholder: 'e.g. 5s', autocomplete: 'off' });
  const limit = el('input', { id: 'search-limit', name: 'limit', type: 'number', min: '1', max: String(MAX_LIMIT), step: '1' });
  const errors = el('p', { class: 'form-error', role: 'alert' });
  const submit = el('button', { type: 'submit', class: 'button primary', id: 'search-submit' }, 'Find traces');

  const form = el('form', { class: 'search-form', id: 'search-form', novalidate: true },
    el('h2', { class: 'panel-title' }, 'Search'),
    field('Service', service),
    field('Operation', operation),
    field('Tags', tags, 'key=value, key!=value, key=~regex, key!~regex, key>=n, key<n, key, !key; quote values with spaces'),
    el('label', { class: 'field field-check', title: 'Traces where one parent repeats the same query or call at least 5 times' },
      nPlusOne, el('span', null, 'Only traces with N+1 / repeated calls')),
    field('Lookback', lookback),
    customRange,
    el('div', { class: 'field-pair' },
      field('Min span duration', minDuration),
      field('Max span duration', maxDuration)),
    field('Limit results', limit),
    errors,
    submit);

  // Fill from the URL.
  tags.value = params.get('tags') ?? '';
  nPlusOne.checked = params.get('nPlusOne') === 'true';
  lookback.value = LOOKBACKS.includes(params.get('lookback')) || params.get('lookback') === 'custom' ? params.get('lookback') : '1h';
  minDuration.value = params.get('minDuration') ?? '';
  maxDuration.value = params.get('maxDuration') ?? '';
  limit.value = params.get('limit') ?? String(DEFAULT_LIMIT);
  const nowMs = Date.now();
  start.value = toLocalInput(Number(params.get('start')) || nowMs - 3600e3);
  end.value = toLocalInput(Number(params.get('end')) || nowMs);
  const showCustom = () => { customRange.hidden = lookback.value !== 'custom'; };
  showCustom();
  lookback.addEventListener('change', showCustom);

  service.addEventListener('change', () => {
    operation.value = '';
    onServiceChange(service.value);
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const problems = [];
    const next = new URLSearchParams();
    if (service.value) next.set('service', service.value);
    if (operation.value) next.set('operation', operation.value);
    if (tags.value.trim()) {
      const { error } = parseTagExpressions(tags.value);
      if (error) problems.push(`Tags: ${error}`);
      next.set('tags', tags.value.trim());
    }
    if (nPlusOne.checked) next.set('nPlusOne', 'true');
    next.set('lookback', lookback.value);
    if (lookback.value === 'custom') {
      const startMs = Date.parse(start.value);
      const endMs = Date.parse(end.value);
      if (!Number.isFinite(startMs) || !Number.isFinite(endMs)) problems.push('Custom range: enter both times');
      else if (startMs >= endMs) problems.push('Custom range: "From" must be before "To"');
      next.set('start', String(startMs));
      next.set('end', String(endMs));
    }
    for (const [input, name, label] of [[minDuration, 'minDuration', 'Min'], [maxDuration, 'maxDuration', 'Max']]) {
      const text = input.value.trim();
      if (!text) continue;
      if (parseDuration(text) === null) problems.push(`${label} span duration: use a number with a unit, e.g. 150ms or 1.5s`);
      next.set(name, text);
    }
    const min = parseDuration(minDuration.value);
    const max = parseDuration(maxDuration.value);
    if (min !== null && max !== null && min > max) problems.push('Min span duration is above the max');
    const limitValue = Number(limit.value);
    if (!Number.isInteger(limitValue) || limitValue < 1 || limitValue > MAX_LIMIT) {
      problems.push(`Limit: a whole number from 1 to ${MAX_LIMIT}`);
    }
    next.set('limit', String(limitValue));
    errors.textContent = problems.join('. ');
    if (problems.length === 0) onSubmit(next);
  });

  return {
    element: form,
    setServices(names) {
      setChildren(service, el('option', { value: '' }, 'All services'), names.map((name) => el('option', { value: name }, name)));
      const wanted = params.get('service') ?? '';
      if (wanted && !names.includes(wanted)) service.append(el('option', { value: wanted }, wanted));
      service.value = wanted;
    },
    setOperations(names) {
      const wanted = operation.value || params.get('operation') || '';
      setChildren(operation, el('option', { value: '' }, 'All operations'), names.map((name) => el('option', { value: name }, name)));
      if (wanted && !names.includes(wanted)) operation.append(el('option', { value: wanted }, wanted));
      operation.value = wanted;
    },
  };
}

function field(label, input, hint) {
  return el('label', { class: 'field' },
    el('span', { class: 'field-label' }, label),
    input,
    hint ? el('span', { class: 'field-hint' }, hint) : null);
}

function lookbackLabel(value) {
  const count = Number(value.slice(0, -1));
  const unit = LOOKBACK_LABELS[value.slice(-1)];
  return `Last ${count} ${count === 1 ? unit.slice(0, -1) : unit}`;
}

/**
 * The query the API needs, from URL parameters (times as µs since the epoch).
 * Relative lookbacks are resolved against `nowMs`, so reloading a shared link
 * searches the same recent window, as in Jaeger.
 */
export function queryFromParams(params, nowMs = Date.now()) {
  const lookback = params.get('lookback') ?? '1h';
  let startUs;
  let endUs;
  if (lookback === 'custom' && params.get('start') && params.get('end')) {
    startUs = Number(params.get('start')) * 1000;
    endUs = Number(params.get('end')) * 1000;
  } else {
    const known = LOOKBACKS.includes(lookback) ? lookback : '1h';
    endUs = nowMs * 1000;
    startUs = endUs - Number(known.slice(0, -1)) * UNIT_MICROS[known.slice(-1)];
  }
  const limit = Math.min(MAX_LIMIT, Math.max(1, Number(params.get('limit')) || DEFAULT_LIMIT));
  const { tags, filters } = parseTagExpressions(params.get('tags') ?? '');
  return {
    service: params.get('service') ?? '',
    operation: params.get('operation') ?? '',
    tags,
    filters,
    nPlusOne: params.get('nPlusOne') === 'true',
    startUs,
    endUs,
    minDurationUs: parseDuration(params.get('minDuration') ?? ''),
    maxDurationUs: parseDuration(params.get('maxDuration') ?? ''),
    limit,
  };
}

function toLocalInput(ms) {
  const date = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
