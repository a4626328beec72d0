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

/// The JavaScript tree builder for files (ui/trace-file.js) must agree with the
/// server's (query/tree.rs): same preorder, depths, subtree sizes, offsets,
/// critical path, error flags and service colours, for the Jaeger JSON of the
/// same trace. This keeps the two implementations in step.
#[tokio::test]
async fn file_trees_match_the_server_tree() {
    let start = now_nanos() - 5_000_000_000;
    let checkout = checkout_trace(start);
    // Overlapping siblings, so the critical path has to choose.
    let fan_out = TraceBuilder::new("api")
        .at(start)
        .span("GET /fan-out", 0..100)
        .service("worker")
        .child_of(0, "slow", 20..90)
        .child("slow.inner", 30..50)
        .service("db")
        .child_of(0, "fast", 10..60)
        .error("timeout")
        .service("api")
        .child_of(0, "tail", 92..99)
        .build();
    let server = server_with(&[&checkout, &fan_out]).await;
    let browser = Browser::start().await;
    browser.goto(&server.api_url("/search")).await;
    for trace in [&checkout, &fan_out] {
        let script = format!(
            "const {{ tracesFromFile }} = await import('/trace-file.js');\
             const {{ fetchTrace }} = await import('/api.js');\
             const text = await (await fetch('/api/traces/{id}')).text();\
             const [file] = tracesFromFile(text);\
             const server = await fetchTrace('{id}');\
             const pick = (view) => view.rows.map((row) => [\
               row.spanId, row.parentSpanId, row.depth, row.subtreeSize, row.startOffsetUs,\
               row.durationUs, row.criticalSections, row.error,\
               view.services[row.serviceIndex].name, view.services[row.serviceIndex].colorIndex]);\
             return {{ file: pick(file), server: pick(server), fileDepth: file.maxDepth,\
                       serverDepth: server.maxDepth }};",
            id = trace.id_hex()
        );
        let views = browser.script_async(&script).await;
        assert!(
            views["server"]
                .as_array()
                .is_some_and(|rows| rows.len() >= 5),
            "{views}"
        );
        pretty_assertions::assert_eq!(views["file"], views["server"], "trace {}", trace.id_hex());
        assert_eq!(views["fileDepth"], views["serverDepth"]);
    }
    browser.close().await;
    server.stop().await;
}
