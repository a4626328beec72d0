//! A 50,000-span trace in the browser: every view renders it, keeps only the rows
//! in view in the DOM, and scrolls to its last row; collapse and find work over
//! all of it. Behaviour only: how fast is measured by `benches/ui_big_trace.rs`
//! (`cargo bench --bench ui_big_trace`), whose figures docs/ui.md states.

use super::browser::{Browser, PAGE_TIMEOUT};
use super::{open_trace_page, server_with};
use crate::support::fixtures::{big_trace, now_nanos};

const NUM_SPANS: usize = 50_000;
/// The viewport's rows plus the overscan above and below; far below 50,000.
const MAX_ROWS_IN_DOM: u64 = 250;

/// Scrolls `viewport` (a CSS selector) to the bottom in 60 steps, one per frame,
/// and returns the most `row` elements seen in the DOM and the largest `index`
/// dataset value rendered at the end.
fn scroll_to_end_script(viewport: &str, row: &str, index: &str) -> String {
    format!(
        "const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));\
         const viewport = document.querySelector('{viewport}'); let maxRows = 0;\
         for (let i = 1; i <= 60; i += 1) {{\
           viewport.scrollTop = (viewport.scrollHeight - viewport.clientHeight) * i / 60; await frame();\
           maxRows = Math.max(maxRows, viewport.querySelectorAll('{row}').length);\
         }}\
         await frame();\
         const indexes = [...viewport.querySelectorAll('{row}')].map((row) => Number(row.dataset.{index}));\
         return {{ maxRows, lastIndex: Math.max(...indexes) }};"
    )
}

#[tokio::test]
async fn a_50k_span_trace_renders_and_scrolls_to_the_end_in_every_view() {
    let trace = big_trace(now_nanos() - 120_000_000_000, NUM_SPANS);
    let other = big_trace(now_nanos() - 60_000_000_000, NUM_SPANS);
    let server = server_with(&[&trace, &other]).await;
    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", trace.id_hex())).await;

    // Waterfall.
    let spans_fact = browser.text("#trace-facts").await;
    assert!(spans_fact.contains("Spans\n50,000"), "{spans_fact}");
    let rows_after_render = browser.find_all(".wf-row").await.len() as u64;
    assert!(
        (20..=MAX_ROWS_IN_DOM).contains(&rows_after_render),
        "{rows_after_render} rows in the DOM"
    );
    let scroll = browser
        .script_async(&scroll_to_end_script(
            "#waterfall-viewport",
            ".wf-row",
            "row",
        ))
        .await;
    assert_eq!(scroll["lastIndex"], 49_999, "scrolled to the end: {scroll}");
    assert!(
        scroll["maxRows"].as_u64().unwrap_or(u64::MAX) <= MAX_ROWS_IN_DOM,
        "{scroll}"
    );
    let operations = browser
        .script_async(
            "const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));\
             document.getElementById('collapse-all').click(); await frame();\
             const collapsedRows = document.querySelectorAll('.wf-row').length;\
             document.getElementById('expand-all').click(); await frame();\
             const find = document.getElementById('trace-find');\
             find.value = 'the needle';\
             find.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));\
             await frame();\
             return { collapsedRows, found: document.getElementById('trace-find-count').textContent,\
                      selected: document.querySelector('.wf-row.is-selected .wf-op')?.textContent ?? null };",
        )
        .await;
    assert_eq!(operations["collapsedRows"], 1, "{operations}");
    assert_eq!(operations["found"], "1 of 1", "{operations}");
    assert_eq!(operations["selected"], "leaf-31337", "{operations}");

    // Flamegraph: drawn on both axes.
    browser
        .find("#view-tab-flamegraph")
        .await
        .click()
        .await
        .expect("flamegraph tab");
    browser.find(".flame-body[data-state=ready]").await;
    browser
        .find("#flame-mode-self")
        .await
        .click()
        .await
        .expect("self time");
    browser
        .wait_until(
            "document.getElementById('flame-canvas').dataset.mode === 'self' \
             && Number(document.getElementById('flame-canvas').dataset.framesDrawn) > 100",
            "the root, the batches and leaves drawn on the self-time axis",
        )
        .await;

    // Statistics: one row per distinct operation (50,000), sorted, scrolled to the end.
    browser
        .find("#view-tab-statistics")
        .await
        .click()
        .await
        .expect("statistics tab");
    browser.find(".stats-body[data-state=ready]").await;
    browser
        .find(".stats-sort[data-key=operation]")
        .await
        .click()
        .await
        .expect("sort by operation");
    let stats = browser
        .script_async(&scroll_to_end_script(
            ".stats-viewport",
            ".stats-row",
            "index",
        ))
        .await;
    assert_eq!(stats["lastIndex"], 49_999, "{stats}");
    assert!(
        stats["maxRows"].as_u64().unwrap_or(u64::MAX) <= MAX_ROWS_IN_DOM,
        "{stats}"
    );
    // Sorted by operation name (a → z): the last row is the largest name.
    let last_operation = browser
        .script(
            "const rows = [...document.querySelectorAll('.stats-viewport .stats-row')];\
             const last = rows.reduce((a, b) => Number(a.dataset.index) > Number(b.dataset.index) ? a : b);\
             return last.children[1].textContent;",
        )
        .await;
    assert_eq!(last_operation, "leaf-9999", "{stats}");

    // Compare: two 50k traces merged, scrolled to the end.
    browser
        .goto(&server.api_url(&format!(
            "/compare?a={}&b={}",
            trace.id_hex(),
            other.id_hex()
        )))
        .await;
    // Two 50k-span traces merged by a debug build: slow when the machine is busy.
    browser
        .find_within("#compare-body[data-state=ready]", 3 * PAGE_TIMEOUT)
        .await;
    let legend = browser.text("#compare-legend").await;
    assert!(legend.contains("in both (50,000)"), "{legend}");
    let compare = browser
        .script_async(&scroll_to_end_script(
            ".compare-viewport",
            ".compare-row",
            "index",
        ))
        .await;
    assert_eq!(compare["lastIndex"], 49_999, "{compare}");
    assert!(
        compare["maxRows"].as_u64().unwrap_or(u64::MAX) <= MAX_ROWS_IN_DOM,
        "{compare}"
    );
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}
