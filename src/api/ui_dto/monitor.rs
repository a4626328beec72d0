//! The Monitor page's, the search heatmap's and the percentile badges' JSON:
//! `/internal/ui/monitor/*` and `/internal/ui/traces/{id}/durations`. Durations are
//! microseconds and times milliseconds, as elsewhere in the UI's API.

use serde::Serialize;

use crate::query::metrics::{
    self, ExemplarTrace, Heatmap, OperationDistribution, PointGrid, RedSeries,
};
use crate::query::NPlusOneCounts;
use crate::storage::red::RedCell;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MonitorDto {
    pub(crate) step_ms: u64,
    pub(crate) start_ms: u64,
    pub(crate) end_ms: u64,
    pub(crate) timestamps_ms: Vec<u64>,
    /// Services, or the operations of one service.
    pub(crate) rows: Vec<MonitorRowDto>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MonitorRowDto {
    pub(crate) name: String,
    /// Calls per second over the window.
    pub(crate) rate: f64,
    /// Failed calls as a fraction.
    pub(crate) error_rate: f64,
    pub(crate) p50_us: f64,
    pub(crate) p95_us: f64,
    pub(crate) p99_us: f64,
    /// Rate × p95 in milliseconds: where time goes.
    pub(crate) impact: f64,
    pub(crate) points: MonitorPointsDto,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MonitorPointsDto {
    pub(crate) rate: Vec<Option<f64>>,
    pub(crate) error_rate: Vec<Option<f64>>,
    pub(crate) p50_us: Vec<Option<f64>>,
    pub(crate) p95_us: Vec<Option<f64>>,
    pub(crate) p99_us: Vec<Option<f64>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeatmapDto {
    pub(crate) step_ms: u64,
    pub(crate) timestamps_ms: Vec<u64>,
    pub(crate) row_starts_us: Vec<f64>,
    pub(crate) counts: Vec<Vec<u64>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExemplarDto {
    pub(crate) trace_id: String,
    pub(crate) duration_us: f64,
    pub(crate) error: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DistributionDto {
    pub(crate) service: String,
    pub(crate) operation: String,
    pub(crate) num_calls: u64,
    pub(crate) p95_us: f64,
    /// `[upper bound in µs, calls at or below it]`, ascending.
    pub(crate) cumulative: Vec<(f64, u64)>,
}

/// `/internal/ui/monitor/n-plus-one`: traces with an N+1 finding per operation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NPlusOneCountsDto {
    /// Operations with at least one such trace, by name.
    pub(crate) operations: Vec<OperationCountDto>,
    /// Traces examined: the newest of the window, up to a bound.
    pub(crate) num_examined: usize,
    /// `false` when the window held more traces than were examined.
    pub(crate) complete: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationCountDto {
    pub(crate) name: String,
    pub(crate) traces: u64,
}

pub(crate) fn n_plus_one_counts(counts: NPlusOneCounts) -> NPlusOneCountsDto {
    NPlusOneCountsDto {
        operations: counts
            .by_operation
            .into_iter()
            .map(|(name, traces)| OperationCountDto { name, traces })
            .collect(),
        num_examined: counts.num_examined,
        complete: counts.complete,
    }
}

pub(crate) fn monitor(grid: &PointGrid, series: &[RedSeries]) -> MonitorDto {
    let window_secs = grid.step_secs * grid.num_points as u64;
    let rows = series
        .iter()
        .map(|series| {
            let total = &series.total;
            let rate = metrics::call_rate(total, window_secs).unwrap_or(0.0);
            let p95_us = micros(total, 0.95).unwrap_or(0.0);
            let per_point = |value: &dyn Fn(&RedCell) -> Option<f64>| {
                series.points.iter().map(value).collect::<Vec<_>>()
            };
            MonitorRowDto {
                name: series
                    .operation
                    .clone()
                    .unwrap_or_else(|| series.service.clone()),
                rate,
                error_rate: metrics::error_rate(total).unwrap_or(0.0),
                p50_us: micros(total, 0.5).unwrap_or(0.0),
                p95_us,
                p99_us: micros(total, 0.99).unwrap_or(0.0),
                impact: rate * p95_us / 1e3,
                points: MonitorPointsDto {
                    rate: per_point(&|cell| metrics::call_rate(cell, grid.step_secs)),
                    error_rate: per_point(&metrics::error_rate),
                    p50_us: per_point(&|cell| micros(cell, 0.5)),
                    p95_us: per_point(&|cell| micros(cell, 0.95)),
                    p99_us: per_point(&|cell| micros(cell, 0.99)),
                },
            }
        })
        .collect();
    MonitorDto {
        step_ms: grid.step_secs * 1000,
        start_ms: grid.first_secs * 1000,
        end_ms: grid.end_secs() * 1000,
        timestamps_ms: timestamps_ms(grid),
        rows,
    }
}

pub(crate) fn heatmap(grid: &PointGrid, heatmap: Heatmap) -> HeatmapDto {
    HeatmapDto {
        step_ms: grid.step_secs * 1000,
        timestamps_ms: timestamps_ms(grid),
        row_starts_us: heatmap
            .row_starts_nanos
            .iter()
            .map(|nanos| nanos / 1e3)
            .collect(),
        counts: heatmap.counts,
    }
}

pub(crate) fn exemplars(exemplars: &[ExemplarTrace]) -> Vec<ExemplarDto> {
    exemplars
        .iter()
        .map(|exemplar| ExemplarDto {
            trace_id: exemplar.trace_id.to_hex(),
            duration_us: exemplar.duration_nanos as f64 / 1e3,
            error: exemplar.is_error,
        })
        .collect()
}

pub(crate) fn distributions(found: Vec<OperationDistribution>) -> Vec<DistributionDto> {
    found
        .into_iter()
        .map(|found| DistributionDto {
            service: found.service,
            operation: found.operation,
            num_calls: found.num_calls,
            p95_us: found.p95_nanos / 1e3,
            cumulative: found
                .cumulative
                .into_iter()
                .map(|(nanos, count)| (nanos / 1e3, count))
                .collect(),
        })
        .collect()
}

fn micros(cell: &RedCell, quantile: f64) -> Option<f64> {
    metrics::latency_millis(cell, quantile).map(|millis| millis * 1e3)
}

fn timestamps_ms(grid: &PointGrid) -> Vec<u64> {
    (0..grid.num_points)
        .map(|point| grid.timestamp_secs(point) * 1000)
        .collect()
}
