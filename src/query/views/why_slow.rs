//! "Why slow?": what the slow traces of one operation have in common.
//!
//! The traces are split into slow (above the 90th percentile of trace duration,
//! or inside a duration range the user brushed) and the rest. Then:
//! - attribute values (span, resource and event attributes, anywhere in the
//!   trace) are ranked by how much more often they occur in slow traces;
//! - (service, operation) nodes are ranked by how much more self time the slow
//!   traces spend in them per trace, with the difference in calls.

use std::collections::{HashMap, HashSet};

use crate::model::{Attribute, Span};
use crate::query::tree;

use super::frames::self_times_us;

/// Findings shown per kind.
pub(crate) const MAX_FINDINGS: usize = 20;
/// Longer values are identifiers or payloads, not properties to compare.
const MAX_VALUE_CHARS: usize = 120;

/// Which traces count as slow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SlowSplit {
    /// Above the 90th percentile of trace duration.
    AboveP90,
    /// Trace duration within `[min, max]` µs (a brushed range).
    Range { min_us: u64, max_us: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WhySlow {
    pub(crate) num_traces: usize,
    pub(crate) num_slow: usize,
    /// The slow group's duration bounds, µs.
    pub(crate) slow_min_us: u64,
    pub(crate) slow_max_us: u64,
    pub(crate) attributes: Vec<AttributeFinding>,
    pub(crate) operations: Vec<OperationFinding>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttributeFinding {
    pub(crate) key: String,
    pub(crate) value: String,
    /// Traces carrying the value, per group.
    pub(crate) num_slow: usize,
    pub(crate) num_other: usize,
    /// Fractions of each group, 0–1.
    pub(crate) slow_share: f64,
    pub(crate) other_share: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OperationFinding {
    pub(crate) service: String,
    pub(crate) operation: String,
    /// Per trace, averaged over each group.
    pub(crate) slow_calls: f64,
    pub(crate) other_calls: f64,
    pub(crate) slow_self_us: f64,
    pub(crate) other_self_us: f64,
}

/// Analyses whole traces (each a list of spans); empty traces are skipped.
pub(crate) fn analyse(traces: &[Vec<Span>], split: SlowSplit) -> WhySlow {
    let traces: Vec<&Vec<Span>> = traces.iter().filter(|spans| !spans.is_empty()).collect();
    let durations: Vec<u64> = traces.iter().map(|spans| duration_us(spans)).collect();
    let is_slow: Vec<bool> = match split {
        SlowSplit::AboveP90 => {
            let threshold = percentile(&durations, 0.9);
            durations.iter().map(|&us| us > threshold).collect()
        }
        SlowSplit::Range { min_us, max_us } => durations
            .iter()
            .map(|&us| (min_us..=max_us).contains(&us))
            .collect(),
    };
    let num_slow = is_slow.iter().filter(|&&slow| slow).count();
    let num_other = traces.len() - num_slow;
    let slow_durations = || {
        durations
            .iter()
            .zip(&is_slow)
            .filter(|(_, slow)| **slow)
            .map(|(us, _)| *us)
    };

    // Attribute values: in how many traces of each group.
    let mut value_counts: HashMap<(String, String), (usize, usize)> = HashMap::new();
    // (service, operation): (calls, self µs) summed per group.
    let mut node_sums: HashMap<(String, String), [(u64, u64); 2]> = HashMap::new();
    for (spans, &slow) in traces.iter().zip(&is_slow) {
        for pair in trace_values(spans) {
            let counts = value_counts.entry(pair).or_default();
            if slow {
                counts.0 += 1
            } else {
                counts.1 += 1
            }
        }
        let tree = tree::build(spans);
        for (row, own) in tree.rows.iter().zip(self_times_us(&tree, spans)) {
            let span = &spans[row.span_index];
            let sums = node_sums
                .entry((span.resource.service_name.clone(), span.name.clone()))
                .or_default();
            let group = &mut sums[usize::from(!slow)];
            group.0 += 1;
            group.1 += own;
        }
    }
    let share = |count: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            count as f64 / of as f64
        }
    };

    let mut attributes: Vec<AttributeFinding> = value_counts
        .into_iter()
        // A value seen in a single trace says nothing about a group.
        .filter(|(_, (slow, other))| slow + other >= 2 && *slow > 0)
        .map(|((key, value), (slow, other))| AttributeFinding {
            key,
            value,
            num_slow: slow,
            num_other: other,
            slow_share: share(slow, num_slow),
            other_share: share(other, num_other),
        })
        .filter(|finding| finding.slow_share > finding.other_share)
        .collect();
    attributes.sort_by(|a, b| {
        (b.slow_share - b.other_share)
            .total_cmp(&(a.slow_share - a.other_share))
            .then_with(|| (&a.key, &a.value).cmp(&(&b.key, &b.value)))
    });
    attributes.truncate(MAX_FINDINGS);

    let average = |sum: u64, of: usize| if of == 0 { 0.0 } else { sum as f64 / of as f64 };
    let mut operations: Vec<OperationFinding> = node_sums
        .into_iter()
        .map(|((service, operation), [slow, other])| OperationFinding {
            service,
            operation,
            slow_calls: average(slow.0, num_slow),
            other_calls: average(other.0, num_other),
            slow_self_us: average(slow.1, num_slow),
            other_self_us: average(other.1, num_other),
        })
        .filter(|finding| {
            finding.slow_self_us > finding.other_self_us || finding.slow_calls > finding.other_calls
        })
        .collect();
    operations.sort_by(|a, b| {
        (b.slow_self_us - b.other_self_us)
            .total_cmp(&(a.slow_self_us - a.other_self_us))
            .then_with(|| (b.slow_calls - b.other_calls).total_cmp(&(a.slow_calls - a.other_calls)))
            .then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
    });
    operations.truncate(MAX_FINDINGS);

    WhySlow {
        num_traces: traces.len(),
        num_slow,
        slow_min_us: slow_durations().min().unwrap_or(0),
        slow_max_us: slow_durations().max().unwrap_or(0),
        attributes,
        operations,
    }
}

/// A trace's duration: earliest start to latest end, µs.
pub(crate) fn duration_us(spans: &[Span]) -> u64 {
    let start = spans
        .iter()
        .map(|span| span.start_unix_nanos)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|span| span.end_unix_nanos)
        .max()
        .unwrap_or(0);
    end.saturating_sub(start) / 1000
}

/// The nearest-rank percentile (`fraction` in 0–1); 0 for no values.
fn percentile(values: &[u64], fraction: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Every distinct (key, value) of a trace's span, resource and event attributes.
fn trace_values(spans: &[Span]) -> HashSet<(String, String)> {
    let mut values = HashSet::new();
    let mut add = |attributes: &[Attribute]| {
        for attribute in attributes {
            let value = attribute.value.to_search_string();
            if value.chars().count() <= MAX_VALUE_CHARS {
                values.insert((attribute.key.clone(), value));
            }
        }
    };
    let mut resources_seen = HashSet::new();
    for span in spans {
        add(&span.attributes);
        for event in &span.events {
            add(&event.attributes);
        }
        if resources_seen.insert(std::sync::Arc::as_ptr(&span.resource)) {
            add(&span.resource.attributes);
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::views::test_spans::TraceSpec;

    /// 20 traces: 2 slow ones carry tier=gold and an extra cache.miss call of
    /// 180 ms; of the fast ones, 2 are gold too.
    fn traces() -> Vec<Vec<Span>> {
        (0..20u8)
            .map(|index| {
                let slow = index >= 18;
                let tier = if slow || index < 2 { "gold" } else { "silver" };
                let mut trace = TraceSpec::with_id(index)
                    .span(
                        0,
                        None,
                        "front",
                        "GET /api",
                        0,
                        if slow { 300 } else { 100 + u64::from(index) },
                    )
                    .attr("customer.tier", tier)
                    .attr("http.method", "GET")
                    .span(1, Some(0), "db", "SELECT", 10, 60);
                if slow {
                    trace = trace.span(2, Some(0), "cache", "cache.miss", 100, 280);
                }
                trace.build()
            })
            .collect()
    }

    #[test]
    fn gold_tier_and_cache_miss_rank_first() {
        let result = analyse(&traces(), SlowSplit::AboveP90);
        assert_eq!((result.num_traces, result.num_slow), (20, 2));
        assert_eq!((result.slow_min_us, result.slow_max_us), (300_000, 300_000));
        let top = &result.attributes[0];
        assert_eq!(
            (top.key.as_str(), top.value.as_str()),
            ("customer.tier", "gold")
        );
        assert_eq!((top.num_slow, top.num_other), (2, 2));
        assert!((top.slow_share - 1.0).abs() < 1e-9 && (top.other_share - 2.0 / 18.0).abs() < 1e-9);
        assert!(result
            .attributes
            .iter()
            .all(|finding| finding.key != "http.method"));
        let node = &result.operations[0];
        assert_eq!(
            (node.service.as_str(), node.operation.as_str()),
            ("cache", "cache.miss")
        );
        assert_eq!((node.slow_calls, node.other_calls), (1.0, 0.0));
        assert_eq!((node.slow_self_us, node.other_self_us), (180_000.0, 0.0));
    }

    #[test]
    fn a_brushed_range_picks_the_slow_group() {
        // 112–117 ms: the six slowest of the fast traces.
        let result = analyse(
            &traces(),
            SlowSplit::Range {
                min_us: 112_000,
                max_us: 117_000,
            },
        );
        assert_eq!(result.num_slow, 6);
        assert!(result
            .attributes
            .iter()
            .all(|finding| finding.value != "gold"));
        assert!(result
            .operations
            .iter()
            .all(|finding| finding.operation != "cache.miss"));
    }

    #[test]
    fn nothing_to_analyse() {
        let result = analyse(&[], SlowSplit::AboveP90);
        assert_eq!((result.num_traces, result.num_slow), (0, 0));
        assert!(result.attributes.is_empty() && result.operations.is_empty());
    }
}
