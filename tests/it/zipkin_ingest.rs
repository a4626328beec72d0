//! Zipkin ingest on its own port: JSON v2 (with a shared span), JSON v1, proto3,
//! gzip, and bad input. Real Zipkin clients are in `legacy_clients.rs`.

use std::io::Write as _;

use prost::Message as _;
use serde_json::{json, Value};
use tracery::protocol::zipkin::proto;

use crate::support::TestServer;

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

pub(crate) async fn post(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let response = server
        .http
        .post(format!("http://{}{path}", server.zipkin))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn span<'a>(trace: &'a Value, name: &str, service: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|span| {
            span["operationName"] == name
                && trace["processes"][span["processID"].as_str().unwrap()]["serviceName"] == service
        })
        .unwrap_or_else(|| panic!("no span {name} of {service} in {trace}"))
}

fn tag<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["key"] == key)
        .map(|tag| &tag["value"])
        .unwrap_or_else(|| panic!("no tag {key} in {span}"))
}

/// Envoy-style shared span context: the client (frontend) and server (backend) halves
/// of one call carry the same span ID; the backend's own work is a child of that ID.
pub(crate) fn shared_span_fixture(start: u64) -> Value {
    json!([
        {"traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "name": "get /api",
         "kind": "SERVER", "timestamp": start, "duration": 20_000,
         "localEndpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1"}},
        {"traceId": "5af7183fb1d4cf5f", "parentId": "6b221d5bc9e6496c", "id": "352bff9a74ca9ad2",
         "name": "get /backend", "kind": "CLIENT", "timestamp": start + 1_000, "duration": 15_000,
         "localEndpoint": {"serviceName": "frontend"},
         "remoteEndpoint": {"serviceName": "backend", "ipv4": "10.0.0.2", "port": 8080},
         "tags": {"http.method": "GET", "http.path": "/backend"}},
        {"traceId": "5af7183fb1d4cf5f", "parentId": "6b221d5bc9e6496c", "id": "352bff9a74ca9ad2",
         "name": "get /backend", "kind": "SERVER", "shared": true,
         "timestamp": start + 2_000, "duration": 12_000,
         "localEndpoint": {"serviceName": "backend", "ipv4": "10.0.0.2"},
         "annotations": [{"timestamp": start + 3_000, "value": "cache miss"}],
         "tags": {"error": "backend exploded"}},
        {"traceId": "5af7183fb1d4cf5f", "parentId": "352bff9a74ca9ad2", "id": "11e4c1e5a0d74e7a",
         "name": "select", "kind": "CLIENT", "timestamp": start + 4_000, "duration": 5_000,
         "localEndpoint": {"serviceName": "backend"}}
    ])
}

/// Checks the shared-span trace as the API shows it: the server half is a child of
/// the client half, and the backend's own work hangs under the server half.
pub(crate) fn check_shared_span_trace(trace: &Value) {
    assert_eq!(trace["traceID"], "5af7183fb1d4cf5f");
    assert_eq!(trace["spans"].as_array().unwrap().len(), 4, "{trace}");
    let root = span(trace, "get /api", "frontend");
    let client = span(trace, "get /backend", "frontend");
    let server = span(trace, "get /backend", "backend");
    let select = span(trace, "select", "backend");
    assert_eq!(client["spanID"], "352bff9a74ca9ad2");
    assert_eq!(client["references"][0]["spanID"], root["spanID"]);
    assert_ne!(server["spanID"], client["spanID"]);
    assert_eq!(server["references"][0]["spanID"], client["spanID"]);
    assert_eq!(server["references"][0]["refType"], "CHILD_OF");
    assert_eq!(select["references"][0]["spanID"], server["spanID"]);
    assert_eq!(tag(client, "span.kind"), "client");
    assert_eq!(tag(client, "peer.service"), "backend");
    assert_eq!(tag(client, "peer.port"), 8080);
    assert_eq!(tag(server, "span.kind"), "server");
    assert_eq!(tag(server, "error"), true);
    assert_eq!(tag(server, "otel.status_description"), "backend exploded");
    assert_eq!(server["logs"][0]["fields"][0]["value"], "cache miss");
    assert_eq!(server["duration"], 12_000);
    let process = &trace["processes"][server["processID"].as_str().unwrap()];
    assert_eq!(
        process["tags"],
        json!([{"key": "ip", "type": "string", "value": "10.0.0.2"}])
    );
}

#[tokio::test]
async fn json_v2_shared_span_becomes_parent_and_child() {
    let server = TestServer::start().await;
    let body = shared_span_fixture(now_micros()).to_string().into_bytes();
    let (status, text) = post(&server, "/api/v2/spans", "application/json", body).await;
    assert_eq!(status, 202, "{text}");
    // A 64-bit trace ID is stored left-padded; both spellings find it.
    let short = server.get_ok("/api/traces/5af7183fb1d4cf5f").await;
    check_shared_span_trace(&short["data"][0]);
    let padded = server
        .get_ok("/api/traces/00000000000000005af7183fb1d4cf5f")
        .await;
    assert_eq!(padded["data"][0]["spans"].as_array().unwrap().len(), 4);
    server.stop().await;
}

#[tokio::test]
async fn json_v1_with_both_sides_in_one_span_and_gzip() {
    let server = TestServer::start().await;
    let start = now_micros();
    let frontend = json!({"serviceName": "v1-frontend", "ipv4": "10.0.0.1"});
    let backend = json!({"serviceName": "v1-backend", "ipv4": "10.0.0.2"});
    let body = json!([{
        "traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "a2fb4a1d1a96d312",
        "name": "get /users", "timestamp": start, "duration": 10_000,
        "annotations": [
            {"timestamp": start, "value": "cs", "endpoint": frontend},
            {"timestamp": start + 1_000, "value": "sr", "endpoint": backend},
            {"timestamp": start + 9_000, "value": "ss", "endpoint": backend},
            {"timestamp": start + 10_000, "value": "cr", "endpoint": frontend}
        ],
        "binaryAnnotations": [{"key": "http.path", "value": "/users", "endpoint": frontend}]
    }]);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(body.to_string().as_bytes()).unwrap();
    let response = server
        .http
        .post(format!("http://{}/api/v1/spans", server.zipkin))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let body = server
        .get_ok("/api/traces/463ac35c9f6413ad48485a3953bb6124")
        .await;
    let trace = &body["data"][0];
    let client = span(trace, "get /users", "v1-frontend");
    let server_half = span(trace, "get /users", "v1-backend");
    assert_eq!(client["duration"], 10_000);
    assert_eq!(server_half["duration"], 8_000);
    assert_eq!(server_half["references"][0]["spanID"], client["spanID"]);
    assert_eq!(tag(client, "http.path"), "/users");
    server.stop().await;
}

#[tokio::test]
async fn proto3_list_of_spans() {
    let server = TestServer::start().await;
    let start = now_micros();
    let list = proto::ListOfSpans {
        spans: vec![
            proto::Span {
                trace_id: vec![7; 16],
                id: vec![1; 8],
                kind: proto::span::Kind::Server as i32,
                name: "proto root".into(),
                timestamp: start,
                duration: 3_000,
                local_endpoint: Some(proto::Endpoint {
                    service_name: "zipkin-proto".into(),
                    ipv4: vec![192, 168, 1, 9],
                    ..Default::default()
                }),
                tags: [("component".to_owned(), "proto".to_owned())].into(),
                ..Default::default()
            },
            proto::Span {
                trace_id: vec![7; 16],
                id: vec![2; 8],
                parent_id: vec![1; 8],
                kind: proto::span::Kind::Producer as i32,
                name: "publish".into(),
                timestamp: start + 100,
                duration: 1_000,
                local_endpoint: Some(proto::Endpoint {
                    service_name: "zipkin-proto".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ],
    };
    let (status, text) = post(
        &server,
        "/api/v2/spans",
        "application/x-protobuf",
        list.encode_to_vec(),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    let body = server
        .get_ok(&format!("/api/traces/{}", "07".repeat(16)))
        .await;
    let trace = &body["data"][0];
    let root = span(trace, "proto root", "zipkin-proto");
    let child = span(trace, "publish", "zipkin-proto");
    assert_eq!(child["references"][0]["spanID"], root["spanID"]);
    assert_eq!(tag(child, "span.kind"), "producer");
    assert_eq!(tag(root, "component"), "proto");
    assert_eq!(root["duration"], 3_000);
    let process = &trace["processes"][root["processID"].as_str().unwrap()];
    assert_eq!(process["tags"][0]["value"], "192.168.1.9");
    server.stop().await;
}

#[tokio::test]
async fn malformed_zipkin_is_400_naming_the_problem_and_stores_nothing() {
    let server = TestServer::start().await;
    let good = shared_span_fixture(now_micros()).to_string().into_bytes();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "/api/v2/spans",
            "application/json",
            good[..good.len() - 9].to_vec(),
            "EOF",
        ),
        (
            "/api/v2/spans",
            "application/json",
            br#"{"traceId": "1"}"#.to_vec(),
            "expected an array",
        ),
        (
            "/api/v2/spans",
            "application/json",
            br#"[{"traceId": 5, "id": "1"}]"#.to_vec(),
            "invalid type",
        ),
        (
            "/api/v2/spans",
            "application/json",
            br#"[{"traceId": "0000000000000000", "id": "0000000000000001", "timestamp": 1}]"#
                .to_vec(),
            "all zero",
        ),
        (
            "/api/v2/spans",
            "application/json",
            br#"[{"traceId": "00000000000000a1", "id": "xyz", "timestamp": 1}]"#.to_vec(),
            "id `xyz` is not hex",
        ),
        (
            "/api/v2/spans",
            "application/x-protobuf",
            vec![0x0a, 0xff, 0xff, 0xff, 0x7f, 1],
            "ListOfSpans",
        ),
        (
            "/api/v1/spans",
            "application/json",
            b"[{\"id\": ".to_vec(),
            "v1",
        ),
    ];
    for (path, content_type, body, expected) in cases {
        let (status, text) = post(&server, path, content_type, body).await;
        assert_eq!(status, 400, "{path} {content_type}: {text}");
        assert!(text.contains(expected), "{text} lacks {expected}");
    }
    let (status, _) = post(
        &server,
        "/api/v2/spans",
        "application/x-thrift",
        good.clone(),
    )
    .await;
    assert_eq!(status, 415);
    assert_eq!(server.get_ok("/api/services").await["data"], json!([]));
    let (status, _) = post(&server, "/api/v2/spans", "application/json", good).await;
    assert_eq!(status, 202, "the listener still serves everyone else");
    server.stop().await;
}
