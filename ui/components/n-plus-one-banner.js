// The N+1 banner of the trace page: one line per finding the server reported
// (query/n_plus_one.rs), with a button that unfolds the repeats in the waterfall.

import { el } from '../lib/dom.js';
import { formatDuration } from '../lib/format.js';

/** Findings shown before "and N more". */
const MAX_SHOWN = 5;
/** Longer fingerprints are cut in the text; the title keeps the whole. */
const MAX_FINGERPRINT_CHARS = 120;

/** Returns the banner, or null when the trace has no findings. */
export function renderNPlusOneBanner(view, { onShow }) {
  const findings = view.nPlusOne ?? [];
  if (findings.length === 0) return null;
  const items = findings.slice(0, MAX_SHOWN).map((finding, index) => {
    const show = el('button', { type: 'button', class: 'button', 'data-finding': String(index) }, 'Show');
    show.addEventListener('click', () => onShow(index));
    const text = describe(view, finding);
    return el('li', { class: 'n-plus-one-finding' },
      el('span', { class: 'n-plus-one-kind' }, finding.mode === 'parallel' ? 'Repeated calls:' : 'N+1:'),
      el('span', { class: 'n-plus-one-text', title: text }, text),
      show);
  });
  if (findings.length > MAX_SHOWN) items.push(el('li', { class: 'muted' }, `and ${findings.length - MAX_SHOWN} more`));
  return el('section', { class: 'n-plus-one-banner', id: 'n-plus-one-banner', role: 'note' }, el('ul', null, items));
}

/**
 * "37 × SELECT … FROM users WHERE id = ? under GET /orders, 410 ms, could save ~395 ms";
 * a parallel fan-out says so and how long it ran.
 */
export function describe(view, finding) {
  const count = finding.rows.length;
  const parent = finding.parentRow !== null ? view.rows[finding.parentRow] : null;
  const under = parent ? ` under ${parent.name}` : '';
  const fingerprint = finding.fingerprint.length > MAX_FINGERPRINT_CHARS
    ? `${finding.fingerprint.slice(0, MAX_FINGERPRINT_CHARS - 1)}…`
    : finding.fingerprint;
  const saving = finding.couldSaveUs > 0 ? `, could save ~${formatDuration(finding.couldSaveUs)}` : '';
  if (finding.mode === 'parallel') {
    return `${count} × ${fingerprint} in parallel${under}, ${formatDuration(finding.totalUs)} in total over ${formatDuration(finding.wallUs)}${saving}`;
  }
  return `${count} × ${fingerprint}${under}, ${formatDuration(finding.totalUs)}${saving}`;
}
