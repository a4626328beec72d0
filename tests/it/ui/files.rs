//! Opening trace JSON files: Jaeger format (as "Download JSON" serves it) and OTLP/JSON.

use super::browser::Browser;
use super::{checkout_trace, open_trace_page, rendered_rows, server_with};
use crate::support::fixtures::{now_nanos, TraceBuilder};

#[tokio::test]
async fn json_files_open_in_jaeger_and_otlp_format() {
    let checkout = checkout_trace(now_nanos() - 5_000_000_000);
    let server = server_with(&[&checkout]).await;
    let downloads = tempfile::tempdir().expect("temp dir");

    // Jaeger format exactly as the trace page's "Download JSON" link serves it.
    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", checkout.id_hex())).await;
    let download = browser.find("#download-json").await;
    // The resolved URL: the attribute is relative to the page's <base href>.
    let href = download
        .prop("href")
        .await
        .expect("href")
        .unwrap_or_default();
    assert_eq!(
        href,
        server.api_url(&format!("/api/traces/{}", checkout.id_hex()))
    );
    let jaeger = server.http.get(&href).send().await.expect("download");
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

/// The server reads opened files (`POST /internal/ui/trace-file`); one it cannot
/// read leaves the page with the server's reason, and a good file still opens
/// afterwards. The UI has no parser of its own to fall back on.
#[tokio::test]
async fn a_file_the_server_cannot_read_shows_why() {
    let start = now_nanos() - 5_000_000_000;
    let login = TraceBuilder::new("auth")
        .at(start)
        .span("POST /login", 0..45)
        .service("users")
        .child("users.Find", 3..40)
        .build();
    let server = server_with(&[]).await;
    let files = tempfile::tempdir().expect("temp dir");
    let bad = files.path().join("notes.json");
    std::fs::write(&bad, r#"{"traces": []}"#).expect("write");
    let good = files.path().join("login.json");
    std::fs::write(&good, login.to_otlp_json().to_string()).expect("write");

    let browser = Browser::start().await;
    browser.goto(&server.api_url("/search")).await;
    let choose = |path: std::path::PathBuf| {
        let browser = &browser;
        async move {
            browser
                .find("#open-file-input")
                .await
                .send_keys(&path.display().to_string())
                .await
                .expect("choose file");
        }
    };
    choose(bad).await;
    browser
        .wait_until(
            "document.querySelector('.notice-error')?.textContent.includes('Cannot open notes.json')",
            "the error notice",
        )
        .await;
    let notice = browser.text(".notice-error").await;
    assert!(
        notice.contains("unrecognised JSON: expected Jaeger's {\"data\": [...]} or OTLP's {\"resourceSpans\": [...]}"),
        "{notice}"
    );

    choose(good).await;
    browser
        .wait_until(
            &format!(
                "location.pathname === '/trace/{}' && document.querySelector('#trace-page[data-state=ready]')",
                login.id_hex()
            ),
            "the opened file",
        )
        .await;
    assert_eq!(browser.text("#trace-title").await, "auth: POST /login");
    assert_eq!(rendered_rows(&browser).await, [0, 1]);
    // Nothing was stored: the search finds no services.
    let (status, _) = server
        .get(&format!("/internal/ui/traces/{}", login.id_hex()))
        .await;
    assert_eq!(status, 404);
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}
