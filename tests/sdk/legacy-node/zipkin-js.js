// Sends one trace to Tracery with the `zipkin` library and `zipkin-transport-http`
// (Zipkin v2 JSON, as Brave-style instrumentations do).
// Usage: node zipkin-js.js <base URL> <service>. Prints the trace id.
const { Annotation, BatchRecorder, ExplicitContext, Tracer, jsonEncoder } = require('zipkin');
const { HttpLogger } = require('zipkin-transport-http');

const [endpoint, service] = process.argv.slice(2);
const logger = new HttpLogger({
  endpoint: `${endpoint}/api/v2/spans`,
  jsonEncoder: jsonEncoder.JSON_V2,
  httpInterval: 100000,
  log: { error: (message) => console.error(message) },
});
const tracer = new Tracer({
  ctxImpl: new ExplicitContext(),
  recorder: new BatchRecorder({ logger }),
  localServiceName: service,
  traceId128Bit: true,
});

const rootId = tracer.createRootId();
tracer.letId(rootId, () => {
  tracer.recordServiceName(service);
  tracer.recordRpc('GET /payments');
  tracer.recordAnnotation(new Annotation.ServerRecv());
  tracer.recordBinary('http.path', '/payments');
});
const childId = tracer.letId(rootId, () => tracer.createChildId());
tracer.letId(childId, () => {
  tracer.recordServiceName(service);
  tracer.recordRpc('call bank');
  tracer.recordAnnotation(new Annotation.ClientSend());
  tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: 'bank', port: 443 }));
});
setTimeout(() => {
  tracer.letId(childId, () => {
    tracer.recordBinary('error', 'bank unavailable');
    tracer.recordAnnotation(new Annotation.ClientRecv());
  });
  tracer.letId(rootId, () => tracer.recordAnnotation(new Annotation.ServerSend()));
  logger.on('success', () => console.log(rootId.traceId));
  logger.on('error', (error) => { console.error(String(error)); process.exit(1); });
  logger.processQueue(logger.fetchImplementation);
}, 3);
