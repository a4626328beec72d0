"""Sends one trace to Tracery with jaeger-client (Python) over UDP (agent compact
Thrift, port 6831). Usage: python send.py <host> <port> <service>.
Prints the trace id in Jaeger's hex once the reporter has flushed."""
import sys
import time

from jaeger_client import Config

host, port, service = sys.argv[1], int(sys.argv[2]), sys.argv[3]
config = Config(
    config={
        "sampler": {"type": "const", "param": 1},
        "local_agent": {"reporting_host": host, "reporting_port": port},
        "tags": {"deploy.env": "ci"},
        "logging": False,
    },
    service_name=service,
    validate=True,
)
tracer = config.initialize_tracer()
with tracer.start_active_span("GET /orders/{id}") as root:
    root.span.set_tag("span.kind", "server")
    root.span.set_tag("http.status_code", 500)
    with tracer.start_active_span("SELECT orders") as child:
        child.span.set_tag("error", True)
        child.span.set_tag("db.type", "sql")
        child.span.log_kv({"event": "retry", "attempt": 2})
        time.sleep(0.002)
    trace_id = root.span.trace_id

time.sleep(0.5)  # the reporter thread sends on its flush interval
done = tracer.close()
deadline = time.time() + 5
while not done.done() and time.time() < deadline:
    time.sleep(0.05)
print("%x" % trace_id)
