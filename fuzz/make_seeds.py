"""Writes the seed corpora in fuzz/corpus/<target>/ (see fuzz/README.md).

Request bodies are encoded by the real client libraries the integration tests use:
the OTLP protobuf classes of opentelemetry-proto, Thrift from jaeger-client's
generated types and the Apache Thrift library it ships, and stubs grpcio-tools
generates from proto/ for Jaeger api_v2 and Zipkin proto3. Block and store seeds come
from a real data dir (written by the real server: see `--data-dir`), split with the
layout documented in src/store/codec.rs; catalog, RED cell and sampling values are
encoded as src/store/{catalog,red/cell_codec,sampling}.rs write them.

    tests/sdk/python/.venv/bin/python fuzz/make_seeds.py [--data-dir DIR]

Needs the venvs of .ci/setup-sdks and .ci/setup-legacy-clients (pass
--sdk-dir to use another checkout's) and the `zstd` command.
"""

import argparse
import glob
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

parser = argparse.ArgumentParser()
parser.add_argument("--sdk-dir", default=os.path.join(ROOT, "tests", "sdk"))
parser.add_argument("--data-dir", help="a tracery data dir with blocks in it")
parser.add_argument("--tracery", help="a tracery binary: `tracery demo`'s OTLP/HTTP requests become seeds")
args = parser.parse_args()

import shutil  # noqa: E402

shutil.rmtree(CORPUS, ignore_errors=True)

for site in glob.glob(os.path.join(args.sdk_dir, "jaeger-python", ".venv", "lib", "python3*", "site-packages")):
    sys.path.append(site)

from google.protobuf import json_format  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402
from opentelemetry.proto.common.v1 import common_pb2  # noqa: E402
from opentelemetry.proto.resource.v1 import resource_pb2  # noqa: E402
from opentelemetry.proto.trace.v1 import trace_pb2  # noqa: E402
from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.transport import TTransport  # noqa: E402
from jaeger_client.thrift_gen.jaeger import ttypes as jaeger_thrift  # noqa: E402
from jaeger_client.thrift_gen.agent import Agent  # noqa: E402


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), "wb") as out:
        out.write(data)


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value):
    return varint((value << 1) ^ (value >> 63) if value >= 0 else ((-value) << 1) - 1)


# ---------------------------------------------------------------- OTLP
T0 = 1_765_000_000_000_000_000
TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")


def any_value(value):
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    if isinstance(value, list):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=attrs(value)))
    return common_pb2.AnyValue(string_value=value)


def attrs(mapping):
    return [common_pb2.KeyValue(key=key, value=any_value(value)) for key, value in mapping.items()]


def otlp_span(span_id, name, parent=b"", kind=2, start=0, end=1_000_000, attributes=None, status=0, **extra):
    return trace_pb2.Span(
        trace_id=extra.get("trace_id", TRACE),
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=kind,
        start_time_unix_nano=T0 + start,
        end_time_unix_nano=T0 + end,
        attributes=attrs(attributes or {}),
        status=trace_pb2.Status(code=status, message="boom" if status == 2 else ""),
        events=extra.get("events", []),
        links=extra.get("links", []),
        trace_state=extra.get("trace_state", ""),
        flags=extra.get("flags", 0),
    )


def otlp_request(service, spans, resource_extra=None, scope=("io.opentelemetry.demo", "1.2.3")):
    resource = resource_pb2.Resource(attributes=attrs({"service.name": service, **(resource_extra or {})}))
    scope_spans = trace_pb2.ScopeSpans(
        scope=common_pb2.InstrumentationScope(name=scope[0], version=scope[1]), spans=spans
    )
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(resource=resource, scope_spans=[scope_spans])]
    )


requests = {
    "checkout": otlp_request(
        "checkout",
        [
            otlp_span(
                b"\x01" * 8,
                "POST /checkout",
                attributes={"http.method": "POST", "http.status_code": 200, "http.route": "/checkout"},
                events=[
                    trace_pb2.Span.Event(time_unix_nano=T0 + 10, name="validated", attributes=attrs({"items": 3}))
                ],
            ),
            otlp_span(
                b"\x02" * 8,
                "SELECT orders",
                parent=b"\x01" * 8,
                kind=3,
                start=100,
                end=900_000,
                attributes={"db.system": "postgresql", "db.statement": "SELECT * FROM orders WHERE id = $1"},
                status=2,
            ),
        ],
        {"host.name": "web-1", "process.pid": 4242},
    ),
    "every_value_kind": otlp_request(
        "kinds",
        [
            otlp_span(
                b"\x03" * 8,
                "kinds",
                kind=1,
                attributes={
                    "s": "text",
                    "b": True,
                    "i": -7,
                    "d": 0.25,
                    "raw": b"\x00\x01\xff",
                    "list": ["a", 1, 2.5, False],
                    "map": {"k": "v", "nested": {"deep": [1, 2]}},
                },
                links=[
                    trace_pb2.Span.Link(
                        trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
                        span_id=b"\x09" * 8,
                        trace_state="k=v",
                        attributes=attrs({"link.kind": "follows"}),
                    )
                ],
                trace_state="vendor=1",
                flags=0x301,
            )
        ],
    ),
    "two_resources": trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            otlp_request("frontend", [otlp_span(b"\x04" * 8, "GET /", kind=2)]).resource_spans[0],
            otlp_request("backend", [otlp_span(b"\x05" * 8, "rpc", parent=b"\x04" * 8, kind=5, start=5)]).resource_spans[0],
        ]
    ),
    "odd_ids_and_times": otlp_request(
        "",
        [
            otlp_span(b"\x06" * 4, "short id"),
            otlp_span(b"\x00" * 8, "zero id", trace_id=b"\x00" * 16),
            otlp_span(b"\x07" * 8, "", start=5_000, end=1_000),
        ],
        scope=("", ""),
    ),
    "empty": trace_service_pb2.ExportTraceServiceRequest(),
}
for name, request in requests.items():
    write("otlp_protobuf", name + ".pb", request.SerializeToString())



def otlp_json(message):
    """OTLP/JSON: proto3 JSON with lowerCamelCase names, hex IDs, enums as numbers."""
    document = json_format.MessageToDict(message, use_integers_for_enums=True)

    def hex_ids(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    import base64

                    node[key] = base64.b64decode(value).hex()
                else:
                    hex_ids(value)
        elif isinstance(node, list):
            for value in node:
                hex_ids(value)

    hex_ids(document)
    return json.dumps(document)


for name in ("checkout", "every_value_kind", "two_resources", "odd_ids_and_times"):
    write("otlp_json", name + ".json", otlp_json(requests[name]))
def capture_demo(tracery):
    """The bodies `tracery demo --protocol http` posts, captured by a stand-in receiver."""
    import http.server
    import threading

    bodies = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = "http://127.0.0.1:%d" % server.server_address[1]
    subprocess.run([tracery, "demo", "--protocol", "http", "--endpoint", endpoint, "--requests", "4", "--seed", "3"],
                   check=True, timeout=120, capture_output=True)
    server.shutdown()
    return bodies


if args.tracery:
    for i, body in enumerate(sorted(capture_demo(args.tracery), key=len)[:4]):
        write("otlp_protobuf", "demo_%d.pb" % i, body)
        if i == 0:
            write("otlp_json", "demo_0.json", otlp_json(trace_service_pb2.ExportTraceServiceRequest.FromString(body)))


for golden in glob.glob(os.path.join(ROOT, "tests", "it", "golden", "*.json")):
    # v3_trace.json is api_v3's {"result": TracesData}; v1_trace.json Jaeger's
    # {"data": [...]}: both are trace files the UI opens.
    with open(golden, "rb") as source:
        data = source.read()
    write("otlp_json", "golden_" + os.path.basename(golden), data)
    write("jaeger", "golden_" + os.path.basename(golden), data)
write("otlp_json", "string_numbers.json", json.dumps({"resourceSpans": [{"resource": {"attributes": [
    {"key": "service.name", "value": {"stringValue": "s"}}]}, "scopeSpans": [{"spans": [{
        "traceId": TRACE.hex(), "spanId": "0102030405060708", "name": "n", "kind": "SPAN_KIND_SERVER",
        "startTimeUnixNano": str(T0), "endTimeUnixNano": T0 + 5, "status": {"code": "STATUS_CODE_ERROR"},
        "attributes": [{"key": "i", "value": {"intValue": 5}}, {"key": "d", "value": {"doubleValue": "NaN"}}]}]}]}]}))

# ---------------------------------------------------------------- Jaeger
def thrift_bytes(struct_value, protocol):
    transport = TTransport.TMemoryBuffer()
    struct_value.write(protocol(transport))
    return transport.getvalue()


def emit_batch(batch, protocol):
    """What jaeger-client's agent sender puts in one UDP datagram (Agent.send_emitBatch)."""
    transport = TTransport.TMemoryBuffer()
    out = protocol(transport)
    out.writeMessageBegin("emitBatch", 4, 1)  # TMessageType.ONEWAY
    Agent.emitBatch_args(batch=batch).write(out)
    out.writeMessageEnd()
    return transport.getvalue()


tag = jaeger_thrift.Tag
jaeger_batch = jaeger_thrift.Batch(
    process=jaeger_thrift.Process(
        serviceName="cart",
        tags=[tag(key="hostname", vType=jaeger_thrift.TagType.STRING, vStr="web-2"),
              tag(key="jaeger.version", vType=jaeger_thrift.TagType.STRING, vStr="Python-4.8.0")],
    ),
    spans=[
        jaeger_thrift.Span(
            traceIdLow=0x1234, traceIdHigh=0x77, spanId=0x55, parentSpanId=0, operationName="GET /api/cart",
            flags=1, startTime=T0 // 1000, duration=1500,
            tags=[tag(key="span.kind", vType=jaeger_thrift.TagType.STRING, vStr="server"),
                  tag(key="http.status_code", vType=jaeger_thrift.TagType.LONG, vLong=200),
                  tag(key="sampler.param", vType=jaeger_thrift.TagType.BOOL, vBool=True),
                  tag(key="ratio", vType=jaeger_thrift.TagType.DOUBLE, vDouble=0.5),
                  tag(key="blob", vType=jaeger_thrift.TagType.BINARY, vBinary="\x00\x01")],
            logs=[jaeger_thrift.Log(timestamp=T0 // 1000 + 3, fields=[
                tag(key="event", vType=jaeger_thrift.TagType.STRING, vStr="miss")])],
        ),
        jaeger_thrift.Span(
            traceIdLow=0x1234, traceIdHigh=0x77, spanId=0x56, parentSpanId=0x55, operationName="redis GET",
            flags=1, startTime=T0 // 1000 + 10, duration=300,
            references=[jaeger_thrift.SpanRef(refType=jaeger_thrift.SpanRefType.CHILD_OF,
                                              traceIdLow=0x1234, traceIdHigh=0x77, spanId=0x55)],
            tags=[tag(key="error", vType=jaeger_thrift.TagType.BOOL, vBool=True)],
        ),
    ],
)
write("jaeger", "batch_binary.thrift", thrift_bytes(jaeger_batch, TBinaryProtocol.TBinaryProtocol))
write("jaeger", "emit_batch_compact.thrift", emit_batch(jaeger_batch, TCompactProtocol.TCompactProtocol))
write("jaeger", "emit_batch_binary.thrift", emit_batch(jaeger_batch, TBinaryProtocol.TBinaryProtocol))


def generated(proto_files):
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="tracery-seed-stubs-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    # collector.proto imports "model.proto": each proto's own directory is an include path.
    dirs = sorted({os.path.dirname(os.path.join(ROOT, "proto", path)) for path in proto_files})
    status = protoc.main(["protoc"] + ["-I" + d for d in dirs] + ["-I" + include, "--python_out=" + out]
                         + [os.path.join(ROOT, "proto", path) for path in proto_files])
    assert status == 0, "protoc failed"
    sys.path.insert(0, out)


generated(["jaeger/api_v2/model.proto", "jaeger/api_v2/collector.proto", "zipkin/zipkin.proto"])
import collector_pb2  # noqa: E402
import model_pb2  # noqa: E402
from google.protobuf import duration_pb2, timestamp_pb2  # noqa: E402


def kv(key, **value):
    return model_pb2.KeyValue(key=key, **value)


post_spans = collector_pb2.PostSpansRequest(batch=model_pb2.Batch(
    process=model_pb2.Process(service_name="payments", tags=[kv("hostname", v_str="pay-1")]),
    spans=[
        model_pb2.Span(
            trace_id=TRACE, span_id=b"\x11" * 8, operation_name="charge", flags=1,
            start_time=timestamp_pb2.Timestamp(seconds=T0 // 10**9, nanos=5000),
            duration=duration_pb2.Duration(nanos=2_000_000),
            tags=[kv("span.kind", v_type=model_pb2.STRING, v_str="client"),
                  kv("amount", v_type=model_pb2.FLOAT64, v_float64=42.5),
                  kv("retries", v_type=model_pb2.INT64, v_int64=2),
                  kv("error", v_type=model_pb2.BOOL, v_bool=True),
                  kv("payload", v_type=model_pb2.BINARY, v_binary=b"\x01\x02")],
            logs=[model_pb2.Log(timestamp=timestamp_pb2.Timestamp(seconds=T0 // 10**9),
                                fields=[kv("event", v_str="declined")])],
            references=[model_pb2.SpanRef(trace_id=TRACE, span_id=b"\x10" * 8, ref_type=model_pb2.FOLLOWS_FROM)],
        ),
        model_pb2.Span(trace_id=TRACE, span_id=b"\x12" * 8, operation_name="own process",
                       process=model_pb2.Process(service_name="fraud")),
    ],
))
write("jaeger", "post_spans.pb", post_spans.SerializeToString())

# ---------------------------------------------------------------- Zipkin
import zipkin_pb2  # noqa: E402  (package zipkin.proto3, generated at the top level)

zipkin_v2 = [
    {"traceId": TRACE.hex(), "id": "0102030405060708", "name": "get /inventory", "kind": "SERVER",
     "timestamp": T0 // 1000, "duration": 2500, "localEndpoint": {"serviceName": "inventory", "ipv4": "10.0.0.7"},
     "tags": {"http.method": "GET", "error": "timeout"}, "annotations": [{"timestamp": T0 // 1000 + 1, "value": "ws"}]},
    {"traceId": TRACE.hex()[16:], "id": "0102030405060709", "parentId": "0102030405060708", "name": "query stock",
     "kind": "CLIENT", "timestamp": T0 // 1000 + 10, "duration": 900, "shared": True,
     "localEndpoint": {"serviceName": "inventory"}, "remoteEndpoint": {"serviceName": "postgres", "ipv6": "::1", "port": 5432}},
]
write("zipkin", "v2.json", json.dumps(zipkin_v2))
zipkin_v1 = [
    {"traceId": TRACE.hex()[16:], "id": "0a0b0c0d0e0f0102", "name": "call bank",
     "timestamp": T0 // 1000, "duration": 700,
     "annotations": [{"timestamp": T0 // 1000, "value": "cs", "endpoint": {"serviceName": "payments", "ipv4": "127.0.0.1", "port": 80}},
                     {"timestamp": T0 // 1000 + 700, "value": "cr", "endpoint": {"serviceName": "payments"}}],
     "binaryAnnotations": [{"key": "error", "value": "bank unavailable", "endpoint": {"serviceName": "payments"}},
                           {"key": "sa", "value": True, "endpoint": {"serviceName": "bank", "port": 443}}]},
]
write("zipkin", "v1.json", json.dumps(zipkin_v1))
zipkin_proto = zipkin_pb2.ListOfSpans(spans=[
    zipkin_pb2.Span(trace_id=TRACE, id=b"\x21" * 8, parent_id=b"\x20" * 8, kind=zipkin_pb2.Span.CLIENT,
                    name="grpc call", timestamp=T0 // 1000, duration=1200,
                    local_endpoint=zipkin_pb2.Endpoint(service_name="web", ipv4=b"\x0a\x00\x00\x01", port=8080),
                    remote_endpoint=zipkin_pb2.Endpoint(service_name="api", ipv6=b"\x00" * 15 + b"\x01"),
                    annotations=[zipkin_pb2.Annotation(timestamp=T0 // 1000 + 5, value="sent")],
                    tags={"rpc.method": "Get"}, shared=False),
])
write("zipkin", "spans.pb", zipkin_proto.SerializeToString())

# ---------------------------------------------------------------- query strings
queries = {
    "v1_search": "service=checkout&operation=POST%20%2Fcheckout&start=1765000000000000&end=1765003600000000"
                 "&minDuration=1.5ms&maxDuration=2s&limit=20&tags=%7B%22http.status_code%22%3A%22500%22%7D&tag=error:true",
    "v1_trace_ids": "traceID=4bf92f3577b34da6a3ce929d0e0e4736&traceID=S%2FkvNXezTaajzpKdDg5HNg%3D%3D",
    "v1_filters": "service=shop&filter=http.status_code%3E%3D500&filter=db.statement%3D~%5ESELECT&filter=%21cache.hit"
                  "&filter=resource.host.name!%3Dweb-1&n_plus_one=true",
    "v3_search": "query.service_name=checkout&query.operation_name=x&query.start_time_min=2025-12-06T05:46:40Z"
                 "&query.start_time_max=2025-12-06T06:46:40.123456789%2B02:00&query.duration_min=100us"
                 "&query.duration_max=1m30s&query.search_depth=30&query.attributes=%7B%22k%22%3A%22v%22%7D",
    "v3_grafana": "query.startTimeMin=2025-12-06T05:46:40.000 00:00&query.startTimeMax=2025-12-06T06:46:40 00:00"
                  "&query.serviceName=a&query.num_traces=5",
    "metrics": "service=checkout,service=cart&spanKind=SPAN_KIND_SERVER&spanKind=client&quantile=0.95"
               "&groupByOperation=true&endTs=1765000000000&lookback=3600000&step=60000&ratePer=600000",
    "dependencies": "endTs=1765000000000&lookback=86400000",
    "huge": "limit=1000000000&start=0&end=18446744073709551615&lookback=3153600000000&step=1",
    "filter_regex": "key=~(a|b)*c{2,5}[^x]$",
    "duration": "1h2m3.5s4ms5us6ns",
}
for name, text in queries.items():
    write("query_params", name + ".txt", text)


# ---------------------------------------------------------------- store values
def u64s(*values):
    return b"".join(varint(value) for value in values)


def red_cell(num_zero, buckets, slowest, error=None):
    out = bytes([1]) + u64s(num_zero + sum(count for _, count in buckets),
                           1 if error else 0, num_zero, len(buckets))
    previous = 0
    for index, count in buckets:
        out += zigzag(index - previous) + varint(count)
        previous = index
    out += varint(len(slowest))
    for trace_id, duration in slowest + ([error] if error else []):
        out += trace_id + varint(duration)
    return out


cells = [
    red_cell(0, [(1500, 3), (1800, 1)], [(TRACE, 90_000_000), (b"\x01" * 16, 5_000_000)], (TRACE, 90_000_000)),
    red_cell(2, [(-3, 1), (0, 4), (2100, 2)], [(b"\x02" * 16, 7_000_000_000)]),
    red_cell(0, [], []),
]
for i, (first, second) in enumerate([(cells[0], cells[1]), (cells[1], cells[2]), (cells[2], cells[0])]):
    write("store_values", "red_cells_%d.bin" % i, bytes([1, len(first)]) + first + second)

catalog = b""
for key, value in [
    (b"S" + b"checkout", 0), (b"S" + b"cart", 1),
    (b"O" + struct.pack(">I", 0) + bytes([2]) + b"POST /checkout", 0),
    (b"O" + struct.pack(">I", 1) + bytes([3]) + b"redis GET", 1),
    (b"O" + struct.pack(">I", 0) + bytes([1]) + b"validate", 2),
]:
    catalog += bytes([len(key)]) + key + bytes([4]) + struct.pack(">I", value)
write("store_values", "catalog.bin", bytes([2]) + catalog)
for i, (service, operation, probability) in enumerate([("checkout", "POST /checkout", 0.001), ("cart", "", 1.0)]):
    key = service.encode() + b"\x00" + operation.encode()
    write("store_values", "sampling_%d.bin" % i, bytes([3, len(key)]) + key + bytes([1]) + struct.pack(">d", probability))


# ---------------------------------------------------------------- blocks (from a real data dir)
def zstd_frame_len(data, start):
    """Length of the zstd frame at `start` (format: RFC 8878)."""
    assert data[start:start + 4] == b"\x28\xb5\x2f\xfd", "not a zstd frame"
    descriptor = data[start + 4]
    fcs_flag, single_segment, checksum, dict_flag = descriptor >> 6, (descriptor >> 5) & 1, (descriptor >> 2) & 1, descriptor & 3
    position = start + 5 + (0 if single_segment else 1) + [0, 1, 2, 4][dict_flag]
    position += [1 if single_segment else 0, 2, 4, 8][fcs_flag]
    while True:
        header = int.from_bytes(data[position:position + 3], "little")
        last, block_type, size = header & 1, (header >> 1) & 3, header >> 3
        position += 3 + (1 if block_type == 1 else size)
        if last:
            return position + (4 if checksum else 0) - start


def blocks_of(segment):
    """(offset, frames, filter) of every block in a segment file. Compaction punches
    holes (zeros) where the blocks it replaced were, so blocks are found by their
    start: the version byte 2, a length, and a zstd frame's magic number."""
    magic = b"\x28\xb5\x2f\xfd"
    position = segment.find(magic)
    while position != -1:
        start = position - 5
        if start >= 0 and segment[start] == 2:
            summary_len = struct.unpack_from("<I", segment, start + 1)[0]
            body = start + 5 + summary_len
            if segment[body:body + 4] == magic:
                end = body + zstd_frame_len(segment, body)
                filter_end = end
                if filter_end < len(segment) and segment[filter_end] == 1:
                    # The filter runs to the next block, a hole, or the end of the file.
                    following = segment.find(magic, end)
                    filter_end = len(segment) if following == -1 else following - 5
                    while filter_end > end and segment[filter_end - 1] == 0 and segment[filter_end - 2:filter_end] == b"\0\0":
                        filter_end -= 1
                yield start, segment[start:end], segment[end:filter_end]
                position = segment.find(magic, end)
                continue
        position = segment.find(magic, position + 1)


def unzstd(frame):
    return subprocess.run(["zstd", "-d", "-c", "-q"], input=frame, capture_output=True, check=True).stdout


if args.data_dir:
    picked = []
    for path in sorted(glob.glob(os.path.join(args.data_dir, "blocks", "*"))):
        with open(path, "rb") as source:
            segment = source.read()
        for offset, frames, term_filter in blocks_of(segment):
            picked.append((path, offset, frames, term_filter))
    # Six blocks of spread sizes up to 32 KiB: small ones mutate faster, larger
    # ones hold more kinds of spans.
    picked = sorted((entry for entry in picked if len(entry[2]) <= 32 * 1024), key=lambda entry: len(entry[2]))
    picked = [picked[i * (len(picked) - 1) // 5] for i in range(6)] if len(picked) > 6 else picked
    for i, (path, offset, frames, term_filter) in enumerate(picked):
        write("block", "frames_%d.bin" % i, frames)
        summary_len = struct.unpack_from("<I", frames, 1)[0]
        summary, body = unzstd(frames[5:5 + summary_len]), unzstd(frames[5 + summary_len:])
        if len(summary) < 65536 and len(summary) + len(body) < 64 * 1024:
            write("block", "raw_%d.bin" % i, struct.pack("<H", len(summary)) + summary + body)
        if term_filter:
            write("block", "filter_%d.bin" % i, term_filter)
        # Its metadata, as Store::persist_metas writes it (BlockMeta::encode, version 5).
        seq, hour = 100 + i, 490_000 + i
        checksum = zlib.crc32(frames + term_filter) & 0xFFFFFFFF
        num_bytes = len(frames) + len(term_filter)
        meta = bytes([5]) + u64s(seq, hour, T0, T0 + 10**9, 5 * 10**6, 2, offset, num_bytes, checksum,
                                 summary_len, len(term_filter))
        meta += u64s(2, 0, 3) + u64s(1, 0) + u64s(1, 0, 1, 1)
        meta += u64s(2, 0x0102030405060708, 0x1000)
        key = b"M" + struct.pack(">Q", seq)
        write("store_values", "block_meta_%d.bin" % i, bytes([0]) + key + struct.pack(">I", hour) + meta)

total = sum(os.path.getsize(path) for path in glob.glob(os.path.join(CORPUS, "*", "*")))
print("seed corpus: %d files, %d bytes" % (len(glob.glob(os.path.join(CORPUS, "*", "*"))), total))
