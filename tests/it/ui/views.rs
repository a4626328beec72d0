//! The views beyond the waterfall in a real browser: flamegraph, statistics,
//! compare, "Why slow?" and the dependency map; each saves its screenshot for
//! docs/ui.md (see `screenshots::screenshot_directory`).

use serde_json::Value;

use super::browser::Browser;
use super::screenshots::{save_screenshot, screenshot_directory};
use super::{checkout_trace, open_trace_page, server_with};
use crate::support::fixtures::{now_nanos, Trace, TraceBuilder};
use crate::ui_views_api::{parallel_trace, why_slow_traces};

#[tokio::test]
async fn flamegraph_switches_axes_zooms_and_describes_frames() {
    let trace = parallel_trace(now_nanos() - 10_000_000_000);
    let checkout = checkout_trace(now_nanos() - 20_000_000_000);
    let server = server_with(&[&trace, &checkout]).await;
    let browser = Browser::start().await;
    open_trace_page(
        &browser,
        &server,
        &format!("/trace/{}?view=flamegraph", trace.id_hex()),
    )
    .await;
    browser.find(".flame-body[data-state=ready]").await;
    let canvas =
        |attribute: &str| format!("document.getElementById('flame-canvas').dataset.{attribute}");
    // Critical path: cart and its db call ran beside charge and never held the
    // trace up, so they have no width.
    assert_eq!(
        browser.script(&format!("return {};", canvas("mode"))).await,
        "critical"
    );
    assert_eq!(
        browser
            .script(&format!("return {};", canvas("framesDrawn")))
            .await,
        "2"
    );
    assert!(browser
        .text("#flame-total")
        .await
        .contains("critical path 100ms of 100ms"));

    browser
        .find("#flame-mode-self")
        .await
        .click()
        .await
        .expect("self time");
    browser
        .wait_until(
            &format!(
                "{} === 'self' && {} === '4'",
                canvas("mode"),
                canvas("framesDrawn")
            ),
            "self-time axis",
        )
        .await;
    assert!(browser
        .text("#flame-total")
        .await
        .contains("self time 130ms in 100ms"));
    assert!(browser.path_and_query().await.contains("flame=self"));

    // Hover and click the second row's left part: cart.Get (50 of 130 ms).
    let at = |fraction: f64| {
        format!(
            "const canvas = document.getElementById('flame-canvas'); const box = canvas.getBoundingClientRect();\
             const init = {{ bubbles: true, clientX: box.left + box.width * {fraction}, clientY: box.top + 30 }};\
             canvas.dispatchEvent(new MouseEvent('mousemove', init)); canvas.dispatchEvent(new MouseEvent('click', init));\
             return document.getElementById('flame-detail').textContent;"
        )
    };
    let detail = browser.script(&at(0.1)).await;
    assert!(
        detail
            .as_str()
            .unwrap()
            .starts_with("cart · cart.Get: 1 span"),
        "{detail}"
    );
    assert_eq!(
        browser
            .script(&format!("return {};", canvas("focus")))
            .await,
        "1"
    );
    assert_eq!(
        browser
            .script(&format!("return {};", canvas("framesDrawn")))
            .await,
        "3",
        "zoomed: root, cart, db"
    );
    browser
        .find("#flame-reset")
        .await
        .click()
        .await
        .expect("reset");
    browser
        .wait_until(&format!("{} === '-1'", canvas("focus")), "zoom reset")
        .await;

    let (_keep, directory) = screenshot_directory();
    open_trace_page(
        &browser,
        &server,
        &format!("/trace/{}?view=flamegraph&flame=self", checkout.id_hex()),
    )
    .await;
    browser.find(".flame-body[data-state=ready]").await;
    save_screenshot(&browser, &directory.join("flamegraph.png")).await;
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn statistics_table_sorts_by_any_column() {
    let checkout = checkout_trace(now_nanos() - 10_000_000_000);
    let server = server_with(&[&checkout]).await;
    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", checkout.id_hex())).await;
    browser
        .find("#view-tab-statistics")
        .await
        .click()
        .await
        .expect("statistics tab");
    browser.find(".stats-body[data-state=ready]").await;
    assert!(browser.path_and_query().await.contains("view=statistics"));
    let column = |index: usize| {
        format!(
            "return [...document.querySelectorAll('#statistics-table .stats-row:not(.stats-head)')]\
               .sort((a, b) => a.offsetTop - b.offsetTop).map((row) => row.children[{index}].textContent);"
        )
    };
    // Default: most self time first. payment.Charge 60 ms, GET /checkout 120 − 25 − 60 − 13 = 22 ms …
    assert_eq!(
        browser.script(&column(1)).await,
        serde_json::json!([
            "payment.Charge",
            "GET /checkout",
            "cart.Get",
            "render <b>now</b>",
            "HGETALL"
        ])
    );
    assert_eq!(browser.script(&column(10)).await[0], "50.0%");
    browser
        .find(".stats-sort[data-key=operation]")
        .await
        .click()
        .await
        .expect("sort by operation");
    browser
        .wait_until(
            "document.getElementById('statistics-table').dataset.sort === 'operation:asc'",
            "sorted by name",
        )
        .await;
    assert_eq!(
        browser.script(&column(1)).await,
        serde_json::json!([
            "cart.Get",
            "GET /checkout",
            "HGETALL",
            "payment.Charge",
            "render <b>now</b>"
        ])
    );
    browser
        .find(".stats-sort[data-key=totalUs]")
        .await
        .click()
        .await
        .expect("sort by total");
    assert_eq!(browser.script(&column(4)).await[0], "120ms");
    assert_eq!(
        browser.script(&column(3)).await,
        serde_json::json!(["0", "1", "0", "0", "0"])
    );
    let (_keep, directory) = screenshot_directory();
    save_screenshot(&browser, &directory.join("statistics.png")).await;
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn compare_two_traces_from_the_results_and_by_id() {
    let now = now_nanos();
    let fast = TraceBuilder::new("frontend")
        .at(now - 20_000_000_000)
        .span("GET /api", 0..100)
        .service("db")
        .child("SELECT", 10..30)
        .service("cache")
        .child_of(0, "cache.hit", 40..42)
        .build();
    let slow = TraceBuilder::new("frontend")
        .at(now - 10_000_000_000)
        .span("GET /api", 0..400)
        .service("db")
        .child_of(0, "SELECT", 10..30)
        .child_of(0, "SELECT", 40..80)
        .service("cache")
        .child_of(0, "cache.miss", 100..300)
        .build();
    let server = server_with(&[&fast, &slow]).await;
    let browser = Browser::start().await;
    browser
        .goto(&server.api_url("/search?service=frontend&lookback=1h"))
        .await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 2",
            "results",
        )
        .await;
    assert_eq!(
        browser
            .script("return document.getElementById('compare-selected').disabled;")
            .await,
        true
    );
    for trace in [&fast, &slow] {
        browser
            .find(&format!(
                ".result-compare[data-trace-id='{}']",
                trace.id_hex()
            ))
            .await
            .click()
            .await
            .expect("tick");
    }
    browser
        .find("#compare-selected:not([disabled])")
        .await
        .click()
        .await
        .expect("compare");
    browser.find("#compare-body[data-state=ready]").await;
    let rows = browser
        .script(
            "return [...document.querySelectorAll('.compare-row[data-presence]')].sort((a, b) => a.offsetTop - b.offsetTop)\
               .map((row) => [row.dataset.presence, row.querySelector('.compare-op').textContent, row.lastChild.textContent]);",
        )
        .await;
    // The newest result (slow) is ticked second, but the list is newest first: A is slow.
    let path = browser.path_and_query().await;
    let slow_is_a = path.contains(&format!("a={}", slow.id_hex()));
    let rows: Vec<Value> = rows.as_array().unwrap().clone();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0][1], "GET /api");
    let select = rows.iter().find(|row| row[1] == "SELECT").unwrap();
    assert_eq!(
        select[2],
        if slow_is_a {
            "−1 call, −40ms"
        } else {
            "+1 call, +40ms"
        }
    );
    assert!(rows
        .iter()
        .any(|row| row[1] == "cache.miss" && row[0] == if slow_is_a { "a" } else { "b" }));
    assert!(rows
        .iter()
        .any(|row| row[1] == "cache.hit" && row[0] == if slow_is_a { "b" } else { "a" }));

    // By ID from the trace page's Compare action.
    open_trace_page(&browser, &server, &format!("/trace/{}", fast.id_hex())).await;
    browser
        .find("#compare-open")
        .await
        .click()
        .await
        .expect("compare action");
    browser
        .find("#compare-with")
        .await
        .send_keys(&slow.id_hex())
        .await
        .expect("type id");
    browser
        .script("document.getElementById('compare-form').requestSubmit(); return true;")
        .await;
    browser.find("#compare-body[data-state=ready]").await;
    assert_eq!(
        browser.path_and_query().await,
        format!("/compare?a={}&b={}", fast.id_hex(), slow.id_hex())
    );
    assert!(browser
        .text("#compare-legend")
        .await
        .contains("only in B (1)"));
    let (_keep, directory) = screenshot_directory();
    save_screenshot(&browser, &directory.join("compare.png")).await;
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

/// Brushing a duration range on the search page's scatter plot makes "Why slow?"
/// take that range as the slow group; a click on the plot clears it.
#[tokio::test]
async fn brushing_the_search_plot_offers_why_slow_for_that_range() {
    let now = now_nanos();
    let traces = why_slow_traces(now);
    let server = server_with(&traces.iter().collect::<Vec<&Trace>>()).await;
    let browser = Browser::start().await;
    browser
        .goto(
            &server.api_url("/search?service=frontend&operation=GET%20%2Fapi&lookback=1h&limit=50"),
        )
        .await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 20",
            "results",
        )
        .await;
    assert_eq!(browser.text("#why-slow-link").await, "Why slow?");
    // Drag from 30 px below the 300 ms bubbles to above the plot's top: only
    // the two 300 ms traces are in the band (the others take 100–117 ms).
    let drag = |from: i64, to: i64| {
        format!(
            "const plot = document.querySelector('#scatter svg'); const box = plot.getBoundingClientRect();\
             const slow = [...plot.querySelectorAll('.scatter-point')].find((p) => Number(p.dataset.durationUs) >= 300000);\
             const y = box.top + Number(slow.getAttribute('cy'));\
             const fire = (type, dy) => plot.dispatchEvent(new PointerEvent(type, {{ bubbles: true, pointerId: 1, button: 0, buttons: type === 'pointerup' ? 0 : 1, clientX: box.left + box.width * 0.5, clientY: y + dy }}));\
             fire('pointerdown', {from}); fire('pointermove', {to}); fire('pointerup', {to}); return true;"
        )
    };
    browser.script(&drag(30, -40)).await;
    browser
        .wait_until(
            "document.getElementById('why-slow-link').textContent.startsWith('Why slow? ')",
            "the brushed range on the link",
        )
        .await;
    assert_eq!(
        browser.text("#brush-hint").await,
        "2 traces in the range; click the plot to clear"
    );
    assert_eq!(browser.find_all(".scatter-point.is-brushed").await.len(), 2);
    let href = browser
        .find("#why-slow-link")
        .await
        .attr("href")
        .await
        .expect("href")
        .unwrap_or_default();
    assert!(
        href.contains("slowMin=") && href.contains("slowMax="),
        "{href}"
    );
    let (_keep, directory) = screenshot_directory();
    save_screenshot(&browser, &directory.join("why-slow-brush.png")).await;

    // A click on the plot clears the range; brush again.
    browser.script(&drag(60, 60)).await;
    browser
        .wait_until(
            "document.getElementById('why-slow-link').textContent === 'Why slow?'",
            "the range cleared",
        )
        .await;
    assert!(browser
        .find_all(".scatter-point.is-brushed")
        .await
        .is_empty());
    browser.script(&drag(30, -40)).await;
    browser
        .find("#why-slow-link")
        .await
        .click()
        .await
        .expect("why slow");
    browser.find("#why-slow-body[data-state=ready]").await;
    let split = browser.text("#why-slow-split").await;
    assert!(
        split.contains("2 of 20 traces in the brushed range"),
        "{split}"
    );
    let first_attribute = browser
        .script(
            "const finding = document.querySelector('#why-slow-attributes .finding');\
             return [finding.querySelector('.finding-title').textContent, finding.querySelector('.finding-summary').textContent];",
        )
        .await;
    assert_eq!(
        first_attribute,
        serde_json::json!(["customer.tier=gold", "100% of slow vs 11% of others"])
    );
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn why_slow_from_the_search_results_ranks_gold_and_cache_miss_first() {
    let now = now_nanos();
    let traces = why_slow_traces(now);
    let server = server_with(&traces.iter().collect::<Vec<&Trace>>()).await;
    let browser = Browser::start().await;
    browser
        .goto(
            &server.api_url("/search?service=frontend&operation=GET%20%2Fapi&lookback=1h&limit=50"),
        )
        .await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 20",
            "results",
        )
        .await;
    browser
        .find("#why-slow-link")
        .await
        .click()
        .await
        .expect("why slow");
    browser.find("#why-slow-body[data-state=ready]").await;
    assert!(browser
        .text("#why-slow-split")
        .await
        .contains("2 of 20 traces above the 90th percentile"));
    let first = |section: &str| {
        format!(
            "const finding = document.querySelector('#{section} .finding');\
             return [finding.querySelector('.finding-title').textContent, finding.querySelector('.finding-summary').textContent];"
        )
    };
    assert_eq!(
        browser.script(&first("why-slow-attributes")).await,
        serde_json::json!(["customer.tier=gold", "100% of slow vs 11% of others"])
    );
    assert_eq!(
        browser.script(&first("why-slow-operations")).await,
        serde_json::json!(["cache · cache.miss", "+1 call, +180ms self-time per trace"])
    );
    let (_keep, directory) = screenshot_directory();
    save_screenshot(&browser, &directory.join("why-slow.png")).await;

    // Brush 112–118 ms on the chart: six fast traces become "slow".
    browser
        .script(
            "const chart = document.getElementById('why-slow-chart'); const box = chart.getBoundingClientRect();\
             const scale = box.width / 720; const plot = 720 - 44 - 16;\
             const xOf = (us) => box.left + (44 + (us / 300000) * plot) * scale;\
             const fire = (type, us) => chart.dispatchEvent(new PointerEvent(type, { bubbles: true, pointerId: 1, clientX: xOf(us), clientY: box.top + 50 }));\
             fire('pointerdown', 111500); fire('pointermove', 118000); fire('pointerup', 118000); return true;",
        )
        .await;
    browser
        .wait_until(
            "document.getElementById('why-slow-split')?.textContent.includes('brushed range')",
            "brushed range",
        )
        .await;
    browser.find("#why-slow-body[data-state=ready]").await;
    assert!(
        browser
            .text("#why-slow-split")
            .await
            .contains("6 of 20 traces"),
        "{}",
        browser.text("#why-slow-split").await
    );
    assert!(!browser
        .text("#why-slow-operations")
        .await
        .contains("cache.miss"));
    browser
        .find("#why-slow-reset")
        .await
        .click()
        .await
        .expect("back to p90");
    browser
        .wait_until(
            "document.getElementById('why-slow-split')?.textContent.includes('90th percentile')",
            "p90 again",
        )
        .await;
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn dependency_map_from_the_top_bar_opens_a_service_search() {
    let now = now_nanos();
    let mut traces: Vec<Trace> = Vec::new();
    for index in 0..6_u64 {
        let mut builder = TraceBuilder::new("gateway")
            .at(now - (index + 5) * 1_000_000_000)
            .span("GET /", 0..200)
            .child("route", 1..190);
        for (offset, service) in ["checkout", "cart", "search"].iter().enumerate() {
            let start = 10 + 50 * offset as u64;
            builder = builder.service(service).child_of(
                1,
                &format!("{service}.handle"),
                start..start + 40,
            );
            let parent = builder_len(index, offset);
            builder = builder
                .service(if offset == 1 { "redis" } else { "postgres" })
                .child_of(parent, "query", start + 5..start + 30);
        }
        traces.push(builder.build());
    }
    let server = server_with(&traces.iter().collect::<Vec<&Trace>>()).await;
    let browser = Browser::start().await;
    browser.goto(&server.api_url("/search")).await;
    browser
        .find("#nav-dependencies")
        .await
        .click()
        .await
        .expect("top bar link");
    browser.find("#dependencies-body[data-state=ready]").await;
    assert_eq!(browser.path_and_query().await, "/dependencies");
    let nodes = browser
        .script("return [...document.querySelectorAll('.dep-node')].map((node) => node.dataset.service).sort();")
        .await;
    assert_eq!(
        nodes,
        serde_json::json!(["cart", "checkout", "gateway", "postgres", "redis", "search"])
    );
    assert_eq!(
        browser.find_all(".dep-edge").await.len(),
        6,
        "no gateway→gateway loop"
    );
    let counts = browser
        .script("return [...document.querySelectorAll('.dep-count')].map((label) => label.textContent);")
        .await;
    assert!(
        counts
            .as_array()
            .unwrap()
            .iter()
            .all(|count| count == "6" || count == "12"),
        "{counts}"
    );
    let (_keep, directory) = screenshot_directory();
    save_screenshot(&browser, &directory.join("dependencies.png")).await;
    browser
        .find(".dep-node[data-service=checkout]")
        .await
        .click()
        .await
        .expect("open checkout");
    browser.find("#results-count").await;
    assert_eq!(browser.path_and_query().await, "/search?service=checkout");
    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

/// Index of the `offset`-th service span in the dependency fixture: root, route,
/// then (service span, store span) pairs.
fn builder_len(_trace: u64, offset: usize) -> usize {
    2 + 2 * offset
}
