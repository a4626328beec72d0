//! RED metrics over time for Jaeger's Monitor API and the UI's Monitor page,
//! computed from the storage's ingest-time cells (see `storage::red`).
//!
//! Jaeger's ClickHouse reader is the model: points every `step` aligned to the
//! epoch, each covering the spans that started in `[t, t + step)`; latency is a
//! quantile in milliseconds, calls a rate per second over the step, errors a
//! fraction of calls. `ratePer` is accepted and ignored, as there. A point without
//! calls has no value (Jaeger's `"NaN"`). Everything here but `QueryService`'s
//! glue is pure.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{blocking, QueryError, QueryService};
use crate::model::{SpanKind, TraceId};
use crate::storage::red::{RedCell, RedCellSum};
use crate::storage::{NamedRedCell, RedSelection};

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
    /// Only this operation of the services, when given (the UI's own pages).
    pub operation: Option<String>,
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
/// `cells` are `(service, operation, bucket start, cell)`; owned cells move into
/// empty points instead of being copied. Series without any call are left out; the
/// rest are sorted by service, then operation.
pub fn build_series<'a>(
    grid: &PointGrid,
    group_by_operation: bool,
    cells: impl IntoIterator<Item = (&'a str, &'a str, u64, Cow<'a, RedCell>)>,
) -> Vec<RedSeries> {
    let mut groups: BTreeMap<(&str, Option<&str>), usize> = BTreeMap::new();
    let mut series: Vec<RedSeries> = Vec::new();
    let mut totals: Vec<RedCellSum> = Vec::new();
    // Cells come grouped by cell id, so the group is mostly the previous one's.
    let mut previous: Option<((&str, Option<&str>), usize)> = None;
    for (service, operation, bucket_start_secs, cell) in cells {
        let Some(point) = grid.point_of(bucket_start_secs) else {
            continue;
        };
        let key = (service, group_by_operation.then_some(operation));
        let index = match previous {
            Some((previous_key, index)) if previous_key == key => index,
            _ => *groups.entry(key).or_insert_with(|| {
                series.push(RedSeries {
                    service: service.to_owned(),
                    operation: key.1.map(str::to_owned),
                    points: vec![RedCell::default(); grid.num_points],
                    total: RedCell::default(),
                });
                totals.push(RedCellSum::default());
                series.len() - 1
            }),
        };
        previous = Some((key, index));
        totals[index].add(&cell);
        let target = &mut series[index].points[point];
        if target.num_calls == 0 && *target == RedCell::default() {
            *target = cell.into_owned();
        } else {
            target.merge(&cell);
        }
    }
    for (series, total) in series.iter_mut().zip(totals) {
        series.total = total.finish();
    }
    let mut series: Vec<Option<RedSeries>> = series.into_iter().map(Some).collect();
    groups
        .into_values()
        .filter_map(|index| series[index].take())
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

/// A trace worth opening for a bucket: one of its slowest, or a failed one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExemplarTrace {
    pub trace_id: TraceId,
    pub duration_nanos: u64,
    pub is_error: bool,
}

/// Counts of calls per time column and duration row, for a latency heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Lower bound of each duration row in nanoseconds, ascending; a row ends where
    /// the next begins (`ROWS_PER_DECADE` rows per factor of ten).
    pub row_starts_nanos: Vec<f64>,
    /// `counts[column][row]`, one column per grid point.
    pub counts: Vec<Vec<u64>>,
}

/// Heatmap rows per factor of ten in duration.
const ROWS_PER_DECADE: f64 = 5.0;
/// The most exemplar traces one request returns.
pub const MAX_EXEMPLARS: usize = 20;

/// The slowest and failed traces of `cells`, each trace once, failed ones first,
/// then slowest first.
pub fn exemplars<'a>(cells: impl IntoIterator<Item = &'a RedCell>) -> Vec<ExemplarTrace> {
    let mut best: BTreeMap<TraceId, ExemplarTrace> = BTreeMap::new();
    for cell in cells {
        let errors = cell.error.iter().map(|exemplar| (exemplar, true));
        let slowest = cell.slowest.iter().map(|exemplar| (exemplar, false));
        for (exemplar, is_error) in errors.chain(slowest) {
            let entry = best.entry(exemplar.trace_id).or_insert(ExemplarTrace {
                trace_id: exemplar.trace_id,
                duration_nanos: exemplar.duration_nanos,
                is_error,
            });
            entry.duration_nanos = entry.duration_nanos.max(exemplar.duration_nanos);
            entry.is_error |= is_error;
        }
    }
    let mut list: Vec<ExemplarTrace> = best.into_values().collect();
    list.sort_by(|a, b| {
        b.is_error
            .cmp(&a.is_error)
            .then(b.duration_nanos.cmp(&a.duration_nanos))
    });
    list.truncate(MAX_EXEMPLARS);
    list
}

/// Bins each column's sketch into duration rows spanning the observed durations.
pub fn heatmap(columns: &[RedCell]) -> Heatmap {
    let row_of = |nanos: f64| (nanos.max(1.0).log10() * ROWS_PER_DECADE).floor() as i64;
    let mut rows = columns
        .iter()
        .flat_map(|cell| cell.latency.buckets())
        .map(|(nanos, _)| row_of(nanos));
    let Some(first) = rows.next() else {
        return Heatmap {
            row_starts_nanos: Vec::new(),
            counts: vec![Vec::new(); columns.len()],
        };
    };
    let (low, high) = rows.fold((first, first), |(low, high), row| {
        (low.min(row), high.max(row))
    });
    let num_rows = (high - low + 1) as usize;
    let counts = columns
        .iter()
        .map(|cell| {
            let mut counts = vec![0u64; num_rows];
            for (nanos, count) in cell.latency.buckets() {
                counts[(row_of(nanos) - low) as usize] += count;
            }
            counts
        })
        .collect();
    Heatmap {
        row_starts_nanos: (low..=high)
            .map(|row| 10f64.powf(row as f64 / ROWS_PER_DECADE))
            .collect(),
        counts,
    }
}

/// An operation's duration distribution in one hour, for percentile badges.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationDistribution {
    pub service: String,
    pub operation: String,
    pub num_calls: u64,
    pub p95_nanos: f64,
    /// `(bucket's upper duration in nanoseconds, calls at or below it)`, ascending.
    pub cumulative: Vec<(f64, u64)>,
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
            let selection = RedSelection {
                services: query.services.clone(),
                span_kinds: query.span_kinds.clone(),
                operation: query.operation.clone(),
                by_operation: query.group_by_operation,
            };
            let mut named =
                store.red_cells(&selection, grid.step_secs, grid.first_secs, grid.end_secs())?;
            let cells = named.iter_mut().map(|named| {
                let NamedRedCell {
                    service,
                    operation,
                    bucket_start_secs,
                    cell,
                } = named;
                let cell = std::mem::take(cell);
                (
                    &**service,
                    &**operation,
                    *bucket_start_secs,
                    Cow::Owned(cell),
                )
            });
            Ok((grid, build_series(&grid, query.group_by_operation, cells)))
        })
        .await
    }

    /// The latency heatmap of `query`'s spans: one column per grid point.
    pub async fn red_heatmap(
        &self,
        query: MetricsQuery,
    ) -> Result<(PointGrid, Heatmap), QueryError> {
        let (grid, series) = self
            .red_series(MetricsQuery {
                group_by_operation: false,
                ..query
            })
            .await?;
        let mut columns = vec![RedCell::default(); grid.num_points];
        for series in &series {
            for (column, cell) in columns.iter_mut().zip(&series.points) {
                column.merge(cell);
            }
        }
        Ok((grid, heatmap(&columns)))
    }

    /// Exemplar traces of `query`'s spans in its window.
    pub async fn red_exemplars(
        &self,
        query: MetricsQuery,
    ) -> Result<Vec<ExemplarTrace>, QueryError> {
        let (_, series) = self
            .red_series(MetricsQuery {
                group_by_operation: false,
                ..query
            })
            .await?;
        Ok(exemplars(series.iter().flat_map(|series| &series.points)))
    }

    /// The duration distribution of each (service, operation) in the hour that
    /// starts at `hour_start_secs`, across span kinds; pairs without calls are left out.
    pub async fn operation_distributions(
        &self,
        pairs: Vec<(String, String)>,
        hour_start_secs: u64,
    ) -> Result<Vec<OperationDistribution>, QueryError> {
        let store = self.store.clone();
        blocking(move || {
            let mut found = Vec::new();
            for (service, operation) in pairs {
                let selection = RedSelection {
                    services: vec![service.clone()],
                    span_kinds: Vec::new(),
                    operation: Some(operation.clone()),
                    by_operation: true,
                };
                let rows =
                    store.red_cells(&selection, 600, hour_start_secs, hour_start_secs + 3600)?;
                let mut merged = RedCell::default();
                for row in &rows {
                    merged.merge(&row.cell);
                }
                if merged.num_calls == 0 {
                    continue;
                }
                found.push(OperationDistribution {
                    service,
                    operation,
                    num_calls: merged.num_calls,
                    p95_nanos: merged.latency.quantile_nanos(0.95).unwrap_or(0.0),
                    cumulative: merged.latency.cumulative(),
                });
            }
            Ok(found)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
