//! The web UI's own endpoints under `/internal/ui`: a trace precomputed for the
//! waterfall (stored, or posted as an opened JSON file), and the addresses the
//! empty state shows.
//!
//! Not a compatibility surface: only `ui/api.js` calls these, so their shape can
//! follow the UI's needs. The heavy lifting (tree, critical path, warnings) is
//! `query::tree`; rendering is `ui_dto`. Errors use api_v3's shape.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, V3Error};
use super::params::path_trace_id;
use super::{ui_dto, AppState};
use crate::model::Span;
use crate::query::{traces_from_spans, tree, QueryError, QueryService};

/// The largest trace file the UI may post: a 50,000-span trace in Jaeger's JSON
/// is about 25 MiB.
pub(crate) const MAX_TRACE_FILE_BYTES: usize = 64 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/traces/{trace_id}", get(trace_view))
        .route(
            "/trace-file",
            post(trace_file).layer(DefaultBodyLimit::max(MAX_TRACE_FILE_BYTES)),
        )
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
        serde_json::to_vec(&render_trace(&query, &spans))
            .expect("the trace view has only string keys and derived Serialize impls")
    })
    .await
    .map_err(|_| ApiError::Query(QueryError::Panicked))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `POST /internal/ui/trace-file`: a JSON file the user opened (Jaeger's
/// `{"data": [...]}` or OTLP/JSON), answered with each of its traces in the same
/// view a stored trace gets. Nothing is stored.
async fn trace_file(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, V3Error> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "the file is larger than {} MiB",
                MAX_TRACE_FILE_BYTES >> 20
            ))
        } else {
            ApiError::BadRequest(format!("cannot read the file: {rejection}"))
        }
    })?;
    let query = state.query.clone();
    let body = tokio::task::spawn_blocking(move || {
        let converted = crate::protocol::decode_json_file(&body)
            .map_err(|error| ApiError::BadRequest(error.to_string()))?;
        let skipped =
            ui_dto::SkippedSpans::new(converted.num_rejected, converted.first_error.clone());
        let traces = traces_from_spans(converted.spans);
        let views = traces
            .iter()
            .map(|spans| render_trace(&query, spans))
            .collect();
        Ok::<_, ApiError>(
            serde_json::to_vec(&ui_dto::TraceFileDto::new(views, skipped))
                .expect("the trace view has only string keys and derived Serialize impls"),
        )
    })
    .await
    .map_err(|_| ApiError::Query(QueryError::Panicked))??;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The one rendering of a trace for the UI, stored or opened from a file.
fn render_trace<'a>(query: &QueryService, spans: &'a [Span]) -> ui_dto::TraceViewDto<'a> {
    let tree = tree::build(spans);
    let findings = query.n_plus_one(spans);
    ui_dto::trace_view(spans, &tree, &findings)
}

async fn config(State(state): State<AppState>) -> Json<ui_dto::UiConfigDto> {
    Json(ui_dto::UiConfigDto {
        otlp_grpc: state.endpoints.otlp_grpc.clone(),
        otlp_http: state.endpoints.otlp_http.clone(),
    })
}
