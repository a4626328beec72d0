// The only module that knows URLs and the server's wire shapes. Everything it
// returns is a view model; every failure is an ApiError with a message fit for
// the page.
//
// Every URL here is relative (`api/v3/services`, never `/api/...`): it resolves
// against the page's <base href>, where the server writes its --base-path, so the
// UI works unchanged under a prefix like /jaeger/.

import { fetchWithToken } from './auth.js';
import { assignColors } from './lib/format.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

async function getJson(url) {
  return requestJson(url, { headers: { Accept: 'application/json' } });
}

async function requestJson(url, init) {
  let response;
  try {
    response = await fetchWithToken(new URL(url, document.baseURI), init);
  } catch (error) {
    throw new ApiError(0, `cannot reach the Tracery server (${error.message})`);
  }
  if (!response.ok) {
    throw new ApiError(response.status, await errorMessage(response));
  }
  try {
    return await response.json();
  } catch (error) {
    throw new ApiError(response.status, `the server sent unreadable JSON (${error.message})`);
  }
}

/** The message from either error shape: ours `{status, message}` or api_v3's `{error: {message}}`. */
async function errorMessage(response) {
  const fallback = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    return body?.error?.message || body?.message || fallback;
  } catch {
    return fallback;
  }
}

/** Service names, sorted. */
export async function fetchServices() {
  const body = await getJson('api/v3/services');
  return [...(body.services ?? [])].sort();
}

/** Operation names of one service, sorted and without repeats (one per span kind upstream). */
export async function fetchOperations(service) {
  const body = await getJson(`api/v3/operations?${new URLSearchParams({ service })}`);
  return [...new Set((body.operations ?? []).map((operation) => operation.name))].sort();
}

/**
 * Searches trace summaries.
 * query: { service, operation, tags: {k: v}, filters: [expression], nPlusOne, startUs, endUs,
 *          minDurationUs, maxDurationUs, limit }
 * Returns [{ traceId, rootService, rootOperation, startUs, durationUs, numSpans, numErrors,
 *            numOrphans, numNPlusOne, services: [{ name, numSpans, numErrors, colorIndex }] }].
 */
export async function searchTraces(query) {
  const params = new URLSearchParams();
  if (query.service) params.set('query.serviceName', query.service);
  if (query.operation) params.set('query.operationName', query.operation);
  if (query.tags && Object.keys(query.tags).length > 0) {
    params.set('query.attributes', JSON.stringify(query.tags));
  }
  for (const filter of query.filters ?? []) params.append('filter', filter);
  if (query.nPlusOne) params.set('n_plus_one', 'true');
  params.set('query.startTimeMin', rfc3339(query.startUs));
  params.set('query.startTimeMax', rfc3339(query.endUs));
  if (query.minDurationUs != null) params.set('query.durationMin', `${Math.round(query.minDurationUs)}us`);
  if (query.maxDurationUs != null) params.set('query.durationMax', `${Math.round(query.maxDurationUs)}us`);
  params.set('query.searchDepth', String(query.limit));
  let body;
  try {
    body = await getJson(`api/v3/trace-summaries?${params}`);
  } catch (error) {
    // Upstream answers "no match" with 404 on some routes; treat it as empty.
    if (error instanceof ApiError && error.status === 404) return [];
    throw error;
  }
  return (body.summaries ?? []).map(summaryView);
}

function summaryView(summary) {
  const startUs = nanosToMicros(summary.minStartTimeUnixNano);
  const endUs = nanosToMicros(summary.maxEndTimeUnixNano);
  const services = summary.services ?? [];
  const colors = assignColors(services.map((service) => service.name));
  return {
    traceId: String(summary.traceId).toLowerCase(),
    rootService: summary.rootServiceName ?? '',
    rootOperation: summary.rootOperationName ?? '',
    startUs,
    durationUs: Math.max(0, endUs - startUs),
    numSpans: summary.spanCount ?? 0,
    numErrors: summary.errorSpanCount ?? 0,
    numOrphans: summary.orphanSpanCount ?? 0,
    numNPlusOne: summary.nPlusOneCount ?? 0,
    services: services.map((service) => ({
      name: service.name,
      numSpans: service.spanCount ?? 0,
      numErrors: service.errorSpanCount ?? 0,
      colorIndex: colors.get(service.name),
    })),
  };
}

/**
 * One trace, precomputed by the server (api/ui_dto.rs): preorder rows with depth,
 * subtree size, offsets and the critical path. Returns the trace view model
 * (see normalizeTraceView).
 */
export async function fetchTrace(traceId) {
  const body = await getJson(`internal/ui/traces/${encodeURIComponent(traceId)}`);
  return normalizeTraceView(body);
}

/**
 * A JSON file the user opened (Jaeger's {"data": [...]} or OTLP/JSON), read by
 * the server and never stored: every trace in it as the same view model a stored
 * trace gets (source 'file'). Returns { traces: [view], skipped: { numSpans,
 * firstReason } | null }; a file the server cannot read is an ApiError (400)
 * whose message says why.
 */
export async function openTraceFile(file) {
  const body = await requestJson('internal/ui/trace-file', {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: file,
  });
  return {
    traces: (body.traces ?? []).map((trace) => normalizeTraceView(trace, 'file')),
    skipped: body.skipped ?? null,
  };
}

/**
 * The trace view model: the wire shape of /internal/ui/traces/{id}, with every
 * optional field filled in and attributes as { key, type, value } objects.
 * Rows are mutated in place: copying 50,000 rows would cost more than it buys.
 */
function normalizeTraceView(body, source = 'server') {
  const attrs = (list) => (list ?? []).map(([key, type, value]) => ({ key, type, value }));
  const rows = body.rows ?? [];
  const resources = (body.resources ?? []).map((resource) => ({ ...resource, attributes: attrs(resource.attributes) }));
  // The server leaves out a parent ID that equals the tree parent's: in preorder
  // that is the last row one level up.
  const lastAtDepth = [];
  for (const row of rows) {
    const treeParent = row.depth > 0 ? lastAtDepth[row.depth - 1] : undefined;
    lastAtDepth[row.depth] = row;
    row.parentSpanId ??= treeParent ? treeParent.spanId : null;
    row.serviceIndex = resources[row.resourceIndex]?.serviceIndex ?? 0;
    row.statusCode ??= 'unset';
    row.statusMessage ??= '';
    row.error ??= false;
    row.attributes = attrs(row.attributes);
    row.events = (row.events ?? []).map((event) => ({ ...event, attributes: attrs(event.attributes) }));
    row.links = (row.links ?? []).map((link) => ({ ...link, attributes: attrs(link.attributes) }));
    row.warnings ??= [];
    row.criticalSections ??= [];
    row.onCriticalPath = row.criticalSections.length > 0;
  }
  return {
    traceId: body.traceId,
    rootService: body.rootServiceName ?? '',
    rootOperation: body.rootOperationName ?? '',
    startUs: body.startUnixMicros ?? 0,
    durationUs: body.durationUs ?? 0,
    numSpans: body.numSpans ?? rows.length,
    numErrors: body.numErrors ?? 0,
    maxDepth: body.maxDepth ?? 0,
    services: body.services ?? [],
    resources,
    scopes: (body.scopes ?? []).map((scope) => ({ ...scope, attributes: attrs(scope.attributes) })),
    warnings: body.warnings ?? [],
    // Runs of repeated sibling spans: { service, fingerprint, parentRow, rows,
    // totalUs, longestUs, wallUs, mode: 'sequential' | 'parallel', couldSaveUs }.
    nPlusOne: (body.nPlusOne ?? []).map((finding) => ({ parentRow: null, ...finding })),
    rows,
    source,
  };
}

/** The OTLP endpoints to tell users about, as URLs reachable from this browser's host. */
export async function fetchConfig() {
  const body = await getJson('internal/ui/config');
  return {
    otlpGrpc: endpointUrl(body.otlpGrpc),
    otlpHttp: endpointUrl(body.otlpHttp),
  };
}

/**
 * "http://0.0.0.0:4317" or "0.0.0.0:4317" → "http://<this page's host>:4317": a
 * wildcard listen address means "every interface", so the host this browser
 * reached Tracery on is the one to tell users.
 */
function endpointUrl(address) {
  if (!address) return '';
  let url;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(address) ? address : `http://${address}`);
  } catch {
    return address;
  }
  if (['0.0.0.0', '[::]', '::', ''].includes(url.hostname)) url.hostname = window.location.hostname;
  return url.origin;
}

/** Where the Jaeger-format JSON of a trace is downloaded from. */
export function traceJsonUrl(traceId) {
  return `api/traces/${encodeURIComponent(traceId)}`;
}

function rfc3339(micros) {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

function nanosToMicros(nanos) {
  if (nanos === undefined || nanos === null || nanos === '') return 0;
  try {
    return Number(BigInt(nanos) / 1000n);
  } catch {
    return Math.floor(Number(nanos) / 1000);
  }
}

/**
 * The flamegraph of one trace (api/ui_views_dto.rs): frames in preorder with x
 * and width on two axes, critical path and self time; services with colours.
 */
export async function fetchFlamegraph(traceId) {
  return getJson(`internal/ui/traces/${encodeURIComponent(traceId)}/flamegraph`);
}

/** Per (service, operation) statistics of one trace. */
export async function fetchStatistics(traceId) {
  return getJson(`internal/ui/traces/${encodeURIComponent(traceId)}/statistics`);
}

/** Two traces merged into one tree: { a, b, services, nodes }. */
export async function fetchComparison(traceIdA, traceIdB) {
  return getJson(`internal/ui/compare?${new URLSearchParams({ a: traceIdA, b: traceIdB })}`);
}

/**
 * "Why slow?" for one operation. query: { service, operation, startUs, endUs,
 * slowMinUs, slowMaxUs } (the slow range is optional: above p90 without it).
 */
export async function fetchWhySlow(query) {
  const params = new URLSearchParams({ service: query.service, operation: query.operation });
  if (query.startUs != null) params.set('start', String(Math.floor(query.startUs)));
  if (query.endUs != null) params.set('end', String(Math.floor(query.endUs)));
  if (query.slowMinUs != null) params.set('slowMinUs', String(Math.floor(query.slowMinUs)));
  if (query.slowMaxUs != null) params.set('slowMaxUs', String(Math.ceil(query.slowMaxUs)));
  return getJson(`internal/ui/why-slow?${params}`);
}

/** The service map of the last `lookbackMs`, laid out in columns by the server. */
export async function fetchDependencyGraph(lookbackMs) {
  const params = new URLSearchParams({ endTs: String(Date.now()), lookback: String(lookbackMs) });
  return getJson(`internal/ui/dependencies?${params}`);
}

/**
 * Request rate, error rate and latency percentiles of every service over the last
 * `lookbackMs`, from the server's ingest-time histograms (/internal/ui/monitor).
 * Returns { stepMs, startMs, endMs, timestampsMs, rows: [{ name, rate, errorRate,
 * p50Us, p95Us, p99Us, impact, points: { rate, errorRate, p50Us, p95Us, p99Us } }] }.
 */
export async function fetchMonitorServices({ lookbackMs, spanKind }) {
  const params = new URLSearchParams({ lookback: String(lookbackMs), spanKind });
  return getJson(`internal/ui/monitor/services?${params}`);
}

/** Like fetchMonitorServices, one row per operation of `service`. */
export async function fetchMonitorOperations({ service, lookbackMs, spanKind }) {
  const params = new URLSearchParams({ service, lookback: String(lookbackMs), spanKind });
  return getJson(`internal/ui/monitor/operations?${params}`);
}

/**
 * Of `service`'s traces in [startMs, endMs], how many have an N+1 finding, per
 * operation (the server examines the newest few hundred): { numExamined, complete,
 * counts: Map of operation → traces }.
 */
export async function fetchMonitorNPlusOne({ service, startMs, endMs }) {
  const params = new URLSearchParams({ service, start: String(startMs), end: String(endMs) });
  const body = await getJson(`internal/ui/monitor/n-plus-one?${params}`);
  return {
    numExamined: body.numExamined,
    complete: body.complete,
    counts: new Map(body.operations.map(({ name, traces }) => [name, traces])),
  };
}

function windowParams({ service, operation, startUs, endUs }) {
  const params = new URLSearchParams({
    start: String(Math.floor(startUs / 1000)), end: String(Math.ceil(endUs / 1000)), spanKind: 'all',
  });
  if (service) params.set('service', service);
  if (operation) params.set('operation', operation);
  return params;
}

/**
 * Calls by start time and span duration: { stepMs, timestampsMs, rowStartsUs,
 * counts: [[calls per duration row] per time column] }.
 */
export async function fetchHeatmap(query) {
  return getJson(`internal/ui/monitor/heatmap?${windowParams(query)}`);
}

/** Traces the histograms remember for a window: [{ traceId, durationUs, error }], failed first. */
export async function fetchExemplars(query) {
  return getJson(`internal/ui/monitor/exemplars?${windowParams(query)}`);
}

/**
 * Durations of each of `operations` ([{ service, operation }]) among the calls that
 * started in the hour of `startUs`, for percentile badges: Map of
 * `${service}\u0000${operation}` → { numCalls, p95Us, cumulative: [[upperUs, calls]] }.
 */
export async function fetchDurationDistributions(startUs, operations) {
  const params = new URLSearchParams({ start: String(Math.floor(startUs / 1000)) });
  for (const { service, operation } of operations) {
    params.append('service', service);
    params.append('operation', operation);
  }
  const list = await getJson(`internal/ui/durations?${params}`);
  return new Map(list.map((entry) => [`${entry.service}\u0000${entry.operation}`, entry]));
}
