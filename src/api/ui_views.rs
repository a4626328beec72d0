//! The UI's views beyond the waterfall: flamegraph, statistics, compare, "Why
//! slow?" and the dependency map. Handlers parse parameters, fetch spans through
//! `QueryService`, run the pure computation in `query::views` on the blocking
//! pool, and render through `ui_views_dto`.

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, V3Error};
use super::params::unix_micros_now;
use super::params::{parse_trace_id, path_trace_id, Params};
use super::{ui_views_dto as dto, AppState};
use crate::model::Span;
use crate::query::views::why_slow::{self, SlowSplit};
use crate::query::views::{compare, dependency_layout, flame, frames, stats};
use crate::query::{tree, QueryError, TraceQuery};

/// Traces "Why slow?" analyses unless `limit` says otherwise, and at most.
const WHY_SLOW_DEFAULT_TRACES: usize = 500;
const WHY_SLOW_MAX_TRACES: usize = 2000;
/// Default window of "Why slow?" and of the dependency map.
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/traces/{trace_id}/flamegraph", get(flamegraph))
        .route("/traces/{trace_id}/statistics", get(statistics))
        .route("/compare", get(compare_traces))
        .route("/why-slow", get(why_slow_view))
        .route("/dependencies", get(dependencies))
}

async fn flamegraph(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Json<dto::FlamegraphDto>, V3Error> {
    let trace_id = path_trace_id(&raw_id)?;
    let spans = state.query.trace(trace_id).await?;
    blocking(move || {
        let tree = tree::build(&spans);
        let frames = frames::build(&tree, &spans);
        dto::flamegraph(trace_id.to_hex(), &tree, &flame::layout(&frames))
    })
    .await
}

async fn statistics(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Json<dto::StatisticsDto>, V3Error> {
    let trace_id = path_trace_id(&raw_id)?;
    let spans = state.query.trace(trace_id).await?;
    blocking(move || {
        let tree = tree::build(&spans);
        dto::statistics(
            trace_id.to_hex(),
            &tree,
            &stats::operation_stats(&tree, &spans),
        )
    })
    .await
}

async fn compare_traces(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::CompareDto>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let id = |name: &str| -> Result<_, ApiError> {
        let text = params.get(&[name]).ok_or_else(|| {
            ApiError::BadRequest(format!("parameter '{name}' (a trace ID) is required"))
        })?;
        parse_trace_id(text)
            .map_err(|reason| ApiError::BadRequest(format!("parameter '{name}': {reason}")))
    };
    let (id_a, id_b) = (id("a")?, id("b")?);
    let mut found = state.query.traces(vec![id_a, id_b]).await?.into_iter();
    let mut take = |trace_id| match found.next() {
        Some((_, Some(spans))) => Ok(spans),
        _ => Err(V3Error::from(QueryError::TraceNotFound(trace_id))),
    };
    let (spans_a, spans_b): (Vec<Span>, Vec<Span>) = (take(id_a)?, take(id_b)?);
    blocking(move || {
        let (tree_a, tree_b) = (tree::build(&spans_a), tree::build(&spans_b));
        let (frames_a, frames_b) = (
            frames::build(&tree_a, &spans_a),
            frames::build(&tree_b, &spans_b),
        );
        dto::compare(
            dto::compare_trace(id_a.to_hex(), &spans_a, &tree_a),
            dto::compare_trace(id_b.to_hex(), &spans_b, &tree_b),
            &compare::merge(&frames_a, &frames_b),
        )
    })
    .await
}

async fn why_slow_view(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::WhySlowDto>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let required = |name: &str| {
        params
            .get(&[name])
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::BadRequest(format!("parameter '{name}' is required")))
    };
    let (service, operation) = (required("service")?, required("operation")?);
    let number = |name: &str| -> Result<Option<u64>, ApiError> {
        params
            .get(&[name])
            .map(|text| {
                text.parse::<u64>().map_err(|error| {
                    ApiError::BadRequest(format!("unable to parse param '{name}': {error}"))
                })
            })
            .transpose()
    };
    let now_us = unix_micros_now();
    let end_us = number("end")?.unwrap_or(now_us);
    let start_us =
        number("start")?.unwrap_or(end_us.saturating_sub(DEFAULT_WINDOW.as_micros() as u64));
    if start_us > end_us {
        return Err(ApiError::BadRequest("'start' must not be after 'end'".to_owned()).into());
    }
    let split = match (number("slowMinUs")?, number("slowMaxUs")?) {
        (None, None) => SlowSplit::AboveP90,
        (min, max) => {
            let (min_us, max_us) = (min.unwrap_or(0), max.unwrap_or(u64::MAX));
            if max_us < min_us {
                return Err(ApiError::BadRequest(
                    "'slowMaxUs' must not be below 'slowMinUs'".to_owned(),
                )
                .into());
            }
            SlowSplit::Range { min_us, max_us }
        }
    };
    let limit = number("limit")?
        .map_or(WHY_SLOW_DEFAULT_TRACES, |limit| limit as usize)
        .clamp(1, WHY_SLOW_MAX_TRACES);
    let traces = state
        .query
        .find_traces(TraceQuery {
            service: Some(service.clone()),
            operation: Some(operation.clone()),
            tags: Vec::new(),
            start_min_unix_nanos: start_us.saturating_mul(1000),
            start_max_unix_nanos: end_us.saturating_mul(1000),
            duration_min: None,
            duration_max: None,
            limit,
            ..TraceQuery::default()
        })
        .await?;
    blocking(move || {
        let durations: Vec<u64> = traces
            .iter()
            .map(|spans| why_slow::duration_us(spans))
            .collect();
        let result = why_slow::analyse(&traces, split);
        dto::why_slow(
            service,
            operation,
            matches!(split, SlowSplit::Range { .. }),
            durations,
            result,
        )
    })
    .await
}

async fn dependencies(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::DependencyGraphDto>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let millis = |name: &str, default: u64| -> Result<u64, ApiError> {
        params.get(&[name]).map_or(Ok(default), |text| {
            text.parse::<u64>().map_err(|error| {
                ApiError::BadRequest(format!("unable to parse param '{name}': {error}"))
            })
        })
    };
    let end_ms = millis("endTs", unix_micros_now() / 1000)?;
    let lookback_ms = millis("lookback", DEFAULT_WINDOW.as_millis() as u64)?;
    let dependencies = state
        .query
        .dependencies(
            end_ms.saturating_mul(1_000_000),
            Duration::from_millis(lookback_ms),
        )
        .await?;
    blocking(move || dto::dependency_graph(&dependency_layout::layout(&dependencies))).await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<Json<T>, V3Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map(Json)
        .map_err(|_| V3Error::from(QueryError::Panicked))
}
