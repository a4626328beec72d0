//! The web UI's own endpoints under `/internal/ui`: a trace precomputed for the
//! waterfall, and the addresses the empty state shows.
//!
//! Not a compatibility surface: only `ui/api.js` calls these, so their shape can
//! follow the UI's needs. The heavy lifting (tree, critical path, warnings) is
//! `query::tree`; rendering is `ui_dto`. Errors use api_v3's shape.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, V3Error};
use super::params::path_trace_id;
use super::{ui_dto, AppState};
use crate::query::{tree, QueryError};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/traces/{trace_id}", get(trace_view))
        .route("/config", get(config))
}

async fn trace_view(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Response, V3Error> {
    let trace_id = path_trace_id(&raw_id)?;
    let spans = state.query.trace(trace_id).await?;
    // Building the tree and writing the JSON of a 50,000-span trace takes tens of
    // milliseconds: too long for an async worker.
    let query = state.query.clone();
    let body = tokio::task::spawn_blocking(move || {
        let tree = tree::build(&spans);
        let findings = query.n_plus_one(&spans);
        serde_json::to_vec(&ui_dto::trace_view(&spans, &tree, &findings))
            .expect("the trace view has only string keys and derived Serialize impls")
    })
    .await
    .map_err(|_| ApiError::Query(QueryError::Panicked))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn config(State(state): State<AppState>) -> Json<ui_dto::UiConfigDto> {
    Json(ui_dto::UiConfigDto {
        otlp_grpc: state.endpoints.otlp_grpc.clone(),
        otlp_http: state.endpoints.otlp_http.clone(),
    })
}
