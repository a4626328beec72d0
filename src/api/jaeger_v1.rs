//! Jaeger's internal HTTP API (`/api/*`), which Grafana and jaeger-ui ≤ 2.14 call.
//! Shapes and status codes follow Jaeger; see jaeger-compat §1.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, V1Error};
use super::params::unix_micros_now;
use super::params::{parse_filters, parse_flag, parse_go_duration, parse_trace_id, Params};
use super::{dto, AppState};
use crate::model::SpanKind;
use crate::query::TraceQuery;

/// Jaeger's server-side default for `limit`.
const DEFAULT_LIMIT: usize = 100;
/// Upper bound on `limit`, so one request can't ask for the whole store.
const MAX_LIMIT: usize = 10_000;
const DEFAULT_SEARCH_WINDOW: Duration = Duration::from_secs(48 * 3600);
const DEFAULT_DEPENDENCIES_LOOKBACK: Duration = Duration::from_secs(24 * 3600);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/services", get(services))
        .route("/services/{service}/operations", get(service_operations))
        .route("/operations", get(operations))
        .route("/traces", get(find_traces))
        .route("/traces/{trace_id}", get(trace))
        .route("/dependencies", get(dependencies))
        .route("/metrics/{kind}", get(super::metrics::metrics))
        .route("/archive/{trace_id}", post(archive))
        .route("/transform", post(transform))
        .layer(axum::middleware::from_fn(pretty_print))
}

/// Jaeger indents any `/api/*` reply when `prettyPrint` is set to anything but empty
/// or `false`; the Jaeger UI's "Trace JSON" links rely on it.
async fn pretty_print(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let wanted = Params::parse(request.uri().query())
        .ok()
        .and_then(|params| params.get(&["prettyPrint"]).map(|value| value != "false"))
        .unwrap_or(false);
    let response = next.run(request).await;
    if !wanted {
        return response;
    }
    let (parts, body) = response.into_parts();
    let indented = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|value| serde_json::to_vec_pretty(&value).ok())
            .unwrap_or_else(|| bytes.to_vec()),
        Err(_) => {
            return (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "failed to render response",
            )
                .into_response()
        }
    };
    let mut response = Response::from_parts(parts, axum::body::Body::from(indented));
    response
        .headers_mut()
        .remove(axum::http::header::CONTENT_LENGTH);
    response
}

async fn services(
    State(state): State<AppState>,
) -> Result<Json<dto::Envelope<Vec<String>>>, V1Error> {
    let services = state.query.services().await?;
    let total = services.len();
    Ok(Json(dto::Envelope::with_total(services, total)))
}

async fn service_operations(
    State(state): State<AppState>,
    Path(service): Path<String>,
) -> Result<Json<dto::Envelope<Vec<String>>>, V1Error> {
    let mut names: Vec<String> = state
        .query
        .operations(&service, None)
        .await?
        .into_iter()
        .map(|op| op.name)
        .collect();
    names.dedup(); // sorted by name, so kinds of one name are adjacent
    let total = names.len();
    Ok(Json(dto::Envelope::with_total(names, total)))
}

async fn operations(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::Envelope<Vec<dto::OperationDto>>>, V1Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let service = params
        .get(&["service"])
        .ok_or_else(|| ApiError::BadRequest("parameter 'service' is required".to_owned()))?;
    let kind = match params.get(&["spanKind"]) {
        None => None,
        Some(kind) => Some(SpanKind::from_jaeger_name(kind).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unsupported spanKind `{kind}`; use server, client, producer, consumer or internal"
            ))
        })?),
    };
    let operations: Vec<dto::OperationDto> = state
        .query
        .operations(service, kind)
        .await?
        .into_iter()
        .map(|op| dto::OperationDto {
            name: op.name,
            span_kind: op.kind.jaeger_name().to_owned(),
        })
        .collect();
    let total = operations.len();
    Ok(Json(dto::Envelope::with_total(operations, total)))
}

async fn find_traces(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, V1Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let trace_ids: Vec<&str> = params.all("traceID").filter(|id| !id.is_empty()).collect();
    if !trace_ids.is_empty() {
        return traces_by_id(&state, &trace_ids).await;
    }
    let query = search_query(&params)?;
    let traces = state.query.find_traces(query).await?;
    let data: Vec<dto::JaegerTrace<'_>> = traces
        .iter()
        .map(|spans| dto::jaeger_trace(spans))
        .collect();
    Ok(Json(dto::Envelope::ok(data)).into_response())
}

async fn traces_by_id(state: &AppState, raw_ids: &[&str]) -> Result<Response, V1Error> {
    let mut trace_ids = Vec::with_capacity(raw_ids.len());
    for raw in raw_ids {
        let trace_id = parse_trace_id(raw).map_err(|reason| {
            ApiError::BadRequest(format!("cannot parse traceID param: {reason}"))
        })?;
        trace_ids.push(trace_id);
    }
    let found = state.query.traces(trace_ids).await?;
    let mut errors = Vec::new();
    let mut traces = Vec::new();
    for (trace_id, spans) in found {
        match spans {
            Some(spans) => traces.push(spans),
            None => errors.push(dto::EnvelopeError {
                code: None,
                msg: "trace not found".to_owned(),
                trace_id: Some(trace_id.to_jaeger_hex()),
            }),
        }
    }
    let data: Vec<dto::JaegerTrace<'_>> = traces
        .iter()
        .map(|spans| dto::jaeger_trace(spans))
        .collect();
    Ok(Json(dto::Envelope::ok(data).with_errors(errors)).into_response())
}

/// Builds a search from v1 parameters (jaeger-compat §1.4). Unlike Jaeger, which
/// answers 400, a search without `service` covers every service; `filter=` and
/// `n_plus_one=true` are Tracery's own.
pub(crate) fn search_query(params: &Params) -> Result<TraceQuery, ApiError> {
    let bad = ApiError::BadRequest;
    let now_micros = unix_micros_now();
    let micros = |name: &str, default: u64| -> Result<u64, ApiError> {
        match params.get(&[name]) {
            None => Ok(default),
            Some(text) => text
                .parse::<u64>()
                .map_err(|error| bad(format!("unable to parse param '{name}': {error}"))),
        }
    };
    let end = micros("end", now_micros)?;
    let start = micros(
        "start",
        now_micros.saturating_sub(DEFAULT_SEARCH_WINDOW.as_micros() as u64),
    )?;
    if start > end {
        return Err(bad(format!(
            "'start' must not be after 'end' (start={start}, end={end}, both in microseconds)"
        )));
    }
    let duration = |name: &str| -> Result<Option<Duration>, ApiError> {
        params
            .get(&[name])
            .map(|text| {
                parse_go_duration(text)
                    .map_err(|reason| bad(format!("unable to parse param '{name}': {reason}")))
            })
            .transpose()
    };
    let (duration_min, duration_max) = (duration("minDuration")?, duration("maxDuration")?);
    if let (Some(min), Some(max)) = (duration_min, duration_max) {
        if max < min {
            return Err(bad(
                "'maxDuration' must be greater than or equal to 'minDuration'".to_owned(),
            ));
        }
    }
    let limit = match params.get(&["limit"]) {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<i64>() {
            Ok(limit) if limit > 0 => (limit as usize).min(MAX_LIMIT),
            Ok(_) => DEFAULT_LIMIT,
            Err(error) => return Err(bad(format!("unable to parse param 'limit': {error}"))),
        },
    };
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    for json in params.all("tags").filter(|json| !json.is_empty()) {
        let map: BTreeMap<String, String> = serde_json::from_str(json).map_err(|error| {
            bad(format!(
                "malformed 'tags' parameter, expecting a JSON object of string values: {error}"
            ))
        })?;
        tags.extend(map);
    }
    for pair in params.all("tag") {
        let (key, value) = pair.split_once(':').ok_or_else(|| {
            bad(format!(
                "malformed 'tag' parameter `{pair}`, expecting key:value"
            ))
        })?;
        tags.insert(key.to_owned(), value.to_owned());
    }
    Ok(TraceQuery {
        service: params.get(&["service"]).map(str::to_owned),
        operation: params.get(&["operation"]).map(str::to_owned),
        tags: tags.into_iter().collect(),
        filters: parse_filters(params).map_err(bad)?,
        n_plus_one: parse_flag(params, "n_plus_one").map_err(bad)?,
        start_min_unix_nanos: start.saturating_mul(1000),
        start_max_unix_nanos: end.saturating_mul(1000).saturating_add(999),
        duration_min,
        duration_max,
        limit,
    })
}

/// `start`/`end` hints are ignored: the trace index needs none, and Grafana sends
/// them in milliseconds where Jaeger documents microseconds.
async fn trace(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Response, V1Error> {
    let trace_id = parse_trace_id(&raw_id).map_err(ApiError::BadRequest)?;
    let spans = state.query.trace(trace_id).await?;
    Ok(Json(dto::Envelope::ok(vec![dto::jaeger_trace(&spans)])).into_response())
}

async fn dependencies(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<dto::Envelope<Vec<dto::DependencyDto>>>, V1Error> {
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let millis = |name: &str, default: u64| -> Result<u64, ApiError> {
        params.get(&[name]).map_or(Ok(default), |text| {
            text.parse::<u64>().map_err(|error| {
                ApiError::BadRequest(format!("unable to parse param '{name}': {error}"))
            })
        })
    };
    let end_ms = millis("endTs", unix_micros_now() / 1000)?;
    let lookback_ms = millis("lookback", DEFAULT_DEPENDENCIES_LOOKBACK.as_millis() as u64)?;
    let data = state
        .query
        .dependencies(
            end_ms.saturating_mul(1_000_000),
            Duration::from_millis(lookback_ms),
        )
        .await?
        .into_iter()
        .map(|dependency| dto::DependencyDto {
            parent: dependency.parent,
            child: dependency.child,
            call_count: dependency.call_count,
        })
        .collect();
    Ok(Json(dto::Envelope::ok(data)))
}

/// OTLP/JSON in, Jaeger's trace JSON out: the Jaeger UI uploads OTLP files through this.
async fn transform(body: axum::body::Bytes) -> Result<Response, V1Error> {
    let spans = crate::protocol::otlp::decode_json_spans(&body)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let mut traces: Vec<Vec<crate::model::Span>> = Vec::new();
    let mut index_of: std::collections::HashMap<crate::model::TraceId, usize> =
        std::collections::HashMap::new();
    for span in spans {
        let index = *index_of.entry(span.trace_id).or_insert_with(|| {
            traces.push(Vec::new());
            traces.len() - 1
        });
        traces[index].push(span);
    }
    let data: Vec<dto::JaegerTrace<'_>> = traces
        .iter()
        .map(|spans| dto::jaeger_trace(spans))
        .collect();
    Ok(Json(dto::Envelope::ok(data)).into_response())
}

async fn archive() -> V1Error {
    V1Error(ApiError::NotImplemented(
        "archive span storage was not configured".to_owned(),
    ))
}
