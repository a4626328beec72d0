//! How smooth the web UI is on a 50,000-span trace, measured in headless Chromium
//! against the real server (the same `TestServer` and `Browser` the browser tests
//! use): load and first render of the waterfall, scroll frame times of the
//! waterfall, statistics and compare lists, collapse and find, the flamegraph's
//! axis switch, hover and zoom, and opening the trace's JSON as a file. Frame times are wall-clock per requested animation
//! frame, so 16.7 ms is the floor at 60 Hz.
//!
//! Run with `cargo bench --bench ui_big_trace`; it prints its figures (docs/ui.md
//! quotes them). `cargo test --all-targets` runs it without `--bench` as a smoke
//! test: a 5,000-span trace, the same steps, figures printed but not judged.
//! Timing is never asserted: performance is measured here, not tested.

// The browser tests' own helpers, shared rather than copied; they unwrap as test
// code does.
#[allow(dead_code, clippy::unwrap_used)]
#[path = "../tests/it/ui/browser.rs"]
mod browser;
#[allow(dead_code, clippy::unwrap_used)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use serde_json::Value;

use browser::Browser;
use support::fixtures::{big_trace, now_nanos};
use support::TestServer;

/// Waits for the next animation frame and for a condition, in page scripts.
const FRAME: &str = "const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));\
                     const until = async (test) => { while (!test()) await frame(); };";

/// Scrolls `viewport` top to bottom in 60 steps, one per frame; returns the
/// average and worst frame and the most `row`s in the DOM meanwhile.
fn scroll_script(viewport: &str, row: &str) -> String {
    format!(
        "{FRAME} const viewport = document.querySelector('{viewport}');\
         const started = performance.now(); let last = started; let worst = 0; let maxRows = 0;\
         for (let i = 1; i <= 60; i += 1) {{\
           viewport.scrollTop = (viewport.scrollHeight - viewport.clientHeight) * i / 60; await frame();\
           const now = performance.now(); worst = Math.max(worst, now - last); last = now;\
           maxRows = Math.max(maxRows, viewport.querySelectorAll('{row}').length);\
         }}\
         return {{ averageMs: (performance.now() - started) / 60, worstMs: worst, maxRows }};"
    )
}

fn number(value: &Value, key: &str) -> f64 {
    value[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no {key}: {value}"))
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let num_spans = if full { 50_000 } else { 5_000 };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(measure(num_spans));
}

async fn measure(num_spans: usize) {
    let trace = big_trace(now_nanos() - 120_000_000_000, num_spans);
    let other = big_trace(now_nanos() - 60_000_000_000, num_spans);
    let server = TestServer::start().await;
    for fixture in [&trace, &other] {
        server.export(fixture.to_export_request()).await;
    }
    let browser = Browser::start().await;
    browser
        .goto(&server.api_url(&format!("/trace/{}", trace.id_hex())))
        .await;
    browser.find("#trace-page[data-state=ready]").await;

    // Waterfall: the page's own performance measures, then scrolling, collapse, find.
    let measures = browser
        .script(
            "return Object.fromEntries(performance.getEntriesByType('measure')\
               .filter((m) => m.name.startsWith('tracery:')).map((m) => [m.name, m.duration]));",
        )
        .await;
    let waterfall = browser
        .script_async(&scroll_script("#waterfall-viewport", ".wf-row"))
        .await;
    let operations = browser
        .script_async(&format!(
            "{FRAME} let started = performance.now();\
             document.getElementById('collapse-all').click(); await frame();\
             const collapseMs = performance.now() - started;\
             document.getElementById('expand-all').click(); await frame();\
             const find = document.getElementById('trace-find');\
             started = performance.now(); find.value = 'leaf-4321';\
             find.dispatchEvent(new KeyboardEvent('keydown', {{ key: 'Enter', bubbles: true }}));\
             await frame();\
             return {{ collapseMs, findMs: performance.now() - started }};"
        ))
        .await;
    println!(
        "{num_spans}-span trace, waterfall: load {:.0} ms (fetch + parse), render {:.0} ms, \
         scroll {:.1} ms/frame avg, {:.1} ms worst ({} rows in the DOM at most), \
         collapse all {:.0} ms, find {:.0} ms",
        number(&measures, "tracery:trace-load"),
        number(&measures, "tracery:trace-render"),
        number(&waterfall, "averageMs"),
        number(&waterfall, "worstMs"),
        waterfall["maxRows"],
        number(&operations, "collapseMs"),
        number(&operations, "findMs"),
    );

    // The same trace as an opened file: its Jaeger JSON posted to the server, which
    // answers with the trace view (what "Open JSON…" does, timed in the page).
    let file = browser
        .script_async(&format!(
            "const {{ openTraceFile }} = await import('/api.js');\
             const blob = await (await fetch('/api/traces/{id}')).blob();\
             const started = performance.now();\
             const opened = await openTraceFile(blob);\
             return {{ openMs: performance.now() - started, megabytes: blob.size / 1048576,\
                       rows: opened.traces[0].rows.length }};",
            id = trace.id_hex()
        ))
        .await;
    println!(
        "{num_spans}-span trace as a file: {:.1} MiB of Jaeger JSON posted and its view back \
         (decode, tree, render, parse) in {:.0} ms ({} rows)",
        number(&file, "megabytes"),
        number(&file, "openMs"),
        file["rows"],
    );

    // Flamegraph: tab to drawn, the axis switch, hovering and a zoom.
    let flame = browser
        .script_async(&format!(
            "{FRAME} let started = performance.now();\
             document.getElementById('view-tab-flamegraph').click();\
             await until(() => document.querySelector('.flame-body[data-state=ready]'));\
             const readyMs = performance.now() - started;\
             const canvas = document.getElementById('flame-canvas');\
             started = performance.now(); document.getElementById('flame-mode-self').click(); await frame();\
             const switchMs = performance.now() - started;\
             const box = canvas.getBoundingClientRect();\
             const at = {{ bubbles: true, clientX: box.left + box.width * 0.3, clientY: box.top + 30 }};\
             started = performance.now();\
             for (let i = 0; i < 20; i += 1) {{ canvas.dispatchEvent(new MouseEvent('mousemove', {{ ...at, clientX: at.clientX + i }})); await frame(); }}\
             const hoverMs = (performance.now() - started) / 20;\
             started = performance.now(); canvas.dispatchEvent(new MouseEvent('click', at)); await frame();\
             return {{ readyMs, switchMs, hoverMs, zoomMs: performance.now() - started }};"
        ))
        .await;
    println!(
        "{num_spans}-span trace, flamegraph: ready {:.0} ms (fetch + server layout + first draw), \
         axis switch {:.0} ms, hover {:.1} ms/frame, zoom {:.0} ms",
        number(&flame, "readyMs"),
        number(&flame, "switchMs"),
        number(&flame, "hoverMs"),
        number(&flame, "zoomMs"),
    );

    // Statistics: one row per operation, sorted, scrolled top to bottom.
    let stats_ready = browser
        .script_async(&format!(
            "{FRAME} let started = performance.now();\
             document.getElementById('view-tab-statistics').click();\
             await until(() => document.querySelector('.stats-body[data-state=ready]'));\
             const readyMs = performance.now() - started;\
             started = performance.now(); document.querySelector('.stats-sort[data-key=operation]').click(); await frame();\
             return {{ readyMs, sortMs: performance.now() - started }};"
        ))
        .await;
    let stats = browser
        .script_async(&scroll_script(".stats-viewport", ".stats-row"))
        .await;
    println!(
        "{num_spans}-span trace, statistics: ready {:.0} ms, sort {:.0} ms, \
         scroll {:.1} ms/frame avg, {:.1} ms worst ({} rows in the DOM at most)",
        number(&stats_ready, "readyMs"),
        number(&stats_ready, "sortMs"),
        number(&stats, "averageMs"),
        number(&stats, "worstMs"),
        stats["maxRows"],
    );

    // Compare: two traces merged, scrolled top to bottom.
    browser
        .goto(&server.api_url(&format!(
            "/compare?a={}&b={}",
            trace.id_hex(),
            other.id_hex()
        )))
        .await;
    let compare_ready = browser
        .script_async(&format!(
            "{FRAME} const started = performance.now();\
             await until(() => document.querySelector('#compare-body[data-state=ready]'));\
             return {{ readyMs: performance.now() - started }};"
        ))
        .await;
    let compare = browser
        .script_async(&scroll_script(".compare-viewport", ".compare-row"))
        .await;
    println!(
        "{num_spans}-span traces, compare: ready {:.0} ms after navigation, \
         scroll {:.1} ms/frame avg, {:.1} ms worst ({} rows in the DOM at most)",
        number(&compare_ready, "readyMs"),
        number(&compare, "averageMs"),
        number(&compare, "worstMs"),
        compare["maxRows"],
    );
    browser.close().await;
    server.stop().await;
}
