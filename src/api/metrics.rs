//! Jaeger's metrics API for its Monitor tab: `/api/metrics/{latencies,calls,errors}`
//! and the old `/api/metrics/minstep`. Parses Jaeger's parameters (defaults and
//! 400s as in its `query_parser.go`), asks `QueryService::red_series`, and renders
//! a `MetricFamily`; the numbers are computed in `query::metrics`.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{ApiError, V1Error};
use super::params::Params;
use super::{dto, AppState};
use crate::model::SpanKind;
use crate::query::metrics::{self, MetricsQuery, PointGrid, RedSeries};

/// Jaeger's defaults (`default_params.go`), in milliseconds.
const DEFAULT_LOOKBACK_MILLIS: u64 = 3_600_000;
const DEFAULT_STEP_MILLIS: u64 = 5_000;
const DEFAULT_RATE_PER_MILLIS: u64 = 600_000;

/// What a metrics request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Metric {
    Latencies { quantile: f64 },
    Calls,
    Errors,
}

pub(crate) async fn metrics(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, V1Error> {
    if kind == "minstep" {
        return Ok(Json(dto::Envelope::ok(metrics::MIN_STEP_MILLIS)).into_response());
    }
    let params = Params::parse(raw.as_deref()).map_err(ApiError::BadRequest)?;
    let (metric, query) = parse(&kind, &params, super::params::unix_micros_now() / 1000)?;
    let group_by_operation = query.group_by_operation;
    let (grid, series) = state.query.red_series(query).await?;
    Ok(Json(render(metric, group_by_operation, &grid, &series)).into_response())
}

pub(crate) fn parse(
    kind: &str,
    params: &Params,
    now_millis: u64,
) -> Result<(Metric, MetricsQuery), ApiError> {
    let bad = ApiError::BadRequest;
    let quantile = match params.get(&["quantile"]) {
        Some(text) => Some(
            text.parse::<f64>()
                .ok()
                .filter(|quantile| *quantile > 0.0 && *quantile <= 1.0)
                .ok_or_else(|| {
                    bad(format!(
                        "unable to parse param 'quantile': `{text}` is not a number in (0, 1]"
                    ))
                })?,
        ),
        None => None,
    };
    let metric = match kind {
        "latencies" => Metric::Latencies {
            quantile: quantile
                .ok_or_else(|| bad("please provide a quantile between (0, 1]".to_owned()))?,
        },
        "calls" => Metric::Calls,
        "errors" => Metric::Errors,
        other => {
            return Err(ApiError::NotFound(format!(
                "unknown metric `{other}`: use latencies, calls, errors or minstep"
            )))
        }
    };
    // jaeger-ui joins several services as `service=a,service=b` in one value.
    let services: Vec<String> = params
        .all("service")
        .flat_map(|value| value.split(",service="))
        .filter(|service| !service.is_empty())
        .map(str::to_owned)
        .collect();
    if services.is_empty() {
        return Err(bad("please provide at least one service name".to_owned()));
    }
    let mut span_kinds = Vec::new();
    for value in params.all("spanKind").filter(|value| !value.is_empty()) {
        let name = value
            .strip_prefix("SPAN_KIND_")
            .unwrap_or(value)
            .to_ascii_lowercase();
        let kind = SpanKind::from_jaeger_name(&name).ok_or_else(|| {
            bad(format!(
                "unsupported spanKind `{value}`: use unspecified, internal, server, client, producer or consumer"
            ))
        })?;
        span_kinds.push(kind);
    }
    if span_kinds.is_empty() {
        span_kinds.push(SpanKind::Server);
    }
    let group_by_operation = match params.get(&["groupByOperation"]) {
        None => false,
        Some(text) => parse_go_bool(text).ok_or_else(|| {
            bad(format!(
                "unable to parse param 'groupByOperation': `{text}` is not a boolean"
            ))
        })?,
    };
    let millis = |name: &str, default: u64| -> Result<u64, ApiError> {
        match params.get(&[name]) {
            None => Ok(default),
            Some(text) => text.parse::<u64>().ok().filter(|value| *value > 0 || name == "endTs").ok_or_else(|| {
                bad(format!(
                    "unable to parse param '{name}': `{text}` is not a positive number of milliseconds"
                ))
            }),
        }
    };
    let query = MetricsQuery {
        services,
        span_kinds,
        operation: None,
        group_by_operation,
        end_unix_millis: millis("endTs", now_millis)?,
        lookback_millis: millis("lookback", DEFAULT_LOOKBACK_MILLIS)?,
        step_millis: millis("step", DEFAULT_STEP_MILLIS)?,
    };
    // Accepted for compatibility; rates are per second over each step, as in
    // Jaeger's ClickHouse reader.
    millis("ratePer", DEFAULT_RATE_PER_MILLIS)?;
    Ok((metric, query))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn render(
    metric: Metric,
    group_by_operation: bool,
    grid: &PointGrid,
    series: &[RedSeries],
) -> dto::MetricFamilyDto {
    let grouping = if group_by_operation {
        "service & operation"
    } else {
        "service"
    };
    let (name, help) = match (metric, group_by_operation) {
        (Metric::Latencies { quantile }, grouped) => (
            if grouped { "service_operation_latencies" } else { "service_latencies" },
            format!("{quantile}th quantile latency, grouped by {grouping}"),
        ),
        (Metric::Calls, grouped) => (
            if grouped { "service_operation_call_rate" } else { "service_call_rate" },
            format!("calls/sec, grouped by {grouping}"),
        ),
        (Metric::Errors, grouped) => (
            if grouped { "service_operation_error_rate" } else { "service_error_rate" },
            format!("error rate, computed as a fraction of errors/sec over calls/sec, grouped by {grouping}"),
        ),
    };
    // Every series has the same points: format their timestamps once.
    let timestamps: Vec<String> = (0..grid.num_points)
        .map(|point| dto::rfc3339(grid.timestamp_secs(point)))
        .collect();
    let metrics = series
        .iter()
        .map(|series| {
            let mut labels = Vec::with_capacity(2);
            if let Some(operation) = &series.operation {
                labels.push(dto::LabelDto {
                    name: "operation",
                    value: operation.clone(),
                });
            }
            labels.push(dto::LabelDto {
                name: "service_name",
                value: series.service.clone(),
            });
            let metric_points = series
                .points
                .iter()
                .enumerate()
                .map(|(point, cell)| {
                    let value = match metric {
                        Metric::Latencies { quantile } => metrics::latency_millis(cell, quantile),
                        Metric::Calls => metrics::call_rate(cell, grid.step_secs),
                        Metric::Errors => metrics::error_rate(cell),
                    };
                    dto::MetricPointDto {
                        gauge_value: dto::GaugeValueDto {
                            double_value: dto::DoubleValue(value),
                        },
                        timestamp: timestamps[point].clone(),
                    }
                })
                .collect();
            dto::MetricDto {
                labels,
                metric_points,
            }
        })
        .collect();
    dto::MetricFamilyDto {
        name,
        kind: "GAUGE",
        help,
        metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_rejected(kind: &str, query: &str, message: &str) {
        let params = Params::parse(Some(query)).expect("query string");
        match parse(kind, &params, 1_000_000) {
            Err(ApiError::BadRequest(text)) => assert!(text.contains(message), "{text}"),
            other => panic!("expected a 400 for {query}, got {other:?}"),
        }
    }

    #[test]
    fn parameters_follow_jaeger() {
        let params = Params::parse(Some("service=a,service=b&spanKind=client&spanKind=SPAN_KIND_SERVER&groupByOperation=t&endTs=7200000&lookback=600000&step=60000&ratePer=600000&quantile=0.95")).expect("query string");
        let (metric, query) = parse("latencies", &params, 0).expect("valid");
        assert_eq!(metric, Metric::Latencies { quantile: 0.95 });
        assert_eq!(
            query,
            MetricsQuery {
                services: vec!["a".to_owned(), "b".to_owned()],
                span_kinds: vec![SpanKind::Client, SpanKind::Server],
                operation: None,
                group_by_operation: true,
                end_unix_millis: 7_200_000,
                lookback_millis: 600_000,
                step_millis: 60_000,
            }
        );
        let (metric, query) = parse(
            "calls",
            &Params::parse(Some("service=a")).expect("query"),
            42,
        )
        .expect("valid");
        assert_eq!(metric, Metric::Calls);
        assert_eq!(
            (
                query.end_unix_millis,
                query.lookback_millis,
                query.step_millis
            ),
            (42, 3_600_000, 5_000)
        );
        assert_eq!(query.span_kinds, [SpanKind::Server]);

        check_rejected("calls", "", "at least one service");
        check_rejected("latencies", "service=a", "quantile");
        check_rejected("latencies", "service=a&quantile=1.5", "quantile");
        check_rejected("calls", "service=a&spanKind=sideways", "spanKind");
        check_rejected(
            "calls",
            "service=a&groupByOperation=yes",
            "groupByOperation",
        );
        check_rejected("calls", "service=a&step=-5", "step");
        check_rejected("calls", "service=a&lookback=soon", "lookback");
    }

    #[test]
    fn empty_points_render_as_nan_strings() {
        let point = dto::MetricPointDto {
            gauge_value: dto::GaugeValueDto {
                double_value: dto::DoubleValue(None),
            },
            timestamp: dto::rfc3339(1_796_000_460),
        };
        assert_eq!(
            serde_json::to_string(&point).expect("json"),
            r#"{"gaugeValue":{"doubleValue":"NaN"},"timestamp":"2026-11-30T01:01:00Z"}"#
        );
    }
}
