//! Search and trace assembly over the store, with Jaeger's semantics.
//!
//! Owns the meaning of a query (every filter met by one span, `limit` counts traces,
//! newest first, whole traces returned) and nothing about HTTP or JSON. Store reads
//! block, so each call runs them on the blocking pool.

pub mod metrics;
pub(crate) mod n_plus_one;
mod n_plus_one_counts;
pub(crate) mod tree;
pub(crate) mod views;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::storage::{AttrFilter, Dependency, FilterError, Operation, TraceQuery};
pub use n_plus_one_counts::NPlusOneCounts;

use crate::config::{NPlusOneConfig, QueryConfig};
use crate::model::{Span, SpanKind, TraceId};
use crate::storage::{Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("trace {0} not found")]
    TraceNotFound(TraceId),
    #[error("storage read failed")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    BadMetricsQuery(#[from] metrics::GridError),
    #[error("query task failed")]
    Panicked,
}

/// How many candidate traces an `n_plus_one=true` search examines at most before
/// it answers with what it found: each one is read whole.
const MAX_N_PLUS_ONE_CANDIDATES: usize = 20_000;

#[derive(Debug, Clone)]
pub struct QueryService {
    store: Arc<dyn Storage>,
    n_plus_one: NPlusOneConfig,
}

impl QueryService {
    pub fn new(store: Arc<dyn Storage>, config: &QueryConfig) -> QueryService {
        QueryService {
            store,
            n_plus_one: config.n_plus_one,
        }
    }

    /// The N+1 findings of one trace's spans.
    pub(crate) fn n_plus_one(&self, spans: &[Span]) -> Vec<n_plus_one::Finding> {
        n_plus_one::detect(spans, &self.n_plus_one)
    }

    /// One whole trace, spans ordered by start time; `TraceNotFound` when unknown.
    pub async fn trace(&self, trace_id: TraceId) -> Result<Vec<Span>, QueryError> {
        let mut found = self.traces(vec![trace_id]).await?;
        found
            .pop()
            .and_then(|(_, spans)| spans)
            .ok_or(QueryError::TraceNotFound(trace_id))
    }

    /// Several whole traces, in the order asked; `None` for unknown IDs.
    pub async fn traces(
        &self,
        trace_ids: Vec<TraceId>,
    ) -> Result<Vec<(TraceId, Option<Vec<Span>>)>, QueryError> {
        let store = self.store.clone();
        blocking(move || {
            let mut found = store.read_traces(&trace_ids)?;
            Ok(trace_ids
                .into_iter()
                .map(|trace_id| (trace_id, found.remove(&trace_id).map(normalize_trace)))
                .collect())
        })
        .await
    }

    /// Whole traces with at least one span that meets every filter, newest first.
    pub async fn find_traces(&self, query: TraceQuery) -> Result<Vec<Vec<Span>>, QueryError> {
        let store = self.store.clone();
        if query.n_plus_one {
            let config = self.n_plus_one;
            return blocking(move || find_n_plus_one_traces(store.as_ref(), &query, &config)).await;
        }
        blocking(move || {
            let trace_ids = store.find_trace_ids(&query)?;
            let mut found = store.read_traces(&trace_ids)?;
            Ok(trace_ids
                .iter()
                .filter_map(|trace_id| found.remove(trace_id))
                .map(normalize_trace)
                .collect())
        })
        .await
    }

    /// Of `service`'s traces with a span in `start..=end` (Unix ns), how many have
    /// an N+1 finding, per operation; from a bounded sample of the newest traces
    /// (`n_plus_one_counts`).
    pub async fn n_plus_one_counts(
        &self,
        service: String,
        start_unix_nanos: u64,
        end_unix_nanos: u64,
    ) -> Result<NPlusOneCounts, QueryError> {
        let (store, config) = (self.store.clone(), self.n_plus_one);
        blocking(move || {
            n_plus_one_counts::count(
                store.as_ref(),
                &service,
                (start_unix_nanos, end_unix_nanos),
                &config,
                n_plus_one_counts::MAX_SAMPLED_TRACES,
            )
        })
        .await
    }

    pub async fn services(&self) -> Result<Vec<String>, QueryError> {
        let store = self.store.clone();
        blocking(move || Ok(store.services()?)).await
    }

    pub async fn operations(
        &self,
        service: &str,
        kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>, QueryError> {
        let (store, service) = (self.store.clone(), service.to_owned());
        blocking(move || Ok(store.operations(&service, kind)?)).await
    }

    /// Calls between services (never within one) for spans that started within
    /// `lookback` before `end_unix_nanos`.
    pub async fn dependencies(
        &self,
        end_unix_nanos: u64,
        lookback: Duration,
    ) -> Result<Vec<Dependency>, QueryError> {
        let (start, end) = crate::storage::window(end_unix_nanos, lookback);
        let store = self.store.clone();
        blocking(move || Ok(store.dependencies(start, end)?)).await
    }
}

/// The newest `query.limit` matching traces that have an N+1 finding. Matching
/// traces are examined newest first, in rounds of growing size: the top `2k`
/// matches begin with the top `k`, so each round reads only the new ones.
fn find_n_plus_one_traces(
    store: &dyn Storage,
    query: &TraceQuery,
    config: &NPlusOneConfig,
) -> Result<Vec<Vec<Span>>, QueryError> {
    let mut found = Vec::new();
    let mut examined = 0;
    let mut round = TraceQuery {
        limit: query
            .limit
            .saturating_mul(4)
            .clamp(64, MAX_N_PLUS_ONE_CANDIDATES),
        ..query.clone()
    };
    loop {
        let trace_ids = store.find_trace_ids(&round)?;
        let fresh = trace_ids.get(examined..).unwrap_or_default();
        // In chunks, so memory holds a few hundred candidate traces, not thousands.
        for chunk in fresh.chunks(256) {
            let mut spans_by_id = store.read_traces(chunk)?;
            for trace_id in chunk {
                let Some(spans) = spans_by_id.remove(trace_id) else {
                    continue;
                };
                let spans = normalize_trace(spans);
                if n_plus_one::has_finding(&spans, config) {
                    found.push(spans);
                    if found.len() == query.limit {
                        return Ok(found);
                    }
                }
            }
        }
        examined = trace_ids.len();
        if examined < round.limit || round.limit >= MAX_N_PLUS_ONE_CANDIDATES {
            return Ok(found);
        }
        round.limit = round.limit.saturating_mul(4).min(MAX_N_PLUS_ONE_CANDIDATES);
    }
}

/// Orders a trace's spans by start time and drops exact duplicates (an exporter
/// that retried after a lost acknowledgement sends the same span twice).
/// Spans from outside the store (an opened file) as whole traces, each ordered and
/// de-duplicated as a stored trace is read; traces in order of first appearance.
pub(crate) fn traces_from_spans(spans: Vec<Span>) -> Vec<Vec<Span>> {
    let mut traces: Vec<Vec<Span>> = Vec::new();
    let mut index_of: HashMap<TraceId, usize> = HashMap::new();
    for span in spans {
        let index = *index_of.entry(span.trace_id).or_insert_with(|| {
            traces.push(Vec::new());
            traces.len() - 1
        });
        traces[index].push(span);
    }
    traces.into_iter().map(normalize_trace).collect()
}

fn normalize_trace(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|span| (span.start_unix_nanos, span.span_id));
    spans.dedup();
    spans
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, QueryError> + Send + 'static,
) -> Result<T, QueryError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| QueryError::Panicked)?
}
