//! A Zipkin shared span (Envoy's `shared_span_context`: client and server halves with
//! one span ID) is drawn in the waterfall as a parent and its child, as the API
//! returns it.

use serde_json::json;

use super::browser::Browser;
use super::open_trace_page;
use crate::support::TestServer;
use crate::zipkin_ingest::{post, shared_span_fixture};

#[tokio::test]
async fn shared_span_halves_render_as_parent_and_child() {
    let server = TestServer::start().await;
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
        - 10_000_000;
    let body = shared_span_fixture(start).to_string().into_bytes();
    let (status, text) = post(&server, "/api/v2/spans", "application/json", body).await;
    assert_eq!(status, 202, "{text}");

    let browser = Browser::start().await;
    open_trace_page(&browser, &server, "/trace/5af7183fb1d4cf5f").await;
    // (service, operation, tree level) of each row, top to bottom: the backend's
    // server half sits one level under the frontend's client half, and the
    // backend's own query under the server half.
    let rows = browser
        .script(
            "return [...document.querySelectorAll('.wf-row')]\
               .sort((a, b) => a.offsetTop - b.offsetTop)\
               .map((row) => [row.querySelector('.wf-service').textContent,\
                              row.querySelector('.wf-op').textContent,\
                              Number(row.getAttribute('aria-level'))]);",
        )
        .await;
    assert_eq!(
        rows,
        json!([
            ["frontend", "get /api", 1],
            ["frontend", "get /backend", 2],
            ["backend", "get /backend", 3],
            ["backend", "select", 4]
        ])
    );

    // Collapsing the client half hides the server half and its work with it.
    browser
        .find(".wf-row[data-row='1'] .wf-toggle")
        .await
        .click()
        .await
        .expect("collapse the client half");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 2",
            "the server half folded under the client half",
        )
        .await;
    browser.close().await;
    server.stop().await;
}
