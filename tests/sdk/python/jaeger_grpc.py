"""gRPC clients of Tracery's Jaeger query API, as third-party tools use it.

`kiali ADDR SERVICE TRACE_ID CLUSTER` replays Kiali's calls (use_grpc: true) with
stubs that grpcio-tools generates here from the jaeger-idl protos in proto/:
GetServices, a probe FindTraces (tag `cluster`, depth 10), then GetTrace with no
time window and a 4 s deadline, grouping the streamed spans by trace ID.

`reflect ADDR` lists services through server reflection as `grpcurl list` does,
describes api_v2 GetTrace from the reflected descriptors alone, and checks
grpc.health.v1 for each query service.

Both print one JSON object on stdout.
"""

import json
import os
import sys
import tempfile
import time

import grpc

PROTO_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "proto")


def generated_stubs():
    from grpc_tools import protoc
    import grpc_tools

    out = tempfile.mkdtemp(prefix="jaeger-stubs-")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    # jaeger-idl's api_v2 files import their siblings by bare name.
    for proto in ["model.proto", "query.proto"]:
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{os.path.join(PROTO_DIR, 'jaeger', 'api_v2')}",
                f"-I{well_known}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                proto,
            ]
        )
        if code != 0:
            raise SystemExit(f"protoc failed on {proto}")
    sys.path.insert(0, out)
    import query_pb2
    import query_pb2_grpc

    return query_pb2, query_pb2_grpc


def kiali(addr, service, trace_id_hex, cluster):
    query_pb2, query_pb2_grpc = generated_stubs()
    from google.protobuf.timestamp_pb2 import Timestamp

    channel = grpc.insecure_channel(addr)
    client = query_pb2_grpc.QueryServiceStub(channel)
    services = list(client.GetServices(query_pb2.GetServicesRequest(), timeout=4).services)

    now = time.time_ns()
    start, end = Timestamp(), Timestamp()
    start.FromNanoseconds(now - 3600 * 10**9)
    end.FromNanoseconds(now + 10**9)
    probe = query_pb2.FindTracesRequest(
        query=query_pb2.TraceQueryParameters(
            service_name=service,
            tags={"cluster": cluster},
            start_time_min=start,
            start_time_max=end,
            search_depth=10,
        )
    )
    probe_ids = []
    for chunk in client.FindTraces(probe, timeout=4):
        for span in chunk.spans:
            if span.trace_id.hex() not in probe_ids:
                probe_ids.append(span.trace_id.hex())

    request = query_pb2.GetTraceRequest(trace_id=bytes.fromhex(trace_id_hex))
    chunk_sizes = []
    by_trace = {}
    for chunk in client.GetTrace(request, timeout=4):
        chunk_sizes.append(len(chunk.spans))
        for span in chunk.spans:
            by_trace.setdefault(span.trace_id.hex(), []).append(
                {
                    "operation": span.operation_name,
                    "service": span.process.service_name,
                    "tags": {tag.key: tag.v_str or tag.v_int64 or tag.v_bool for tag in span.tags},
                }
            )

    try:
        client.GetTrace(query_pb2.GetTraceRequest(trace_id=bytes(16)), timeout=4).next()
        zero_code = "OK"
    except grpc.RpcError as error:
        zero_code = error.code().name
    print(
        json.dumps(
            {
                "services": services,
                "probe_trace_ids": probe_ids,
                "chunk_sizes": chunk_sizes,
                "traces": by_trace,
                "zero_id_code": zero_code,
            }
        )
    )


def reflect(addr):
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    channel = grpc.insecure_channel(addr)
    database = ProtoReflectionDescriptorDatabase(channel)
    services = sorted(database.get_services())
    pool = DescriptorPool(database)
    methods = {}
    for name in ["jaeger.api_v2.QueryService", "jaeger.api_v3.QueryService"]:
        service = pool.FindServiceByName(name)
        methods[name] = {
            method.name: {
                "input": method.input_type.full_name,
                "output": method.output_type.full_name,
                "server_streaming": method.server_streaming,
            }
            for method in service.methods
        }
    span_fields = [field.name for field in pool.FindMessageTypeByName("jaeger.api_v2.Span").fields]
    health = health_pb2_grpc.HealthStub(channel)
    statuses = {}
    # The server as a whole, every service reflection lists, and one Jaeger
    # serves that Tracery does not: its status or the call's error code.
    asked = [""] + services + ["jaeger.api_v2.metrics.MetricsQueryService"]
    for name in asked:
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=4)
            statuses[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except grpc.RpcError as error:
            statuses[name] = error.code().name
    print(
        json.dumps(
            {"services": services, "methods": methods, "span_fields": span_fields, "health": statuses}
        )
    )


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "kiali":
        kiali(*args)
    elif command == "reflect":
        reflect(*args)
    else:
        raise SystemExit(f"unknown command {command}")
