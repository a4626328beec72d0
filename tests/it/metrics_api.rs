//! Jaeger's metrics API (`/api/metrics/*`, the Monitor tab) answered from the
//! ingest-time histograms: exact calls and errors, p95 within 2%, Jaeger's names,
//! labels and units, the same numbers after a restart, and the 8 requests the
//! jaeger-ui Monitor page makes on load.

use serde_json::Value;

use crate::support::fixtures::{merged, now_nanos, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::TestServer;

const SECOND: u64 = 1_000_000_000;

/// The fixture: within one minute starting at `minute_start_nanos`, `checkout`
/// serves 400 `GET /cart` and 100 `POST /pay` calls (every 10th a failure) and
/// makes 50 client calls; `auth` serves 30 `login` calls. Returns the server-span
/// durations of `checkout` in milliseconds.
fn fixture(minute_start_nanos: u64) -> (Vec<Trace>, Vec<u64>) {
    let mut traces = Vec::new();
    let mut server_durations = Vec::new();
    for i in 0..500u64 {
        let duration = (i * i) % 997 + 1;
        let operation = if i < 400 { "GET /cart" } else { "POST /pay" };
        let mut builder = TraceBuilder::new("checkout")
            .at(minute_start_nanos + (i % 55) * SECOND)
            .span(operation, 0..duration);
        if i % 10 == 0 {
            builder = builder.error("boom");
        }
        server_durations.push(duration);
        traces.push(builder.build());
    }
    for i in 0..50u64 {
        traces.push(
            TraceBuilder::new("checkout")
                .at(minute_start_nanos + i * SECOND)
                .span("SELECT cart", 0..5_000)
                .kind(KIND_CLIENT)
                .build(),
        );
    }
    for i in 0..30u64 {
        traces.push(
            TraceBuilder::new("auth")
                .at(minute_start_nanos + i * SECOND)
                .span("login", 0..(i + 1))
                .build(),
        );
    }
    (traces, server_durations)
}

/// A minute boundary half an hour ago, in nanoseconds.
fn minute_half_an_hour_ago() -> u64 {
    let minute = 60 * SECOND;
    (now_nanos() - 30 * minute) / minute * minute
}

async fn seeded() -> (TestServer, u64, Vec<u64>) {
    let server = TestServer::start().await;
    let minute_start = minute_half_an_hour_ago();
    let (traces, durations) = fixture(minute_start);
    for chunk in traces.chunks(100) {
        let refs: Vec<&Trace> = chunk.iter().collect();
        server.export(merged(&refs)).await;
    }
    (server, minute_start / 1_000_000, durations)
}

fn points(metric: &Value) -> Vec<Value> {
    metric["metricPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["gaugeValue"]["doubleValue"].clone())
        .collect()
}

fn nearest_rank(sorted: &[u64], quantile: f64) -> f64 {
    sorted[(quantile * sorted.len() as f64).ceil() as usize - 1] as f64
}

#[tokio::test]
async fn latencies_calls_and_errors_match_a_known_fixture_and_survive_a_restart() {
    let (server, minute_start_ms, mut durations) = seeded().await;
    durations.sort_unstable();
    let end_ms = minute_start_ms + 60_000;
    let window = format!("endTs={end_ms}&lookback=60000&step=60000");
    let urls = [
        format!("/api/metrics/latencies?service=checkout&quantile=0.95&{window}"),
        format!("/api/metrics/calls?service=checkout&{window}"),
        format!("/api/metrics/errors?service=checkout&{window}"),
        format!(
            "/api/metrics/latencies?service=checkout&quantile=0.5&groupByOperation=true&{window}"
        ),
        format!("/api/metrics/calls?service=checkout&service=auth&groupByOperation=true&{window}"),
        format!("/api/metrics/calls?service=checkout&spanKind=client&{window}"),
    ];
    let mut bodies = Vec::new();
    for url in &urls {
        bodies.push(server.get_ok(url).await);
    }

    let latencies = &bodies[0];
    assert_eq!(latencies["name"], "service_latencies");
    assert_eq!(latencies["type"], "GAUGE");
    let metrics = latencies["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 1);
    assert_eq!(
        metrics[0]["labels"],
        serde_json::json!([{"name": "service_name", "value": "checkout"}])
    );
    let timestamps: Vec<&str> = metrics[0]["metricPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["timestamp"].as_str().unwrap())
        .collect();
    let expected_first = chrono_free_rfc3339(minute_start_ms / 1000);
    assert_eq!(
        timestamps,
        [
            expected_first.as_str(),
            chrono_free_rfc3339(minute_start_ms / 1000 + 60).as_str()
        ]
    );
    let values = points(&metrics[0]);
    let p95 = values[0].as_f64().expect("a number");
    let exact = nearest_rank(&durations, 0.95);
    assert!(
        (p95 - exact).abs() <= 0.02 * exact,
        "p95 {p95} ms vs exact {exact} ms"
    );
    assert_eq!(values[1], "NaN", "a step without calls is NaN");

    let calls = &bodies[1];
    assert_eq!(calls["name"], "service_call_rate");
    assert_eq!(
        points(&calls["metrics"][0])[0].as_f64(),
        Some(500.0 / 60.0),
        "req/s"
    );
    let errors = &bodies[2];
    assert_eq!(errors["name"], "service_error_rate");
    assert_eq!(
        points(&errors["metrics"][0])[0].as_f64(),
        Some(0.1),
        "a fraction"
    );

    let per_operation = &bodies[3];
    assert_eq!(per_operation["name"], "service_operation_latencies");
    let labels: Vec<&Value> = per_operation["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|metric| &metric["labels"])
        .collect();
    assert_eq!(
        labels,
        [
            &serde_json::json!([{"name": "operation", "value": "GET /cart"}, {"name": "service_name", "value": "checkout"}]),
            &serde_json::json!([{"name": "operation", "value": "POST /pay"}, {"name": "service_name", "value": "checkout"}]),
        ]
    );
    let mut cart: Vec<u64> = (0..400u64).map(|i| (i * i) % 997 + 1).collect();
    cart.sort_unstable();
    let median = points(&per_operation["metrics"][0])[0].as_f64().unwrap();
    let exact_median = nearest_rank(&cart, 0.5);
    assert!(
        (median - exact_median).abs() <= 0.02 * exact_median,
        "{median} vs {exact_median}"
    );

    let both = &bodies[4];
    assert_eq!(both["name"], "service_operation_call_rate");
    let per_series: Vec<(String, Option<f64>)> = both["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|metric| {
            (
                metric["labels"][0]["value"].as_str().unwrap().to_owned(),
                points(metric)[0].as_f64(),
            )
        })
        .collect();
    assert_eq!(
        per_series,
        [
            ("login".to_owned(), Some(30.0 / 60.0)),
            ("GET /cart".to_owned(), Some(400.0 / 60.0)),
            ("POST /pay".to_owned(), Some(100.0 / 60.0)),
        ]
    );
    assert_eq!(
        points(&bodies[5]["metrics"][0])[0].as_f64(),
        Some(50.0 / 60.0),
        "client spans"
    );

    // The same answers from the histograms on disk after a restart.
    let server = server.restart().await;
    for (url, before) in urls.iter().zip(&bodies) {
        assert_eq!(
            &server.get_ok(url).await,
            before,
            "{url} changed after a restart"
        );
    }
    server.stop().await;
}

/// `unix_secs` as RFC 3339 in UTC, computed here without the server's code.
fn chrono_free_rfc3339(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let seconds_of_day = unix_secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

#[tokio::test]
async fn the_eight_requests_of_jaeger_uis_monitor_page_get_what_its_reducer_reads() {
    let (server, _, _) = seeded().await;
    let end_ms = now_nanos() / 1_000_000;
    // As `fetchMetrics` builds them: the service unencoded, then the query sorted by
    // query-string's stringify; calls and errors carry the quantile too.
    let common = |quantile: &str, grouped: bool| {
        let group = if grouped {
            "groupByOperation=true&"
        } else {
            ""
        };
        format!("endTs={end_ms}&{group}lookback=3600000&quantile={quantile}&ratePer=600000&spanKind=server&step=60000")
    };
    let requests = [
        ("latencies", common("0.5", false), "service_latencies"),
        ("latencies", common("0.75", false), "service_latencies"),
        ("latencies", common("0.95", false), "service_latencies"),
        ("calls", common("0.95", false), "service_call_rate"),
        ("errors", common("0.95", false), "service_error_rate"),
        (
            "latencies",
            common("0.95", true),
            "service_operation_latencies",
        ),
        ("calls", common("0.95", true), "service_operation_call_rate"),
        (
            "errors",
            common("0.95", true),
            "service_operation_error_rate",
        ),
    ];
    for (kind, query, name) in requests {
        let url = format!("/api/metrics/{kind}?service=checkout&{query}");
        let body = server.get_ok(&url).await;
        assert_eq!(body["name"], name, "{url}");
        let metrics = body["metrics"].as_array().expect("metrics is an array");
        assert!(
            !metrics.is_empty(),
            "{url}: the page shows 'No data' for []"
        );
        for metric in metrics {
            let labels = metric["labels"].as_array().unwrap();
            if name.starts_with("service_operation") {
                // fetchOpsMetricsDone finds the `operation` label by name.
                assert!(labels
                    .iter()
                    .any(|label| label["name"] == "operation" && label["value"].is_string()));
            } else {
                // fetchServiceMetricsDone reads metrics[0].labels[0].value as the service.
                assert_eq!(labels[0]["value"], "checkout");
            }
            let metric_points = metric["metricPoints"].as_array().unwrap();
            assert_eq!(metric_points.len(), 61, "one point a minute over the hour");
            let mut numbers = 0;
            for point in metric_points {
                // `doubleValue.toFixed(2)`: a number, or "NaN", which becomes a gap.
                let value = &point["gaugeValue"]["doubleValue"];
                assert!(value.is_f64() || value == "NaN", "{url}: {value}");
                numbers += usize::from(value.is_f64());
                // `new Date(p.timestamp)`: RFC 3339 in UTC.
                let timestamp = point["timestamp"].as_str().unwrap();
                assert!(
                    timestamp.len() == 20 && timestamp.ends_with('Z'),
                    "{timestamp}"
                );
            }
            assert!(numbers >= 1, "{url}: the fixture's minute has a value");
        }
    }
    // The older Monitor tab's minstep, and Jaeger's 400s.
    assert_eq!(server.get_ok("/api/metrics/minstep").await["data"], 10_000);
    for (url, message) in [
        ("/api/metrics/calls", "service"),
        ("/api/metrics/latencies?service=checkout", "quantile"),
        (
            "/api/metrics/latencies?service=checkout&quantile=2",
            "quantile",
        ),
        (
            "/api/metrics/calls?service=checkout&spanKind=sideways",
            "spanKind",
        ),
        ("/api/metrics/calls?service=checkout&step=0", "step"),
    ] {
        let (status, body) = server.get(url).await;
        assert_eq!(status, 400, "{url}");
        assert_eq!(body["errors"][0]["code"], 400);
        assert!(
            body["errors"][0]["msg"].as_str().unwrap().contains(message),
            "{url}: {body}"
        );
    }
    server.stop().await;
}
