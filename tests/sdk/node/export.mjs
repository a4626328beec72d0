// Exports one small trace to Tracery with the OpenTelemetry JS SDK, whose OTLP/HTTP
// exporter sends JSON. Usage: node export.mjs <endpoint> <service name>
// Prints the trace id once the exporter has flushed.
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

const [endpoint, service] = process.argv.slice(2);
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': service }),
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
});
const tracer = provider.getTracer('tracery-sdk-test');

const root = tracer.startSpan('GET /api/cart', { kind: SpanKind.SERVER, attributes: { 'http.response.status_code': 200 } });
const child = tracer.startSpan(
  'redis GET',
  { kind: SpanKind.CLIENT, attributes: { 'db.system': 'redis', 'cache.hit': false } },
  trace.setSpan(context.active(), root),
);
child.addEvent('miss', { key: 'cart:42' });
child.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
child.end();
root.end();

await provider.forceFlush();
await provider.shutdown();
console.log(root.spanContext().traceId);
