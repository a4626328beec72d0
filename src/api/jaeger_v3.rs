//! api_v3 over HTTP/JSON (`/api/v3/*`): OTLP-shaped traces, services, operations
//! and the trace summaries that jaeger-ui ≥ 2.19 searches with (jaeger-compat §2).

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, V3Error};
use super::params::{
    parse_filters, parse_flag, parse_go_duration, parse_rfc3339_nanos, path_trace_id, Params,
};
use super::{dto, AppState};
use crate::model::SpanKind;
use crate::query::TraceQuery;

const DEFAULT_SEARCH_DEPTH: usize = 100;
const MAX_SEARCH_DEPTH: usize = 10_000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/services", get(services))
        .route("/operations", get(operations))
        .route("/traces", get(find_traces))
        .route("/traces/{trace_id}", get(trace))
        .route("/trace-summaries", get(trace_summaries))
}

async fn services(State(state): State<AppState>) -> Result<Json<dto::ServicesDto>, V3Error> {
    Ok(Json(dto::ServicesDto {
        services: state.query.services().await?,
    }))
}

async fn operations(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::V3Operations>, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let service = params
        .get(&["service"])
        .ok_or_else(|| ApiError::BadRequest("malformed parameter service: required".to_owned()))?;
    let kind = match params.get(&["spanKind", "span_kind"]) {
        None => None,
        Some(kind) => Some(SpanKind::from_jaeger_name(kind).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "malformed parameter spanKind: unsupported `{kind}`"
            ))
        })?),
    };
    let operations = state
        .query
        .operations(service, kind)
        .await?
        .into_iter()
        .map(|op| dto::OperationDto {
            name: op.name,
            // api_v3 reports an unspecified kind as internal.
            span_kind: match op.kind {
                SpanKind::Unspecified => SpanKind::Internal.jaeger_name().to_owned(),
                kind => kind.jaeger_name().to_owned(),
            },
        })
        .collect();
    Ok(Json(dto::V3Operations { operations }))
}

async fn trace(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Response, V3Error> {
    let trace_id = path_trace_id(&raw_id)?;
    let spans = state.query.trace(trace_id).await?;
    let traces = vec![spans];
    Ok(Json(dto::V3Result {
        result: dto::otlp_traces_data(&traces),
    })
    .into_response())
}

async fn find_traces(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let traces = state.query.find_traces(search_query(&params)?).await?;
    if traces.is_empty() {
        return Err(V3Error(ApiError::NotFound("No traces found".to_owned())));
    }
    Ok(Json(dto::V3Result {
        result: dto::otlp_traces_data(&traces),
    })
    .into_response())
}

async fn trace_summaries(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, V3Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let traces = state.query.find_traces(search_query(&params)?).await?;
    let summaries = traces
        .iter()
        .map(|spans| {
            dto::trace_summary(spans).with_n_plus_one_count(state.query.n_plus_one(spans).len())
        })
        .collect();
    Ok((StatusCode::OK, Json(dto::TraceSummariesDto { summaries })).into_response())
}

/// Builds a search from api_v3 parameters: camelCase names with their snake_case
/// aliases (jaeger-compat §2.1). Unlike Jaeger, the service may be left out to
/// search every service; `filter=` and `n_plus_one=true` are Tracery's own.
pub(crate) fn search_query(params: &Params) -> Result<TraceQuery, ApiError> {
    let malformed = |name: &str, reason: String| {
        ApiError::BadRequest(format!("malformed parameter {name}: {reason}"))
    };
    let (Some(start_min), Some(start_max)) = (
        params.get(&["query.startTimeMin", "query.start_time_min"]),
        params.get(&["query.startTimeMax", "query.start_time_max"]),
    ) else {
        return Err(ApiError::BadRequest(
            "query.startTimeMin and query.startTimeMax are required".to_owned(),
        ));
    };
    let start_min =
        parse_rfc3339_nanos(start_min).map_err(|reason| malformed("query.startTimeMin", reason))?;
    let start_max =
        parse_rfc3339_nanos(start_max).map_err(|reason| malformed("query.startTimeMax", reason))?;
    if start_max < start_min {
        return Err(malformed(
            "query.startTimeMax",
            "must not be before query.startTimeMin".to_owned(),
        ));
    }
    let duration = |names: &[&str]| {
        params
            .get(names)
            .map(|text| parse_go_duration(text).map_err(|reason| malformed(names[0], reason)))
            .transpose()
    };
    let duration_min = duration(&["query.durationMin", "query.duration_min"])?;
    let duration_max = duration(&["query.durationMax", "query.duration_max"])?;
    if let (Some(min), Some(max)) = (duration_min, duration_max) {
        if max < min {
            return Err(malformed(
                "query.durationMax",
                "must not be less than query.durationMin".to_owned(),
            ));
        }
    }
    let limit = match params.get(&[
        "query.searchDepth",
        "query.search_depth",
        "query.num_traces",
    ]) {
        None => DEFAULT_SEARCH_DEPTH,
        Some(text) => match text.parse::<i64>() {
            Ok(depth) if depth > 0 => (depth as usize).min(MAX_SEARCH_DEPTH),
            Ok(_) => {
                return Err(malformed(
                    "query.searchDepth",
                    "must be greater than 0".to_owned(),
                ))
            }
            Err(error) => return Err(malformed("query.searchDepth", error.to_string())),
        },
    };
    let tags: BTreeMap<String, String> = match params.get(&["query.attributes"]) {
        None => BTreeMap::new(),
        Some(json) => serde_json::from_str(json).map_err(|error| {
            malformed(
                "query.attributes",
                format!("expected a JSON object of strings: {error}"),
            )
        })?,
    };
    Ok(TraceQuery {
        service: params
            .get(&["query.serviceName", "query.service_name"])
            .map(str::to_owned),
        operation: params
            .get(&["query.operationName", "query.operation_name"])
            .map(str::to_owned),
        tags: tags.into_iter().collect(),
        filters: parse_filters(params).map_err(ApiError::BadRequest)?,
        n_plus_one: parse_flag(params, "n_plus_one").map_err(ApiError::BadRequest)?,
        start_min_unix_nanos: start_min,
        start_max_unix_nanos: start_max,
        duration_min,
        duration_max,
        limit,
    })
}
