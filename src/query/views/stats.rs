//! The statistics table of one trace: per (service, operation), how many spans,
//! their total, average, shortest and longest durations, their self time and its
//! share of the trace.

use std::collections::HashMap;

use crate::model::Span;
use crate::query::tree::TraceTree;

use super::frames::self_times_us;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OperationStats {
    pub(crate) service: String,
    pub(crate) operation: String,
    pub(crate) num_spans: u64,
    pub(crate) num_errors: u64,
    pub(crate) total_us: u64,
    pub(crate) min_us: u64,
    pub(crate) max_us: u64,
    pub(crate) self_total_us: u64,
    pub(crate) self_min_us: u64,
    pub(crate) self_max_us: u64,
}

impl OperationStats {
    pub(crate) fn avg_us(&self) -> u64 {
        self.total_us / self.num_spans.max(1)
    }

    pub(crate) fn self_avg_us(&self) -> u64 {
        self.self_total_us / self.num_spans.max(1)
    }

    /// Self time as a percentage of the trace's duration. Parallel work can make
    /// the rows add up to more than 100.
    pub(crate) fn self_percent(&self, trace_duration_us: u64) -> f64 {
        100.0 * self.self_total_us as f64 / trace_duration_us.max(1) as f64
    }
}

/// One entry per (service, operation), most self time first.
pub(crate) fn operation_stats(tree: &TraceTree, spans: &[Span]) -> Vec<OperationStats> {
    let self_us = self_times_us(tree, spans);
    let mut by_key: HashMap<(&str, &str), OperationStats> = HashMap::new();
    for (row, own) in tree.rows.iter().zip(self_us) {
        let span = &spans[row.span_index];
        let entry = by_key
            .entry((span.resource.service_name.as_str(), span.name.as_str()))
            .or_insert_with(|| OperationStats {
                service: span.resource.service_name.clone(),
                operation: span.name.clone(),
                num_spans: 0,
                num_errors: 0,
                total_us: 0,
                min_us: u64::MAX,
                max_us: 0,
                self_total_us: 0,
                self_min_us: u64::MAX,
                self_max_us: 0,
            });
        entry.num_spans += 1;
        entry.num_errors += u64::from(span.is_error());
        entry.total_us += row.duration_us;
        entry.min_us = entry.min_us.min(row.duration_us);
        entry.max_us = entry.max_us.max(row.duration_us);
        entry.self_total_us += own;
        entry.self_min_us = entry.self_min_us.min(own);
        entry.self_max_us = entry.self_max_us.max(own);
    }
    let mut stats: Vec<OperationStats> = by_key.into_values().collect();
    stats.sort_by(|a, b| {
        b.self_total_us
            .cmp(&a.self_total_us)
            .then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
    });
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::tree;
    use crate::query::views::test_spans::TraceSpec;

    #[test]
    fn stats_per_operation_with_self_time() {
        let spans = TraceSpec::new()
            .span(0, None, "front", "GET", 0, 100)
            .span(1, Some(0), "db", "SELECT", 10, 30)
            .span(2, Some(0), "db", "SELECT", 40, 50)
            .error()
            .span(3, Some(2), "db", "lock", 42, 44)
            .build();
        let tree = tree::build(&spans);
        let stats = operation_stats(&tree, &spans);
        let front = &stats[0];
        assert_eq!(
            (front.service.as_str(), front.operation.as_str()),
            ("front", "GET")
        );
        assert_eq!(front.self_total_us, 70_000);
        assert!((front.self_percent(100_000) - 70.0).abs() < 1e-9);
        let select = &stats[1];
        assert_eq!(select.operation, "SELECT");
        assert_eq!(
            (
                select.num_spans,
                select.num_errors,
                select.total_us,
                select.min_us,
                select.max_us
            ),
            (2, 1, 30_000, 10_000, 20_000)
        );
        assert_eq!(
            (select.self_total_us, select.self_min_us, select.self_max_us),
            (28_000, 8_000, 20_000)
        );
        assert_eq!(select.avg_us(), 15_000);
        assert_eq!(stats[2].operation, "lock");
    }
}
