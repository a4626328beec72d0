//! RED metrics over time for Jaeger's Monitor API and the UI's Monitor page,
//! computed from the store's ingest-time cells (see `store::red`).
//!
//! Jaeger's ClickHouse reader is the model: points every `step` aligned to the
//! epoch, each covering the spans that started in `[t, t + step)`; latency is a
//! quantile in milliseconds, calls a rate per second over the step, errors a
//! fraction of calls. `ratePer` is accepted and ignored, as there. A point without
//! calls has no value (Jaeger's `"NaN"`). Everything here but `QueryService`'s
//! glue is pure.

use std::collections::BTreeMap;

use super::{blocking, QueryError, QueryService};
use crate::model::SpanKind;
use crate::store::{RedCell, Resolution};

/// The finest step cells allow; smaller steps are answered at this one.
pub const MIN_STEP_MILLIS: u64 = 10_000;
/// Most points one series may have, so one request can't ask for millions.
pub const MAX_POINTS: u64 = 10_000;

/// Which spans and which time grid.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub services: Vec<String>,
    /// Empty means every kind.
    pub span_kinds: Vec<SpanKind>,
    pub group_by_operation: bool,
    pub end_unix_millis: u64,
    pub lookback_millis: u64,
    pub step_millis: u64,
}

/// The points of a query: `num_points` steps of `step_secs` from `first_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointGrid {
    pub first_secs: u64,
    pub step_secs: u64,
    pub num_points: usize,
}

/// One series: a service, or one of its operations, with a merged cell per point
/// and for the whole window.
#[derive(Debug, Clone, PartialEq)]
pub struct RedSeries {
    pub service: String,
    pub operation: Option<String>,
    pub points: Vec<RedCell>,
    pub total: RedCell,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GridError {
    #[error("lookback / step gives more than {MAX_POINTS} points")]
    TooManyPoints,
}

impl PointGrid {
    pub fn new(
        end_unix_millis: u64,
        lookback_millis: u64,
        step_millis: u64,
    ) -> Result<PointGrid, GridError> {
        let step_secs = step_millis.max(MIN_STEP_MILLIS).div_ceil(1000);
        let end_secs = end_unix_millis / 1000;
        let start_secs = end_unix_millis.saturating_sub(lookback_millis) / 1000;
        let first_secs = start_secs - start_secs % step_secs;
        let last_secs = end_secs - end_secs % step_secs;
        let num_points = (last_secs - first_secs) / step_secs + 1;
        if num_points > MAX_POINTS {
            return Err(GridError::TooManyPoints);
        }
        Ok(PointGrid {
            first_secs,
            step_secs,
            num_points: num_points as usize,
        })
    }

    pub fn end_secs(&self) -> u64 {
        self.first_secs + self.step_secs * self.num_points as u64
    }

    pub fn timestamp_secs(&self, point: usize) -> u64 {
        self.first_secs + self.step_secs * point as u64
    }

    fn point_of(&self, bucket_start_secs: u64) -> Option<usize> {
        let offset = bucket_start_secs.checked_sub(self.first_secs)?;
        let point = (offset / self.step_secs) as usize;
        (point < self.num_points).then_some(point)
    }
}

/// Groups cells into series on `grid`: per service, or per (service, operation).
/// `cells` are `(service, operation, bucket start, cell)`. Series without any call
/// are left out; the rest are sorted by service, then operation.
pub fn build_series<'a>(
    grid: &PointGrid,
    group_by_operation: bool,
    cells: impl IntoIterator<Item = (&'a str, &'a str, u64, &'a RedCell)>,
) -> Vec<RedSeries> {
    let mut groups: BTreeMap<(&str, Option<&str>), RedSeries> = BTreeMap::new();
    for (service, operation, bucket_start_secs, cell) in cells {
        let Some(point) = grid.point_of(bucket_start_secs) else {
            continue;
        };
        let operation = group_by_operation.then_some(operation);
        let series = groups
            .entry((service, operation))
            .or_insert_with(|| RedSeries {
                service: service.to_owned(),
                operation: operation.map(str::to_owned),
                points: vec![RedCell::default(); grid.num_points],
                total: RedCell::default(),
            });
        series.points[point].merge(cell);
        series.total.merge(cell);
    }
    groups
        .into_values()
        .filter(|series| series.total.num_calls > 0)
        .collect()
}

/// The latency quantile in milliseconds, or `None` without calls.
pub fn latency_millis(cell: &RedCell, quantile: f64) -> Option<f64> {
    cell.latency
        .quantile_nanos(quantile)
        .map(|nanos| nanos / 1e6)
}

/// Calls per second over `seconds`, or `None` without calls.
pub fn call_rate(cell: &RedCell, seconds: u64) -> Option<f64> {
    (cell.num_calls > 0).then(|| cell.num_calls as f64 / seconds.max(1) as f64)
}

/// Failed calls as a fraction of calls, or `None` without calls.
pub fn error_rate(cell: &RedCell) -> Option<f64> {
    (cell.num_calls > 0).then(|| cell.num_errors as f64 / cell.num_calls as f64)
}

/// Where a duration falls among an operation's calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileRank {
    /// Share of calls at most as slow, 0–100.
    pub percentile: f64,
    pub num_calls: u64,
    pub p95_nanos: f64,
}

impl QueryService {
    /// RED series for `query`, grouped per service or per operation.
    pub async fn red_series(
        &self,
        query: MetricsQuery,
    ) -> Result<(PointGrid, Vec<RedSeries>), QueryError> {
        let grid = PointGrid::new(
            query.end_unix_millis,
            query.lookback_millis,
            query.step_millis,
        )?;
        let store = self.store.clone();
        blocking(move || {
            let mut names: BTreeMap<u32, (String, String)> = BTreeMap::new();
            for service in &query.services {
                let Some(service_id) = store.service_id(service) else {
                    continue;
                };
                for (id, kind, name) in store.operation_entries(service_id) {
                    if query.span_kinds.is_empty() || query.span_kinds.contains(&kind) {
                        names.insert(id, (service.clone(), name));
                    }
                }
            }
            let ids: Vec<u32> = names.keys().copied().collect();
            let resolution = Resolution::for_step(grid.step_secs);
            let rows = store.red_cells(&ids, resolution, grid.first_secs, grid.end_secs())?;
            let cells = rows.iter().filter_map(|row| {
                let (service, operation) = names.get(&row.operation_id)?;
                Some((
                    service.as_str(),
                    operation.as_str(),
                    row.bucket_start_secs,
                    &row.cell,
                ))
            });
            Ok((grid, build_series(&grid, query.group_by_operation, cells)))
        })
        .await
    }

    /// Where `duration_nanos` falls among the calls of one operation (all kinds)
    /// that started in the same hour as `start_unix_nanos`; `None` without calls.
    pub async fn percentile_rank(
        &self,
        service: String,
        operation: String,
        start_unix_nanos: u64,
        duration_nanos: u64,
    ) -> Result<Option<PercentileRank>, QueryError> {
        let store = self.store.clone();
        blocking(move || {
            let Some(service_id) = store.service_id(&service) else {
                return Ok(None);
            };
            let ids = store.operation_ids_named(service_id, &operation);
            let hour_start = start_unix_nanos / 1_000_000_000 / 3600 * 3600;
            let rows =
                store.red_cells(&ids, Resolution::TenMinutes, hour_start, hour_start + 3600)?;
            let mut merged = RedCell::default();
            for row in &rows {
                merged.merge(&row.cell);
            }
            let num_calls = merged.latency.count();
            if num_calls == 0 {
                return Ok(None);
            }
            let at_or_below = merged.latency.count_at_or_below(duration_nanos);
            Ok(Some(PercentileRank {
                percentile: 100.0 * at_or_below as f64 / num_calls as f64,
                num_calls,
                p95_nanos: merged.latency.quantile_nanos(0.95).unwrap_or(0.0),
            }))
        })
        .await
    }
}

#[cfg(test)]
mod tests;
