//! The UI against a server that wants a query token: it asks once, asks again
//! when the token is refused, and keeps it for the rest of the tab's session.

use super::browser::Browser;
use super::checkout_trace;
use crate::access::QUERY_TOKEN;
use crate::support::fixtures::now_nanos;
use crate::support::TestServer;

async fn enter_token(browser: &Browser, token: &str) {
    let input = browser.find("#token-dialog[open] #token-input").await;
    input.send_keys(token).await.expect("type the token");
    browser
        .find("#token-submit")
        .await
        .click()
        .await
        .expect("submit the token");
}

#[tokio::test]
async fn asks_for_the_query_token_once_per_session() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("query.tokens");
    std::fs::write(&tokens, format!("{QUERY_TOKEN}\n")).unwrap();
    let server = TestServer::start_with(|config| {
        config.access.query_token_file = Some(tokens);
    })
    .await;
    let checkout = checkout_trace(now_nanos() - 10_000_000_000);
    server.export(checkout.to_export_request()).await;

    let browser = Browser::start().await;
    browser.goto(&server.api_url("/search")).await;
    let asked = browser.text("#token-dialog[open]").await;
    assert!(asked.contains("query API is protected"), "{asked}");
    enter_token(&browser, "not-the-token-at-all").await;
    let again = browser.text("#token-dialog[open]").await;
    assert!(again.contains("did not accept"), "{again}");
    enter_token(&browser, QUERY_TOKEN).await;
    browser.find("#search-service option[value=frontend]").await;
    assert!(browser.find_all("#token-dialog").await.is_empty());

    // A trace page in the same tab uses the kept token without asking.
    browser
        .goto(&server.api_url(&format!("/trace/{}", checkout.id_hex())))
        .await;
    browser.find("#trace-page[data-state=ready]").await;
    assert!(browser.find_all("#token-dialog").await.is_empty());
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}
