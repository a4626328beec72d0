//! The admin port (`--admin-addr`, Jaeger's 14269): Prometheus `/metrics`, health
//! checks, and Jaeger's health form at `/`. Metrics are served only here, never on
//! the query port, so nothing a query token would guard exposes them.

use crate::net::Listener;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use super::health::{self, Health};
use crate::metrics::{self, Metrics};

pub fn router(metrics: Metrics, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics)
        .merge(health::routes(health.clone()))
        .merge(health::jaeger_route(health))
}

/// Serves until `shutdown` is cancelled, then finishes in-flight requests.
pub async fn serve(
    listener: Listener,
    metrics: Metrics,
    health: Health,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    crate::net::serve_http(listener, router(metrics, health), None, shutdown).await
}

async fn scrape(State(metrics): State<Metrics>) -> impl IntoResponse {
    // Scraping reads /proc and the store's file lengths: quick, but blocking.
    let text = tokio::task::spawn_blocking(move || metrics.encode())
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text)
}
