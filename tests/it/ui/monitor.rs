//! The Monitor page (services, a click through to operations, a click through to
//! traces) and the search page's latency heatmap, whose brush sets the filters.

use super::browser::Browser;
use super::{checkout_trace, login_trace};
use crate::support::fixtures::{now_nanos, Trace, TraceBuilder};
use crate::support::TestServer;

const SECOND: u64 = 1_000_000_000;

/// checkout and login traces, plus three slow `GET /slow` calls of frontend, so
/// its operations sort differently by impact and by name.
async fn seeded() -> (TestServer, Vec<Trace>) {
    let now = now_nanos();
    let mut traces = vec![
        checkout_trace(now - 120 * SECOND),
        login_trace(now - 90 * SECOND),
    ];
    for i in 0..3 {
        traces.push(
            TraceBuilder::new("frontend")
                .at(now - (60 + i) * SECOND)
                .span("GET /slow", 0..900)
                .build(),
        );
    }
    let server = TestServer::start().await;
    for trace in &traces {
        server.export(trace.to_export_request()).await;
    }
    (server, traces)
}

fn row_names_script(table: &str, attribute: &str) -> String {
    format!(
        "return [...document.querySelectorAll('#{table} tbody tr')].map((row) => row.getAttribute('{attribute}'));"
    )
}

#[tokio::test]
async fn monitor_lists_services_and_clicks_through_to_operations_and_traces() {
    let (server, traces) = seeded().await;
    let browser = Browser::start().await;
    browser.goto(&server.api_url("/monitor")).await;
    browser
        .wait_until(
            "document.querySelectorAll('#monitor-services tbody tr').length === 5",
            "a row per service with server spans",
        )
        .await;
    let mut services: Vec<String> = serde_json::from_value(
        browser
            .script(&row_names_script("monitor-services", "data-service"))
            .await,
    )
    .unwrap();
    services.sort();
    assert_eq!(
        services,
        ["auth", "cart", "frontend", "payment", "users"],
        "redis has only client spans"
    );
    let payment = browser
        .text("#monitor-services tr[data-service=payment]")
        .await;
    assert!(
        payment.contains("100.0%"),
        "payment always fails: {payment}"
    );
    let sparklines = browser
        .find_all("#monitor-services tr[data-service=frontend] svg.sparkline")
        .await;
    assert_eq!(sparklines.len(), 3, "rate, errors, latency");
    assert_eq!(
        browser
            .find_all("#monitor-services tr[data-service=frontend] .spark-p95")
            .await
            .len(),
        1,
        "one p95 line"
    );

    // A service opens its operations, sorted by impact (rate × p95) …
    browser
        .find("#monitor-services tr[data-service=frontend] a.monitor-name")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelectorAll('#monitor-operations tbody tr').length === 3",
            "frontend's operations",
        )
        .await;
    assert!(browser.path_and_query().await.contains("service=frontend"));
    let by_impact: Vec<String> = serde_json::from_value(
        browser
            .script(&row_names_script("monitor-operations", "data-operation"))
            .await,
    )
    .unwrap();
    assert_eq!(by_impact[0], "GET /slow", "{by_impact:?}");
    // … or by name.
    browser
        .find("#monitor-operations a[data-sort=name]")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelector('#monitor-operations tbody tr')?.getAttribute('data-operation') === 'GET /checkout'",
            "sorted by name",
        )
        .await;
    assert!(browser.path_and_query().await.contains("sort=name"));

    // An operation opens a search for its traces in the window, exemplars first.
    browser
        .find("#monitor-operations tr[data-operation='GET /checkout'] a.monitor-name")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 1",
            "the checkout trace",
        )
        .await;
    let path = browser.path_and_query().await;
    assert!(
        path.starts_with("/search?")
            && path.contains("operation=GET")
            && path.contains("exemplars=1"),
        "{path}"
    );
    browser.find("#exemplar-list a").await;
    let exemplar = browser
        .script("return document.querySelector('#exemplar-list a').getAttribute('data-trace-id');")
        .await;
    assert_eq!(exemplar, traces[0].id_hex().as_str());

    // A point on a service's chart opens a search for that moment.
    browser.goto(&server.api_url("/monitor")).await;
    browser
        .find("#monitor-services tr[data-service=auth] .spark-pick")
        .await;
    browser
        .script(
            "document.querySelector('#monitor-services tr[data-service=auth] .spark-pick')\
             .dispatchEvent(new MouseEvent('click', { bubbles: true }));",
        )
        .await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 1",
            "the login trace",
        )
        .await;
    let path = browser.path_and_query().await;
    assert!(
        path.contains("service=auth") && path.contains("lookback=custom"),
        "{path}"
    );
    let result = browser.text("#result-list li").await;
    assert!(result.contains("POST /login"), "{result}");
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
}

#[tokio::test]
async fn heatmap_brush_sets_the_time_and_duration_filters() {
    let (server, _) = seeded().await;
    let browser = Browser::start().await;
    browser
        .goto(&server.api_url("/search?service=frontend&lookback=1h"))
        .await;
    browser.find("#latency-heatmap .heatmap-cell").await;
    // Drag across the whole plot, from the top left to the bottom right.
    browser
        .script(
            "const chart = document.querySelector('#latency-heatmap');\
             const box = chart.getBoundingClientRect();\
             const fire = (type, x, y) => chart.dispatchEvent(new PointerEvent(type, {\
               bubbles: true, pointerId: 1, clientX: box.left + x, clientY: box.top + y }));\
             fire('pointerdown', 66, 9);\
             fire('pointermove', box.width / 2, box.height / 2);\
             fire('pointerup', box.width - 13, box.height - 23);",
        )
        .await;
    browser
        .wait_until(
            "new URLSearchParams(location.search).has('minDuration')",
            "the brush's filters in the URL",
        )
        .await;
    let path = browser.path_and_query().await;
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(path.trim_start_matches("/search?")).unwrap();
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap()
    };
    assert_eq!(get("service"), "frontend");
    assert_eq!(get("lookback"), "custom");
    let (start, end): (u64, u64) = (get("start").parse().unwrap(), get("end").parse().unwrap());
    assert!(start < end, "{path}");
    let micros = |text: String| text.trim_end_matches("us").parse::<u64>().unwrap();
    let (min, max) = (micros(get("minDuration")), micros(get("maxDuration")));
    // The whole plot: every frontend span (13 ms … 900 ms) is inside the brushed range.
    assert!(min <= 13_000 && max >= 900_000 && min < max, "{min}..{max}");
    // The form shows the filters, and the search ran with them.
    assert_eq!(
        browser
            .script("return document.querySelector('#search-min-duration').value;")
            .await,
        get("minDuration").as_str()
    );
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 4",
            "frontend's four traces",
        )
        .await;
    browser.close().await;
}

#[tokio::test]
async fn span_detail_shows_the_percentile_and_the_waterfall_shades_slow_spans() {
    let now = now_nanos();
    // 20 fast calls (10–29 ms) and one slow one (500 ms) of the same operation.
    let mut traces: Vec<Trace> = (0..20u64)
        .map(|i| {
            TraceBuilder::new("frontend")
                .at(now - (100 - i) * SECOND)
                .span("GET /fast", 0..(10 + i))
                .build()
        })
        .collect();
    traces.push(
        TraceBuilder::new("frontend")
            .at(now - 50 * SECOND)
            .span("GET /fast", 0..500)
            .build(),
    );
    let server = TestServer::start().await;
    for trace in &traces {
        server.export(trace.to_export_request()).await;
    }
    let browser = Browser::start().await;

    let slow = &traces[20];
    let span = super::span_id_of(slow, "GET /fast");
    browser
        .goto(&server.api_url(&format!("/trace/{}?span={span}", slow.id_hex())))
        .await;
    browser.find("#trace-page[data-percentiles=ready]").await;
    assert_eq!(
        browser.find_all(".wf-row.is-slow").await.len(),
        1,
        "slower than p95"
    );
    assert_eq!(browser.text("#percentile-badge").await, "p100 of 21 calls");

    let fastest = &traces[0];
    let span = super::span_id_of(fastest, "GET /fast");
    browser
        .goto(&server.api_url(&format!("/trace/{}?span={span}", fastest.id_hex())))
        .await;
    browser.find("#trace-page[data-percentiles=ready]").await;
    assert!(browser.find_all(".wf-row.is-slow").await.is_empty());
    assert_eq!(
        browser.text("#percentile-badge").await,
        "p5 of 21 calls",
        "1 of 21"
    );
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
}

/// Issue #16: the operations table counts the traces with an N+1 finding, and a
/// count opens exactly those traces.
#[tokio::test]
async fn operations_show_n_plus_one_counts_that_open_those_traces() {
    use super::screenshots::{save_screenshot, screenshot_directory};

    let (server, traces) = crate::monitor_n_plus_one::seeded().await;
    let browser = Browser::start().await;
    browser.goto(&server.api_url("/monitor?service=shop")).await;
    browser
        .wait_until(
            "document.querySelectorAll('#monitor-operations td.monitor-n-plus-one[data-state=ready]').length === 3",
            "the N+1 column",
        )
        .await;
    let counts = browser
        .script(
            "return Object.fromEntries([...document.querySelectorAll('#monitor-operations tbody tr')]\
               .map((row) => [row.dataset.operation, row.querySelector('.monitor-n-plus-one').textContent]));",
        )
        .await;
    assert_eq!(
        counts,
        serde_json::json!({ "GET /orders": "3", "GET /cart": "1", "GET /health": "0" })
    );
    assert!(
        browser
            .find_all("tr[data-operation='GET /health'] .monitor-n-plus-one a")
            .await
            .is_empty(),
        "a zero is not a link"
    );
    let (_keep, directory) = screenshot_directory();
    save_screenshot(&browser, &directory.join("monitor-n-plus-one.png")).await;

    browser
        .find("tr[data-operation='GET /orders'] a.n-plus-one-count")
        .await
        .click()
        .await
        .expect("open the N+1 traces");
    browser
        .wait_until(
            "location.pathname === '/search' && document.querySelectorAll('#result-list li').length === 3",
            "the three N+1 traces of GET /orders",
        )
        .await;
    let path = browser.path_and_query().await;
    for expected in [
        "service=shop",
        "operation=GET",
        "nPlusOne=true",
        "lookback=custom",
    ] {
        assert!(path.contains(expected), "{path}");
    }
    let checked = browser
        .script("return document.getElementById('search-n-plus-one').checked;")
        .await;
    assert_eq!(checked, serde_json::json!(true));
    let listed = browser
        .script("return [...document.querySelectorAll('#result-list li a.result-link')].map((a) => a.dataset.traceId).sort();")
        .await;
    let mut expected: Vec<String> = traces[..3].iter().map(Trace::id_hex).collect();
    expected.sort();
    assert_eq!(listed, serde_json::json!(expected));
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}
