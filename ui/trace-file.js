// Opens trace JSON files in the browser: Jaeger's format ({data: [trace]}, as
// /api/traces/{id} serves it) and OTLP/JSON ({resourceSpans}, also wrapped in
// api_v3's {result}). Like api.js this module knows wire shapes; it lives apart
// because a file never touches the server (there is no /api/transform here).
//
// Files get the same trace view model as the server's /internal/ui/traces/{id},
// so this module carries a JavaScript twin of query/tree.rs: preorder rows,
// orphans as roots, loops cut, duplicate IDs kept, Jaeger's critical path. The
// Rust version is the tested reference; keep the two in step.

import { assignColors } from './lib/format.js';

/** Parses file text into trace view models (one per trace ID). Throws Error with a readable message. */
export function tracesFromFile(text) {
  let json;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`not a JSON file: ${error.message}`);
  }
  let spans;
  if (json?.result?.resourceSpans || json?.resourceSpans) {
    spans = spansFromOtlp(json.result ?? json);
  } else if (Array.isArray(json?.data) || Array.isArray(json?.spans) || Array.isArray(json)) {
    spans = spansFromJaeger(json);
  } else {
    throw new Error('unrecognised JSON: expected Jaeger ({"data": [...]}) or OTLP ({"resourceSpans": [...]})');
  }
  if (spans.length === 0) throw new Error('the file holds no spans');
  const byTrace = new Map();
  for (const span of spans) {
    if (!byTrace.has(span.traceId)) byTrace.set(span.traceId, []);
    byTrace.get(span.traceId).push(span);
  }
  return [...byTrace.entries()].map(([traceId, traceSpans]) => buildView(traceId, traceSpans));
}

// ---------- Jaeger JSON → internal spans

function spansFromJaeger(json) {
  const traces = Array.isArray(json) ? json : Array.isArray(json.data) ? json.data : [json];
  const spans = [];
  for (const trace of traces) {
    const processes = trace.processes ?? {};
    for (const span of trace.spans ?? []) {
      const process = processes[span.processID] ?? span.process ?? {};
      const tags = (span.tags ?? []).map(jaegerAttr);
      const take = (key) => {
        const index = tags.findIndex((tag) => tag.key === key);
        return index < 0 ? undefined : tags.splice(index, 1)[0].value;
      };
      const kind = take('span.kind') ?? 'unspecified';
      const otelStatus = take('otel.status_code');
      const statusMessage = take('otel.status_description') ?? '';
      const scopeName = take('otel.scope.name') ?? take('otel.library.name') ?? '';
      const scopeVersion = take('otel.scope.version') ?? take('otel.library.version') ?? '';
      const errorTag = tags.find((tag) => tag.key === 'error');
      const isErrorTag = errorTag && (errorTag.value === true || errorTag.value === 'true');
      const parentRef = (span.references ?? []).find((ref) => ref.refType === 'CHILD_OF')
        ?? (span.references ?? [])[0];
      const parentSpanId = parentRef && lower(parentRef.traceID ?? span.traceID) === lower(span.traceID)
        ? lower(parentRef.spanID) : (span.parentSpanID ? lower(span.parentSpanID) : null);
      const links = (span.references ?? [])
        .filter((ref) => ref !== parentRef)
        .map((ref) => ({ traceId: lower(ref.traceID), spanId: lower(ref.spanID), attributes: [] }));
      const startUs = Number(span.startTime ?? 0);
      spans.push({
        traceId: lower(span.traceID ?? trace.traceID),
        spanId: lower(span.spanID),
        parentSpanId,
        name: span.operationName ?? '',
        kind: String(kind).toLowerCase(),
        startUs,
        endUs: startUs + Number(span.duration ?? 0),
        statusCode: otelStatus === 'ERROR' || isErrorTag ? 'error' : otelStatus === 'OK' ? 'ok' : 'unset',
        statusMessage: String(statusMessage),
        attributes: tags,
        events: (span.logs ?? []).map((log) => {
          const fields = (log.fields ?? []).map(jaegerAttr);
          const nameIndex = fields.findIndex((field) => field.key === 'event');
          const name = nameIndex < 0 ? 'log' : String(fields.splice(nameIndex, 1)[0].value);
          return { name, timeUs: Number(log.timestamp ?? startUs), attributes: fields };
        }),
        links,
        service: process.serviceName ?? 'unknown-service',
        resourceAttributes: (process.tags ?? []).map(jaegerAttr),
        scope: { name: String(scopeName), version: String(scopeVersion), attributes: [] },
        warnings: Array.isArray(span.warnings) ? span.warnings.map(String) : [],
      });
    }
  }
  return spans;
}

function jaegerAttr(tag) {
  const types = { string: 'string', bool: 'bool', int64: 'int64', float64: 'float64', binary: 'bytes' };
  return { key: String(tag.key), type: types[tag.type] ?? 'string', value: tag.value };
}

// ---------- OTLP JSON → internal spans

const OTLP_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

function spansFromOtlp(tracesData) {
  const spans = [];
  for (const resourceSpans of tracesData.resourceSpans ?? []) {
    const resourceAttrs = (resourceSpans.resource?.attributes ?? []).map(otlpAttr);
    const serviceIndex = resourceAttrs.findIndex((attr) => attr.key === 'service.name');
    const service = serviceIndex < 0 ? 'unknown-service' : String(resourceAttrs.splice(serviceIndex, 1)[0].value);
    for (const scopeSpans of resourceSpans.scopeSpans ?? resourceSpans.instrumentationLibrarySpans ?? []) {
      const rawScope = scopeSpans.scope ?? scopeSpans.instrumentationLibrary ?? {};
      const scope = {
        name: rawScope.name ?? '',
        version: rawScope.version ?? '',
        attributes: (rawScope.attributes ?? []).map(otlpAttr),
      };
      for (const span of scopeSpans.spans ?? []) {
        const attributes = (span.attributes ?? []).map(otlpAttr);
        const warningIndex = attributes.findIndex((attr) => attr.key === '@jaeger@warnings');
        const warnings = warningIndex < 0 ? [] : [].concat(JSON.parse(attributes.splice(warningIndex, 1)[0].value || '[]'));
        const startUs = nanosToMicros(span.startTimeUnixNano);
        spans.push({
          traceId: lower(span.traceId),
          spanId: lower(span.spanId),
          parentSpanId: span.parentSpanId ? lower(span.parentSpanId) : null,
          name: span.name ?? '',
          kind: otlpKind(span.kind),
          startUs,
          endUs: Math.max(startUs, nanosToMicros(span.endTimeUnixNano)),
          statusCode: otlpStatus(span.status?.code),
          statusMessage: span.status?.message ?? '',
          attributes,
          events: (span.events ?? []).map((event) => ({
            name: event.name ?? '',
            timeUs: nanosToMicros(event.timeUnixNano),
            attributes: (event.attributes ?? []).map(otlpAttr),
          })),
          links: (span.links ?? []).map((link) => ({
            traceId: lower(link.traceId),
            spanId: lower(link.spanId),
            attributes: (link.attributes ?? []).map(otlpAttr),
          })),
          service,
          resourceAttributes: resourceAttrs,
          scope,
          warnings: warnings.map(String),
        });
      }
    }
  }
  return spans;
}

function otlpKind(kind) {
  if (typeof kind === 'number') return OTLP_KINDS[kind] ?? 'unspecified';
  const name = String(kind ?? '').replace(/^SPAN_KIND_/, '').toLowerCase();
  return OTLP_KINDS.includes(name) ? name : 'unspecified';
}

function otlpStatus(code) {
  if (code === 2 || code === 'STATUS_CODE_ERROR') return 'error';
  if (code === 1 || code === 'STATUS_CODE_OK') return 'ok';
  return 'unset';
}

function otlpAttr(keyValue) {
  const [type, value] = otlpValue(keyValue.value ?? {});
  return { key: String(keyValue.key), type, value };
}

function otlpValue(any) {
  if ('stringValue' in any) return ['string', String(any.stringValue)];
  if ('boolValue' in any) return ['bool', Boolean(any.boolValue)];
  if ('intValue' in any) {
    const number = Number(any.intValue);
    return ['int64', Number.isSafeInteger(number) ? number : String(any.intValue)];
  }
  if ('doubleValue' in any) return ['float64', Number(any.doubleValue)];
  if ('bytesValue' in any) return ['bytes', String(any.bytesValue)];
  if ('arrayValue' in any) return ['array', JSON.stringify((any.arrayValue.values ?? []).map((v) => otlpValue(v)[1]))];
  if ('kvlistValue' in any) {
    const entries = (any.kvlistValue.values ?? []).map((kv) => [kv.key, otlpValue(kv.value ?? {})[1]]);
    return ['map', JSON.stringify(Object.fromEntries(entries))];
  }
  return ['empty', null];
}

function nanosToMicros(nanos) {
  if (nanos === undefined || nanos === null || nanos === '') return 0;
  try {
    return Number(BigInt(nanos) / 1000n);
  } catch {
    return Math.floor(Number(nanos) / 1000);
  }
}

function lower(text) {
  return String(text ?? '').toLowerCase();
}

// ---------- internal spans → trace view model (twin of query/tree.rs)

function buildView(traceId, spans) {
  // reduce, not Math.min(...spread): 50,000 arguments can overflow the stack.
  const startUs = spans.reduce((min, span) => Math.min(min, span.startUs), Infinity);
  const endUs = spans.reduce((max, span) => Math.max(max, span.endUs), -Infinity);
  const order = spans.map((_, index) => index)
    .sort((a, b) => spans[a].startUs - spans[b].startUs || a - b);

  const warnings = spans.map((span) => [...span.warnings]);
  const owner = new Map();
  for (const index of order) {
    const id = spans[index].spanId;
    if (!owner.has(id)) owner.set(id, index);
    else {
      const first = owner.get(id);
      const note = 'another span in this trace has the same span ID';
      warnings[index].push(note);
      if (!warnings[first].includes(note)) warnings[first].push(note);
    }
  }

  const parent = new Array(spans.length).fill(-1);
  const children = spans.map(() => []);
  for (const index of order) {
    const parentId = spans[index].parentSpanId;
    if (!parentId) continue;
    const parentIndex = owner.get(parentId);
    if (parentIndex === undefined) {
      warnings[index].push(`parent span ${parentId} is not in this trace; shown as a root`);
    } else if (parentIndex === index) {
      warnings[index].push(`parent span ${parentId} is its own descendant (a reference cycle); shown as a root`);
    } else {
      parent[index] = parentIndex;
      children[parentIndex].push(index);
    }
  }

  const roots = order.filter((index) => parent[index] < 0)
    .sort((a, b) => Number(Boolean(spans[a].parentSpanId)) - Number(Boolean(spans[b].parentSpanId)));
  const visitOrder = [];
  const rowOf = new Array(spans.length).fill(-1);
  const walk = (root) => {
    const stack = [[root, -1, 0]];
    while (stack.length > 0) {
      const [index, parentRow, depth] = stack.pop();
      if (rowOf[index] >= 0) continue;
      rowOf[index] = visitOrder.length;
      visitOrder.push({ index, parentRow, depth });
      for (let i = children[index].length - 1; i >= 0; i -= 1) {
        const child = children[index][i];
        if (rowOf[child] < 0) stack.push([child, rowOf[index], depth + 1]);
      }
    }
  };
  roots.forEach(walk);
  // Unreached spans hang off parent loops: cut each loop at its earliest span.
  for (const index of order) {
    if (rowOf[index] >= 0) continue;
    const onLoop = new Set();
    let current = index;
    while (!onLoop.has(current)) { onLoop.add(current); current = parent[current]; }
    let cut = current;
    for (let next = parent[current]; next !== current; next = parent[next]) {
      if (spans[next].startUs < spans[cut].startUs || (spans[next].startUs === spans[cut].startUs && next < cut)) cut = next;
    }
    warnings[cut].push(`parent span ${spans[parent[cut]].spanId} is its own descendant (a reference cycle); shown as a root`);
    parent[cut] = -1;
    walk(cut);
  }

  const serviceNames = [...new Set(spans.map((span) => span.service))].sort();
  const colors = assignColors(serviceNames);
  const serviceIndex = new Map(serviceNames.map((name, i) => [name, i]));
  const resources = [];
  const resourceKeys = new Map();
  const scopes = [];
  const scopeKeys = new Map();
  const intern = (list, keys, key, make) => {
    if (!keys.has(key)) { keys.set(key, list.length); list.push(make()); }
    return keys.get(key);
  };

  const rows = visitOrder.map(({ index, parentRow, depth }) => {
    const span = spans[index];
    const parentSpan = parentRow >= 0 ? spans[visitOrder[parentRow].index] : null;
    if (parentSpan && span.startUs < parentSpan.startUs) {
      warnings[index].push(`starts ${parentSpan.startUs - span.startUs}µs before its parent; the clocks may be skewed`);
    }
    if (parentSpan && span.endUs > parentSpan.endUs) {
      warnings[index].push(`ends ${span.endUs - parentSpan.endUs}µs after its parent; the clocks may be skewed, or the parent did not wait for it`);
    }
    const resourceKey = JSON.stringify([span.service, span.resourceAttributes]);
    const scopeKey = JSON.stringify(span.scope);
    return {
      spanId: span.spanId,
      parentSpanId: span.parentSpanId,
      parentRow,
      depth,
      subtreeSize: 1,
      startOffsetUs: span.startUs - startUs,
      durationUs: span.endUs - span.startUs,
      serviceIndex: serviceIndex.get(span.service),
      resourceIndex: intern(resources, resourceKeys, resourceKey, () => ({
        serviceIndex: serviceIndex.get(span.service), attributes: span.resourceAttributes,
      })),
      scopeIndex: intern(scopes, scopeKeys, scopeKey, () => span.scope),
      name: span.name,
      kind: span.kind,
      statusCode: span.statusCode,
      statusMessage: span.statusMessage,
      error: span.statusCode === 'error' || span.attributes.some((a) => a.key === 'error' && (a.value === true || a.value === 'true')),
      attributes: span.attributes,
      events: span.events.map((event) => ({ name: event.name, offsetUs: event.timeUs - startUs, attributes: event.attributes })),
      links: span.links,
      warnings: warnings[index],
      criticalSections: [],
      onCriticalPath: false,
    };
  });
  for (let row = rows.length - 1; row > 0; row -= 1) {
    if (rows[row].parentRow >= 0) rows[rows[row].parentRow].subtreeSize += rows[row].subtreeSize;
  }
  markCriticalPath(rows);

  const services = serviceNames.map((name) => {
    const own = rows.filter((row) => row.serviceIndex === serviceIndex.get(name));
    return { name, colorIndex: colors.get(name), numSpans: own.length, numErrors: own.filter((row) => row.error).length };
  });
  return {
    traceId,
    rootService: rows.length ? serviceNames[rows[0].serviceIndex] : '',
    rootOperation: rows.length ? rows[0].name : '',
    startUs,
    durationUs: endUs - startUs,
    numSpans: rows.length,
    numErrors: rows.filter((row) => row.error).length,
    maxDepth: rows.reduce((max, row) => Math.max(max, row.depth), 0),
    services,
    resources,
    scopes,
    warnings: [],
    rows,
    source: 'file',
  };
}

/** Jaeger UI's critical path over the first root's subtree; see mark_critical_path in tree.rs. */
function markCriticalPath(rows) {
  if (rows.length === 0) return;
  const size = rows[0].subtreeSize;
  const clamped = new Array(size).fill(null);
  clamped[0] = [rows[0].startOffsetUs, rows[0].startOffsetUs + rows[0].durationUs];
  const byEnd = Array.from({ length: size }, () => []);
  for (let i = 1; i < size; i += 1) {
    const parentRange = clamped[rows[i].parentRow];
    const start = rows[i].startOffsetUs;
    const end = start + rows[i].durationUs;
    if (parentRange && !(start > parentRange[1] || end < parentRange[0])) {
      clamped[i] = [Math.max(start, parentRange[0]), Math.min(end, parentRange[1])];
      byEnd[rows[i].parentRow].push(i);
    }
  }
  for (const list of byEnd) list.sort((a, b) => clamped[a][1] - clamped[b][1]);
  const cursor = byEnd.map((list) => list.length);
  const stack = [[0, null]];
  while (stack.length > 0) {
    const [row, bound] = stack.pop();
    const [start, end] = clamped[row];
    const boundEnd = bound ?? end;
    let chosen = -1;
    while (cursor[row] > 0) {
      cursor[row] -= 1;
      const candidate = byEnd[row][cursor[row]];
      if (bound === null || clamped[candidate][1] < boundEnd) { chosen = candidate; break; }
    }
    if (chosen >= 0) {
      if (clamped[chosen][1] !== boundEnd) rows[row].criticalSections.push([clamped[chosen][1], boundEnd]);
      stack.push([row, clamped[chosen][0]], [chosen, null]);
    } else {
      rows[row].criticalSections.push([start, boundEnd]);
    }
  }
  for (const row of rows) {
    row.criticalSections.sort((a, b) => a[0] - b[0]);
    row.onCriticalPath = row.criticalSections.length > 0;
  }
}
