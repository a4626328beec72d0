//! The Monitor page's N+1 column: of one service's traces in a window, how many
//! have an N+1 finding, per operation of that service.
//!
//! A trace counts for an operation when it has a span of the service and operation
//! that started in the window and an N+1 finding anywhere, which is exactly what a
//! search for that service and operation with `n_plus_one=true` returns, so a
//! count and the search it links to agree.
//!
//! **Bounded by a sample, not kept in the RED store.** The count reads the newest
//! `max_traces` traces of the service in the window whole and runs the same
//! detector as the search. The RED store can't hold it: its cells are counted per
//! span as blocks are written, while a finding needs the whole trace (siblings,
//! their parent's duration), whose spans arrive in different exports and blocks;
//! and the thresholds are query-time settings, which stored counts would freeze.
//! When the window holds more traces than the sample, the counts cover the newest
//! ones only and say so (`complete: false`).

use std::collections::{BTreeMap, BTreeSet};

use super::{n_plus_one, normalize_trace, QueryError, TraceQuery};
use crate::config::NPlusOneConfig;
use crate::storage::Storage;

/// Traces one count examines at most: each is read whole.
pub(crate) const MAX_SAMPLED_TRACES: usize = 500;

/// Traces with an N+1 finding, per operation of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NPlusOneCounts {
    /// `(operation, traces)`, by name; operations without such a trace are absent.
    pub by_operation: Vec<(String, u64)>,
    /// Traces read and examined.
    pub num_examined: usize,
    /// Whether those were all the service's traces in the window.
    pub complete: bool,
}

/// Counts over spans of `service` that started in `start..=end` (Unix ns).
pub(super) fn count(
    store: &dyn Storage,
    service: &str,
    (start_unix_nanos, end_unix_nanos): (u64, u64),
    config: &NPlusOneConfig,
    max_traces: usize,
) -> Result<NPlusOneCounts, QueryError> {
    let query = TraceQuery {
        service: Some(service.to_owned()),
        start_min_unix_nanos: start_unix_nanos,
        start_max_unix_nanos: end_unix_nanos,
        // One more than examined, to tell a full window from a capped one.
        limit: max_traces.saturating_add(1),
        ..TraceQuery::default()
    };
    let mut trace_ids = store.find_trace_ids(&query)?;
    let complete = trace_ids.len() <= max_traces;
    trace_ids.truncate(max_traces);
    let mut by_operation: BTreeMap<String, u64> = BTreeMap::new();
    // In chunks, so memory holds a few hundred traces at a time.
    for chunk in trace_ids.chunks(128) {
        let mut spans_by_id = store.read_traces(chunk)?;
        for trace_id in chunk {
            let Some(spans) = spans_by_id.remove(trace_id) else {
                continue;
            };
            let spans = normalize_trace(spans);
            let operations: BTreeSet<&str> = spans
                .iter()
                .filter(|span| {
                    span.service_name() == service
                        && (start_unix_nanos..=end_unix_nanos).contains(&span.start_unix_nanos)
                })
                .map(|span| span.name.as_str())
                .collect();
            if operations.is_empty() || !n_plus_one::has_finding(&spans, config) {
                continue;
            }
            for operation in operations {
                *by_operation.entry(operation.to_owned()).or_default() += 1;
            }
        }
    }
    Ok(NPlusOneCounts {
        by_operation: by_operation.into_iter().collect(),
        num_examined: trace_ids.len(),
        complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreConfig;
    use crate::model::Span;
    use crate::query::views::test_spans::TraceSpec;
    use crate::store::Store;

    /// `api` serves `GET /orders`, with six 10 ms `SELECT item` calls under it
    /// when `n_plus_one`, one otherwise; `GET /health` rides along in trace 1.
    fn trace(id: u8, n_plus_one: bool) -> Vec<Span> {
        let mut spec = TraceSpec::with_id(id).span(0, None, "api", "GET /orders", 0, 100);
        for call in 0..if n_plus_one { 6 } else { 1 } {
            let start = 10 + call * 12;
            spec = spec.span(
                call as u8 + 1,
                Some(0),
                "db",
                "SELECT item",
                start,
                start + 10,
            );
        }
        if id == 1 {
            spec = spec.span(20, None, "api", "GET /health", 0, 1);
        }
        spec.build()
    }

    #[test]
    fn counts_traces_per_operation_and_says_when_capped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig {
            data_dir: dir.path().to_owned(),
            cache_capacity_bytes: 8 << 20,
            max_block_spans: std::num::NonZeroUsize::new(16).unwrap(),
            zstd_level: 1,
            flush_every_ms: 500,
            retention: None,
            red_metrics: false,
            max_disk_bytes: None,
        })
        .unwrap();
        let traces: Vec<Vec<Span>> = (1..=5).map(|id| trace(id, id <= 3)).collect();
        for spans in &traces {
            store
                .write_spans(&spans.iter().collect::<Vec<_>>())
                .unwrap();
        }
        let base = traces[0][0].start_unix_nanos;
        let window = (base, base + 1_000_000_000);
        let config = NPlusOneConfig::default();

        let all = count(&store, "api", window, &config, 10).unwrap();
        assert_eq!(
            all,
            NPlusOneCounts {
                by_operation: vec![("GET /health".into(), 1), ("GET /orders".into(), 3)],
                num_examined: 5,
                complete: true,
            }
        );
        // The finding is in db's spans, but db's operation counts only for db.
        let db = count(&store, "db", window, &config, 10).unwrap();
        assert_eq!(db.by_operation, vec![("SELECT item".to_owned(), 3)]);
        // A window that starts after the root spans: api has no span in it.
        let later = count(&store, "api", (base + 1, base + 1_000_000_000), &config, 10).unwrap();
        assert_eq!((later.by_operation, later.num_examined), (vec![], 0));

        let capped = count(&store, "api", window, &config, 2).unwrap();
        assert_eq!((capped.num_examined, capped.complete), (2, false));
        let sampled: u64 = capped
            .by_operation
            .iter()
            .filter(|(name, _)| name == "GET /orders")
            .map(|(_, traces)| traces)
            .sum();
        assert!(sampled <= 2, "{capped:?}");
    }
}
