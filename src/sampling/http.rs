//! Remote sampling over HTTP on 5778: `GET /?service=S`, `/sampling?service=S` and
//! `/api/sampling?service=S`, answered in Jaeger's JSON form (jsonpb with defaults
//! emitted, so `"strategyType":"PROBABILISTIC"` stays although it is enum 0).

use crate::net::Listener;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::SamplingService;
use crate::protocol::jaeger::api_v2::{
    PerOperationSamplingStrategies, SamplingStrategyResponse, SamplingStrategyType,
};

pub fn router(service: SamplingService) -> Router {
    Router::new()
        .route("/", get(strategy))
        .route("/sampling", get(strategy))
        .route("/api/sampling", get(strategy))
        .with_state(service)
}

/// Serves until `shutdown` is cancelled.
pub async fn serve(
    listener: Listener,
    service: SamplingService,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    crate::net::serve_http(listener, router(service), None, shutdown).await
}

async fn strategy(State(service): State<SamplingService>, RawQuery(raw): RawQuery) -> Response {
    let pairs: Vec<(String, String)> =
        match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
            Ok(pairs) => pairs,
            Err(error) => {
                return (StatusCode::BAD_REQUEST, format!("malformed query: {error}"))
                    .into_response()
            }
        };
    let names: Vec<&str> = pairs
        .iter()
        .filter(|(key, _)| key == "service")
        .map(|(_, value)| value.as_str())
        .collect();
    let [name] = names.as_slice() else {
        return (
            StatusCode::BAD_REQUEST,
            "'service' parameter must be provided once",
        )
            .into_response();
    };
    Json(render(&service.strategy(name))).into_response()
}

/// jsonpb's `EmitDefaults` form, nulls left out.
pub fn render(response: &SamplingStrategyResponse) -> Value {
    let strategy_type = if response.strategy_type == SamplingStrategyType::RateLimiting as i32 {
        "RATE_LIMITING"
    } else {
        "PROBABILISTIC"
    };
    let mut body = json!({ "strategyType": strategy_type });
    if let Some(probabilistic) = &response.probabilistic_sampling {
        body["probabilisticSampling"] = json!({ "samplingRate": probabilistic.sampling_rate });
    }
    if let Some(rate_limiting) = &response.rate_limiting_sampling {
        body["rateLimitingSampling"] =
            json!({ "maxTracesPerSecond": rate_limiting.max_traces_per_second });
    }
    if let Some(operations) = &response.operation_sampling {
        body["operationSampling"] = per_operation(operations);
    }
    body
}

fn per_operation(operations: &PerOperationSamplingStrategies) -> Value {
    let strategies: Vec<Value> = operations
        .per_operation_strategies
        .iter()
        .map(|strategy| {
            let mut entry = json!({ "operation": strategy.operation });
            if let Some(probabilistic) = &strategy.probabilistic_sampling {
                entry["probabilisticSampling"] =
                    json!({ "samplingRate": probabilistic.sampling_rate });
            }
            entry
        })
        .collect();
    json!({
        "defaultSamplingProbability": operations.default_sampling_probability,
        "defaultLowerBoundTracesPerSecond": operations.default_lower_bound_traces_per_second,
        "perOperationStrategies": strategies,
        "defaultUpperBoundTracesPerSecond": operations.default_upper_bound_traces_per_second,
    })
}
