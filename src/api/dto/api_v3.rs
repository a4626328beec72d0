//! api_v3's own JSON: the `{"result":…}` envelope, errors, services, operations
//! and trace summaries. Traces themselves are OTLP/JSON (`otlp_json`).
//!
//! jaeger-ui ≥ 2.15 validates these replies, so the arrays it requires
//! (`services`, `operations`, `summaries`) are written even when empty.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::{ordered_unique, OperationDto};
use crate::model::{Span, StatusCode};

/// `{"result": …}`, the envelope api_v3's HTTP gateway puts around traces.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct V3Result<T> {
    pub(crate) result: T,
}

/// `{"error":{"httpCode":404,"message":"No traces found"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct V3Error {
    pub(crate) error: V3ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct V3ErrorBody {
    pub(crate) http_code: u16,
    pub(crate) message: String,
}

/// `{"services":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ServicesDto {
    pub(crate) services: Vec<String>,
}

/// `{"operations":[{"name":…,"spanKind":…}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct V3Operations {
    pub(crate) operations: Vec<OperationDto>,
}

/// `{"summaries":[…]}` for `/api/v3/trace-summaries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TraceSummariesDto {
    pub(crate) summaries: Vec<TraceSummaryDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TraceSummaryDto {
    /// Always 32 hex digits, unlike Jaeger v1's shortened IDs.
    trace_id: String,
    root_service_name: String,
    root_operation_name: String,
    min_start_time_unix_nano: String,
    max_end_time_unix_nano: String,
    span_count: usize,
    error_span_count: usize,
    orphan_span_count: usize,
    /// Sorted by name.
    services: Vec<ServiceSummaryDto>,
    /// Tracery's own: runs of repeated sibling spans (N+1 findings); left out
    /// when there are none, so the shape stays Jaeger's for ordinary traces.
    #[serde(skip_serializing_if = "is_zero")]
    n_plus_one_count: usize,
}

impl TraceSummaryDto {
    pub(crate) fn with_n_plus_one_count(mut self, count: usize) -> TraceSummaryDto {
        self.n_plus_one_count = count;
        self
    }
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceSummaryDto {
    name: String,
    span_count: usize,
    error_span_count: usize,
}

/// The error body; the caller sets the same status on the response.
pub(crate) fn v3_error(http_code: u16, message: &str) -> V3Error {
    V3Error {
        error: V3ErrorBody {
            http_code,
            message: message.to_owned(),
        },
    }
}

/// Summarizes the spans of one trace (not empty, one trace ID), as Jaeger's
/// `querysvc/summary.go` does after its adjusters ran.
///
/// - Identical copies of a span count once.
/// - The root is the earliest span without a parent (ties go to the lower span
///   ID). If every span has a parent, the earliest span stands in, so the name
///   is never blank; Jaeger leaves it empty there.
/// - An error span has status ERROR. An `error` attribute does not count, as in
///   Jaeger.
/// - An orphan has a parent ID that no span in the trace carries.
pub(crate) fn trace_summary(spans: &[Span]) -> TraceSummaryDto {
    debug_assert!(!spans.is_empty(), "a trace has at least one span");
    let spans = ordered_unique(spans);
    let span_ids: HashSet<_> = spans.iter().map(|span| span.span_id).collect();
    let root = spans
        .iter()
        .find(|span| span.parent_span_id.is_none())
        .or(spans.first());

    let mut services: BTreeMap<&str, ServiceSummaryDto> = BTreeMap::new();
    let (mut num_errors, mut num_orphans) = (0, 0);
    for span in &spans {
        let is_error = span.status_code == StatusCode::Error;
        let service = services
            .entry(span.service_name())
            .or_insert_with(|| ServiceSummaryDto {
                name: span.service_name().to_owned(),
                span_count: 0,
                error_span_count: 0,
            });
        service.span_count += 1;
        if is_error {
            service.error_span_count += 1;
            num_errors += 1;
        }
        if span
            .parent_span_id
            .is_some_and(|parent| !span_ids.contains(&parent))
        {
            num_orphans += 1;
        }
    }

    let min_start = spans.iter().map(|span| span.start_unix_nanos).min();
    let max_end = spans.iter().map(|span| span.end_unix_nanos).max();
    TraceSummaryDto {
        trace_id: root.map(|span| span.trace_id).unwrap_or_default().to_hex(),
        root_service_name: root
            .map(|span| span.service_name().to_owned())
            .unwrap_or_default(),
        root_operation_name: root.map(|span| span.name.clone()).unwrap_or_default(),
        min_start_time_unix_nano: min_start.unwrap_or_default().to_string(),
        max_end_time_unix_nano: max_end.unwrap_or_default().to_string(),
        span_count: spans.len(),
        error_span_count: num_errors,
        orphan_span_count: num_orphans,
        services: services.into_values().collect(),
        n_plus_one_count: 0,
    }
}
