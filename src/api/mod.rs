//! The query API on the query port: Jaeger's v1 (`/api/*`) and api_v3
//! (`/api/v3/*`) compatibility surfaces, the UI's own endpoints, and the UI itself.
//!
//! Handlers parse parameters, call `QueryService`, and render through `dto`; they
//! hold no query logic. `error` is the single place failures become responses.

pub mod admin;
pub(crate) mod dto;
mod error;
pub mod grpc;
pub mod health;
mod jaeger_v1;
mod jaeger_v3;
mod metrics;
mod params;
mod ui_api;
mod ui_dto;
mod ui_monitor;
mod ui_views;
mod ui_views_dto;

use std::path::PathBuf;
use std::time::Duration;

use crate::net::auth::{self, Tokens};
use crate::net::Listener;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::metrics::Metrics;
use crate::query::QueryService;
pub use health::Health;

/// Longest a query may run before the client gets 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where clients should send spans; shown by the UI's empty state.
#[derive(Debug, Clone)]
pub struct UiEndpoints {
    pub otlp_grpc: String,
    pub otlp_http: String,
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) query: QueryService,
    pub(crate) ui_dir: Option<PathBuf>,
    pub(crate) endpoints: UiEndpoints,
    pub(crate) metrics: Metrics,
    pub(crate) health: Health,
    /// With tokens, the data routes (`/api`, `/internal/ui`) need one; the UI's
    /// files and health checks stay open.
    pub(crate) query_tokens: Option<Tokens>,
}

impl AppState {
    pub fn new(
        query: QueryService,
        ui_dir: Option<PathBuf>,
        endpoints: UiEndpoints,
        metrics: Metrics,
        health: Health,
    ) -> AppState {
        AppState {
            query,
            ui_dir,
            endpoints,
            metrics,
            health,
            query_tokens: None,
        }
    }

    pub fn with_query_tokens(self, query_tokens: Option<Tokens>) -> AppState {
        AppState {
            query_tokens,
            ..self
        }
    }
}

pub fn router(state: AppState) -> Router {
    let data = Router::new()
        .nest("/api/v3", jaeger_v3::routes())
        .nest("/api", jaeger_v1::routes())
        .nest(
            "/internal/ui",
            ui_api::routes()
                .merge(ui_views::routes())
                .merge(ui_monitor::routes()),
        );
    let data = match state.query_tokens.clone() {
        Some(tokens) => data.route_layer(auth::http_layer(tokens)),
        None => data,
    };
    Router::new()
        .merge(data)
        .merge(health::routes(state.health.clone()))
        .fallback_service(crate::ui::router(state.ui_dir.clone()))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            record_query,
        ))
        .layer((
            TraceLayer::new_for_http(),
            CompressionLayer::new(),
            TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT),
        ))
        .with_state(state)
}

/// Counts each request and its latency by route: the route's pattern
/// (`/api/traces/{traceID}`), or `ui` for the UI's files.
async fn record_query(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "ui".to_owned(), |path| path.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics.query_finished(&route, response.status().as_u16(), started.elapsed());
    response
}

/// Serves until `shutdown` is cancelled, then finishes in-flight requests.
pub async fn serve(
    listener: Listener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // Tokens guard the data routes inside `router`, not the UI's files.
    crate::net::serve_http(listener, router(state), None, shutdown).await
}
