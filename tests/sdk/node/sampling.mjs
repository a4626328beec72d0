// Polls Tracery's remote sampling with @opentelemetry/sampler-jaeger-remote and
// prints how many of 1000 random root traces it samples per operation, once the
// first strategy has arrived. Usage: node sampling.mjs <endpoint> <service> <op>...
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { AlwaysOffSampler, SamplingDecision } from '@opentelemetry/sdk-trace';
import { JaegerRemoteSampler } from '@opentelemetry/sampler-jaeger-remote';
import { randomBytes } from 'node:crypto';

const [endpoint, serviceName, ...operations] = process.argv.slice(2);
const sampler = new JaegerRemoteSampler({
  endpoint,
  serviceName,
  poolingInterval: 100,
  initialSampler: new AlwaysOffSampler(),
});

const sampled = (operation) => {
  let count = 0;
  for (let i = 0; i < 1000; i++) {
    const traceId = randomBytes(16).toString('hex');
    const result = sampler.shouldSample(ROOT_CONTEXT, traceId, operation, SpanKind.SERVER, {}, []);
    if (result.decision === SamplingDecision.RECORD_AND_SAMPLED) count++;
  }
  return count;
};

// Until the first poll lands, the initial sampler drops everything.
const deadline = Date.now() + 10_000;
while (operations.every((operation) => sampled(operation) === 0)) {
  if (Date.now() > deadline) {
    console.error('no sampling strategy arrived within 10 s');
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const counts = Object.fromEntries(operations.map((operation) => [operation, sampled(operation)]));
console.log(JSON.stringify(counts));
process.exit(0);
