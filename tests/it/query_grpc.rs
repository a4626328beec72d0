//! The gRPC query API (16685) through tonic clients generated from the jaeger-idl
//! protos: chunking, status codes, and the same rendering as the HTTP API.

use std::collections::BTreeSet;

use prost_types::Timestamp;
use tonic::transport::Channel;
use tonic::Code;
use tracery::protocol::jaeger::api_v2::query_service_client::QueryServiceClient as V2Client;
use tracery::protocol::jaeger::api_v2::{
    self as v2, FindTracesRequest, GetDependenciesRequest, GetOperationsRequest,
    GetServicesRequest, GetTraceRequest, TraceQueryParameters,
};
use tracery::protocol::jaeger::api_v3 as v3;
use tracery::protocol::jaeger::api_v3::query_service_client::QueryServiceClient as V3Client;

use crate::support::fixtures::{kv, now_nanos, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::TestServer;

async fn v2_client(server: &TestServer) -> V2Client<Channel> {
    V2Client::connect(format!("http://{}", server.query_grpc))
        .await
        .unwrap()
}

async fn v3_client(server: &TestServer) -> V3Client<Channel> {
    V3Client::connect(format!("http://{}", server.query_grpc))
        .await
        .unwrap()
}

fn timestamp(unix_nanos: u64) -> Timestamp {
    Timestamp {
        seconds: (unix_nanos / 1_000_000_000) as i64,
        nanos: (unix_nanos % 1_000_000_000) as i32,
    }
}

/// One trace of 25 spans over two services, so it needs three chunks.
fn wide_trace() -> Trace {
    let mut builder = TraceBuilder::new("frontend")
        .span("GET /wide", 0..500)
        .attr(kv("http.status_code", 200));
    for index in 0..24 {
        let service = if index % 2 == 0 { "db" } else { "frontend" };
        builder = builder
            .service(service)
            .child_of(0, &format!("step {index:02}"), 10..20)
            .kind(KIND_CLIENT);
    }
    builder.build()
}

async fn collect_v2(mut stream: tonic::Streaming<v2::SpansResponseChunk>) -> Vec<Vec<v2::Span>> {
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        chunks.push(chunk.spans);
    }
    chunks
}

#[tokio::test]
async fn api_v2_get_trace_streams_chunks_of_ten_rendered_like_the_http_api() {
    let server = TestServer::start().await;
    let trace = wide_trace();
    server.export(trace.to_export_request()).await;

    let stream = v2_client(&server)
        .await
        .get_trace(GetTraceRequest {
            trace_id: trace.id.to_vec(),
            ..GetTraceRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let chunks = collect_v2(stream).await;
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let spans: Vec<v2::Span> = chunks.into_iter().flatten().collect();

    // Same spans, order, tags and processes as /api/traces/{id}.
    let body = server
        .get_ok(&format!("/api/traces/{}", trace.id_hex()))
        .await;
    let http = &body["data"][0];
    let http_spans = http["spans"].as_array().unwrap();
    assert_eq!(spans.len(), http_spans.len());
    for (grpc, http_span) in spans.iter().zip(http_spans) {
        assert_eq!(grpc.trace_id, trace.id.to_vec());
        assert_eq!(hex::encode(&grpc.span_id), http_span["spanID"]);
        assert_eq!(grpc.operation_name, http_span["operationName"]);
        let start_micros = grpc.start_time.as_ref().unwrap().seconds as u64 * 1_000_000
            + grpc.start_time.as_ref().unwrap().nanos as u64 / 1000;
        assert_eq!(start_micros, http_span["startTime"].as_u64().unwrap());
        let grpc_tags: BTreeSet<String> = grpc
            .tags
            .iter()
            .map(|tag| format!("{}={}{}{}", tag.key, tag.v_str, tag.v_int64, tag.v_bool))
            .collect();
        let http_tags: BTreeSet<String> = http_span["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tag| {
                let value = &tag["value"];
                match tag["type"].as_str().unwrap() {
                    "string" => format!(
                        "{}={}0false",
                        tag["key"].as_str().unwrap(),
                        value.as_str().unwrap()
                    ),
                    "int64" => format!("{}={}false", tag["key"].as_str().unwrap(), value),
                    "bool" => format!("{}=0{}", tag["key"].as_str().unwrap(), value),
                    other => panic!("unexpected tag type {other}"),
                }
            })
            .collect();
        assert_eq!(grpc_tags, http_tags, "span {}", grpc.operation_name);
        let process = grpc.process.as_ref().expect("process inline");
        let http_process = &http["processes"][http_span["processID"].as_str().unwrap()];
        assert_eq!(process.service_name, http_process["serviceName"]);
        if let Some(parent) = http_span["references"].get(0) {
            assert_eq!(hex::encode(&grpc.references[0].span_id), parent["spanID"]);
            assert_eq!(grpc.references[0].ref_type, v2::SpanRefType::ChildOf as i32);
        }
    }
}

fn status<T>(result: Result<T, tonic::Status>) -> tonic::Status {
    result.map(|_| ()).unwrap_err()
}

#[tokio::test]
async fn api_v2_statuses_follow_jaeger() {
    let server = TestServer::start().await;
    let mut client = v2_client(&server).await;

    let zero = status(
        client
            .get_trace(GetTraceRequest {
                trace_id: vec![0; 16],
                ..GetTraceRequest::default()
            })
            .await,
    );
    assert_eq!(zero.code(), Code::InvalidArgument, "{zero:?}");
    let unknown = status(
        client
            .get_trace(GetTraceRequest {
                trace_id: vec![7; 16],
                ..GetTraceRequest::default()
            })
            .await,
    );
    assert_eq!(
        (unknown.code(), unknown.message()),
        (Code::NotFound, "trace not found")
    );
    let no_query = status(client.find_traces(FindTracesRequest { query: None }).await);
    assert_eq!(no_query.code(), Code::InvalidArgument);
    let archive = status(
        client
            .archive_trace(v2::ArchiveTraceRequest {
                trace_id: vec![7; 16],
                ..v2::ArchiveTraceRequest::default()
            })
            .await,
    );
    assert_eq!(archive.code(), Code::Unimplemented);
}

#[tokio::test]
async fn api_v2_search_services_operations_and_dependencies() {
    let server = TestServer::start().await;
    let now = now_nanos();
    let older = TraceBuilder::new("frontend")
        .at(now - 20_000_000_000)
        .span("GET /cart", 0..100)
        .attr(kv("cluster", "east"))
        .service("cart")
        .child("load", 10..90)
        .kind(KIND_CLIENT)
        .build();
    let newer = TraceBuilder::new("frontend")
        .at(now - 10_000_000_000)
        .span("GET /cart", 0..100)
        .attr(kv("cluster", "west"))
        .build();
    server.export(older.to_export_request()).await;
    server.export(newer.to_export_request()).await;
    let mut client = v2_client(&server).await;

    let services = client
        .get_services(GetServicesRequest {})
        .await
        .unwrap()
        .into_inner()
        .services;
    assert_eq!(services, ["cart", "frontend"]);

    let operations = client
        .get_operations(GetOperationsRequest {
            service: "cart".into(),
            span_kind: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(operations.operation_names, ["load"]);
    assert_eq!(operations.operations[0].span_kind, "client");
    let servers = client
        .get_operations(GetOperationsRequest {
            service: "cart".into(),
            span_kind: "server".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(servers.operations.is_empty());

    let query = |tags: &[(&str, &str)], depth: i32| FindTracesRequest {
        query: Some(TraceQueryParameters {
            service_name: "frontend".into(),
            tags: tags
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            start_time_min: Some(timestamp(now - 60_000_000_000)),
            start_time_max: Some(timestamp(now)),
            search_depth: depth,
            ..TraceQueryParameters::default()
        }),
    };
    let found = collect_v2(
        client
            .find_traces(query(&[], 10))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    // Newest first, one trace at a time.
    let trace_ids: Vec<Vec<u8>> = found
        .iter()
        .map(|chunk| chunk[0].trace_id.clone())
        .collect();
    assert_eq!(trace_ids, [newer.id.to_vec(), older.id.to_vec()]);
    assert_eq!(found[1].len(), 2);
    let east = collect_v2(
        client
            .find_traces(query(&[("cluster", "east")], 10))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(east.len(), 1);
    assert_eq!(east[0][0].trace_id, older.id.to_vec());
    let one = collect_v2(
        client
            .find_traces(query(&[], 1))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(one.len(), 1);

    let dependencies = client
        .get_dependencies(GetDependenciesRequest {
            start_time: Some(timestamp(now - 3_600_000_000_000)),
            end_time: Some(timestamp(now + 1_000_000_000)),
        })
        .await
        .unwrap()
        .into_inner()
        .dependencies;
    assert_eq!(dependencies.len(), 1);
    assert_eq!(
        (
            dependencies[0].parent.as_str(),
            dependencies[0].child.as_str(),
            dependencies[0].call_count
        ),
        ("frontend", "cart", 1)
    );
}

#[tokio::test]
async fn api_v3_traces_are_otlp_and_searches_need_a_window() {
    let server = TestServer::start().await;
    let trace = wide_trace();
    server.export(trace.to_export_request()).await;
    let mut client = v3_client(&server).await;

    let mut stream = client
        .get_trace(v3::GetTraceRequest {
            trace_id: trace.id_hex(),
            ..v3::GetTraceRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let data = stream.message().await.unwrap().expect("one message");
    assert!(stream.message().await.unwrap().is_none());
    let spans: usize = data
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    assert_eq!(spans, 25);
    assert_eq!(data.resource_spans.len(), 2, "one per service");

    let unknown = client
        .get_trace(v3::GetTraceRequest {
            trace_id: "00000000000000000000000000000007".into(),
            ..v3::GetTraceRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = client
        .get_trace(v3::GetTraceRequest {
            trace_id: "xyz".into(),
            ..v3::GetTraceRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);

    let no_window = client
        .find_traces(v3::FindTracesRequest {
            query: Some(v3::TraceQueryParameters {
                service_name: "frontend".into(),
                ..v3::TraceQueryParameters::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(no_window.code(), Code::InvalidArgument);
    let now = now_nanos();
    let mut found = client
        .find_traces(v3::FindTracesRequest {
            query: Some(v3::TraceQueryParameters {
                service_name: "db".into(),
                start_time_min: Some(timestamp(now - 60_000_000_000)),
                start_time_max: Some(timestamp(now + 1_000_000_000)),
                ..v3::TraceQueryParameters::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let found_trace = found.message().await.unwrap().unwrap();
    assert_eq!(
        found_trace.resource_spans[0].scope_spans[0].spans[0].trace_id,
        trace.id.to_vec()
    );
    assert!(found.message().await.unwrap().is_none());

    let services = client
        .get_services(v3::GetServicesRequest {})
        .await
        .unwrap()
        .into_inner()
        .services;
    assert_eq!(services, ["db", "frontend"]);
    let operations = client
        .get_operations(v3::GetOperationsRequest {
            service: "frontend".into(),
            span_kind: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .operations;
    assert!(operations
        .iter()
        .any(|operation| operation.name == "GET /wide" && operation.span_kind == "server"));
}

fn python() -> std::path::PathBuf {
    crate::sdk_languages::sdk_dir().join("python/.venv/bin/python")
}

/// Kiali's exact sequence, through stubs grpcio-tools generates from the protos.
#[tokio::test]
async fn kiali_call_sequence_with_python_grpcio_stubs() {
    let server = TestServer::start().await;
    let trace = wide_trace();
    let tagged = TraceBuilder::new("frontend")
        .span("GET /probe", 0..10)
        .attr(kv("cluster", "Kubernetes"))
        .build();
    server.export(trace.to_export_request()).await;
    server.export(tagged.to_export_request()).await;

    let output = crate::sdk_languages::run_exporter(
        python(),
        vec![
            "python/jaeger_grpc.py".into(),
            "kiali".into(),
            server.query_grpc.to_string(),
            "frontend".into(),
            trace.id_hex(),
            "Kubernetes".into(),
        ],
    )
    .await;
    let reply: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(reply["services"], serde_json::json!(["db", "frontend"]));
    assert_eq!(
        reply["probe_trace_ids"],
        serde_json::json!([tagged.id_hex()])
    );
    assert_eq!(reply["chunk_sizes"], serde_json::json!([10, 10, 5]));
    let spans = reply["traces"][trace.id_hex()].as_array().unwrap();
    assert_eq!(spans.len(), 25);
    assert_eq!(spans[0]["operation"], "GET /wide");
    assert_eq!(spans[0]["service"], "frontend");
    assert_eq!(spans[0]["tags"]["http.status_code"], 200);
    assert_eq!(reply["zero_id_code"], "INVALID_ARGUMENT");
}

/// What `grpcurl list` / `grpcurl describe` need: reflection alone, no protos.
#[tokio::test]
async fn reflection_lists_and_describes_services_and_health_is_serving() {
    let server = TestServer::start().await;
    let output = crate::sdk_languages::run_exporter(
        python(),
        vec![
            "python/jaeger_grpc.py".into(),
            "reflect".into(),
            server.query_grpc.to_string(),
        ],
    )
    .await;
    let reply: serde_json::Value = serde_json::from_str(&output).unwrap();
    let services: Vec<&str> = reply["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    for expected in [
        "grpc.health.v1.Health",
        "jaeger.api_v2.QueryService",
        "jaeger.api_v3.QueryService",
    ] {
        assert!(
            services.contains(&expected),
            "{services:?} lacks {expected}"
        );
    }
    let get_trace = &reply["methods"]["jaeger.api_v2.QueryService"]["GetTrace"];
    assert_eq!(get_trace["input"], "jaeger.api_v2.GetTraceRequest");
    assert_eq!(get_trace["output"], "jaeger.api_v2.SpansResponseChunk");
    assert_eq!(get_trace["server_streaming"], true);
    let find_v3 = &reply["methods"]["jaeger.api_v3.QueryService"]["FindTraces"];
    assert_eq!(find_v3["output"], "opentelemetry.proto.trace.v1.TracesData");
    assert!(reply["span_fields"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("process")));
    // Health reports exactly the query services served: each SERVING, and a
    // service Jaeger has but Tracery doesn't serve on gRPC (metrics) is unknown.
    let health = reply["health"].as_object().unwrap();
    let serving: Vec<&str> = health
        .iter()
        .filter(|(_, status)| *status == "SERVING")
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        serving,
        [
            "",
            "jaeger.api_v2.QueryService",
            "jaeger.api_v3.QueryService"
        ],
        "{health:?}"
    );
    assert_eq!(
        health["jaeger.api_v2.metrics.MetricsQueryService"], "NOT_FOUND",
        "{health:?}"
    );
    let query_services: Vec<&str> = services
        .iter()
        .copied()
        .filter(|name| name.starts_with("jaeger."))
        .collect();
    assert_eq!(
        query_services,
        ["jaeger.api_v2.QueryService", "jaeger.api_v3.QueryService"],
        "reflection lists the same query services"
    );
}
