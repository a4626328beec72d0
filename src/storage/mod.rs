//! The storage seam: what the ingester writes through and the query service reads
//! through, whichever backend holds the spans.
//!
//! `Storage` is implemented by the embedded store (`crate::store`, the default); a
//! ClickHouse backend is the next implementation. Everything above this module
//! (`ingest`, `query`, `sampling`, `api`) sees only the trait and the value types
//! here; no backend type leaks above it. Only `app` (the wiring) knows which one runs.
//!
//! The methods block: callers run them on tokio's blocking pool. A backend that
//! talks to a server over async I/O drives it from there with a runtime handle.

pub mod filter;
pub mod query;
pub mod red;

use std::collections::HashMap;
use std::time::Duration;

pub use filter::{AttrFilter, FilterError};
pub use query::TraceQuery;
pub use red::{NamedRedCell, RedSelection};

use crate::model::{Span, SpanKind, TraceId};

/// A storage backend: durable writes, trace search and assembly, the catalog of
/// services and operations, dependencies, RED cells and sampling state.
pub trait Storage: Send + Sync + std::fmt::Debug + 'static {
    /// Writes spans; returns how many were written. They are durable (safe to
    /// acknowledge) once `sync` has returned `Ok` after this call.
    fn write_spans(&self, spans: &[&Span]) -> Result<usize, StorageError>;

    /// Makes every span written so far durable.
    fn sync(&self) -> Result<(), StorageError>;

    /// The stored spans of each trace found among `trace_ids`, in no order.
    fn read_traces(
        &self,
        trace_ids: &[TraceId],
    ) -> Result<HashMap<TraceId, Vec<Span>>, StorageError>;

    /// IDs of the newest `query.limit` traces with a span that meets every
    /// condition of `query` (`query::span_matches`), newest first.
    fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>, StorageError>;

    /// Service names, sorted.
    fn services(&self) -> Result<Vec<String>, StorageError>;

    /// Operations of a service, sorted by name then kind; `kind` filters when given.
    fn operations(
        &self,
        service: &str,
        kind: Option<SpanKind>,
    ) -> Result<Vec<Operation>, StorageError>;

    /// Calls between services (never within one) counted from parent/child spans
    /// that started in `start_unix_nanos..=end_unix_nanos`, sorted by (parent, child).
    fn dependencies(
        &self,
        start_unix_nanos: u64,
        end_unix_nanos: u64,
    ) -> Result<Vec<Dependency>, StorageError>;

    /// RED cells of `selection` whose buckets start in `[start_secs, end_secs)`,
    /// at the coarsest resolution that tiles steps of `step_secs`.
    fn red_cells(
        &self,
        selection: &RedSelection,
        step_secs: u64,
        start_secs: u64,
        end_secs: u64,
    ) -> Result<Vec<NamedRedCell>, StorageError>;

    /// Adaptive sampling's (service, operation, probability) rows.
    fn sampling_probabilities(&self) -> Result<Vec<(String, String, f64)>, StorageError>;

    /// Saves adaptive sampling's changed rows.
    fn save_sampling_probabilities(
        &self,
        changed: &[(String, String, f64)],
    ) -> Result<(), StorageError>;
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend cannot take or answer requests right now (a server down, a
    /// full disk); exporters get a retryable status.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("{0} is not supported by this storage backend")]
    Unsupported(&'static str),
    /// A backend's own error; its chain says what failed.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StorageError {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

/// An operation as the query API lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Operation {
    pub name: String,
    pub kind: SpanKind,
}

/// A service-to-service call count, from parent/child spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub parent: String,
    pub child: String,
    pub call_count: u64,
}

/// `lookback` before `end_unix_nanos`, as inclusive span-start bounds.
pub fn window(end_unix_nanos: u64, lookback: Duration) -> (u64, u64) {
    let lookback = lookback.as_nanos().min(u128::from(u64::MAX)) as u64;
    (end_unix_nanos.saturating_sub(lookback), end_unix_nanos)
}
