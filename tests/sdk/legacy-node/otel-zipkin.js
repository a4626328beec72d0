// Sends one trace to Tracery with @opentelemetry/exporter-zipkin (Zipkin v2 JSON).
// Usage: node otel-zipkin.js <base URL> <service>. Prints the trace id.
const { SpanKind, SpanStatusCode, context, trace } = require('@opentelemetry/api');
const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const [endpoint, service] = process.argv.slice(2);
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': service }),
  spanProcessors: [new SimpleSpanProcessor(new ZipkinExporter({ url: `${endpoint}/api/v2/spans` }))],
});
const tracer = provider.getTracer('tracery-legacy-test');
const root = tracer.startSpan('GET /inventory', { kind: SpanKind.SERVER, attributes: { 'http.method': 'GET' } });
const child = tracer.startSpan(
  'query stock',
  { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } },
  trace.setSpan(context.active(), root),
);
child.addEvent('slow query');
child.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
setTimeout(async () => {
  child.end();
  root.end();
  await provider.forceFlush();
  await provider.shutdown();
  console.log(root.spanContext().traceId);
}, 3);
