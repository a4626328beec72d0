// Sends one trace to Tracery with @opentelemetry/exporter-jaeger, which uses
// jaeger-client's UDP sender (agent `emitBatch` in Thrift binary, port 6832).
// Usage: node otel-jaeger.js <host> <port> <service>. Prints the trace id.
const { SpanKind, SpanStatusCode, context, trace } = require('@opentelemetry/api');
const { JaegerExporter } = require('@opentelemetry/exporter-jaeger');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const [host, port, service] = process.argv.slice(2);
// The exporter sends resource attributes as span tags; process tags come from `tags`.
const exporter = new JaegerExporter({ host, port: Number(port), tags: [{ key: 'deploy.env', value: 'ci' }] });
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': service, 'host.name': 'node-host' }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('tracery-legacy-test', '1.2.3');
const root = tracer.startSpan('POST /checkout', { kind: SpanKind.SERVER });
const child = tracer.startSpan(
  'charge card',
  { kind: SpanKind.CLIENT, attributes: { 'payment.amount': 42 } },
  trace.setSpan(context.active(), root),
);
child.addEvent('declined', { reason: 'insufficient funds' });
child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
child.end();
root.end();
(async () => {
  await provider.forceFlush();
  await provider.shutdown();
  console.log(root.spanContext().traceId);
})();
