//! The web UI in a real headless Chromium, against the real server with data sent
//! through the real OTLP/gRPC endpoint.
//!
//! Needs Debian's chromium and chromium-driver (`.ci/setup-browser`); without them
//! these tests fail, they never skip. Figures from the 50k-span test are printed
//! (run with `--nocapture` to see them).

mod auth;
mod base_path;
mod big_trace;
mod browser;
mod files;
mod monitor;
mod n_plus_one;
mod screenshots;
mod search;
mod trace_page;
mod views;
mod zipkin_shared;

use serde_json::Value;

use self::browser::Browser;
use crate::support::fixtures::{kv, Trace, TraceBuilder, KIND_CLIENT};
use crate::support::TestServer;

pub(crate) const HOSTILE: &str =
    "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 1\">";
pub(crate) const EXPECTED_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
     frame-ancestors 'none'; form-action 'self'";

/// frontend → cart → redis, and a failing payment; `render` carries hostile text.
pub(crate) fn checkout_trace(start_nanos: u64) -> Trace {
    TraceBuilder::new("frontend")
        .at(start_nanos)
        .span("GET /checkout", 0..120)
        .attr(kv("http.route", "/checkout"))
        .attr(kv("http.status_code", 500_i64))
        .service("cart")
        .child("cart.Get", 5..30)
        .service("redis")
        .child("HGETALL", 8..20)
        .kind(KIND_CLIENT)
        .attr(kv("db.system", "redis"))
        .service("payment")
        .child_of(0, "payment.Charge", 40..100)
        .attr(kv("payment.amount", 42.5))
        .error("card declined")
        .event(
            "exception",
            90,
            vec![kv("exception.message", "card declined")],
        )
        .link([0x11; 16], [0x22; 8])
        .service("frontend")
        .child_of(0, "render <b>now</b>", 105..118)
        .attr(kv("note", HOSTILE))
        .build()
}

pub(crate) fn login_trace(start_nanos: u64) -> Trace {
    TraceBuilder::new("auth")
        .at(start_nanos)
        .span("POST /login", 0..45)
        .service("users")
        .child("users.Find", 3..40)
        .build()
}

pub(crate) async fn server_with(traces: &[&Trace]) -> TestServer {
    let server = TestServer::start().await;
    for trace in traces {
        server.export(trace.to_export_request()).await;
    }
    server
}

pub(crate) async fn open_trace_page(browser: &Browser, server: &TestServer, path: &str) {
    browser.goto(&server.api_url(path)).await;
    browser.find("#trace-page[data-state=ready]").await;
}

/// Row indices currently in the waterfall's DOM, in display order.
pub(crate) async fn rendered_rows(browser: &Browser) -> Vec<u64> {
    let value = browser
        .script(
            "return [...document.querySelectorAll('.wf-row')]\
               .sort((a, b) => a.offsetTop - b.offsetTop)\
               .map((row) => Number(row.dataset.row));",
        )
        .await;
    value
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(Value::as_u64)
        .collect()
}

pub(crate) async fn rendered_rows_with(browser: &Browser, class: &str) -> Vec<u64> {
    let value = browser
        .script(&format!(
            "return [...document.querySelectorAll('.wf-row.{class}')].map((row) => Number(row.dataset.row));"
        ))
        .await;
    value
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_u64)
        .collect()
}

pub(crate) fn span_id_of(trace: &Trace, name: &str) -> String {
    trace
        .request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .find(|span| span.name == name)
        .map(|span| hex::encode(&span.span_id))
        .unwrap_or_else(|| panic!("no span {name}"))
}
