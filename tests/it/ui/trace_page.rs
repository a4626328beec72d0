//! The trace page: waterfall collapse and expand, span details, find, keyboard,
//! critical path, minimap zoom, deep links, and hostile text under the CSP.

use std::time::Duration;

use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::key::Key;

use super::browser::Browser;
use super::{
    checkout_trace, open_trace_page, rendered_rows, rendered_rows_with, server_with, span_id_of,
    EXPECTED_CSP, HOSTILE,
};
use crate::support::fixtures::now_nanos;

#[tokio::test]
async fn waterfall_collapses_shows_details_and_finds() {
    let checkout = checkout_trace(now_nanos() - 10_000_000_000);
    let server = server_with(&[&checkout]).await;
    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", checkout.id_hex())).await;

    // Preorder, children by start time.
    assert_eq!(rendered_rows(&browser).await, [0, 1, 2, 3, 4]);
    let names = browser
        .script(
            "return [...document.querySelectorAll('.wf-row .wf-op')].map((op) => op.textContent);",
        )
        .await;
    assert_eq!(
        names,
        serde_json::json!([
            "GET /checkout",
            "cart.Get",
            "HGETALL",
            "payment.Charge",
            "render <b>now</b>"
        ])
    );
    assert_eq!(browser.find_all(".wf-row.is-error").await.len(), 1);
    assert!(!browser.find_all(".wf-row.is-critical").await.is_empty());

    // Collapse one subtree, then everything, then expand.
    browser
        .find(".wf-row[data-row='1'] .wf-toggle")
        .await
        .click()
        .await
        .expect("collapse");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 4",
            "cart collapsed",
        )
        .await;
    assert_eq!(rendered_rows(&browser).await, [0, 1, 3, 4]);
    browser
        .find("#collapse-all")
        .await
        .click()
        .await
        .expect("collapse all");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 1",
            "all collapsed",
        )
        .await;
    browser
        .find("#expand-all")
        .await
        .click()
        .await
        .expect("expand all");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 5",
            "all expanded",
        )
        .await;

    // Span details.
    browser
        .find(".wf-row[data-row='3']")
        .await
        .click()
        .await
        .expect("select payment");
    let detail = browser.text("#span-detail").await;
    for expected in [
        "payment payment.Charge",
        "ERROR card declined",
        "payment.amount",
        "42.5",
        "float64",
        "+90ms",
        "exception",
        "exception.message",
        "Resource",
        "host.name",
        "tracery-tests",
    ] {
        // Section headings are upper-cased by CSS, and WebDriver reads rendered text.
        let found = detail.to_lowercase().contains(&expected.to_lowercase());
        assert!(found, "missing {expected:?} in details:\n{detail}");
    }
    let link = browser.find("#detail-links a").await;
    // The resolved URL: the attribute is relative to the page's <base href>.
    let href = link.prop("href").await.expect("href").unwrap_or_default();
    assert_eq!(
        href,
        server.api_url(&format!(
            "/trace/{}?span={}",
            "11".repeat(16),
            "22".repeat(8)
        ))
    );
    assert!(
        browser.path_and_query().await.contains("span="),
        "the selection is in the URL"
    );

    // Keyboard: Escape closes, arrows move the selection.
    let viewport = browser.find("#waterfall-viewport").await;
    viewport
        .send_keys(&char::from(Key::Escape).to_string())
        .await
        .expect("escape");
    browser
        .wait_until("!document.getElementById('span-detail')", "details closed")
        .await;
    viewport
        .send_keys(&char::from(Key::Down).to_string())
        .await
        .expect("down");
    viewport
        .send_keys(&char::from(Key::Down).to_string())
        .await
        .expect("down");
    browser
        .wait_until(
            "document.querySelector('.wf-row.is-selected')?.dataset.row === '1'",
            "row 1 selected",
        )
        .await;
    viewport
        .send_keys(&char::from(Key::Left).to_string())
        .await
        .expect("left collapses");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 4",
            "collapsed by key",
        )
        .await;
    viewport
        .send_keys(&char::from(Key::Right).to_string())
        .await
        .expect("right expands");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row').length === 5",
            "expanded by key",
        )
        .await;

    // Find: by name, by attribute value; step through matches.
    let find = browser.find("#trace-find").await;
    find.send_keys("db.system=redis").await.expect("type");
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent === '1 of 1'",
            "one match",
        )
        .await;
    assert_eq!(rendered_rows_with(&browser, "is-current-match").await, [2]);
    find.clear().await.expect("clear");
    find.send_keys("card").await.expect("type");
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent === '1 of 1'",
            "card matches payment",
        )
        .await;
    find.clear().await.expect("clear");
    find.send_keys("e").await.expect("type");
    browser
        .wait_until(
            "/^1 of \\d+$/.test(document.getElementById('trace-find-count').textContent)",
            "many matches",
        )
        .await;
    // The count and the row highlights are separate DOM updates: wait for both.
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row.is-match').length >= 3",
            "three or more highlighted rows",
        )
        .await;
    browser
        .find("#find-next")
        .await
        .click()
        .await
        .expect("next");
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent.startsWith('2 of')",
            "second match",
        )
        .await;
    browser
        .find("#find-prev")
        .await
        .click()
        .await
        .expect("prev");
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent.startsWith('1 of')",
            "back to first",
        )
        .await;

    // Critical path highlighting can be turned off.
    browser
        .find("#critical-path-toggle")
        .await
        .click()
        .await
        .expect("toggle");
    browser
        .wait_until(
            "document.querySelectorAll('.wf-row.is-critical').length === 0",
            "no critical rows",
        )
        .await;

    // Zoom by dragging across the minimap from 10% to 50% of the trace (12ms to
    // 60ms of 120ms): the waterfall's bars and ruler follow; "0" resets.
    let map = browser.find("#minimap").await;
    let (_, _, width, _) = map.rectangle().await.expect("minimap size");
    let drag = MouseActions::new("mouse".to_owned())
        .then(PointerAction::MoveToElement {
            element: map.clone(),
            duration: None,
            x: -0.4 * width,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveToElement {
            element: map.clone(),
            duration: Some(Duration::from_millis(150)),
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser
        .client
        .perform_actions(drag)
        .await
        .expect("drag on the minimap");
    browser
        .wait_until("!document.getElementById('reset-zoom').hidden", "zoomed in")
        .await;
    let zoom = browser
        .script(
            "return { window: parseFloat(document.getElementById('minimap-window').style.width),\
                      rootLeft: parseFloat(document.querySelector('.wf-row[data-row=\"0\"] .wf-bar').style.left),\
                      firstTick: document.querySelector('.wf-ruler .tick-label').textContent };",
        )
        .await;
    let window = zoom["window"].as_f64().expect("window width");
    let root_left = zoom["rootLeft"].as_f64().expect("root bar left");
    assert!((window - 40.0).abs() < 2.0, "{zoom}");
    assert!(
        (root_left + 25.0).abs() < 3.0,
        "the root starts 12ms before a 48ms window: {zoom}"
    );
    assert_eq!(zoom["firstTick"], "20ms", "{zoom}");
    viewport.send_keys("0").await.expect("reset zoom");
    browser
        .wait_until("document.getElementById('reset-zoom').hidden", "zoom reset")
        .await;

    assert_eq!(browser.csp_violations().await, 0);
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn deep_links_open_traces_spans_and_searches() {
    let checkout = checkout_trace(now_nanos() - 5_000_000_000);
    let server = server_with(&[&checkout]).await;
    let browser = Browser::start().await;

    // Straight to a span of a trace: the span is selected and its details open.
    let payment_span_id = span_id_of(&checkout, "payment.Charge");
    open_trace_page(
        &browser,
        &server,
        &format!("/trace/{}?span={payment_span_id}", checkout.id_hex()),
    )
    .await;
    let detail = browser.text("#span-detail").await;
    assert!(detail.contains("payment.Charge"), "{detail}");
    assert_eq!(rendered_rows_with(&browser, "is-selected").await, [3]);

    // A find in the URL is applied.
    open_trace_page(
        &browser,
        &server,
        &format!("/trace/{}?find=HGETALL", checkout.id_hex()),
    )
    .await;
    browser
        .wait_until(
            "document.getElementById('trace-find-count').textContent === '1 of 1'",
            "find from URL",
        )
        .await;

    // Unknown trace: a helpful not-found state, not a blank page.
    browser
        .goto(&server.api_url(&format!("/trace/{}", "ab".repeat(16))))
        .await;
    let notice = browser.text(".notice").await;
    assert!(notice.contains("Trace not found"), "{notice}");

    // A search link.
    browser
        .goto(&server.api_url("/search?service=payment&lookback=2h&limit=5"))
        .await;
    browser
        .wait_until(
            "document.querySelectorAll('#result-list li').length === 1",
            "the linked search",
        )
        .await;
    assert_eq!(
        browser
            .find("#search-lookback")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("2h")
    );

    // Unknown pages say so.
    browser.goto(&server.api_url("/no-such-page")).await;
    assert!(browser.text(".notice").await.contains("Page not found"));
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn hostile_span_text_stays_text_under_a_strict_csp() {
    let checkout = checkout_trace(now_nanos() - 5_000_000_000);
    let server = server_with(&[&checkout]).await;

    for path in ["/", "/search", "/trace/abc", "/app.js"] {
        let response = server
            .http
            .get(server.api_url(path))
            .send()
            .await
            .expect("GET");
        let headers = response.headers();
        assert_eq!(headers["content-security-policy"], EXPECTED_CSP, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
    // Only extension-less page paths fall back to the UI shell; unknown files and
    // unknown API routes are real 404s.
    for path in [
        "/missing.js",
        "/api/no-such-route",
        "/internal/ui/no-such-route",
    ] {
        let missing = server
            .http
            .get(server.api_url(path))
            .send()
            .await
            .expect("GET");
        assert_eq!(missing.status(), 404, "{path}");
    }

    let browser = Browser::start().await;
    open_trace_page(&browser, &server, &format!("/trace/{}", checkout.id_hex())).await;
    browser
        .find(".wf-row[data-row='4']")
        .await
        .click()
        .await
        .expect("select render");
    let detail = browser.text("#span-detail").await;
    assert!(
        detail.contains(HOSTILE),
        "the value is shown verbatim:\n{detail}"
    );
    assert!(detail.contains("render <b>now</b>"), "{detail}");
    let injected = browser
        .script(
            "return { pwned: window.__pwned ?? null, \
                      images: document.querySelectorAll('#span-detail img, .waterfall img').length, \
                      bolds: document.querySelectorAll('#app b').length };",
        )
        .await;
    assert_eq!(
        injected,
        serde_json::json!({ "pwned": null, "images": 0, "bolds": 0 })
    );
    assert_eq!(
        browser.csp_violations().await,
        0,
        "the UI itself needs no CSP exception"
    );
    browser.close().await;
    server.stop().await;
}
