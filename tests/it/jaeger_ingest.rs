//! Jaeger-native ingest: `PostSpans` (a tonic client generated from jaeger-idl's
//! protos) and OTLP on the Jaeger gRPC port, Thrift over HTTP and UDP, and what each
//! does with bad input. Real third-party clients are in `legacy_clients.rs`.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use serde_json::{json, Value};
use tracery::protocol::jaeger::api_v2;
use tracery::protocol::jaeger::api_v2::collector_service_client::CollectorServiceClient;

use crate::support::fixtures::TraceBuilder;
use crate::support::TestServer;

fn kv_str(key: &str, value: &str) -> api_v2::KeyValue {
    api_v2::KeyValue {
        key: key.into(),
        v_type: api_v2::ValueType::String as i32,
        v_str: value.into(),
        ..Default::default()
    }
}

fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros / 1_000_000,
        nanos: (micros % 1_000_000) as i32 * 1000,
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["key"] == key)
}

fn span_named<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| span["operationName"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {trace}"))
}

fn post_spans_batch(trace_id: [u8; 16], start: i64) -> api_v2::Batch {
    let span = |id: u8, name: &str, parent: Option<u8>, tags: Vec<api_v2::KeyValue>| api_v2::Span {
        trace_id: trace_id.to_vec(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        operation_name: name.into(),
        references: parent
            .map(|parent| api_v2::SpanRef {
                trace_id: trace_id.to_vec(),
                span_id: vec![0, 0, 0, 0, 0, 0, 0, parent],
                ref_type: api_v2::SpanRefType::ChildOf as i32,
            })
            .into_iter()
            .collect(),
        flags: 1,
        start_time: Some(timestamp(start + i64::from(id) * 10)),
        duration: Some(prost_types::Duration {
            seconds: 0,
            nanos: 5_000_000,
        }),
        tags,
        logs: vec![api_v2::Log {
            timestamp: Some(timestamp(start + 100)),
            fields: vec![kv_str("event", "cache miss"), kv_str("key", "k1")],
        }],
        ..Default::default()
    };
    api_v2::Batch {
        process: Some(api_v2::Process {
            service_name: "jaeger-grpc-svc".into(),
            tags: vec![
                kv_str("hostname", "host-1"),
                kv_str("jaeger.version", "Go-2.30.0"),
            ],
        }),
        spans: vec![
            span(1, "GET /cart", None, vec![kv_str("span.kind", "server")]),
            span(
                2,
                "SELECT cart",
                Some(1),
                vec![
                    kv_str("span.kind", "client"),
                    api_v2::KeyValue {
                        key: "error".into(),
                        v_type: api_v2::ValueType::Bool as i32,
                        v_bool: true,
                        ..Default::default()
                    },
                    api_v2::KeyValue {
                        key: "db.rows".into(),
                        v_type: api_v2::ValueType::Int64 as i32,
                        v_int64: 42,
                        ..Default::default()
                    },
                ],
            ),
        ],
    }
}

#[tokio::test]
async fn post_spans_over_grpc_comes_back_complete() {
    let server = TestServer::start().await;
    let mut client = CollectorServiceClient::connect(format!("http://{}", server.jaeger_grpc))
        .await
        .unwrap();
    let trace_id = [0xab; 16];
    client
        .post_spans(api_v2::PostSpansRequest {
            batch: Some(post_spans_batch(trace_id, now_micros())),
        })
        .await
        .expect("PostSpans accepted");

    let body = server
        .get_ok(&format!("/api/traces/{}", hex::encode(trace_id)))
        .await;
    let trace = &body["data"][0];
    assert_eq!(trace["spans"].as_array().unwrap().len(), 2);
    let root = span_named(trace, "GET /cart");
    let child = span_named(trace, "SELECT cart");
    assert_eq!(child["references"][0]["refType"], "CHILD_OF");
    assert_eq!(child["references"][0]["spanID"], root["spanID"]);
    assert_eq!(child["duration"], 5000);
    assert_eq!(tag(root, "span.kind").unwrap()["value"], "server");
    assert_eq!(tag(child, "error").unwrap()["value"], true);
    assert_eq!(tag(child, "db.rows").unwrap()["value"], 42);
    assert_eq!(child["logs"][0]["fields"][0]["value"], "cache miss");
    let process = &trace["processes"][root["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], "jaeger-grpc-svc");
    assert!(process["tags"]
        .as_array()
        .unwrap()
        .contains(&json!({"key": "hostname", "type": "string", "value": "host-1"})));
    server.stop().await;
}

#[tokio::test]
async fn post_spans_with_zero_ids_is_invalid_argument_and_stores_nothing() {
    let server = TestServer::start().await;
    let mut client = CollectorServiceClient::connect(format!("http://{}", server.jaeger_grpc))
        .await
        .unwrap();
    let mut batch = post_spans_batch([0; 16], now_micros());
    batch.spans.truncate(1);
    let status = client
        .post_spans(api_v2::PostSpansRequest { batch: Some(batch) })
        .await
        .expect_err("zero trace ID refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("trace ID"),
        "{}",
        status.message()
    );
    let status = client
        .post_spans(api_v2::PostSpansRequest { batch: None })
        .await
        .expect_err("missing batch refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let services = server.get_ok("/api/services").await;
    assert_eq!(services["data"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn otlp_export_on_the_jaeger_grpc_port() {
    let server = TestServer::start().await;
    let trace = TraceBuilder::new("otlp-on-14250")
        .span("root", 0..5)
        .build();
    let trace_hex = trace.id_hex();
    TraceServiceClient::connect(format!("http://{}", server.jaeger_grpc))
        .await
        .unwrap()
        .export(trace.to_export_request())
        .await
        .expect("OTLP export on 14250 accepted");
    let body = server.get_ok(&format!("/api/traces/{trace_hex}")).await;
    assert_eq!(body["data"][0]["spans"][0]["operationName"], "root");
    server.stop().await;
}

/// A minimal Thrift binary writer, enough to build `Batch` bodies and break them.
#[derive(Default)]
struct ThriftBinary(Vec<u8>);

impl ThriftBinary {
    fn field(&mut self, ty: u8, id: i16) -> &mut Self {
        self.0.push(ty);
        self.0.extend_from_slice(&id.to_be_bytes());
        self
    }
    fn i64(&mut self, id: i16, value: i64) -> &mut Self {
        self.field(10, id);
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn i32(&mut self, id: i16, value: i32) -> &mut Self {
        self.field(8, id);
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn string(&mut self, id: i16, value: &str) -> &mut Self {
        self.field(11, id);
        self.0
            .extend_from_slice(&(value.len() as i32).to_be_bytes());
        self.0.extend_from_slice(value.as_bytes());
        self
    }
    fn list(&mut self, id: i16, element: u8, len: i32) -> &mut Self {
        self.field(15, id);
        self.0.push(element);
        self.0.extend_from_slice(&len.to_be_bytes());
        self
    }
    fn stop(&mut self) -> &mut Self {
        self.0.push(0);
        self
    }
}

/// A Thrift binary `Batch` of one span of `service`, with a process tag.
pub(crate) fn thrift_batch(service: &str, trace_low: i64, span_id: i64) -> Vec<u8> {
    let mut w = ThriftBinary::default();
    w.field(12, 1) // process
        .string(1, service)
        .list(2, 12, 1) // tags
        .string(1, "hostname")
        .i32(2, 0)
        .string(3, "thrift-host")
        .stop()
        .stop();
    w.list(2, 12, 1) // spans
        .i64(1, trace_low)
        .i64(2, 0x0102)
        .i64(3, span_id)
        .i64(4, 0)
        .string(5, "thrift-op")
        .i32(7, 1)
        .i64(8, now_micros())
        .i64(9, 1234)
        .list(10, 12, 1)
        .string(1, "span.kind")
        .i32(2, 0)
        .string(3, "server")
        .stop()
        .stop();
    w.stop();
    w.0
}

pub(crate) async fn post_thrift(server: &TestServer, body: Vec<u8>) -> (u16, String) {
    let response = server
        .http
        .post(format!("http://{}/api/traces", server.jaeger_thrift_http))
        .header("content-type", "application/x-thrift")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn thrift_over_http_is_202_and_queryable() {
    let server = TestServer::start().await;
    let (status, text) = post_thrift(&server, thrift_batch("thrift-svc", 0x77, 0x55)).await;
    assert_eq!(status, 202, "{text}");
    let body = server
        .get_ok("/api/traces/00000000000001020000000000000077")
        .await;
    let span = &body["data"][0]["spans"][0];
    assert_eq!(span["operationName"], "thrift-op");
    assert_eq!(span["duration"], 1234);
    assert_eq!(tag(span, "span.kind").unwrap()["value"], "server");
    let process = &body["data"][0]["processes"][span["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], "thrift-svc");
    assert_eq!(process["tags"][0]["value"], "thrift-host");
    // Jaeger trims leading zeros of 64-bit-high IDs: both spellings find it.
    let short = server.get_ok("/api/traces/1020000000000000077").await;
    assert_eq!(short["data"][0]["spans"][0]["operationName"], "thrift-op");
    server.stop().await;
}

#[tokio::test]
async fn malformed_thrift_over_http_is_400_naming_the_problem_and_stores_nothing() {
    let server = TestServer::start().await;
    let good = thrift_batch("bad-input-svc", 0x99, 0x11);

    let truncated = good[..good.len() - 2].to_vec();
    let (status, text) = post_thrift(&server, truncated).await;
    assert_eq!(status, 400);
    assert!(text.contains("truncated"), "{text}");

    // The service name's length prefix claims 2 GB.
    let mut absurd = good.clone();
    let at = 3 + 3; // process field header, then serviceName's field header
    absurd[at..at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
    let (status, text) = post_thrift(&server, absurd).await;
    assert_eq!(status, 400);
    assert!(text.contains("string length"), "{text}");

    // A list count far beyond the body.
    let mut w = ThriftBinary::default();
    w.field(12, 1).string(1, "svc").stop();
    w.list(2, 12, 100_000_000);
    let (status, text) = post_thrift(&server, w.0.clone()).await;
    assert_eq!(status, 400);
    assert!(text.contains("list length"), "{text}");

    // Span.operationName sent as an i64.
    let mut w = ThriftBinary::default();
    w.field(12, 1).string(1, "svc").stop();
    w.list(2, 12, 1)
        .i64(1, 1)
        .i64(2, 1)
        .i64(3, 1)
        .i64(5, 7)
        .stop();
    w.stop();
    let (status, text) = post_thrift(&server, w.0.clone()).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("Span.operationName must be a Thrift string"),
        "{text}"
    );

    // All-zero trace and span IDs.
    let (status, text) = post_thrift(&server, {
        let mut w = ThriftBinary::default();
        w.field(12, 1).string(1, "svc").stop();
        w.list(2, 12, 1)
            .i64(1, 0)
            .i64(2, 0)
            .i64(3, 0)
            .i64(4, 0)
            .string(5, "zero")
            .i32(7, 1)
            .i64(8, now_micros())
            .i64(9, 1)
            .stop();
        w.stop();
        w.0
    })
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("not all zero"), "{text}");

    // Garbage, and the wrong content type.
    let (status, _) = post_thrift(&server, b"{\"not\": \"thrift\"}".to_vec()).await;
    assert_eq!(status, 400);
    let response = server
        .http
        .post(format!("http://{}/api/traces", server.jaeger_thrift_http))
        .header("content-type", "application/json")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);

    let services = server.get_ok("/api/services").await;
    assert_eq!(
        services["data"],
        json!([]),
        "nothing stored from rejected requests"
    );
    // The listener still serves everyone else.
    let (status, _) = post_thrift(&server, good).await;
    assert_eq!(status, 202);
    server.stop().await;
}

/// An `Agent.emitBatch` message (strict binary header) around a `Batch`.
fn binary_emit_batch(batch: &[u8]) -> Vec<u8> {
    let mut message = Vec::new();
    message.extend_from_slice(&0x8001_0004u32.to_be_bytes());
    message.extend_from_slice(&9i32.to_be_bytes());
    message.extend_from_slice(b"emitBatch");
    message.extend_from_slice(&1i32.to_be_bytes());
    message.push(12);
    message.extend_from_slice(&1i16.to_be_bytes());
    // The Batch struct ends with its own STOP; then the args struct's STOP.
    message.extend_from_slice(batch);
    message.push(0);
    message
}

/// Polls until the trace is queryable: UDP has no acknowledgement to wait for.
pub(crate) async fn wait_for_trace(server: &TestServer, trace_id: &str) -> Value {
    for _ in 0..200 {
        let (status, body) = server.get(&format!("/api/traces/{trace_id}")).await;
        if status == 200 {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("trace {trace_id} never arrived");
}

#[tokio::test]
async fn udp_binary_drops_bad_datagrams_and_keeps_serving() {
    let server = TestServer::start().await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let good = binary_emit_batch(&thrift_batch("udp-svc", 0x42, 0x43));
    for bad in [
        good[..good.len() / 2].to_vec(),
        vec![0xff; 64],
        b"hello".to_vec(),
        Vec::new(),
    ] {
        socket
            .send_to(&bad, server.jaeger_udp_binary)
            .await
            .unwrap();
    }
    // The compact port gets a binary message: also just dropped.
    socket
        .send_to(&good, server.jaeger_udp_compact)
        .await
        .unwrap();
    socket
        .send_to(&good, server.jaeger_udp_binary)
        .await
        .unwrap();
    let body = wait_for_trace(&server, "00000000000001020000000000000042").await;
    assert_eq!(body["data"][0]["spans"][0]["operationName"], "thrift-op");
    let services = server.get_ok("/api/services").await;
    assert_eq!(services["data"], json!(["udp-svc"]));
    server.stop().await;
}
