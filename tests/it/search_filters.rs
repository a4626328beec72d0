//! Issue #16 on the API: searches across every service, `filter=` expressions and
//! `n_plus_one=true`, on `/api/traces`, `/api/v3/traces` and `/api/v3/trace-summaries`,
//! and the N+1 findings of `/internal/ui/traces/{id}`.

use serde_json::Value;

use crate::support::fixtures::{kv, merged, now_nanos, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::{v1_trace_ids, TestServer};

const SECOND: u64 = 1_000_000_000;

/// Four traces in three services, a few seconds apart, newest last.
async fn seeded() -> (TestServer, Vec<String>) {
    let server = TestServer::start().await;
    let now = now_nanos();
    let traces = [
        TraceBuilder::new("web")
            .at(now - 40 * SECOND)
            .span("GET /orders", 0..100)
            .attr(kv("http.status_code", 200))
            .attr(kv("http.route", "/orders"))
            .build(),
        TraceBuilder::new("web")
            .at(now - 30 * SECOND)
            .span("GET /orders/{id}", 0..300)
            .attr(kv("http.status_code", 503))
            .attr(kv("customer.tier", "gold"))
            .service("billing")
            .child("charge", 20..250)
            .kind(KIND_CLIENT)
            .event("retry", 100, vec![kv("retry.attempt", 3)])
            .build(),
        TraceBuilder::new("worker")
            .at(now - 20 * SECOND)
            .span("consume", 0..50)
            .attr(kv("messaging.batch.size", 12))
            .link_with([7; 16], [8; 8], vec![kv("link.reason", "batch-member")])
            .build(),
        TraceBuilder::new("web")
            .at(now - 10 * SECOND)
            .span("GET /health", 0..5)
            .attr(kv("http.status_code", "404"))
            .build(),
    ];
    let all: Vec<&Trace> = traces.iter().collect();
    server.export(merged(&all)).await;
    (server, traces.iter().map(Trace::id_hex).collect())
}

fn escape(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn filters(expressions: &[&str]) -> String {
    expressions
        .iter()
        .map(|expression| format!("&filter={}", escape(expression)))
        .collect()
}

fn v3_window() -> String {
    let now = chrono::Utc::now();
    let start = now - chrono::Duration::hours(1);
    format!(
        "query.startTimeMin={}&query.startTimeMax={}",
        escape(&start.to_rfc3339()),
        escape(&now.to_rfc3339())
    )
}

fn v3_trace_ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for resource in body["result"]["resourceSpans"].as_array().unwrap() {
        for scope in resource["scopeSpans"].as_array().unwrap() {
            for span in scope["spans"].as_array().unwrap() {
                let id = span["traceId"].as_str().unwrap().to_owned();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

#[tokio::test]
async fn search_without_a_service_covers_every_service() {
    let (server, ids) = seeded().await;
    let found = v1_trace_ids(&server.get_ok("/api/traces?limit=10").await);
    assert_eq!(
        found,
        [
            ids[3].as_str(),
            ids[2].as_str(),
            ids[1].as_str(),
            ids[0].as_str()
        ],
        "newest first"
    );
    let summaries = server
        .get_ok(&format!("/api/v3/trace-summaries?{}", v3_window()))
        .await;
    let summary_ids: Vec<&str> = summaries["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|summary| summary["traceId"].as_str().unwrap())
        .collect();
    assert_eq!(
        summary_ids,
        [
            ids[3].as_str(),
            ids[2].as_str(),
            ids[1].as_str(),
            ids[0].as_str()
        ]
    );
    // With a service, only that service's traces, as before.
    assert_eq!(
        v1_trace_ids(&server.get_ok("/api/traces?service=worker").await),
        [ids[2].as_str()]
    );
    server.stop().await;
}

#[tokio::test]
async fn filter_expressions_on_v1_and_v3() {
    let (server, ids) = seeded().await;
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["http.status_code>=500"], vec![ids[1].as_str()]),
        (
            vec!["http.status_code<500"],
            vec![ids[3].as_str(), ids[0].as_str()],
        ),
        // The string "404" compares as a number.
        (
            vec!["http.status_code>400", "http.status_code<=404"],
            vec![ids[3].as_str()],
        ),
        (
            vec!["http.status_code!=200"],
            vec![ids[3].as_str(), ids[1].as_str()],
        ),
        (vec!["http.status_code=200"], vec![ids[0].as_str()]),
        (vec!["http.route=~^/ord"], vec![ids[0].as_str()]),
        (vec!["http.status_code", "http.route!~^/ord"], vec![]),
        (
            vec!["http.status_code", "!http.route"],
            vec![ids[3].as_str(), ids[1].as_str()],
        ),
        // All filters hold for one span: the gold customer's span is the one with 503.
        (
            vec!["customer.tier=gold", "http.status_code>=500"],
            vec![ids[1].as_str()],
        ),
        (vec!["customer.tier=gold", "retry.attempt"], vec![]),
        // Event and link attributes.
        (vec!["retry.attempt>=3"], vec![ids[1].as_str()]),
        (vec!["link.reason=~member$"], vec![ids[2].as_str()]),
        // Jaeger's synthetic tags.
        (
            vec!["span.kind=client", "service.name=billing"],
            vec![ids[1].as_str()],
        ),
        (vec!["messaging.batch.size>10"], vec![ids[2].as_str()]),
    ];
    for (expressions, expected) in cases {
        let v1 = v1_trace_ids(
            &server
                .get_ok(&format!("/api/traces?limit=10{}", filters(&expressions)))
                .await,
        );
        assert_eq!(v1, expected, "v1 {expressions:?}");
        let (status, body) = server
            .get(&format!(
                "/api/v3/traces?{}{}",
                v3_window(),
                filters(&expressions)
            ))
            .await;
        if expected.is_empty() {
            assert_eq!(status, 404, "v3 {expressions:?}: {body}");
        } else {
            assert_eq!(status, 200, "v3 {expressions:?}: {body}");
            let mut v3 = v3_trace_ids(&body);
            v3.sort();
            let mut expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
            expected.sort();
            assert_eq!(v3, expected, "v3 {expressions:?}");
        }
    }
    // Beside Jaeger's tags, with a service.
    let found = v1_trace_ids(
        &server
            .get_ok(&format!(
                "/api/traces?service=web&tag=customer.tier:gold{}",
                filters(&["http.status_code>500"])
            ))
            .await,
    );
    assert_eq!(found, [ids[1].as_str()]);
    server.stop().await;
}

#[tokio::test]
async fn bad_filters_are_400_naming_the_filter() {
    let (server, _) = seeded().await;
    let huge_regex = "a=~\\w{1000}\\w{1000}";
    for (expression, message) in [
        ("a>b", "invalid filter `a>b`: `b` is not a number"),
        ("=x", "invalid filter `=x`: missing the key"),
        ("a=~(", "invalid filter `a=~(`: bad regular expression"),
        (huge_regex, "the regular expression is too large"),
        ("!a=b", "`!` goes only before a bare key"),
    ] {
        let (status, body) = server
            .get(&format!(
                "/api/traces?service=web{}",
                filters(&[expression])
            ))
            .await;
        assert_eq!(status, 400, "{expression}: {body}");
        let text = body["errors"][0]["msg"].as_str().unwrap();
        assert!(text.contains(message), "{expression}: {text}");
        assert!(text.contains(expression), "{text} names the filter");
        let (status, body) = server
            .get(&format!(
                "/api/v3/trace-summaries?{}{}",
                v3_window(),
                filters(&[expression])
            ))
            .await;
        assert_eq!(status, 400, "v3 {expression}: {body}");
        let text = body["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "v3 {expression}: {text}");
    }
    let (status, body) = server.get("/api/traces?n_plus_one=maybe").await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["msg"]
        .as_str()
        .unwrap()
        .contains("'n_plus_one'"));
    server.stop().await;
}

/// A request that loads 37 users one by one, one that loads them in one query, and
/// one that fans out to 6 services at once.
fn n_plus_one_traces(now: u64) -> Vec<Trace> {
    let mut lazy = TraceBuilder::new("orders")
        .at(now - 30 * SECOND)
        .span("GET /orders", 0..420)
        .child("SELECT orders", 1..5)
        .attr(kv("db.statement", "SELECT * FROM orders LIMIT 37"));
    for row in 0..37u64 {
        let start = 8 + row * 11;
        lazy = lazy.child_of(0, "SELECT users", start..start + 10).attr(kv(
            "db.statement",
            format!("SELECT * FROM users WHERE id = {}", 1000 + row).as_str(),
        ));
    }
    let joined = TraceBuilder::new("orders")
        .at(now - 20 * SECOND)
        .span("GET /orders", 0..40)
        .child("SELECT orders", 1..30)
        .attr(kv(
            "db.statement",
            "SELECT * FROM orders JOIN users ON users.id = orders.user_id LIMIT 37",
        ))
        .build();
    let mut fan_out = TraceBuilder::new("dashboard")
        .at(now - 10 * SECOND)
        .span("GET /dashboard", 0..200);
    for call in 0..6u64 {
        fan_out = fan_out
            .child_of(0, "GET", 5 + call..150 + call)
            .kind(KIND_CLIENT)
            .attr(kv("url.template", "/widgets/{id}"));
    }
    vec![lazy.build(), joined, fan_out.build()]
}

#[tokio::test]
async fn n_plus_one_search_and_trace_view() {
    let server = TestServer::start().await;
    let traces = n_plus_one_traces(now_nanos());
    let all: Vec<&Trace> = traces.iter().collect();
    server.export(merged(&all)).await;
    let ids: Vec<String> = traces.iter().map(Trace::id_hex).collect();

    let found = v1_trace_ids(&server.get_ok("/api/traces?n_plus_one=true").await);
    assert_eq!(
        found,
        [ids[2].as_str(), ids[0].as_str()],
        "the joined load is not a finding"
    );
    let found = v1_trace_ids(
        &server
            .get_ok("/api/traces?service=orders&n_plus_one=true")
            .await,
    );
    assert_eq!(found, [ids[0].as_str()]);
    let found = v1_trace_ids(&server.get_ok("/api/traces?n_plus_one=true&limit=1").await);
    assert_eq!(found, [ids[2].as_str()]);
    let found = v1_trace_ids(&server.get_ok("/api/traces?n_plus_one=false").await);
    assert_eq!(found.len(), 3);
    let v3 = server
        .get_ok(&format!("/api/v3/traces?{}&n_plus_one=true", v3_window()))
        .await;
    let mut v3_ids = v3_trace_ids(&v3);
    v3_ids.sort();
    let mut expected = vec![ids[0].clone(), ids[2].clone()];
    expected.sort();
    assert_eq!(v3_ids, expected);
    let summaries = server
        .get_ok(&format!(
            "/api/v3/trace-summaries?{}&n_plus_one=true&query.serviceName=dashboard",
            v3_window()
        ))
        .await;
    assert_eq!(summaries["summaries"].as_array().unwrap().len(), 1);
    assert_eq!(summaries["summaries"][0]["nPlusOneCount"], 1);
    let all = server
        .get_ok(&format!("/api/v3/trace-summaries?{}", v3_window()))
        .await;
    let joined = all["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|summary| summary["traceId"] == ids[1])
        .unwrap();
    assert!(joined.get("nPlusOneCount").is_none(), "{joined}");

    let view = server
        .get_ok(&format!("/internal/ui/traces/{}", ids[0]))
        .await;
    let findings = view["nPlusOne"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let finding = &findings[0];
    assert_eq!(finding["fingerprint"], "SELECT * FROM users WHERE id = ?");
    assert_eq!(finding["service"], "orders");
    assert_eq!(finding["mode"], "sequential");
    assert_eq!(finding["parentRow"], 0);
    assert_eq!(finding["rows"].as_array().unwrap().len(), 37);
    assert_eq!(finding["totalUs"], 370_000);
    assert_eq!(finding["couldSaveUs"], 360_000);
    let first_row = finding["rows"][0].as_u64().unwrap() as usize;
    assert_eq!(view["rows"][first_row]["name"], "SELECT users");

    let view = server
        .get_ok(&format!("/internal/ui/traces/{}", ids[1]))
        .await;
    assert_eq!(view["nPlusOne"], serde_json::json!([]));
    let view = server
        .get_ok(&format!("/internal/ui/traces/{}", ids[2]))
        .await;
    assert_eq!(view["nPlusOne"][0]["mode"], "parallel");
    assert_eq!(view["nPlusOne"][0]["fingerprint"], "/widgets/{id}");
    server.stop().await;
}

#[tokio::test]
async fn n_plus_one_thresholds_are_configurable() {
    let server = TestServer::start_with(|config| {
        config.query.n_plus_one.min_repeats = 40;
    })
    .await;
    let traces = n_plus_one_traces(now_nanos());
    let all: Vec<&Trace> = traces.iter().collect();
    server.export(merged(&all)).await;
    let found = v1_trace_ids(&server.get_ok("/api/traces?n_plus_one=true").await);
    assert!(found.is_empty(), "37 repeats are under 40: {found:?}");
    server.stop().await;
}
