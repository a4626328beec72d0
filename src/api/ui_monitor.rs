//! The UI's RED endpoints under `/internal/ui`: the Monitor page's services and
//! operations (and their N+1 counts, from `QueryService::n_plus_one_counts`), the
//! search page's latency heatmap and exemplar traces, and the per-operation
//! duration distributions behind the trace page's percentile badges.
//! Parses parameters, calls `QueryService`, renders `ui_dto::monitor`.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, V3Error};
use super::params::Params;
use super::ui_dto::monitor as dto;
use super::AppState;
use crate::model::SpanKind;
use crate::query::metrics::MetricsQuery;

/// About this many points per chart: steps are the smallest nice step that keeps
/// a window to this many.
const TARGET_POINTS: u64 = 60;
const NICE_STEPS_SECS: [u64; 12] = [
    10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800, 21600,
];
const DEFAULT_LOOKBACK_MILLIS: u64 = 3_600_000;
/// Most operations one durations request may ask about.
const MAX_DURATION_PAIRS: usize = 500;
/// The longest window the UI may ask for in one request.
const MAX_LOOKBACK_MILLIS: u64 = 31 * 24 * 3_600_000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/monitor/services", get(services))
        .route("/monitor/operations", get(operations))
        .route("/monitor/heatmap", get(heatmap))
        .route("/monitor/exemplars", get(exemplars))
        .route("/monitor/n-plus-one", get(n_plus_one))
        .route("/durations", get(durations))
}

/// Every service, with its series.
async fn services(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::MonitorDto>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let mut query = window_query(&params)?;
    query.services = state.query.services().await?;
    let (grid, series) = state.query.red_series(query).await?;
    Ok(Json(dto::monitor(&grid, &series)))
}

/// The operations of `service`, with their series.
async fn operations(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::MonitorDto>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let mut query = window_query(&params)?;
    query.services = vec![required(&params, "service")?];
    query.group_by_operation = true;
    let (grid, series) = state.query.red_series(query).await?;
    Ok(Json(dto::monitor(&grid, &series)))
}

/// Calls by time and duration for `service` (all services if absent) and `operation`.
async fn heatmap(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::HeatmapDto>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let query = filtered_query(&state, &params).await?;
    let (grid, heatmap) = state.query.red_heatmap(query).await?;
    Ok(Json(dto::heatmap(&grid, heatmap)))
}

/// The slowest and failed traces the histograms remember for the window.
async fn exemplars(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<dto::ExemplarDto>>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let query = filtered_query(&state, &params).await?;
    let found = state.query.red_exemplars(query).await?;
    Ok(Json(dto::exemplars(&found)))
}

/// How many of `service`'s traces with a span in `start`..=`end` (ms) have an
/// N+1 finding, per operation.
async fn n_plus_one(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::NPlusOneCountsDto>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let service = required(&params, "service")?;
    let end = millis(&params, "end")?.unwrap_or_else(|| super::params::unix_micros_now() / 1000);
    let start = millis(&params, "start")?.unwrap_or(end.saturating_sub(DEFAULT_LOOKBACK_MILLIS));
    if start >= end || end - start > MAX_LOOKBACK_MILLIS {
        return Err(ApiError::BadRequest(
            "start must be before end, at most 31 days apart".to_owned(),
        )
        .into());
    }
    let to_nanos = |millis: u64| millis.saturating_mul(1_000_000);
    let counts = state
        .query
        .n_plus_one_counts(service, to_nanos(start), to_nanos(end))
        .await?;
    Ok(Json(dto::n_plus_one_counts(counts)))
}

/// The duration distribution of each `service` + `operation` pair (repeated, in
/// order) in the hour that contains `start` (ms): the operations of a trace.
async fn durations(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<dto::DistributionDto>>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let start_secs = millis(&params, "start")?
        .ok_or_else(|| ApiError::BadRequest("parameter `start` is required".to_owned()))?
        / 1000;
    let services: Vec<&str> = params.all("service").collect();
    let operations: Vec<&str> = params.all("operation").collect();
    if services.len() != operations.len() || services.len() > MAX_DURATION_PAIRS {
        return Err(ApiError::BadRequest(format!(
            "give up to {MAX_DURATION_PAIRS} `service` and `operation` parameters, in pairs"
        ))
        .into());
    }
    let pairs = services
        .into_iter()
        .zip(operations)
        .map(|(service, operation)| (service.to_owned(), operation.to_owned()))
        .collect();
    let found = state
        .query
        .operation_distributions(pairs, start_secs - start_secs % 3600)
        .await?;
    Ok(Json(dto::distributions(found)))
}

/// `lookback` and `endTs` (ms), `spanKind` (a kind or `all`; default server).
fn window_query(params: &Params) -> Result<MetricsQuery, ApiError> {
    let end = millis(params, "endTs")?.unwrap_or_else(|| super::params::unix_micros_now() / 1000);
    let lookback = millis(params, "lookback")?.unwrap_or(DEFAULT_LOOKBACK_MILLIS);
    window(params, end, lookback)
}

/// `service` and `operation` (both optional) over `start`..`end` (ms).
async fn filtered_query(state: &AppState, params: &Params) -> Result<MetricsQuery, ApiError> {
    let end = millis(params, "end")?.unwrap_or_else(|| super::params::unix_micros_now() / 1000);
    let start = millis(params, "start")?.unwrap_or(end.saturating_sub(DEFAULT_LOOKBACK_MILLIS));
    if start >= end {
        return Err(ApiError::BadRequest("start must be before end".to_owned()));
    }
    let mut query = window(params, end, end - start)?;
    query.services = match params.get(&["service"]) {
        Some(service) => vec![service.to_owned()],
        None => state.query.services().await?,
    };
    query.operation = params.get(&["operation"]).map(str::to_owned);
    Ok(query)
}

fn window(
    params: &Params,
    end_millis: u64,
    lookback_millis: u64,
) -> Result<MetricsQuery, ApiError> {
    if lookback_millis == 0 || lookback_millis > MAX_LOOKBACK_MILLIS {
        return Err(ApiError::BadRequest(
            "the window must be between 1 ms and 31 days".to_owned(),
        ));
    }
    let span_kinds = match params.get(&["spanKind"]).unwrap_or("server") {
        "all" => Vec::new(),
        name => vec![SpanKind::from_jaeger_name(name).ok_or_else(|| {
            ApiError::BadRequest(format!("unknown spanKind `{name}`: use server, client, producer, consumer, internal or all"))
        })?],
    };
    let wanted_step = (lookback_millis / 1000).div_ceil(TARGET_POINTS);
    let step_secs = NICE_STEPS_SECS
        .into_iter()
        .find(|step| *step >= wanted_step)
        .unwrap_or(NICE_STEPS_SECS[NICE_STEPS_SECS.len() - 1]);
    Ok(MetricsQuery {
        services: Vec::new(),
        span_kinds,
        operation: None,
        group_by_operation: false,
        end_unix_millis: end_millis,
        lookback_millis,
        step_millis: step_secs * 1000,
    })
}

fn millis(params: &Params, name: &str) -> Result<Option<u64>, ApiError> {
    params
        .get(&[name])
        .map(|text| {
            text.parse::<u64>().map_err(|_| {
                ApiError::BadRequest(format!("`{name}` must be milliseconds, not `{text}`"))
            })
        })
        .transpose()
}

fn required(params: &Params, name: &str) -> Result<String, ApiError> {
    params
        .get(&[name])
        .map(str::to_owned)
        .ok_or_else(|| ApiError::BadRequest(format!("parameter `{name}` is required")))
}
