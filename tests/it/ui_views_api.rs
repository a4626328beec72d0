//! The UI's view endpoints (`/internal/ui/…`): flamegraph, statistics, compare,
//! "Why slow?" and the dependency map, on fixtures whose answers are known.

use serde_json::{json, Value};

use crate::support::fixtures::{kv, merged, now_nanos, Trace, TraceBuilder};
use crate::support::TestServer;

/// front GET /checkout 0..100 ms: cart 10..60 (with db 20..40) in parallel with
/// payment 30..90; one error.
pub(crate) fn parallel_trace(start_nanos: u64) -> Trace {
    TraceBuilder::new("frontend")
        .at(start_nanos)
        .span("GET /checkout", 0..100)
        .service("cart")
        .child("cart.Get", 10..60)
        .service("db")
        .child("SELECT", 20..40)
        .service("payment")
        .child_of(0, "charge", 30..90)
        .error("declined")
        .build()
}

/// 20 traces of frontend "GET /api": the two slowest (300 ms) carry
/// `customer.tier=gold` and an extra 180 ms `cache.miss` call; two fast ones are
/// gold too.
pub(crate) fn why_slow_traces(now: u64) -> Vec<Trace> {
    (0..20u64)
        .map(|index| {
            let slow = index >= 18;
            let tier = if slow || index < 2 { "gold" } else { "silver" };
            let builder = TraceBuilder::new("frontend")
                .at(now - (30 - index) * 1_000_000_000)
                .span("GET /api", 0..if slow { 300 } else { 100 + index })
                .attr(kv("customer.tier", tier))
                .attr(kv("http.method", "GET"))
                .service("db")
                .child_of(0, "SELECT", 10..60);
            if slow {
                builder
                    .service("cache")
                    .child_of(0, "cache.miss", 100..280)
                    .build()
            } else {
                builder.build()
            }
        })
        .collect()
}

async fn server_with(traces: &[&Trace]) -> TestServer {
    let server = TestServer::start().await;
    server.export(merged(traces)).await;
    server
}

fn frame_shape(body: &Value) -> Vec<Value> {
    let services = body["services"].as_array().unwrap();
    body["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|frame| {
            json!([
                frame["depth"],
                services[frame["serviceIndex"].as_u64().unwrap() as usize]["name"],
                frame["operation"],
                frame["criticalXUs"],
                frame["criticalTotalUs"],
                frame["selfXUs"],
                frame["selfTotalUs"],
            ])
        })
        .collect()
}

#[tokio::test]
async fn flamegraph_widths_on_both_axes() {
    let trace = parallel_trace(now_nanos() - 10_000_000_000);
    let server = server_with(&[&trace]).await;
    let body = server
        .get_ok(&format!(
            "/internal/ui/traces/{}/flamegraph",
            trace.id_hex()
        ))
        .await;
    // Critical path (Jaeger's): back from the end, charge (30..90) finished last;
    // cart ends after charge starts, so the path resumes in the root: 0..30, 90..100.
    // Self: root 100 − union(10..90) = 20; cart 50 − 20 = 30; db 20; charge 60.
    assert_eq!(
        frame_shape(&body),
        [
            json!([0, "frontend", "GET /checkout", 0, 100_000, 0, 130_000]),
            json!([1, "cart", "cart.Get", 0, 0, 0, 50_000]),
            json!([2, "db", "SELECT", 0, 0, 0, 20_000]),
            json!([1, "payment", "charge", 0, 60_000, 50_000, 60_000]),
        ]
    );
    assert_eq!(body["durationUs"], 100_000);
    assert_eq!(body["criticalTotalUs"], 100_000);
    assert_eq!(body["selfTotalUs"], 130_000);
    assert_eq!(body["frames"][3]["numErrors"], 1);
    server.stop().await;
}

#[tokio::test]
async fn statistics_per_operation() {
    let trace = parallel_trace(now_nanos() - 10_000_000_000);
    let server = server_with(&[&trace]).await;
    let body = server
        .get_ok(&format!(
            "/internal/ui/traces/{}/statistics",
            trace.id_hex()
        ))
        .await;
    let rows: Vec<Value> = body["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            json!([
                row["operation"],
                row["numSpans"],
                row["totalUs"],
                row["selfTotalUs"],
                row["selfPercent"],
                row["numErrors"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        [
            json!(["charge", 1, 60_000, 60_000, 60.0, 1]),
            json!(["cart.Get", 1, 50_000, 30_000, 30.0, 0]),
            json!(["SELECT", 1, 20_000, 20_000, 20.0, 0]),
            json!(["GET /checkout", 1, 100_000, 20_000, 20.0, 0]),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn compare_merges_two_traces() {
    let now = now_nanos();
    let fast = TraceBuilder::new("frontend")
        .at(now - 20_000_000_000)
        .span("GET /api", 0..100)
        .service("db")
        .child("SELECT", 10..30)
        .build();
    let slow = TraceBuilder::new("frontend")
        .at(now - 10_000_000_000)
        .span("GET /api", 0..400)
        .service("db")
        .child_of(0, "SELECT", 10..30)
        .child_of(0, "SELECT", 40..80)
        .service("cache")
        .child_of(0, "cache.miss", 100..300)
        .build();
    let server = server_with(&[&fast, &slow]).await;
    let body = server
        .get_ok(&format!(
            "/internal/ui/compare?a={}&b={}",
            fast.id_hex(),
            slow.id_hex()
        ))
        .await;
    assert_eq!(body["a"]["traceId"], fast.id_hex());
    assert_eq!(body["b"]["durationUs"], 400_000);
    let nodes: Vec<Value> = body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            json!([
                n["depth"],
                n["operation"],
                n["presence"],
                n["numSpansA"],
                n["numSpansB"],
                n["durationUsA"],
                n["durationUsB"]
            ])
        })
        .collect();
    assert_eq!(
        nodes,
        [
            json!([0, "GET /api", "both", 1, 1, 100_000, 400_000]),
            json!([1, "SELECT", "both", 1, 2, 20_000, 60_000]),
            json!([1, "cache.miss", "b", 0, 1, 0, 200_000]),
        ]
    );
    // Unknown and malformed IDs.
    let (status, body) = server
        .get(&format!(
            "/internal/ui/compare?a={}&b=00000000000000000000000000000abc",
            fast.id_hex()
        ))
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server
        .get(&format!("/internal/ui/compare?a={}", fast.id_hex()))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("'b'"),
        "{body}"
    );
    let (status, _) = server.get("/internal/ui/compare?a=xyz&b=abc").await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test]
async fn why_slow_ranks_gold_tier_and_cache_miss_first() {
    let now = now_nanos();
    let traces = why_slow_traces(now);
    let server = server_with(&traces.iter().collect::<Vec<_>>()).await;
    let window = format!(
        "start={}&end={}",
        (now - 3_600_000_000_000) / 1000,
        now / 1000
    );
    let body = server
        .get_ok(&format!(
            "/internal/ui/why-slow?service=frontend&operation=GET%20/api&{window}"
        ))
        .await;
    assert_eq!(
        (body["numTraces"].clone(), body["numSlow"].clone()),
        (json!(20), json!(2))
    );
    assert_eq!(body["split"], "p90");
    assert_eq!(body["durationsUs"].as_array().unwrap().len(), 20);
    let top = &body["attributes"][0];
    assert_eq!(
        (top["key"].as_str(), top["value"].as_str()),
        (Some("customer.tier"), Some("gold"))
    );
    assert_eq!(
        (top["numSlow"].clone(), top["numOther"].clone()),
        (json!(2), json!(2))
    );
    let node = &body["operations"][0];
    assert_eq!(
        (node["service"].as_str(), node["operation"].as_str()),
        (Some("cache"), Some("cache.miss"))
    );
    assert_eq!(
        (node["slowCalls"].clone(), node["otherCalls"].clone()),
        (json!(1.0), json!(0.0))
    );
    assert_eq!(node["slowSelfUs"], 180_000.0);

    // A brushed range among the fast traces: neither finding stands out.
    let body = server
        .get_ok(&format!(
            "/internal/ui/why-slow?service=frontend&operation=GET%20/api&{window}&slowMinUs=112000&slowMaxUs=117000"
        ))
        .await;
    assert_eq!(
        (body["split"].clone(), body["numSlow"].clone()),
        (json!("range"), json!(6))
    );
    assert!(body["operations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["operation"] != "cache.miss"));

    for (query, expected) in [
        ("service=frontend", "'operation'"),
        (
            "service=frontend&operation=x&slowMinUs=5&slowMaxUs=1",
            "slowMaxUs",
        ),
        ("service=frontend&operation=x&start=10&end=1", "'start'"),
        ("service=frontend&operation=x&limit=ten", "limit"),
    ] {
        let (status, body) = server.get(&format!("/internal/ui/why-slow?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{query}: {body}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn dependency_map_lays_out_services_in_call_order() {
    let now = now_nanos();
    let traces: Vec<Trace> = (0..3)
        .map(|_| {
            TraceBuilder::new("frontend")
                .at(now - 5_000_000_000)
                .span("GET /checkout", 0..200)
                .child("render", 1..190)
                .service("checkout")
                .child("POST /checkout", 10..180)
                .service("payment")
                .child("charge", 60..170)
                .build()
        })
        .collect();
    let server = server_with(&traces.iter().collect::<Vec<_>>()).await;
    let body = server
        .get_ok(&format!(
            "/internal/ui/dependencies?endTs={}&lookback=3600000",
            now / 1_000_000 + 1000
        ))
        .await;
    let services = body["services"].as_array().unwrap();
    let nodes: Vec<Value> = body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            json!([
                services[n["serviceIndex"].as_u64().unwrap() as usize]["name"],
                n["layer"],
                n["callsIn"],
                n["callsOut"]
            ])
        })
        .collect();
    assert_eq!(
        nodes,
        [
            json!(["checkout", 1, 3, 3]),
            json!(["frontend", 0, 0, 3]),
            json!(["payment", 2, 3, 0]),
        ]
    );
    assert_eq!(
        body["edges"].as_array().unwrap().len(),
        2,
        "no frontend→frontend loop"
    );
    assert_eq!(body["numLayers"], 3);
    server.stop().await;
}

#[tokio::test]
async fn trace_views_of_unknown_traces_are_404() {
    let server = TestServer::start().await;
    for view in ["flamegraph", "statistics"] {
        let (status, _) = server
            .get(&format!(
                "/internal/ui/traces/0000000000000000000000000000abcd/{view}"
            ))
            .await;
        assert_eq!(status, 404, "{view}");
        let (status, _) = server
            .get(&format!("/internal/ui/traces/nothex/{view}"))
            .await;
        assert_eq!(status, 400, "{view}");
    }
    server.stop().await;
}
