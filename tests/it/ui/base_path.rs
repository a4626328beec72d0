//! The UI under `--base-path /jaeger`: search, a trace, the top bar and a reloaded
//! deep link, with every request the browser makes below the prefix.

use super::browser::Browser;
use super::{checkout_trace, login_trace};
use crate::base_path::{query_requests, server_under};
use crate::support::fixtures::now_nanos;

/// Every URL the current document loaded (itself included) that is not below
/// `/jaeger/`, from the browser's performance entries.
const ESCAPED: &str = "return performance.getEntries()\
    .filter((entry) => entry.entryType === 'navigation' || entry.entryType === 'resource')\
    .map((entry) => new URL(entry.name))\
    .filter((url) => url.origin !== location.origin || !url.pathname.startsWith('/jaeger/'))\
    .map((url) => url.href);";

async fn assert_nothing_escaped(browser: &Browser, step: &str) {
    let escaped = browser.script(ESCAPED).await;
    assert_eq!(escaped, serde_json::json!([]), "after {step}");
    let loaded = browser
        .script("return performance.getEntriesByType('resource').length;")
        .await;
    assert!(loaded.as_u64().unwrap_or(0) > 0, "no entries after {step}");
}

#[tokio::test]
async fn the_ui_works_below_a_base_path() {
    let now = now_nanos();
    let checkout = checkout_trace(now - 60_000_000_000);
    let login = login_trace(now - 30_000_000_000);
    let server = server_under("/jaeger").await;
    for trace in [&checkout, &login] {
        server.export(trace.to_export_request()).await;
    }
    let browser = Browser::start().await;

    browser.goto(&server.api_url("/jaeger/")).await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 2",
            "two results",
        )
        .await;
    assert_eq!(browser.path_and_query().await, "/jaeger/search");

    // A search through the form stays under the prefix.
    browser.find("#search-service option[value=frontend]").await;
    browser
        .find("#search-service")
        .await
        .select_by_value("frontend")
        .await
        .expect("pick a service");
    browser
        .find("#search-submit")
        .await
        .click()
        .await
        .expect("submit");
    browser
        .wait_until(
            "location.search.includes('service=frontend') \
             && document.querySelectorAll('#result-list li').length === 1",
            "the frontend search",
        )
        .await;
    let search = browser.path_and_query().await;
    assert!(search.starts_with("/jaeger/search?"), "{search}");

    // Links resolve below the prefix; following one opens the trace.
    let link = browser.find("#result-list li a.result-link").await;
    let href = link.prop("href").await.expect("href").unwrap_or_default();
    assert_eq!(
        href,
        server.api_url(&format!("/jaeger/trace/{}", checkout.id_hex()))
    );
    link.click().await.expect("open the trace");
    browser.find("#trace-page[data-state=ready]").await;
    assert_eq!(
        browser.path_and_query().await,
        format!("/jaeger/trace/{}", checkout.id_hex())
    );
    let download = browser
        .find("#download-json")
        .await
        .prop("href")
        .await
        .expect("href")
        .unwrap_or_default();
    assert_eq!(
        download,
        server.api_url(&format!("/jaeger/api/traces/{}", checkout.id_hex()))
    );

    // The top bar: Monitor, then Dependencies, by history navigation.
    browser
        .find(".topnav a[href=monitor]")
        .await
        .click()
        .await
        .expect("Monitor");
    browser
        .wait_until(
            "document.querySelectorAll('#monitor-services tbody tr').length > 0",
            "the Monitor page",
        )
        .await;
    assert_eq!(browser.path_and_query().await, "/jaeger/monitor");
    browser
        .find("#nav-dependencies")
        .await
        .click()
        .await
        .expect("Dependencies");
    browser.find("#dependencies-body[data-state=ready]").await;
    assert_eq!(browser.path_and_query().await, "/jaeger/dependencies");
    assert_nothing_escaped(&browser, "search, trace, monitor, dependencies").await;

    // Deep links load on refresh: a trace with a selected span, and a search.
    let deep = format!(
        "/jaeger/trace/{}?span={}",
        checkout.id_hex(),
        "0".repeat(16)
    );
    browser.goto(&server.api_url(&deep)).await;
    browser.find("#trace-page[data-state=ready]").await;
    browser.client.refresh().await.expect("reload");
    browser.find("#trace-page[data-state=ready]").await;
    let rows = browser.find_all(".wf-row").await.len();
    assert_eq!(rows, 5, "the whole checkout trace");
    assert_nothing_escaped(&browser, "reloading a trace").await;
    browser
        .goto(&server.api_url("/jaeger/search?service=auth"))
        .await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 1",
            "the auth search",
        )
        .await;
    let first = browser.text("#result-list li:first-child").await;
    assert!(first.contains("auth: POST /login"), "{first}");
    assert_nothing_escaped(&browser, "a search deep link").await;

    assert_eq!(browser.csp_violations().await, 0);
    // And the server agrees: nothing arrived outside the prefix.
    for status in [404, 307] {
        assert_eq!(
            query_requests(&server, "outside_base_path", status).await,
            0.0
        );
    }
    browser.close().await;
    server.stop().await;
}
