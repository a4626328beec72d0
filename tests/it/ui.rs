//! The web UI in a real headless Chromium, against the real server with data sent
//! through the real OTLP/gRPC endpoint.
//!
//! Needs Debian's chromium and chromium-driver (`.ci/setup-browser`); without them
//! these tests fail, they never skip. Figures from the 50k-span test are printed
//! (run with `--nocapture` to see them).

mod browser;

use std::time::Duration;

use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::key::Key;
use serde_json::Value;

use self::browser::Browser;
use crate::support::fixtures::{kv, now_nanos, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::TestServer;

const HOSTILE: &str =
    "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 1\">";
const EXPECTED_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// frontend → cart → redis, and a failing payment; `render` carries hostile text.
fn checkout_trace(start_nanos: u64) -> Trace {
    TraceBuilder::new("frontend")
        .at(start_nanos)
        .span("GET /checkout", 0..120)
        .attr(kv("http.route", "/checkout"))
        .attr(kv("http.status_code", 500_i64))
        .service("cart")
        .child("cart.Get", 5..30)
        .service("redis")
        .child("HGETALL", 8..20)
        .kind(KIND_CLIENT)
        .attr(kv("db.system", "redis"))
        .service("payment")
        .child_of(0, "payment.Charge", 40..100)
        .attr(kv("payment.amount", 42.5))
        .error("card declined")
        .event(
            "exception",
            90,
            vec![kv("exception.message", "card declined")],
        )
        .link([0x11; 16], [0x22; 8])
        .service("frontend")
        .child_of(0, "render <b>now</b>", 105..118)
        .attr(kv("note", HOSTILE))
        .build()
}

fn login_trace(start_nanos: u64) -> Trace {
    TraceBuilder::new("auth")
        .at(start_nanos)
        .span("POST /login", 0..45)
        .service("users")
        .child("users.Find", 3..40)
        .build()
}

async fn server_with(traces: &[&Trace]) -> TestServer {
    let server = TestServer::start().await;
    for trace in traces {
        server.export(trace.to_export_request()).await;
    }
    server
}

async fn open_trace_page(browser: &Browser, server: &TestServer, path: &str) {
    browser.goto(&server.api_url(path)).await;
    browser.find("#trace-page[data-state=ready]").await;
}

/// Row indices currently in the waterfall's DOM, in display order.
async fn rendered_rows(browser: &Browser) -> Vec<u64> {
    let value = browser
        .script(
            "return [...document.querySelectorAll('.wf-row')]\
               .sort((a, b) => a.offsetTop - b.offsetTop)\
               .map((row) => Number(row.dataset.row));",
        )
        .await;
    value
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(Value::as_u64)
        .collect()
}

#[tokio::test]
async fn search_shows_results_and_opens_a_trace() {
    let now = now_nanos();
    let checkout = checkout_trace(now - 60_000_000_000);
    let login = login_trace(now - 30_000_000_000);
    let server = server_with(&[&checkout, &login]).await;
    let browser = Browser::start().await;

    browser.goto(&server.api_url("/")).await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 2",
            "two results",
        )
        .await;
    assert_eq!(
        browser.path_and_query().await,
        "/search",
        "/ redirects to /search"
    );
    // Most recent first: login started later.
    let first = browser.text("#result-list li:first-child").await;
    assert!(first.contains("auth: POST /login"), "{first}");
    let second = browser.text("#result-list li:nth-child(2)").await;
    for expected in [
        "frontend: GET /checkout",
        "5 spans",
        "1 error",
        "payment 1",
        "cart 1",
        "ago",
    ] {
        assert!(
            second.contains(expected),
            "missing {expected:?} in {second}"
        );
    }
    assert_eq!(browser.find_all(".scatter-point").await.len(), 2);
    assert_eq!(
        browser.find_all(".scatter-point.scatter-error").await.len(),
        1
    );

    // Sorting is client-side and kept in the URL.
    browser
        .find("#result-sort")
        .await
        .select_by_value("longest")
        .await
        .expect("sort");
    let longest = browser.text("#result-list li:first-child").await;
    assert!(longest.contains("GET /checkout"), "{longest}");
    assert!(browser.path_and_query().await.contains("sort=longest"));

    // A narrower search: service picker, operation picker (filled from the API), tags.
    browser.find("#search-service option[value=frontend]").await;
    browser
        .find("#search-service")
        .await
        .select_by_value("frontend")
        .await
        .expect("service");
    browser
        .find("#search-operation option[value='GET /checkout']")
        .await;
    browser
        .find("#search-operation")
        .await
        .select_by_value("GET /checkout")
        .await
        .expect("operation");
    browser
        .find("#search-tags")
        .await
        .send_keys("http.status_code=500")
        .await
        .expect("tags");
    browser
        .find("#search-submit")
        .await
        .click()
        .await
        .expect("submit");
    browser
        .wait_until(
            "location.search.includes('service=frontend') && document.querySelectorAll('#result-list li').length === 1",
            "the filtered search",
        )
        .await;
    let query = browser.path_and_query().await;
    for expected in [
        "service=frontend",
        "operation=GET",
        "tags=http.status_code",
        "lookback=1h",
        "sort=longest",
    ] {
        assert!(query.contains(expected), "{expected} not in {query}");
    }

    // The URL alone reproduces the search.
    browser.goto(&server.api_url(&query)).await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 1",
            "the reloaded search",
        )
        .await;
    assert_eq!(
        browser
            .find("#search-service")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("frontend")
    );
    assert_eq!(
        browser
            .find("#search-tags")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("http.status_code=500")
    );

    // Open the result.
    browser
        .find("#result-list .result-link")
        .await
        .click()
        .await
        .expect("open");
    browser.find("#trace-page[data-state=ready]").await;
    assert_eq!(
        browser.path_and_query().await,
        format!("/trace/{}", checkout.id_hex())
    );
    assert_eq!(
        browser.text("#trace-title").await,
        "frontend: GET /checkout"
    );
    let facts = browser.text("#trace-facts").await;
    for expected in [
        "Duration\n120ms",
        "Services\n4",
        "Depth\n3",
        "Spans\n5",
        "Errors\n1",
    ] {
        assert!(facts.contains(expected), "missing {expected:?} in {facts}");
    }

    // The scatter plot opens traces too, and the trace-ID box works from any page.
    browser.client.back().await.expect("back");
    browser
        .find(".scatter-point")
        .await
        .click()
        .await
        .expect("click a point");
    browser.find("#trace-page[data-state=ready]").await;
    let input = browser.find("#trace-id-input").await;
    input
        .send_keys(&login.id_hex().to_uppercase())
        .await
        .expect("type an ID");
    input
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .expect("enter");
    browser
        .wait_until(
            &format!("location.pathname === '/trace/{}'", login.id_hex()),
            "the typed trace",
        )
        .await;
    browser.find("#trace-page[data-state=ready]").await;
    assert_eq!(browser.text("#trace-title").await, "auth: POST /login");

    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn waterfall_collapses_shows_details_and_finds() {
    let checkout = checkout_trace(now_nanos() - 10_000_000_000);
    let server = server_with(&[&checkout]).await;
    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", checkout.id_hex())).await;

    // Preorder, children by start time.
    assert_eq!(rendered_rows(&browser).await, [0, 1, 2, 3, 4]);
    let names = browser
        .script(
            "return [...document.querySelectorAll('.wf-row .wf-op')].map((op) => op.textContent);",
        )
        .await;
    assert_eq!(
        names,
        serde_json::json!([
            "GET /checkout",
            "cart.Get",
            "HGETALL",
            "payment.Charge",
            "render <b>now</b>"
        ])
    );
    assert_eq!(browser.find_all(".wf-row.is-error").await.len(), 1);
    assert!(!browser.find_all(".wf-row.is-critical").await.is_empty());

    // Collapse one subtree, then everything, then expand.
    browser
        .find(".wf-row[data-row='1'] .wf-toggle")
        .await
        .click()
        .await
        .expect("collapse");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 4",
            "cart collapsed",
        )
        .await;
    assert_eq!(rendered_rows(&browser).await, [0, 1, 3, 4]);
    browser
        .find("#collapse-all")
        .await
        .click()
        .await
        .expect("collapse all");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 1",
            "all collapsed",
        )
        .await;
    browser
        .find("#expand-all")
        .await
        .click()
        .await
        .expect("expand all");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 5",
            "all expanded",
        )
        .await;

    // Span details.
    browser
        .find(".wf-row[data-row='3']")
        .await
        .click()
        .await
        .expect("select payment");
    let detail = browser.text("#span-detail").await;
    for expected in [
        "payment payment.Charge",
        "ERROR card declined",
        "payment.amount",
        "42.5",
        "float64",
        "+90ms",
        "exception",
        "exception.message",
        "Resource",
        "host.name",
        "tracery-tests",
    ] {
        // Section headings are upper-cased by CSS, and WebDriver reads rendered text.
        let found = detail.to_lowercase().contains(&expected.to_lowercase());
        assert!(found, "missing {expected:?} in details:\n{detail}");
    }
    let link = browser.find("#detail-links a").await;
    let href = link.attr("href").await.expect("href").unwrap_or_default();
    assert_eq!(
        href,
        format!("/trace/{}?span={}", "11".repeat(16), "22".repeat(8))
    );
    assert!(
        browser.path_and_query().await.contains("span="),
        "the selection is in the URL"
    );

    // Keyboard: Escape closes, arrows move the selection.
    let viewport = browser.find("#waterfall-viewport").await;
    viewport
        .send_keys(&char::from(Key::Escape).to_string())
        .await
        .expect("escape");
    browser
        .wait_until("!document.getElementById('span-detail')", "details closed")
        .await;
    viewport
        .send_keys(&char::from(Key::Down).to_string())
        .await
        .expect("down");
    viewport
        .send_keys(&char::from(Key::Down).to_string())
        .await
        .expect("down");
    browser
        .wait_until(
            "document.querySelector('.wf-row.is-selected')?.dataset.row === '1'",
            "row 1 selected",
        )
        .await;
    viewport
        .send_keys(&char::from(Key::Left).to_string())
        .await
        .expect("left collapses");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 4",
            "collapsed by key",
        )
        .await;
    viewport
        .send_keys(&char::from(Key::Right).to_string())
        .await
        .expect("right expands");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 5",
            "expanded by key",
        )
        .await;

    // Find: by name, by attribute value; step through matches.
    let find = browser.find("#trace-find").await;
    find.send_keys("db.system=redis").await.expect("type");
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent === '1 of 1'",
            "one match",
        )
        .await;
    assert_eq!(rendered_rows_with(&browser, "is-current-match").await, [2]);
    find.clear().await.expect("clear");
    find.send_keys("card").await.expect("type");
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent === '1 of 1'",
            "card matches payment",
        )
        .await;
    find.clear().await.expect("clear");
    find.send_keys("e").await.expect("type");
    browser
        .wait_until(
            "/^1 of \\d+$/.test(document.getElementById('trace-find-count').textContent)",
            "many matches",
        )
        .await;
    let total = browser
        .script("return document.querySelectorAll('.wf-row.is-match').length;")
        .await;
    assert!(total.as_u64().unwrap_or(0) >= 3, "{total}");
    browser
        .find("#find-next")
        .await
        .click()
        .await
        .expect("next");
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent.startsWith('2 of')",
            "second match",
        )
        .await;
    browser
        .find("#find-prev")
        .await
        .click()
        .await
        .expect("prev");
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent.startsWith('1 of')",
            "back to first",
        )
        .await;

    // Critical path highlighting can be turned off.
    browser
        .find("#critical-path-toggle")
        .await
        .click()
        .await
        .expect("toggle");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row.is-critical').length === 0",
            "no critical rows",
        )
        .await;

    // Zoom by dragging across the minimap from 10% to 50% of the trace (12ms to
    // 60ms of 120ms): the waterfall's bars and ruler follow; "0" resets.
    let map = browser.find("#minimap").await;
    let (_, _, width, _) = map.rectangle().await.expect("minimap size");
    let drag = MouseActions::new("mouse".to_owned())
        .then(PointerAction::MoveToElement {
            element: map.clone(),
            duration: None,
            x: -0.4 * width,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveToElement {
            element: map.clone(),
            duration: Some(Duration::from_millis(150)),
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser
        .client
        .perform_actions(drag)
        .await
        .expect("drag on the minimap");
    browser
        .wait_until("!document.getElementById('reset-zoom').hidden", "zoomed in")
        .await;
    let zoom = browser
        .script(
            "return { window: parseFloat(document.getElementById('minimap-window').style.width),\
                      rootLeft: parseFloat(document.querySelector('.wf-row[data-row=\"0\"] .wf-bar').style.left),\
                      firstTick: document.querySelector('.wf-ruler .tick-label').textContent };",
        )
        .await;
    let window = zoom["window"].as_f64().expect("window width");
    let root_left = zoom["rootLeft"].as_f64().expect("root bar left");
    assert!((window - 40.0).abs() < 2.0, "{zoom}");
    assert!(
        (root_left + 25.0).abs() < 3.0,
        "the root starts 12ms before a 48ms window: {zoom}"
    );
    assert_eq!(zoom["firstTick"], "20ms", "{zoom}");
    viewport.send_keys("0").await.expect("reset zoom");
    browser
        .wait_until("document.getElementById('reset-zoom').hidden", "zoom reset")
        .await;

    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

async fn rendered_rows_with(browser: &Browser, class: &str) -> Vec<u64> {
    let value = browser
        .script(&format!(
            "return [...document.querySelectorAll('.wf-row.{class}')].map((row) => Number(row.dataset.row));"
        ))
        .await;
    value
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_u64)
        .collect()
}

#[tokio::test]
async fn deep_links_open_traces_spans_and_searches() {
    let checkout = checkout_trace(now_nanos() - 5_000_000_000);
    let server = server_with(&[&checkout]).await;
    let browser = Browser::start().await;

    // Straight to a span of a trace: the span is selected and its details open.
    let payment_span_id = browser_span_id(&checkout, "payment.Charge");
    open_trace_page(
        &browser,
        &server,
        &format!("/trace/{}?span={payment_span_id}", checkout.id_hex()),
    )
    .await;
    let detail = browser.text("#span-detail").await;
    assert!(detail.contains("payment.Charge"), "{detail}");
    assert_eq!(rendered_rows_with(&browser, "is-selected").await, [3]);

    // A find in the URL is applied.
    open_trace_page(
        &browser,
        &server,
        &format!("/trace/{}?find=HGETALL", checkout.id_hex()),
    )
    .await;
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent === '1 of 1'",
            "find from URL",
        )
        .await;

    // Unknown trace: a helpful not-found state, not a blank page.
    browser
        .goto(&server.api_url(&format!("/trace/{}", "ab".repeat(16))))
        .await;
    let notice = browser.text(".notice").await;
    assert!(notice.contains("Trace not found"), "{notice}");

    // A search link.
    browser
        .goto(&server.api_url("/search?service=payment&lookback=2h&limit=5"))
        .await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 1",
            "the linked search",
        )
        .await;
    assert_eq!(
        browser
            .find("#search-lookback")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("2h")
    );

    // Unknown pages say so.
    browser.goto(&server.api_url("/no-such-page")).await;
    assert!(browser.text(".notice").await.contains("Page not found"));
    browser.close().await;
    server.stop().await;
}

fn browser_span_id(trace: &Trace, name: &str) -> String {
    trace
        .request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .find(|span| span.name == name)
        .map(|span| hex::encode(&span.span_id))
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[tokio::test]
async fn hostile_span_text_stays_text_under_a_strict_csp() {
    let checkout = checkout_trace(now_nanos() - 5_000_000_000);
    let server = server_with(&[&checkout]).await;

    for path in ["/", "/search", "/trace/abc", "/app.js"] {
        let response = server
            .http
            .get(server.api_url(path))
            .send()
            .await
            .expect("GET");
        let headers = response.headers();
        assert_eq!(headers["content-security-policy"], EXPECTED_CSP, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
    let missing = server
        .http
        .get(server.api_url("/missing.js"))
        .send()
        .await
        .expect("GET");
    assert_eq!(missing.status(), 404);

    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", checkout.id_hex())).await;
    browser
        .find(".wf-row[data-row='4']")
        .await
        .click()
        .await
        .expect("select render");
    let detail = browser.text("#span-detail").await;
    assert!(
        detail.contains(HOSTILE),
        "the value is shown verbatim:\n{detail}"
    );
    assert!(detail.contains("render <b>now</b>"), "{detail}");
    let injected = browser
        .script(
            "return { pwned: window.__pwned ?? null, \
                      images: document.querySelectorAll('#span-detail img, .waterfall img').length, \
                      bolds: document.querySelectorAll('#app b').length };",
        )
        .await;
    assert_eq!(
        injected,
        serde_json::json!({ "pwned": null, "images": 0, "bolds": 0 })
    );
    assert_eq!(
        browser.csp_violations().await,
        0,
        "the UI itself needs no CSP exception"
    );
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn empty_state_explains_how_to_send_traces() {
    let server = TestServer::start().await;
    let browser = Browser::start().await;
    browser.goto(&server.api_url("/search")).await;
    let notice = browser.text(".notice").await;
    assert!(notice.contains("No traces yet"), "{notice}");
    let endpoints = browser.text("#endpoints").await;
    assert!(
        endpoints.contains(&format!(":{}", server.otlp_grpc.port())),
        "{endpoints}"
    );
    assert!(
        endpoints.contains(&format!(":{}", server.otlp_http.port())),
        "{endpoints}"
    );
    assert!(
        notice.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://"),
        "{notice}"
    );
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn json_files_open_in_jaeger_and_otlp_format() {
    let checkout = checkout_trace(now_nanos() - 5_000_000_000);
    let server = server_with(&[&checkout]).await;
    let downloads = tempfile::tempdir().expect("temp dir");

    // Jaeger format exactly as the trace page's "Download JSON" link serves it.
    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", checkout.id_hex())).await;
    let download = browser.find("#download-json").await;
    let href = download
        .attr("href")
        .await
        .expect("href")
        .unwrap_or_default();
    assert_eq!(href, format!("/api/traces/{}", checkout.id_hex()));
    let jaeger = server
        .http
        .get(server.api_url(&href))
        .send()
        .await
        .expect("download");
    assert_eq!(jaeger.status(), 200);
    let jaeger_path = downloads.path().join("trace-jaeger.json");
    std::fs::write(&jaeger_path, jaeger.bytes().await.expect("body")).expect("write");
    let otlp_path = downloads.path().join("trace-otlp.json");
    std::fs::write(&otlp_path, checkout.to_otlp_json().to_string()).expect("write");

    for (path, label) in [
        (&jaeger_path, "trace-jaeger.json"),
        (&otlp_path, "trace-otlp.json"),
    ] {
        browser.goto(&server.api_url("/search")).await;
        browser
            .find("#open-file-input")
            .await
            .send_keys(&path.display().to_string())
            .await
            .expect("choose file");
        browser
            .wait_until(
                &format!(
                    "location.pathname === '/trace/{}' && document.querySelector('#trace-page[data-state=ready]')",
                    checkout.id_hex()
                ),
                "the opened file",
            )
            .await;
        assert_eq!(
            browser.text("#trace-title").await,
            "frontend: GET /checkout",
            "{label}"
        );
        assert!(browser
            .text(".trace-header")
            .await
            .contains(&format!("opened from {label}")));
        assert_eq!(rendered_rows(&browser).await, [0, 1, 2, 3, 4], "{label}");
        assert_eq!(
            browser.find_all(".wf-row.is-error").await.len(),
            1,
            "{label}"
        );
        browser
            .find(".wf-row[data-row='3']")
            .await
            .click()
            .await
            .expect("select");
        let detail = browser.text("#span-detail").await;
        assert!(
            detail.contains("card declined") && detail.contains("payment.amount"),
            "{label}: {detail}"
        );
    }
    browser.close().await;
    server.stop().await;
}

/// 50,000 spans: one root, 100 batches, the rest spread over the batches.
fn big_trace(start_nanos: u64) -> Trace {
    const NUM_BATCHES: usize = 100;
    const NUM_SPANS: usize = 50_000;
    let services = ["gateway", "search", "index", "ranker", "storage"];
    let mut builder = TraceBuilder::new("gateway")
        .at(start_nanos)
        .span("GET /big", 0..60_000);
    for batch in 0..NUM_BATCHES as u64 {
        builder = builder
            .service(services[1 + (batch as usize % 4)])
            .child_of(0, &format!("batch-{batch}"), batch * 600..batch * 600 + 590);
    }
    for leaf in 0..(NUM_SPANS - 1 - NUM_BATCHES) as u64 {
        let batch = leaf % NUM_BATCHES as u64;
        let start = batch * 600 + (leaf / NUM_BATCHES as u64) % 580;
        builder = builder
            .service(services[(leaf % 5) as usize])
            .child_of(
                1 + batch as usize,
                &format!("leaf-{leaf}"),
                start..start + 1 + leaf % 9,
            )
            .attr(kv("leaf.index", leaf as i64));
        if leaf == 31_337 {
            builder = builder.error("the needle");
        }
    }
    builder.build()
}

/// Budgets for the 50k trace, measured in the browser. The server is a debug
/// build on a shared two-core machine, so loading gets a loose bound; rendering
/// is the UI's own work and gets a tight one.
const BIG_RENDER_BUDGET_MS: f64 = 2_000.0;
const BIG_LOAD_BUDGET_MS: f64 = 30_000.0;
const BIG_SCROLL_FRAME_BUDGET_MS: f64 = 100.0;
const MAX_ROWS_IN_DOM: u64 = 250;

#[tokio::test]
async fn a_50k_span_trace_renders_and_scrolls_within_budget() {
    let trace = big_trace(now_nanos() - 120_000_000_000);
    let server = server_with(&[&trace]).await;
    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", trace.id_hex())).await;

    let measures = browser
        .script(
            "return Object.fromEntries(performance.getEntriesByType('measure')\
               .filter((m) => m.name.startsWith('tracery:')).map((m) => [m.name, m.duration]));",
        )
        .await;
    let measure = |name: &str| {
        measures[name]
            .as_f64()
            .unwrap_or_else(|| panic!("no measure {name}: {measures}"))
    };
    let (load_ms, render_ms, first_ms) = (
        measure("tracery:trace-load"),
        measure("tracery:trace-render"),
        measure("tracery:trace-first-render"),
    );
    let spans_fact = browser.text("#trace-facts").await;
    assert!(spans_fact.contains("Spans\n50,000"), "{spans_fact}");
    let rows_after_render = browser.find_all(".wf-row").await.len() as u64;

    // A scripted scroll through the whole trace, 60 steps, one per frame.
    let scroll = browser
        .script_async(
            "const viewport = document.getElementById('waterfall-viewport');\
             const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));\
             const steps = 60; const started = performance.now(); let worst = 0; let last = started;\
             let maxRows = 0;\
             for (let i = 1; i <= steps; i += 1) {\
               viewport.scrollTop = (viewport.scrollHeight - viewport.clientHeight) * i / steps;\
               await frame();\
               const now = performance.now(); worst = Math.max(worst, now - last); last = now;\
               maxRows = Math.max(maxRows, document.querySelectorAll('.wf-row').length);\
             }\
             await frame();\
             const rows = [...document.querySelectorAll('.wf-row')].map((row) => Number(row.dataset.row));\
             return { averageMs: (performance.now() - started) / steps, worstMs: worst, maxRows,\
                      lastRow: Math.max(...rows) };",
        )
        .await;
    let average_ms = scroll["averageMs"].as_f64().expect("averageMs");
    let worst_ms = scroll["worstMs"].as_f64().expect("worstMs");
    let max_rows = scroll["maxRows"].as_u64().expect("maxRows");

    // Collapse all and find over 50k rows, timed in the page.
    let operations = browser
        .script_async(
            "const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));\
             let started = performance.now();\
             document.getElementById('collapse-all').click(); await frame();\
             const collapseMs = performance.now() - started;\
             const collapsedRows = document.querySelectorAll('.wf-row').length;\
             document.getElementById('expand-all').click(); await frame();\
             const find = document.getElementById('trace-find');\
             started = performance.now();\
             find.value = 'the needle';\
             find.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));\
             await frame();\
             return { collapseMs, collapsedRows, findMs: performance.now() - started,\
                      found: document.getElementById('trace-find-count').textContent,\
                      selected: document.querySelector('.wf-row.is-selected .wf-op')?.textContent ?? null };",
        )
        .await;

    println!(
        "50k-span trace: load {load_ms:.0} ms (server fetch + parse), render {render_ms:.0} ms, \
         first render {first_ms:.0} ms, rows in DOM {rows_after_render} (max {max_rows} while scrolling), \
         scroll frame avg {average_ms:.1} ms / worst {worst_ms:.1} ms, collapse all {:.0} ms, find {:.0} ms",
        operations["collapseMs"].as_f64().unwrap_or(f64::NAN),
        operations["findMs"].as_f64().unwrap_or(f64::NAN),
    );

    assert!(
        render_ms < BIG_RENDER_BUDGET_MS,
        "render took {render_ms} ms"
    );
    assert!(load_ms < BIG_LOAD_BUDGET_MS, "load took {load_ms} ms");
    assert!(
        rows_after_render <= MAX_ROWS_IN_DOM,
        "{rows_after_render} rows in the DOM"
    );
    assert!(
        max_rows <= MAX_ROWS_IN_DOM,
        "{max_rows} rows in the DOM while scrolling"
    );
    assert!(
        average_ms < BIG_SCROLL_FRAME_BUDGET_MS,
        "scroll frames averaged {average_ms} ms"
    );
    assert_eq!(scroll["lastRow"], 49_999, "scrolled to the end: {scroll}");
    assert_eq!(operations["collapsedRows"], 1, "{operations}");
    assert_eq!(operations["found"], "1 of 1", "{operations}");
    assert_eq!(operations["selected"], "leaf-31337", "{operations}");
    assert_eq!(browser.csp_violations().await, 0);

    browser.close().await;
    server.stop().await;
}

/// Takes the README screenshots from real data. They are written to
/// docs/screenshots/ when TRACERY_UPDATE_SCREENSHOTS=1, else to a temp dir, and
/// checked to be PNGs either way.
#[tokio::test]
async fn screenshots_of_the_main_pages() {
    let now = now_nanos();
    let mut traces = Vec::new();
    for index in 0..14_u64 {
        let start = now - (index * 170 + 20) * 1_000_000_000;
        traces.push(if index % 3 == 1 {
            login_trace(start)
        } else {
            checkout_trace_sized(start, index)
        });
    }
    let server = TestServer::start().await;
    for trace in &traces {
        server.export(trace.to_export_request()).await;
    }
    let output = match std::env::var_os("TRACERY_UPDATE_SCREENSHOTS") {
        Some(_) => None,
        None => Some(tempfile::tempdir().expect("temp dir")),
    };
    let directory = output.as_ref().map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"),
        |dir| dir.path().to_path_buf(),
    );
    std::fs::create_dir_all(&directory).expect("screenshot dir");

    let browser = Browser::start().await;
    browser.goto(&server.api_url("/search?lookback=1h")).await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 14",
            "results",
        )
        .await;
    save_screenshot(&browser, &directory.join("search.png")).await;

    let slow = &traces[0];
    let payment = browser_span_id(slow, "payment.Charge");
    open_trace_page(
        &browser,
        &server,
        &format!("/trace/{}?span={payment}", slow.id_hex()),
    )
    .await;
    browser.find("#span-detail").await;
    save_screenshot(&browser, &directory.join("trace.png")).await;

    browser
        .find("#theme-toggle")
        .await
        .click()
        .await
        .expect("dark theme");
    browser
        .wait_until(
            "document.documentElement.dataset.theme === 'dark'",
            "dark theme",
        )
        .await;
    save_screenshot(&browser, &directory.join("trace-dark.png")).await;
    browser.close().await;
    server.stop().await;
}

/// Like `checkout_trace`, with durations varied by `index` so the scatter plot spreads.
fn checkout_trace_sized(start_nanos: u64, index: u64) -> Trace {
    let scale = 1 + index % 5;
    let failing = index % 4 == 0;
    let mut builder = TraceBuilder::new("frontend")
        .at(start_nanos)
        .span("GET /checkout", 0..120 * scale)
        .attr(kv("http.route", "/checkout"))
        .service("cart")
        .child("cart.Get", 5..30 * scale)
        .service("redis")
        .child("HGETALL", 8..20 * scale)
        .kind(KIND_CLIENT)
        .attr(kv("db.system", "redis"))
        .service("payment")
        .child_of(0, "payment.Charge", 35 * scale..100 * scale)
        .attr(kv("payment.amount", 42.5))
        .event("retry", 50 * scale, vec![kv("attempt", 2_i64)]);
    if failing {
        builder = builder.error("card declined");
    }
    builder
        .service("postgres")
        .child("INSERT orders", 60 * scale..90 * scale)
        .kind(KIND_CLIENT)
        .attr(kv("db.statement", "INSERT INTO orders VALUES ($1, $2)"))
        .service("frontend")
        .child_of(0, "render", 102 * scale..118 * scale)
        .build()
}

async fn save_screenshot(browser: &Browser, path: &std::path::Path) {
    // Let layout and the rAF-scheduled draws settle before the picture.
    browser
        .script_async("await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); return true;")
        .await;
    let png = browser.client.screenshot().await.expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "not a real PNG"
    );
    std::fs::write(path, png).expect("write screenshot");
}
