//! `tracery demo` against a real server: the traces it sends arrive whole and
//! show every feature the demo promises (services, errors, an N+1 loop, links,
//! events), over both OTLP transports.

use std::collections::HashMap;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracery::demo::{self, DemoArgs, DemoProtocol, SERVICES};

use crate::support::TestServer;

fn spans(body: &Value) -> Vec<&Value> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|trace| trace["spans"].as_array().unwrap())
        .collect()
}

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|tag| tag["key"] == key)
        .map(|tag| &tag["value"])
}

fn metric(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn demo_traffic_has_every_promised_shape() {
    let server = TestServer::start().await;
    let grpc = DemoArgs {
        rate: 2000.0,
        requests: Some(150),
        seed: Some(11),
        ..DemoArgs::new(DemoProtocol::Grpc, &format!("http://{}", server.otlp_grpc))
    };
    let sent = demo::run(grpc, CancellationToken::new()).await.unwrap();
    assert_eq!(sent.num_requests, 150);
    assert_eq!(sent.num_failed_exports, 0);
    let http = DemoArgs {
        rate: 2000.0,
        requests: Some(20),
        seed: Some(12),
        ..DemoArgs::new(DemoProtocol::Http, &format!("http://{}", server.otlp_http))
    };
    let sent_http = demo::run(http, CancellationToken::new()).await.unwrap();
    assert_eq!(sent_http.num_failed_exports, 0);

    // Every span arrived, and the server counted exactly those.
    let (_, metrics) = server.get_admin("/metrics").await;
    assert_eq!(
        metric(
            &metrics,
            "tracery_spans_accepted_total{protocol=\"otlp_grpc\"}"
        ),
        Some(sent.num_spans as f64)
    );
    assert_eq!(
        metric(
            &metrics,
            "tracery_spans_accepted_total{protocol=\"otlp_http_protobuf\"}"
        ),
        Some(sent_http.num_spans as f64)
    );

    let mut services = server.get_ok("/api/services").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    services.sort();
    let mut expected: Vec<String> = SERVICES.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(services, expected);

    // Errors: failed payments carry an error tag and an exception event.
    let failed = server
        .get_ok("/api/traces?service=payment&tags=%7B%22error%22%3A%22true%22%7D&limit=50")
        .await;
    let failed_spans = spans(&failed);
    assert!(
        failed_spans
            .iter()
            .any(|span| span["logs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|log| log["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|field| field["key"] == "event" && field["value"] == "exception"))),
        "no exception event among {} error spans",
        failed_spans.len()
    );

    // The N+1 loop: one server span with many identical queries as children.
    let history = server
        .get_ok("/api/traces?service=orders&operation=GET%20%2Forders&limit=5")
        .await;
    assert!(!history["data"].as_array().unwrap().is_empty());
    let mut per_parent: HashMap<(String, String), usize> = HashMap::new();
    for span in spans(&history) {
        let Some(query) = tag(span, "db.query.text") else {
            continue;
        };
        let parent = span["references"][0]["spanID"].as_str().unwrap().to_owned();
        *per_parent
            .entry((parent, query.as_str().unwrap().to_owned()))
            .or_default() += 1;
    }
    assert!(
        per_parent.values().any(|&count| count >= 6),
        "{per_parent:?}"
    );

    // Links: the queue consumer's span refers to the producer span in the checkout trace.
    let consumed = server
        .get_ok("/api/traces?service=notifications&operation=process%20order-events&limit=3")
        .await;
    let consumer = spans(&consumed)
        .into_iter()
        .find(|span| span["operationName"] == "process order-events")
        .expect("a consumer span");
    let link = consumer["references"]
        .as_array()
        .unwrap()
        .iter()
        .find(|reference| reference["refType"] == "FOLLOWS_FROM")
        .expect("a link to the producer");
    let producer_trace = server
        .get_ok(&format!(
            "/api/traces/{}",
            link["traceID"].as_str().unwrap()
        ))
        .await;
    let producer = spans(&producer_trace)
        .into_iter()
        .find(|span| span["spanID"] == link["spanID"])
        .expect("the linked span is in the checkout trace");
    assert_eq!(producer["operationName"], "publish order-events");
    assert_ne!(link["traceID"], consumer["traceID"]);

    // Semantic-convention attributes and SDK languages.
    for key in ["http.route", "user.id", "customer.tier", "db.system"] {
        assert!(
            spans(&history).iter().any(|span| tag(span, key).is_some()),
            "no {key}"
        );
    }
    let processes: Vec<&Value> = history["data"][0]["processes"]
        .as_object()
        .unwrap()
        .values()
        .collect();
    assert!(processes.iter().any(|process| process["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|tag| tag["key"] == "telemetry.sdk.language" && tag["value"] == "go")));
    server.stop().await;
}
