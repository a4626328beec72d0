//! Issue #16's N+1 counts on the Monitor page: per operation, how many traces in
//! the window have an N+1 finding, agreeing with the `n_plus_one=true` search each
//! count links to.

use serde_json::Value;

use crate::support::fixtures::{kv, merged, now_nanos, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::{v1_trace_ids, TestServer};

const SECOND: u64 = 1_000_000_000;

/// `shop`'s `GET /orders`: one `SELECT users` per row (`rows` of them, 10 ms
/// each), or one joined query when `rows` is 1.
fn orders(start_nanos: u64, rows: u64) -> Trace {
    let mut builder = TraceBuilder::new("shop")
        .at(start_nanos)
        .span("GET /orders", 0..20 + rows * 11)
        .service("postgres");
    for row in 0..rows {
        let start = 5 + row * 11;
        builder = builder
            .child_of(0, "SELECT users", start..start + 10)
            .kind(KIND_CLIENT)
            .attr(kv(
                "db.statement",
                format!("SELECT * FROM users WHERE id = {row}").as_str(),
            ));
    }
    builder.build()
}

/// `shop`'s `GET /cart`, whose `inventory` call checks `items` items one by one.
fn cart(start_nanos: u64, items: u64) -> Trace {
    let mut builder = TraceBuilder::new("shop")
        .at(start_nanos)
        .span("GET /cart", 0..30 + items * 12)
        .service("inventory")
        .child("inventory.Check", 2..25 + items * 12);
    for item in 0..items {
        let start = 4 + item * 12;
        builder = builder.child_of(1, "GET /stock", start..start + 11);
    }
    builder.build()
}

/// Known counts in the last hour: `GET /orders` 3 of 5 traces, `GET /cart` 1 of 3
/// (the finding is in `inventory`), `GET /health` 0 of 1; plus an N+1 trace of
/// `GET /orders` two hours ago, outside the window.
pub(crate) fn fixture() -> Vec<Trace> {
    let now = now_nanos();
    let ago = |seconds: u64| now - seconds * SECOND;
    vec![
        orders(ago(300), 8),
        orders(ago(290), 12),
        orders(ago(280), 6),
        orders(ago(270), 1),
        orders(ago(260), 1),
        cart(ago(250), 7),
        cart(ago(240), 1),
        cart(ago(230), 2),
        TraceBuilder::new("shop")
            .at(ago(220))
            .span("GET /health", 0..1)
            .build(),
        orders(ago(7200), 9),
    ]
}

pub(crate) async fn seeded() -> (TestServer, Vec<Trace>) {
    let server = TestServer::start().await;
    let traces = fixture();
    server
        .export(merged(&traces.iter().collect::<Vec<_>>()))
        .await;
    (server, traces)
}

fn counts(body: &Value) -> Vec<(String, u64)> {
    body["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["name"].as_str().unwrap().to_owned(),
                row["traces"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn n_plus_one_counts_per_operation_match_the_searches_they_link_to() {
    let (server, traces) = seeded().await;
    // The window the Monitor page shows.
    let table = server
        .get_ok("/internal/ui/monitor/operations?service=shop&lookback=3600000")
        .await;
    let (start, end) = (
        table["startMs"].as_u64().unwrap(),
        table["endMs"].as_u64().unwrap(),
    );
    let window = format!("start={start}&end={end}");
    let body = server
        .get_ok(&format!(
            "/internal/ui/monitor/n-plus-one?service=shop&{window}"
        ))
        .await;
    assert_eq!(
        counts(&body),
        [("GET /cart".to_owned(), 1), ("GET /orders".to_owned(), 3)]
    );
    assert_eq!(body["numExamined"], 9, "every shop trace in the hour");
    assert_eq!(body["complete"], true);

    // Each count is what the search behind its link finds.
    for (operation, expected) in [("GET /orders", 3), ("GET /cart", 1), ("GET /health", 0)] {
        let found = v1_trace_ids(
            &server
                .get_ok(&format!(
                    "/api/traces?service=shop&operation={}&n_plus_one=true&start={}&end={}&limit=100",
                    operation.replace(' ', "%20"),
                    start * 1000,
                    end * 1000
                ))
                .await,
        );
        assert_eq!(found.len(), expected, "{operation}: {found:?}");
    }
    // The counts are per service: inventory's operations count the cart trace too.
    let inventory = server
        .get_ok(&format!(
            "/internal/ui/monitor/n-plus-one?service=inventory&{window}"
        ))
        .await;
    assert_eq!(
        counts(&inventory),
        [
            ("GET /stock".to_owned(), 1),
            ("inventory.Check".to_owned(), 1)
        ]
    );
    // A window around the old trace finds only it.
    let old_start = traces[9].to_export_request().resource_spans[0].scope_spans[0].spans[0]
        .start_time_unix_nano
        / 1_000_000;
    let old = server
        .get_ok(&format!(
            "/internal/ui/monitor/n-plus-one?service=shop&start={}&end={}",
            old_start - 1000,
            old_start + 1000
        ))
        .await;
    assert_eq!(counts(&old), [("GET /orders".to_owned(), 1)]);
    assert_eq!(old["numExamined"], 1);

    for bad in [
        format!("/internal/ui/monitor/n-plus-one?{window}"),
        "/internal/ui/monitor/n-plus-one?service=shop&start=5&end=5".to_owned(),
        "/internal/ui/monitor/n-plus-one?service=shop&start=soon".to_owned(),
    ] {
        let (status, _) = server.get(&bad).await;
        assert_eq!(status, 400, "{bad}");
    }
    server.stop().await;
}
