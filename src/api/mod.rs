//! The query API on the query port: Jaeger's v1 (`/api/*`) and api_v3
//! (`/api/v3/*`) compatibility surfaces, the UI's own endpoints, and the UI itself.
//!
//! Handlers parse parameters, call `QueryService`, and render through `dto`; they
//! hold no query logic. `error` is the single place failures become responses.
//!
//! With `--base-path /jaeger` everything here (API, UI, health) is served below
//! that prefix: `router` strips it before routing, so routes, handlers and the
//! metrics' route labels never see it. A request outside the prefix is a 404,
//! except `/` and `/jaeger`, which redirect to `/jaeger/`.

pub mod admin;
pub(crate) mod dto;
mod error;
pub mod grpc;
pub mod health;
pub(crate) mod jaeger_v1;
pub(crate) mod jaeger_v3;
pub(crate) mod metrics;
pub(crate) mod params;
mod ui_api;
mod ui_dto;
mod ui_monitor;
mod ui_views;
mod ui_views_dto;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::UiConfig;
use crate::metrics::Metrics;
use crate::net::auth::{self, Tokens};
use crate::net::Listener;
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
    pub(crate) ui: UiConfig,
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
        ui: UiConfig,
        endpoints: UiEndpoints,
        metrics: Metrics,
        health: Health,
    ) -> AppState {
        AppState {
            query,
            ui,
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

/// The query port's router, below `--base-path` when one is set.
pub fn router(state: AppState) -> Router {
    let base_path = state.ui.base_path.clone();
    let metrics = state.metrics.clone();
    let routes = routes(state);
    if base_path == "/" {
        return routes;
    }
    let prefix = Arc::<str>::from(base_path);
    Router::new().fallback(move |request: Request| {
        let (routes, prefix, metrics) = (routes.clone(), prefix.clone(), metrics.clone());
        async move { below_prefix(&prefix, routes, &metrics, request).await }
    })
}

/// Route label of requests that miss the base path (404s and redirects).
const OUTSIDE_BASE_PATH: &str = "outside_base_path";

/// Hands a request under `prefix` to `routes` with the prefix removed; answers the
/// rest itself.
async fn below_prefix(
    prefix: &str,
    routes: Router,
    metrics: &Metrics,
    mut request: Request,
) -> Response {
    let started = Instant::now();
    let path = request.uri().path();
    let rest = match path.strip_prefix(prefix) {
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        // `/jaeger` and `/`: to the UI, whose relative URLs need the slash.
        Some("") => return outside(metrics, started, redirect_to_base(prefix, request.uri())),
        _ if path == "/" => {
            return outside(metrics, started, redirect_to_base(prefix, request.uri()))
        }
        _ => {
            return outside(
                metrics,
                started,
                (StatusCode::NOT_FOUND, "not found").into_response(),
            )
        }
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest,
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = PathAndQuery::try_from(path_and_query).ok();
    match Uri::from_parts(parts) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return (StatusCode::BAD_REQUEST, "bad request target").into_response(),
    }
    match routes.oneshot(request).await {
        Ok(response) => response,
        Err(infallible) => match infallible {},
    }
}

fn redirect_to_base(prefix: &str, uri: &Uri) -> Response {
    match uri.query() {
        Some(query) => Redirect::temporary(&format!("{prefix}/?{query}")),
        None => Redirect::temporary(&format!("{prefix}/")),
    }
    .into_response()
}

fn outside(metrics: &Metrics, started: Instant, response: Response) -> Response {
    metrics.query_finished(
        OUTSIDE_BASE_PATH,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

fn routes(state: AppState) -> Router {
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
        .fallback_service(crate::ui::router(
            state.ui.ui_dir.clone(),
            &state.ui.base_path,
        ))
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
    let started = Instant::now();
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
