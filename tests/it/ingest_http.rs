//! OTLP/HTTP ingest: protobuf and JSON, gzip and chunked bodies, errors, CORS.

use std::io::Write as _;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use serde_json::{json, Value};

use crate::support::fixtures::{kv, TraceBuilder};
use crate::support::{v1_span_names, TestServer};

fn url(server: &TestServer) -> String {
    format!("http://{}/v1/traces", server.otlp_http)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn protobuf_post_is_stored_and_answered_in_protobuf() {
    let server = TestServer::start().await;
    let trace = TraceBuilder::new("web")
        .span("GET /", 0..3)
        .child("render", 1..2)
        .build();
    let response = server
        .http
        .post(url(&server))
        .header("content-type", "application/x-protobuf")
        .body(trace.to_export_request().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(body.partial_success, None);
    let traces = server
        .get_ok(&format!("/api/traces/{}", trace.id_hex()))
        .await;
    assert_eq!(v1_span_names(&traces), [["GET /", "render"]]);
    server.stop().await;
}

#[tokio::test]
async fn json_post_plain_gzip_and_chunked() {
    let server = TestServer::start().await;
    let plain = TraceBuilder::new("web")
        .span("plain", 0..3)
        .attr(kv("http.status_code", 200))
        .build();
    let gzipped = TraceBuilder::new("web").span("gzipped", 0..3).build();
    let chunked = TraceBuilder::new("web").span("chunked", 0..3).build();

    let response = server
        .http
        .post(url(&server))
        .json(&plain.to_otlp_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));

    let response = server
        .http
        .post(url(&server))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(gzipped.to_otlp_json().to_string().as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A streamed body has no Content-Length, so it goes out chunked.
    let text = chunked.to_otlp_json().to_string().into_bytes();
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        text.chunks(50).map(|piece| Ok(piece.to_vec())).collect();
    let response = server
        .http
        .post(url(&server))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    for (trace, name) in [
        (&plain, "plain"),
        (&gzipped, "gzipped"),
        (&chunked, "chunked"),
    ] {
        let body = server
            .get_ok(&format!("/api/traces/{}", trace.id_hex()))
            .await;
        assert_eq!(v1_span_names(&body), [[name]]);
    }
    let tags = server
        .get_ok("/api/traces?service=web&tag=http.status_code:200")
        .await;
    assert_eq!(
        v1_span_names(&tags),
        [["plain"]],
        "int64 sent as a JSON string keeps its value"
    );
    server.stop().await;
}

#[tokio::test]
async fn json_enums_by_name_and_integers_as_numbers() {
    let server = TestServer::start().await;
    let trace = TraceBuilder::new("web").span("named", 0..3).build();
    let mut body = trace.to_otlp_json();
    let span = &mut body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    span["kind"] = json!("SPAN_KIND_CLIENT");
    span["status"] = json!({ "code": "STATUS_CODE_ERROR", "message": "boom" });
    let start: u64 = span["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
    span["startTimeUnixNano"] = json!(start);
    let response = server
        .http
        .post(url(&server))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let traces = server
        .get_ok(&format!("/api/traces/{}", trace.id_hex()))
        .await;
    let tags = &traces["data"][0]["spans"][0]["tags"];
    assert!(tags
        .as_array()
        .unwrap()
        .contains(&json!({"key": "span.kind", "type": "string", "value": "client"})));
    assert!(tags
        .as_array()
        .unwrap()
        .contains(&json!({"key": "error", "type": "bool", "value": true})));
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_store_nothing() {
    let server = TestServer::start_with(|config| config.receiver.max_message_bytes = 2048).await;

    let response = server
        .http
        .post(url(&server))
        .header("content-type", "application/json")
        .body("{\"resourceSpans\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["code"], 3);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid OTLP/JSON"),
        "{status}"
    );

    let mut bad_id = TraceBuilder::new("web")
        .span("x", 0..1)
        .build()
        .to_otlp_json();
    bad_id["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = json!("not-hex");
    let response = server
        .http
        .post(url(&server))
        .json(&bad_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let status: Value = response.json().await.unwrap();
    assert!(
        status["message"].as_str().unwrap().contains("not-hex"),
        "{status}"
    );

    let response = server
        .http
        .post(url(&server))
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");

    let response = server
        .http
        .post(url(&server))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);

    let mut big = TraceBuilder::new("web").span("big", 0..1);
    for index in 0..100 {
        big = big.attr(kv(&format!("attribute.{index}"), "padding padding padding"));
    }
    let response = server
        .http
        .post(url(&server))
        .json(&big.build().to_otlp_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let status: Value = response.json().await.unwrap();
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit of 2048 bytes"),
        "{status}"
    );

    // A gzip bomb is judged by its inflated size.
    let big_json = json!({ "resourceSpans": [], "padding": "x".repeat(100_000) }).to_string();
    let response = server
        .http
        .post(url(&server))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(big_json.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    assert_eq!(
        server.get_ok("/api/services").await["data"],
        json!([]),
        "nothing was stored"
    );
    server.stop().await;
}

#[tokio::test]
async fn partial_success_is_reported_in_json() {
    let server = TestServer::start().await;
    let trace = TraceBuilder::new("web")
        .span("good", 0..2)
        .span("bad", 0..1)
        .build();
    let mut body = trace.to_otlp_json();
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = json!("");
    let response = server
        .http
        .post(url(&server))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], json!("1"));
    assert!(answer["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("span_id"));
    server.stop().await;
}

#[tokio::test]
async fn cors_preflight_allows_configured_origins() {
    let server = TestServer::start_with(|config| {
        config.receiver.cors_origins = Some(vec!["http://app.example".to_owned()]);
    })
    .await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, url(&server))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("http://app.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://app.example"
    );
    let denied = preflight("http://evil.example").await.unwrap();
    assert!(denied
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_sdk_exporter_over_http_protobuf() {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry_otlp::WithExportConfig as _;

    let server = TestServer::start().await;
    let endpoint = url(&server);
    // The blocking reqwest client the exporter uses must live outside the async runtime.
    let trace_id = tokio::task::spawn_blocking(move || {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build()
            .unwrap();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name("sdk-http")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("tests");
        let trace_id = tracer.in_span("checkout", |cx| {
            cx.span().span_context().trace_id().to_string()
        });
        provider.shutdown().unwrap();
        trace_id
    })
    .await
    .unwrap();
    let body = server.get_ok(&format!("/api/traces/{trace_id}")).await;
    assert_eq!(v1_span_names(&body), [["checkout"]]);
    server.stop().await;
}
