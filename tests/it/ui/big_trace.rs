//! A 50,000-span trace: render and scroll budgets measured in the browser.

use super::browser::Browser;
use super::{open_trace_page, server_with};
use crate::support::fixtures::{kv, now_nanos, Trace, TraceBuilder};

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
