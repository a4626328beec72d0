//! Finding the traces that match a query: plan over block metadata, skip blocks
//! whose term filter rules the tags out, then scan the candidate blocks newest first
//! and stop as soon as the newest `limit` traces are certain. The filter only rules
//! blocks out; `storage::query::span_matches` is the one place a span is matched.

use std::collections::HashMap;
use std::time::Duration;

use super::codec::SpanSummary;
use super::{BlockMeta, Store, StoreError};
use crate::model::search_terms::query_terms;
use crate::model::{SpanFields, TraceId};
use crate::storage::filter::AttrFilter;
use crate::storage::query::span_matches;
use crate::storage::TraceQuery;

/// IDs of the newest `limit` matching traces, newest first.
pub(crate) fn matching_trace_ids(
    store: &Store,
    query: &TraceQuery,
) -> Result<Vec<TraceId>, StoreError> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let Some(plan) = Plan::new(store, query) else {
        return Ok(Vec::new());
    };
    let mut candidates: Vec<std::sync::Arc<BlockMeta>> = store
        .blocks()
        .into_iter()
        .filter(|meta| plan.may_match(meta))
        .collect();
    candidates.sort_by_key(|meta| std::cmp::Reverse(meta.max_start_unix_nanos));

    // What a block's summary (operation, start and duration per span) can check: the
    // service's or operation's ids and the time filters. Without tag filters that is
    // the whole query, unless it names an operation without a service (which the
    // ids can't express), and the summaries are a few percent of a block. With tag
    // filters it still tells which traces of a block are worth scanning.
    let operations: Option<Vec<u32>> = match (&plan.operation_ids, plan.service_id) {
        (Some(ids), _) => Some(sorted(ids.clone())),
        (None, Some(service_id)) => Some(sorted(store.operation_ids_of(service_id))),
        (None, None) => None,
    };
    let summary_may_match = |span: &SpanSummary| {
        operations
            .as_ref()
            .is_none_or(|ids| ids.binary_search(&span.operation).is_ok())
            && plan.span_in_range(span.start_unix_nanos, span.duration_nanos, query)
    };
    let attribute_free = query.tags.is_empty() && query.filters.is_empty();
    let summary_decides = attribute_free && (operations.is_some() || query.operation.is_none());

    // Each tag, and each `filter=` equality or presence, needs one of its terms in a
    // block's filter (`model::search_terms`): blocks that lack one are skipped unread.
    let required_terms: Vec<Vec<u64>> = query
        .tags
        .iter()
        .map(|(key, value)| query_terms(key, value))
        .chain(query.filters.iter().filter_map(AttrFilter::required_terms))
        .collect();

    // Newest matching span start per trace.
    let mut newest: HashMap<TraceId, u64> = HashMap::new();
    let mut kth = 0;
    let (num_candidates, mut num_read, mut num_filtered) = (candidates.len(), 0, 0);
    for meta in candidates {
        if meta.max_start_unix_nanos < kth {
            break; // nothing in this or any later block can displace the current top `limit`
        }
        num_read += 1;
        // A span that starts before the current `limit`-th newest match can't bring
        // its trace into the top `limit`, so a trace with no later span is left
        // unread (and a block with none is not decompressed past its summary).
        let may_match =
            |span: &SpanSummary| span.start_unix_nanos >= kth && summary_may_match(span);
        if summary_decides {
            let Some(summary) = store.read_summary(&meta)? else {
                continue;
            };
            summary.for_each(|trace_id, span| {
                if may_match(span) {
                    note_match(&mut newest, *trace_id, span.start_unix_nanos);
                }
            });
        } else {
            if !store.may_contain_terms(&meta, &required_terms)? {
                num_filtered += 1;
                continue;
            }
            store.scan_block(&meta, may_match, |span| {
                if span_matches(span, query) {
                    note_match(&mut newest, span.trace_id, span.start_unix_nanos());
                }
            })?;
        }
        if newest.len() >= query.limit {
            kth = kth_newest(&newest, query.limit);
        }
    }
    tracing::debug!(
        num_candidates,
        num_read,
        num_filtered,
        summary_only = summary_decides,
        num_traces = newest.len(),
        "search planned and read"
    );
    let mut ranked: Vec<(TraceId, u64)> = newest.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(query.limit);
    Ok(ranked.into_iter().map(|(trace_id, _)| trace_id).collect())
}

fn note_match(newest: &mut HashMap<TraceId, u64>, trace_id: TraceId, start: u64) {
    let entry = newest.entry(trace_id).or_insert(start);
    *entry = (*entry).max(start);
}

fn sorted(mut ids: Vec<u32>) -> Vec<u32> {
    ids.sort_unstable();
    ids
}

fn kth_newest(newest: &HashMap<TraceId, u64>, k: usize) -> u64 {
    let mut starts: Vec<u64> = newest.values().copied().collect();
    starts.sort_unstable_by(|a, b| b.cmp(a));
    starts.get(k - 1).copied().unwrap_or(0)
}

/// What block metadata can rule out without reading a block.
struct Plan {
    service_id: Option<u32>,
    operation_ids: Option<Vec<u32>>,
    start_min: u64,
    start_max: u64,
    duration_min_nanos: u64,
}

impl Plan {
    /// `None` when the query can match nothing (unknown service or operation).
    fn new(store: &Store, query: &TraceQuery) -> Option<Plan> {
        let service_id = match &query.service {
            Some(service) => Some(store.service_id(service)?),
            None => None,
        };
        let operation_ids = match (&query.operation, service_id) {
            (Some(operation), Some(service_id)) => {
                let ids = store.operation_ids_named(service_id, operation);
                if ids.is_empty() {
                    return None;
                }
                Some(ids)
            }
            _ => None,
        };
        Some(Plan {
            service_id,
            operation_ids,
            start_min: query.start_min_unix_nanos,
            start_max: query.start_max_unix_nanos,
            duration_min_nanos: query
                .duration_min
                .map_or(0, |min| min.as_nanos().min(u128::from(u64::MAX)) as u64),
        })
    }

    /// The time filters of `query`, for a span known only by its summary.
    fn span_in_range(&self, start: u64, duration_nanos: u64, query: &TraceQuery) -> bool {
        let duration = Duration::from_nanos(duration_nanos);
        (self.start_min..=self.start_max).contains(&start)
            && query.duration_min.is_none_or(|min| duration >= min)
            && query.duration_max.is_none_or(|max| duration <= max)
    }

    fn may_match(&self, meta: &BlockMeta) -> bool {
        meta.max_start_unix_nanos >= self.start_min
            && meta.min_start_unix_nanos <= self.start_max
            && meta.max_duration_nanos >= self.duration_min_nanos
            && self
                .service_id
                .is_none_or(|id| meta.services.binary_search(&id).is_ok())
            && self
                .operation_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|id| meta.operations.contains(*id)))
    }
}

#[cfg(test)]
mod tests;
