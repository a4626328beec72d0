// Where each span's duration falls among its operation's calls in the hour the
// trace started, from the server's ingest-time histograms: `row.percentile` for
// the span detail's badge, and `row.slow` (slower than the p95) for the waterfall.

import { fetchDurationDistributions } from '../api.js';

/** Below this many calls a p95 says little, so spans are not shaded as slow. */
const MIN_CALLS_FOR_SHADING = 20;
/** The server answers about this many operations at most; a trace rarely has more. */
const MAX_OPERATIONS = 500;

/** Fills in `percentile` and `slow` on the rows of a server trace view. */
export async function loadPercentiles(view) {
  const keyOf = (row) => `${view.services[row.serviceIndex]?.name ?? ''}\u0000${row.name}`;
  const operations = new Map();
  for (const row of view.rows) {
    if (operations.size >= MAX_OPERATIONS) break;
    const key = keyOf(row);
    if (!operations.has(key)) operations.set(key, { service: view.services[row.serviceIndex]?.name ?? '', operation: row.name });
  }
  const distributions = await fetchDurationDistributions(view.startUs, [...operations.values()]);
  for (const row of view.rows) {
    const distribution = distributions.get(keyOf(row));
    if (!distribution || distribution.numCalls === 0) continue;
    const atOrBelow = callsAtOrBelow(distribution.cumulative, row.durationUs, distribution.numCalls);
    row.percentile = {
      percentile: Math.min(100, Math.round((100 * atOrBelow) / distribution.numCalls)),
      numCalls: distribution.numCalls,
      p95Us: distribution.p95Us,
    };
    row.slow = distribution.numCalls >= MIN_CALLS_FOR_SHADING && row.durationUs > distribution.p95Us;
  }
}

/** Calls in the first bucket (by upper bound) that holds `durationUs`, cumulated. */
function callsAtOrBelow(cumulative, durationUs, numCalls) {
  let low = 0;
  let high = cumulative.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    // The histogram's buckets are 1% wide: allow for that when comparing.
    if (cumulative[middle][0] * 1.0001 < durationUs) low = middle + 1;
    else high = middle;
  }
  return low < cumulative.length ? cumulative[low][1] : numCalls;
}
