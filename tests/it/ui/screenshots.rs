//! The screenshots in docs/screenshots/, taken from real data.

use super::browser::Browser;
use super::{login_trace, open_trace_page, span_id_of};
use crate::support::fixtures::{kv, merged, now_nanos, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::TestServer;

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
    let (_output, directory) = screenshot_directory();

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
    let payment = span_id_of(slow, "payment.Charge");
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

/// The Monitor page over an hour of traffic: a checkout and a login trace every
/// minute, with latency that drifts and a payment error now and then, so the
/// sparklines have a shape.
#[tokio::test]
async fn screenshot_of_the_monitor_page() {
    const MINUTE: u64 = 60_000_000_000;
    let now = now_nanos();
    let server = TestServer::start().await;
    for minute in 1..=58_u64 {
        let start = now - minute * MINUTE;
        let wave = (minute as f64 / 7.0).sin();
        let mut traces = Vec::new();
        let calls = 2 + (1.5 + 1.5 * (minute as f64 / 9.0).cos()) as u64;
        for call in 0..calls {
            let base = start + call * 9_000_000_000;
            // checkout_trace_sized scales by 1 + index % 5 and fails when index % 4 == 0.
            let index = (2.0 * (wave + 1.0)) as u64 + call % 2 + u64::from(minute % 9 == 0);
            traces.push(checkout_trace_sized(base, index));
            traces.push(login_trace(base + 3_000_000_000));
        }
        let refs: Vec<&Trace> = traces.iter().collect();
        server.export(merged(&refs)).await;
    }
    let (_output, directory) = screenshot_directory();
    let browser = Browser::start().await;
    browser.goto(&server.api_url("/monitor")).await;
    browser
        .wait_until(
            "document.querySelectorAll('#monitor-services tbody tr').length >= 4",
            "a row per service",
        )
        .await;
    save_screenshot(&browser, &directory.join("monitor.png")).await;
    browser.close().await;
    server.stop().await;
}

/// Like `checkout_trace`, with durations varied by `index` so the scatter plot spreads.
fn checkout_trace_sized(start_nanos: u64, index: u64) -> Trace {
    let scale = 1 + index % 5;
    let failing = index.is_multiple_of(4);
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

/// docs/screenshots/ when TRACERY_UPDATE_SCREENSHOTS=1, else a temp dir (kept
/// alive by the first value).
pub(super) fn screenshot_directory() -> (Option<tempfile::TempDir>, std::path::PathBuf) {
    let output = match std::env::var_os("TRACERY_UPDATE_SCREENSHOTS") {
        Some(_) => None,
        None => Some(tempfile::tempdir().expect("temp dir")),
    };
    let directory = output.as_ref().map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"),
        |dir| dir.path().to_path_buf(),
    );
    std::fs::create_dir_all(&directory).expect("screenshot dir");
    (output, directory)
}

pub(super) async fn save_screenshot(browser: &Browser, path: &std::path::Path) {
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
