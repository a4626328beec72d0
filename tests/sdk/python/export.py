"""Exports one small trace to Tracery with the OpenTelemetry Python SDK.

Usage: export.py <grpc|http> <endpoint> <service name>
Prints the trace id (32 hex digits) once the exporter has flushed.
"""
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

protocol, endpoint, service = sys.argv[1], sys.argv[2], sys.argv[3]
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    # https:// endpoints take their CA from OTEL_EXPORTER_OTLP_CERTIFICATE.
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces")

provider = TracerProvider(resource=Resource.create({"service.name": service}))
provider.add_span_processor(BatchSpanProcessor(exporter))
tracer = provider.get_tracer("tracery-sdk-test")

with tracer.start_as_current_span("GET /orders/{id}", kind=trace.SpanKind.SERVER) as root:
    root.set_attribute("http.response.status_code", 500)
    with tracer.start_as_current_span("SELECT orders", kind=trace.SpanKind.CLIENT) as child:
        child.set_attribute("db.system", "postgresql")
        child.add_event("retry", {"attempt": 2})
        child.set_status(Status(StatusCode.ERROR, "deadlock"))
    trace_id = format(root.get_span_context().trace_id, "032x")

if not provider.force_flush(10_000):
    sys.exit("flush timed out")
provider.shutdown()
print(trace_id)
