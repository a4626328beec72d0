//! Issue #16 in the browser: the N+1 banner and the folded "× N" row on the trace
//! page, the N+1 checkbox and the filter expressions of the search form.

use super::browser::Browser;
use super::open_trace_page;
use super::screenshots::{save_screenshot, screenshot_directory};
use crate::support::fixtures::{kv, now_nanos, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::TestServer;

const SECOND: u64 = 1_000_000_000;

/// GET /orders loads 37 users one by one, then renders.
fn lazy_orders(start_nanos: u64) -> Trace {
    let mut builder = TraceBuilder::new("orders")
        .at(start_nanos)
        .span("GET /orders", 0..430)
        .attr(kv("http.route", "/orders"))
        .attr(kv("http.status_code", 200_i64))
        .service("postgres")
        .child("SELECT orders", 1..6)
        .kind(KIND_CLIENT)
        .attr(kv("db.statement", "SELECT * FROM orders LIMIT 37"));
    for row in 0..37_u64 {
        let start = 8 + row * 11;
        builder = builder
            .child_of(0, "SELECT users", start..start + 10)
            .kind(KIND_CLIENT)
            .attr(kv(
                "db.statement",
                format!("SELECT * FROM users WHERE id = {}", 7000 + row * 3).as_str(),
            ));
    }
    builder
        .service("orders")
        .child_of(0, "render", 418..428)
        .build()
}

/// The same page, joined: one query.
fn joined_orders(start_nanos: u64) -> Trace {
    TraceBuilder::new("orders")
        .at(start_nanos)
        .span("GET /orders", 0..60)
        .attr(kv("http.route", "/orders"))
        .attr(kv("http.status_code", 503_i64))
        .attr(kv("customer.tier", "gold"))
        .service("postgres")
        .child("SELECT orders", 2..50)
        .kind(KIND_CLIENT)
        .attr(kv(
            "db.statement",
            "SELECT * FROM orders JOIN users ON users.id = orders.user_id",
        ))
        .build()
}

async fn seeded() -> (TestServer, Trace, Trace) {
    let now = now_nanos();
    let lazy = lazy_orders(now - 20 * SECOND);
    let joined = joined_orders(now - 10 * SECOND);
    let server = TestServer::start().await;
    server.export(lazy.to_export_request()).await;
    server.export(joined.to_export_request()).await;
    (server, lazy, joined)
}

/// Rows in the waterfall's visible list (not only those in the DOM): the spacer
/// is as tall as all of them.
const VISIBLE_ROWS: &str = "parseInt(document.querySelector('.wf-spacer').style.height, 10) / 26";

async fn visible_rows(browser: &Browser) -> u64 {
    browser
        .script(&format!("return {VISIBLE_ROWS};"))
        .await
        .as_u64()
        .expect("a count")
}

#[tokio::test]
async fn banner_and_folded_row_on_the_trace_page() {
    let (server, lazy, joined) = seeded().await;
    let (_output, directory) = screenshot_directory();
    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", lazy.id_hex())).await;

    let banner = browser.text("#n-plus-one-banner").await;
    for expected in [
        "N+1:",
        "37 × SELECT * FROM users WHERE id = ? under GET /orders",
        "370ms",
        "could save ~360ms",
    ] {
        assert!(banner.contains(expected), "{expected:?} not in {banner}");
    }
    // Root, SELECT orders, the folded × 37 row and render.
    assert_eq!(visible_rows(&browser).await, 4);
    let group = browser.text(".wf-row.wf-group").await;
    assert!(group.contains("× 37"), "{group}");
    assert!(
        group.contains("SELECT * FROM users WHERE id = ?"),
        "{group}"
    );
    assert_eq!(browser.find_all(".wf-group .wf-group-bar").await.len(), 37);
    save_screenshot(&browser, &directory.join("n-plus-one.png")).await;

    // Unfold: every repeat is a row of its own; the first row can fold them again.
    browser
        .find(".wf-group .wf-group-toggle")
        .await
        .click()
        .await
        .expect("unfold");
    browser
        .wait_until(&format!("{VISIBLE_ROWS} === 40"), "37 repeats")
        .await;
    assert!(browser.find_all(".wf-row.wf-group").await.is_empty());
    browser
        .find(".wf-row .wf-group-toggle")
        .await
        .click()
        .await
        .expect("fold");
    browser
        .wait_until(&format!("{VISIBLE_ROWS} === 4"), "folded again")
        .await;

    // "Show" unfolds the repeats and opens the first one.
    browser
        .find("#n-plus-one-banner button")
        .await
        .click()
        .await
        .expect("show");
    browser.find("#span-detail").await;
    browser
        .wait_until(&format!("{VISIBLE_ROWS} === 40"), "unfolded by Show")
        .await;
    let detail = browser.text("#span-detail").await;
    assert!(
        detail.contains("SELECT * FROM users WHERE id = 7000"),
        "{detail}"
    );

    // A trace without repeats has no banner and no folded rows.
    open_trace_page(&browser, &server, &format!("/trace/{}", joined.id_hex())).await;
    assert!(browser.find_all("#n-plus-one-banner").await.is_empty());
    assert!(browser.find_all(".wf-group").await.is_empty());
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn n_plus_one_checkbox_and_filter_expressions_in_the_search_form() {
    let (server, lazy, joined) = seeded().await;
    let (_output, directory) = screenshot_directory();
    let browser = Browser::start().await;
    let results =
        |count: usize| format!("document.querySelectorAll('#result-list li').length === {count}");
    browser.goto(&server.api_url("/search?lookback=1h")).await;
    browser.wait_until(&results(2), "both traces").await;

    // The checkbox keeps the trace with the N+1 only, across every service.
    browser
        .find("#search-n-plus-one")
        .await
        .click()
        .await
        .expect("check");
    browser
        .find("#search-submit")
        .await
        .click()
        .await
        .expect("submit");
    browser
        .wait_until(
            &format!(
                "location.search.includes('nPlusOne=true') && {}",
                results(1)
            ),
            "the N+1 search",
        )
        .await;
    let href = browser
        .find("#result-list li a")
        .await
        .attr("href")
        .await
        .expect("href")
        .unwrap_or_default();
    assert!(href.contains(&lazy.id_hex()), "{href}");
    let badge = browser.text("#result-list li .result-n-plus-one").await;
    assert_eq!(badge, "N+1");
    browser
        .find("#search-n-plus-one")
        .await
        .click()
        .await
        .expect("uncheck");

    // Expressions in the tag box: a numeric comparison and a regex, beside a plain tag.
    browser
        .find("#search-tags")
        .await
        .send_keys("http.status_code>=500 http.route=~^/ord customer.tier=gold")
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
            &format!("location.search.includes('status_code%3E%3D500') && !location.search.includes('nPlusOne') && {}", results(1)),
            "the filtered search",
        )
        .await;
    let href = browser
        .find("#result-list li a")
        .await
        .attr("href")
        .await
        .expect("href")
        .unwrap_or_default();
    assert!(href.contains(&joined.id_hex()), "{href}");
    save_screenshot(&browser, &directory.join("search-filters.png")).await;

    // Bad syntax is caught in the form; a bad regex by the server, which names it.
    let tags = browser.find("#search-tags").await;
    tags.clear().await.expect("clear");
    tags.send_keys("http.status_code>high").await.expect("tags");
    browser
        .find("#search-submit")
        .await
        .click()
        .await
        .expect("submit");
    browser
        .wait_until(
            "document.querySelector('.form-error').textContent.includes('needs a number')",
            "the form's error",
        )
        .await;
    tags.clear().await.expect("clear");
    tags.send_keys("http.route=~(").await.expect("tags");
    browser
        .find("#search-submit")
        .await
        .click()
        .await
        .expect("submit");
    browser
        .wait_until(
            "document.querySelector('#search-results').textContent.includes('invalid filter `http.route=~(`')",
            "the server's 400",
        )
        .await;
    let text = browser.text("#search-results").await;
    assert!(text.contains("HTTP 400"), "{text}");
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}
