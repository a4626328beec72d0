//! The Jaeger query API: services, operations, search semantics, trace shapes.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{json, Value};

use crate::support::fixtures::{kv, merged, now_nanos, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::{assert_golden, v1_span_names, v1_trace_ids, TestServer};

/// Three traces a few seconds apart, newest last.
async fn seeded() -> (TestServer, Vec<Trace>) {
    let server = TestServer::start().await;
    let now = now_nanos();
    let second = 1_000_000_000;
    let traces = vec![
        TraceBuilder::new("frontend")
            .at(now - 30 * second)
            .span("GET /cart", 0..120)
            .attr(kv("http.status_code", 200))
            .service("cart")
            .child("load cart", 10..100)
            .kind(KIND_CLIENT)
            .attr(kv("cart.size", 3))
            .build(),
        TraceBuilder::new("frontend")
            .at(now - 20 * second)
            .span("GET /checkout", 0..300)
            .attr(kv("http.status_code", 500))
            .error("payment failed")
            .service("payment")
            .child("charge", 20..250)
            .event("exception", 200, vec![kv("exception.type", "CardDeclined")])
            .build(),
        TraceBuilder::new("frontend")
            .at(now - 10 * second)
            .span("GET /cart", 0..50)
            .attr(kv("http.status_code", 200))
            .build(),
    ];
    let all: Vec<&Trace> = traces.iter().collect();
    server.export(merged(&all)).await;
    (server, traces)
}

fn tags_param(tags: &Value) -> String {
    url_escape(&tags.to_string())
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn services_and_operations() {
    let (server, _) = seeded().await;
    let services = server.get_ok("/api/services").await;
    assert_eq!(services["data"], json!(["cart", "frontend", "payment"]));
    assert_eq!(services["total"], 3);
    let operations = server.get_ok("/api/services/frontend/operations").await;
    assert_eq!(operations["data"], json!(["GET /cart", "GET /checkout"]));
    let by_kind = server
        .get_ok("/api/operations?service=cart&spanKind=client")
        .await;
    assert_eq!(
        by_kind["data"],
        json!([{"name": "load cart", "spanKind": "client"}])
    );
    let none = server
        .get_ok("/api/operations?service=cart&spanKind=server")
        .await;
    assert_eq!(none["data"], json!([]));
    let (status, error) = server.get("/api/operations").await;
    assert_eq!(status, 400);
    assert_eq!(error["errors"][0]["msg"], "parameter 'service' is required");
    assert_eq!(
        server.get_ok("/api/v3/services").await,
        json!({"services": ["cart", "frontend", "payment"]})
    );
    assert_eq!(
        server.get_ok("/api/v3/operations?service=payment").await,
        json!({"operations": [{"name": "charge", "spanKind": "server"}]})
    );
    assert_eq!(
        server.get_ok("/api/services/unknown/operations").await["data"],
        json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn search_by_each_filter() {
    let (server, traces) = seeded().await;
    let ids: Vec<String> = traces.iter().map(Trace::id_hex).collect();
    let search = |query: String| {
        let server = &server;
        async move { v1_trace_ids(&server.get_ok(&format!("/api/traces?{query}")).await) }
    };
    assert_eq!(
        search("service=frontend".into()).await,
        [ids[2].clone(), ids[1].clone(), ids[0].clone()],
        "newest first"
    );
    assert_eq!(
        search("service=frontend&limit=2".into()).await,
        [ids[2].clone(), ids[1].clone()],
        "limit counts traces"
    );
    assert_eq!(
        search("service=frontend&operation=GET%20/cart".into()).await,
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(search("service=cart".into()).await, [ids[0].clone()]);
    assert_eq!(
        search(format!(
            "service=frontend&tags={}",
            tags_param(&json!({"http.status_code": "500"}))
        ))
        .await,
        [ids[1].clone()]
    );
    assert_eq!(
        search("service=frontend&tag=error:true".into()).await,
        [ids[1].clone()]
    );
    assert_eq!(
        search("service=payment&tag=exception.type:CardDeclined".into()).await,
        [ids[1].clone()],
        "event attributes"
    );
    assert_eq!(
        search("service=frontend&tag=host.name:test-host".into())
            .await
            .len(),
        3,
        "resource attributes"
    );
    assert_eq!(
        search("service=cart&tag=span.kind:client".into()).await,
        [ids[0].clone()]
    );
    // Durations are inclusive and apply to single spans.
    assert_eq!(
        search("service=frontend&minDuration=300ms".into()).await,
        [ids[1].clone()]
    );
    assert_eq!(
        search("service=frontend&minDuration=50ms&maxDuration=50ms".into()).await,
        [ids[2].clone()]
    );
    assert_eq!(
        search("service=frontend&maxDuration=120ms".into()).await,
        [ids[2].clone(), ids[0].clone()]
    );
    // The time window bounds span starts (µs).
    let now_micros = now_nanos() / 1000;
    let window = format!(
        "service=frontend&start={}&end={}",
        now_micros - 25_000_000,
        now_micros - 15_000_000
    );
    assert_eq!(search(window).await, [ids[1].clone()]);
    assert!(search("service=nobody".into()).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn every_filter_must_hold_for_one_span() {
    let (server, traces) = seeded().await;
    // Trace 0 has "load cart" (cart) and cart.size=3 on the same span: a match.
    let same_span = server
        .get_ok("/api/traces?service=cart&operation=load%20cart&tag=cart.size:3")
        .await;
    assert_eq!(v1_trace_ids(&same_span), [traces[0].id_hex()]);
    // http.status_code=200 is on the frontend span, not on "load cart": no match.
    let split = server
        .get_ok("/api/traces?service=cart&operation=load%20cart&tag=http.status_code:200")
        .await;
    assert_eq!(split["data"], json!([]));
    // Duration and tag on different spans of one trace: no match.
    let split = server
        .get_ok("/api/traces?service=frontend&minDuration=250ms&tag=http.status_code:200")
        .await;
    assert_eq!(split["data"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn matches_return_whole_traces() {
    let (server, traces) = seeded().await;
    let body = server.get_ok("/api/traces?service=payment").await;
    assert_eq!(v1_trace_ids(&body), [traces[1].id_hex()]);
    assert_eq!(
        v1_span_names(&body),
        [["GET /checkout", "charge"]],
        "the frontend span comes along"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_search_parameters_are_400() {
    let (server, _) = seeded().await;
    for (query, message) in [
        ("service=a&start=yesterday", "unable to parse param 'start'"),
        (
            "service=a&minDuration=10",
            "unable to parse param 'minDuration'",
        ),
        (
            "service=a&minDuration=2s&maxDuration=1s",
            "'maxDuration' must be greater than or equal to 'minDuration'",
        ),
        (
            "service=a&tags=%7B%22a%22%3A1%7D",
            "malformed 'tags' parameter",
        ),
        ("service=a&tag=nocolon", "malformed 'tag' parameter"),
        ("traceID=xyz", "cannot parse traceID param"),
    ] {
        let (status, body) = server.get(&format!("/api/traces?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["data"], Value::Null);
        let text = body["errors"][0]["msg"].as_str().unwrap();
        assert!(text.contains(message), "{query}: {text}");
        assert_eq!(body["errors"][0]["code"], 400);
    }
    server.stop().await;
}

#[tokio::test]
async fn traces_by_id_single_and_multiple() {
    let (server, traces) = seeded().await;
    let missing = "00000000000000000000000000000abc";
    let body = server
        .get_ok(&format!(
            "/api/traces?traceID={}&traceID={missing}",
            traces[0].id_hex()
        ))
        .await;
    assert_eq!(v1_trace_ids(&body), [traces[0].id_hex()]);
    assert_eq!(
        body["errors"],
        json!([{"msg": "trace not found", "traceID": "0000000000000abc"}])
    );
    let (status, body) = server.get(&format!("/api/traces/{missing}")).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["errors"],
        json!([{"code": 404, "msg": "trace not found"}])
    );
    let (status, _) = server.get("/api/traces/not-a-trace-id").await;
    assert_eq!(status, 400);
    let pretty = server
        .http
        .get(server.api_url(&format!(
            "/api/traces/{}?prettyPrint=true",
            traces[0].id_hex()
        )))
        .send()
        .await
        .unwrap();
    let text = pretty.text().await.unwrap();
    assert!(
        text.starts_with("{\n  \"data\": ["),
        "not indented: {text:.40}"
    );
    let compact = server
        .http
        .get(server.api_url("/api/services?prettyPrint=false"))
        .send()
        .await
        .unwrap();
    assert!(!compact.text().await.unwrap().contains('\n'));
    let upper = server
        .get_ok(&format!(
            "/api/traces/{}",
            traces[0].id_hex().to_uppercase()
        ))
        .await;
    assert_eq!(v1_trace_ids(&upper), [traces[0].id_hex()]);
    server.stop().await;
}

#[tokio::test]
async fn short_trace_ids_render_as_16_digits() {
    let server = TestServer::start().await;
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&[0xab; 8]);
    let trace = TraceBuilder::new("legacy")
        .fixed(id, now_nanos())
        .span("op", 0..1)
        .build();
    server.export(trace.to_export_request()).await;
    for path in [
        "/api/traces/abababababababab",
        "/api/traces/0000000000000000abababababababab",
    ] {
        let body = server.get_ok(path).await;
        assert_eq!(body["data"][0]["traceID"], "abababababababab");
    }
    server.stop().await;
}

fn golden_trace() -> Trace {
    TraceBuilder::new("frontend")
        .fixed(
            *b"\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36",
            1_767_225_600_000_000_000,
        )
        .span("GET /checkout", 0..250)
        .attr(kv("http.status_code", 500))
        .attr(kv("http.method", "GET"))
        .error("payment failed")
        .event("retry", 100, vec![kv("attempt", 2)])
        .service("payment")
        .child("charge", 20..200)
        .kind(KIND_CLIENT)
        .attr(kv("amount", 12.5))
        .attr(kv("captured", false))
        .link([7; 16], [9; 8])
        .build()
}

#[tokio::test]
async fn trace_json_matches_golden_files() {
    let server = TestServer::start().await;
    let trace = golden_trace();
    server.export(trace.to_export_request()).await;
    assert_golden(
        "v1_trace",
        &server
            .get_ok(&format!("/api/traces/{}", trace.id_hex()))
            .await,
    );
    assert_golden(
        "v3_trace",
        &server
            .get_ok(&format!("/api/v3/traces/{}", trace.id_hex()))
            .await,
    );
    server.stop().await;
}

#[tokio::test]
async fn v1_and_v3_return_the_same_data() {
    let (server, traces) = seeded().await;
    let window = "query.startTimeMin=2000-01-01T00:00:00Z&query.startTimeMax=2100-01-01T00:00:00Z";
    let v3 = server
        .get_ok(&format!(
            "/api/v3/traces?query.serviceName=frontend&{window}"
        ))
        .await;
    let v1 = server.get_ok("/api/traces?service=frontend").await;
    let mut v1_spans: Vec<(String, String, String)> = Vec::new();
    for trace in v1["data"].as_array().unwrap() {
        for span in trace["spans"].as_array().unwrap() {
            let service = &trace["processes"][span["processID"].as_str().unwrap()]["serviceName"];
            v1_spans.push((
                span["spanID"].as_str().unwrap().into(),
                span["operationName"].as_str().unwrap().into(),
                service.as_str().unwrap().into(),
            ));
        }
    }
    let mut v3_spans: Vec<(String, String, String)> = Vec::new();
    for resource in v3["result"]["resourceSpans"].as_array().unwrap() {
        let service = resource["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == "service.name")
            .unwrap()["value"]["stringValue"]
            .as_str()
            .unwrap()
            .to_owned();
        for scope in resource["scopeSpans"].as_array().unwrap() {
            for span in scope["spans"].as_array().unwrap() {
                v3_spans.push((
                    span["spanId"].as_str().unwrap().into(),
                    span["name"].as_str().unwrap().into(),
                    service.clone(),
                ));
            }
        }
    }
    v1_spans.sort();
    v3_spans.sort();
    assert_eq!(v1_spans.len(), 5);
    assert_eq!(v1_spans, v3_spans);

    let summaries = server
        .get_ok(&format!(
            "/api/v3/trace-summaries?query.serviceName=frontend&{window}"
        ))
        .await;
    let summary = summaries["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["traceId"] == traces[1].id_hex())
        .unwrap();
    assert_eq!(summary["rootServiceName"], "frontend");
    assert_eq!(summary["rootOperationName"], "GET /checkout");
    assert_eq!(summary["spanCount"], 2);
    assert_eq!(summary["errorSpanCount"], 1);

    let (status, body) = server
        .get(&format!("/api/v3/traces?query.serviceName=nobody&{window}"))
        .await;
    assert_eq!((status, &body["error"]["httpCode"]), (404, &json!(404)));
    let (status, body) = server
        .get("/api/v3/traces?query.serviceName=frontend")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "query.startTimeMin and query.startTimeMax are required"
    );
    let empty = server
        .get_ok(&format!(
            "/api/v3/trace-summaries?query.serviceName=nobody&{window}"
        ))
        .await;
    assert_eq!(empty, json!({"summaries": []}));
    server.stop().await;
}

#[tokio::test]
async fn transform_turns_otlp_json_into_jaeger_traces() {
    let server = TestServer::start().await;
    let trace = golden_trace();
    let response = server
        .http
        .post(server.api_url("/api/transform"))
        .json(&trace.to_otlp_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let transformed: Value = response.json().await.unwrap();
    // Same rendering as a stored trace, without storing anything.
    server.export(trace.to_export_request()).await;
    let stored = server
        .get_ok(&format!("/api/traces/{}", trace.id_hex()))
        .await;
    assert_eq!(transformed["data"], stored["data"]);
    let response = server
        .http
        .post(server.api_url("/api/transform"))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn dependencies_count_service_calls() {
    let (server, _) = seeded().await;
    let body = server
        .get_ok(&format!(
            "/api/dependencies?endTs={}&lookback=3600000",
            now_nanos() / 1_000_000
        ))
        .await;
    assert_eq!(
        body["data"],
        json!([
            {"parent": "frontend", "child": "cart", "callCount": 1},
            {"parent": "frontend", "child": "payment", "callCount": 1},
        ])
    );
    let (status, _) = server.get("/api/metrics/latencies?service=frontend").await;
    assert_eq!(status, 501);
    server.stop().await;
}

#[tokio::test]
async fn dependencies_count_calls_whose_spans_arrive_separately() {
    let server = TestServer::start().await;
    let trace = TraceBuilder::new("frontend")
        .at(now_nanos() - 5_000_000_000)
        .span("GET /cart", 0..120)
        .service("cart")
        .child("load cart", 10..100)
        .build();
    let mut per_service = trace.to_export_request().resource_spans;
    assert_eq!(per_service.len(), 2, "one resource per service");
    // Each service exports its own spans, the child first as SDKs do (it ends first);
    // with durable acks each export is its own block.
    for resource_spans in per_service.drain(..).rev() {
        server
            .export(ExportTraceServiceRequest {
                resource_spans: vec![resource_spans],
            })
            .await;
    }
    let body = server
        .get_ok(&format!(
            "/api/dependencies?endTs={}&lookback=3600000",
            now_nanos() / 1_000_000
        ))
        .await;
    assert_eq!(
        body["data"],
        json!([{"parent": "frontend", "child": "cart", "callCount": 1}])
    );
    server.stop().await;
}

/// Jaeger UI's System Architecture page drew frontend→frontend and checkout→checkout
/// self-loops: calls inside one service are not dependencies.
#[tokio::test]
async fn dependencies_skip_calls_within_one_service() {
    let server = TestServer::start().await;
    let traces: Vec<Trace> = (0..10)
        .map(|_| {
            TraceBuilder::new("frontend")
                .at(now_nanos() - 5_000_000_000)
                .span("GET /checkout", 0..200)
                .child("render", 5..190)
                .service("checkout")
                .child("POST /checkout", 10..180)
                .child("validate", 12..20)
                .child_of(2, "reserve", 20..60)
                .service("payment")
                .child_of(2, "charge", 60..170)
                .build()
        })
        .collect();
    let all: Vec<&Trace> = traces.iter().collect();
    server.export(merged(&all)).await;
    let body = server
        .get_ok(&format!(
            "/api/dependencies?endTs={}&lookback=3600000",
            now_nanos() / 1_000_000
        ))
        .await;
    assert_eq!(
        body["data"],
        json!([
            {"parent": "checkout", "child": "payment", "callCount": 10},
            {"parent": "frontend", "child": "checkout", "callCount": 10},
        ])
    );
    server.stop().await;
}
