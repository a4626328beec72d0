// Formatting and parsing of durations, times and the search form's text fields.
// Pure functions: no DOM, no fetch.

/** 1234 (µs) → "1.23ms"; units from µs up to hours, three significant digits. */
export function formatDuration(micros) {
  if (!Number.isFinite(micros)) return '';
  const abs = Math.abs(micros);
  if (micros === 0) return '0';
  if (abs < 1) return '<1µs';
  if (abs < 1000) return `${trim(micros)}µs`;
  if (abs < 1e6) return `${trim(micros / 1e3)}ms`;
  if (abs < 60e6) return `${trim(micros / 1e6)}s`;
  if (abs < 3600e6) {
    const minutes = Math.floor(abs / 60e6);
    const seconds = Math.round((abs - minutes * 60e6) / 1e6);
    return `${Math.sign(micros) < 0 ? '-' : ''}${minutes}m${seconds ? ` ${seconds}s` : ''}`;
  }
  const hours = Math.floor(abs / 3600e6);
  const minutes = Math.round((abs - hours * 3600e6) / 60e6);
  return `${Math.sign(micros) < 0 ? '-' : ''}${hours}h${minutes ? ` ${minutes}m` : ''}`;
}

function trim(value) {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

/** µs since the epoch → "2026-11-01 14:03:07.123" in local time. */
export function formatTimestamp(micros) {
  const date = new Date(micros / 1000);
  const pad = (n, width = 2) => String(n).padStart(width, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** µs since the epoch → "5 minutes ago" relative to `nowMs`. */
export function formatRelative(micros, nowMs = Date.now()) {
  const seconds = Math.round((nowMs - micros / 1000) / 1000);
  const future = seconds < 0;
  const abs = Math.abs(seconds);
  const steps = [[60, 'second', 1], [3600, 'minute', 60], [86400, 'hour', 3600], [Infinity, 'day', 86400]];
  if (abs < 5) return 'just now';
  for (const [limit, unit, size] of steps) {
    if (abs < limit) {
      const count = Math.floor(abs / size);
      const text = `${count} ${unit}${count === 1 ? '' : 's'}`;
      return future ? `in ${text}` : `${text} ago`;
    }
  }
  return '';
}

/** "1.5ms" | "150ms" | "2s" | "300us" | "300µs" | "1m" → µs, or null when invalid. */
export function parseDuration(text) {
  const units = { ns: 1e-3, us: 1, 'µs': 1, 'μs': 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };
  const trimmed = String(text).trim();
  if (trimmed === '') return null;
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(pattern)) {
    total += Number(match[1]) * units[match[2]];
    consumed += match[0].length;
  }
  return consumed === trimmed.length && consumed > 0 ? total : null;
}

/** A duration in µs as a Go duration string for api_v3 ("1500us"). */
export function toGoDuration(micros) {
  return `${Math.round(micros)}us`;
}

/**
 * Reads the tag box: space-separated terms, each Jaeger's `key=value` (values with
 * spaces in double quotes) or one of Tracery's filter expressions: `key!=value`,
 * `key=~regex`, `key!~regex`, `key>n`, `key>=n`, `key<n`, `key<=n`, `key` (present)
 * and `!key` (absent). Returns { tags: {key: value}, filters: [expression], error }:
 * plain equalities go to Jaeger's tags, everything else to `filter=` (README).
 */
export function parseTagExpressions(text) {
  const tags = {};
  const filters = [];
  let rest = String(text).trim();
  const term = /^(!?)([^\s=!<>~"]+)(?:(!=|!~|=~|>=|<=|=|>|<)(?:"((?:[^"\\]|\\.)*)"|([^\s"]*)))?(?:\s+|$)/;
  while (rest.length > 0) {
    const match = term.exec(rest);
    const word = rest.split(/\s/)[0];
    if (!match) {
      return { tags, filters, error: `cannot read "${word}": expected key=value, key=~regex, key>n, key or !key` };
    }
    const [whole, negated, key, operator, quoted, bare] = match;
    const value = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '');
    if (negated && operator) return { tags, filters, error: `"${word}": "!" goes only before a bare key` };
    if (['>', '>=', '<', '<='].includes(operator) && (value.trim() === '' || !Number.isFinite(Number(value)))) {
      return { tags, filters, error: `"${word}": ${operator} needs a number` };
    }
    if (operator === '=') tags[key] = value;
    else filters.push(`${negated}${key}${operator ?? ''}${value}`);
    rest = rest.slice(whole.length);
  }
  return { tags, filters, error: null };
}

/** Picks "nice" tick steps (1, 2, 5 × 10^n) so that about `count` ticks span `range`. */
export function niceStep(range, count) {
  if (!(range > 0)) return 1;
  const raw = range / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) {
    if (raw <= factor * power) return factor * power;
  }
  return 10 * power;
}

/** Integer with thousands separators. */
export function formatCount(count) {
  return COUNT_FORMAT.format(Number(count));
}

// One formatter for every count: toLocaleString builds a new one per call, which
// costs more than the rest of a list row's update.
const COUNT_FORMAT = new Intl.NumberFormat('en-US');

/** The number of service colours defined in styles/base.css (--svc-0 … --svc-19). */
export const NUM_SERVICE_COLORS = 20;

/**
 * Colour slots for service names, the same way the server assigns them
 * (api/ui_dto.rs): sorted by name, each takes FNV-1a(name) mod 20, moving to the
 * next free slot on a collision while free slots remain. A service keeps its
 * colour from trace to trace unless a collision pushes it along.
 */
export function assignColors(names) {
  const slots = new Map();
  const taken = new Set();
  for (const name of [...new Set(names)].sort(compareUtf8)) {
    let slot = fnv1a32(name) % NUM_SERVICE_COLORS;
    if (taken.size < NUM_SERVICE_COLORS) {
      while (taken.has(slot)) slot = (slot + 1) % NUM_SERVICE_COLORS;
    }
    taken.add(slot);
    slots.set(name, slot);
  }
  return slots;
}

const encoder = new TextEncoder();

function fnv1a32(text) {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** Byte-wise UTF-8 order, which is how Rust sorts Strings. */
function compareUtf8(a, b) {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i += 1) {
    if (left[i] !== right[i]) return left[i] - right[i];
  }
  return left.length - right.length;
}
