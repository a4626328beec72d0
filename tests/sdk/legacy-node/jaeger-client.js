// Sends one trace to Tracery with jaeger-client (Node) over HTTP: Thrift binary
// `Batch` to the collector endpoint, as JAEGER_ENDPOINT makes it do.
// Usage: node jaeger-client.js <collector base URL> <service>. Prints the trace id.
const { initTracer } = require('jaeger-client');

const [endpoint, service] = process.argv.slice(2);
const tracer = initTracer(
  {
    serviceName: service,
    sampler: { type: 'const', param: 1 },
    reporter: { collectorEndpoint: `${endpoint}/api/traces`, logSpans: false },
  },
  { tags: { 'deploy.env': 'ci' }, logger: { info() {}, error(message) { console.error(message); } } },
);
const root = tracer.startSpan('GET /api/cart');
root.setTag('span.kind', 'server');
root.setTag('http.status_code', 200);
const child = tracer.startSpan('redis GET', { childOf: root });
child.setTag('span.kind', 'client');
child.setTag('error', true);
child.log({ event: 'miss', key: 'cart:42' });
setTimeout(() => {
  child.finish();
  root.finish();
  tracer.close(() => console.log(root.context().toTraceId()));
}, 3);
