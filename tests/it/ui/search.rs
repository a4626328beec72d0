//! The search page: results, scatter plot, sorting, pickers, the URL as the
//! query, the trace-ID box, and the empty state.

use fantoccini::key::Key;

use super::browser::Browser;
use super::{checkout_trace, login_trace, server_with};
use crate::support::fixtures::now_nanos;
use crate::support::TestServer;

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
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 1",
            "the search again",
        )
        .await;
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
