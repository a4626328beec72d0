//! RED (rate, errors, duration) cells as every backend hands them to the query
//! service: a count, an error count, a latency sketch and exemplar traces per
//! (service, operation, time bucket). How a backend keeps them is its own business.

mod cell;
mod sketch;

pub(crate) use cell::NUM_SLOWEST;
pub use cell::{Exemplar, RedCell, RedCellSum};
pub(crate) use sketch::ln_gamma;
pub use sketch::LatencySketch;

use std::sync::Arc;

use crate::model::SpanKind;

/// Which spans' cells a metrics query reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedSelection {
    pub services: Vec<String>,
    /// Empty means every kind.
    pub span_kinds: Vec<SpanKind>,
    /// Only this operation of the services, when given.
    pub operation: Option<String>,
    /// Whether the cells must be told apart per operation; when not, a backend may
    /// answer with whole-service cells (`NamedRedCell::operation` empty).
    pub by_operation: bool,
}

/// One cell with the names it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedRedCell {
    /// Shared by every cell of the service: a query may return thousands.
    pub service: Arc<str>,
    /// Empty for a cell that counts the whole service.
    pub operation: Arc<str>,
    pub bucket_start_secs: u64,
    pub cell: RedCell,
}
