//! The JSON the query API sends, and the pure rendering of model spans into it.
//!
//! This is the only place in `api/` that derives `serde::Serialize`. It owns three
//! wire formats:
//! - `jaeger_v1`: the internal `/api/*` envelope and Jaeger's UI trace model,
//!   including the query-time adjusters that Jaeger applies before rendering;
//! - `otlp_json`: OTLP `TracesData` in the OTLP/JSON mapping, for api_v3;
//! - `api_v3`: api_v3's envelope, errors and trace summaries;
//! - the same traces as protobuf for the gRPC query services: `jaeger_v1/proto`
//!   renders a `JaegerTrace` as `jaeger.api_v2` spans; `by_resource_and_scope`
//!   groups a trace for OTLP/JSON here and for `protocol::otlp::encode`.
//!
//! Everything here is a pure function of the spans it is given: no I/O, no axum
//! types, no store access. Callers pass the spans of whole traces; the DTOs borrow
//! from those spans, so rendering allocates little beyond the hex IDs.

mod api_v3;
mod jaeger_v1;
mod otlp_json;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::model::{Scope, Span};
use crate::protocol::otlp::encode::ResourceGroups;

pub(crate) use api_v3::{
    trace_summary, v3_error, ServicesDto, TraceSummariesDto, V3Operations, V3Result,
};
pub(crate) use jaeger_v1::{jaeger_trace, Envelope, EnvelopeError, JaegerTrace};
pub(crate) use otlp_json::otlp_traces_data;

/// One operation of a service: v1 `/api/operations` and api_v3 `/api/v3/operations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationDto {
    pub(crate) name: String,
    /// Jaeger's kind name (`server`, `client`, …).
    pub(crate) span_kind: String,
}

/// One edge of the service dependency graph: v1 `/api/dependencies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DependencyDto {
    pub(crate) parent: String,
    pub(crate) child: String,
    pub(crate) call_count: u64,
}

/// The spans of one trace ordered by start time, then span ID, with exact
/// duplicates removed.
///
/// This is Jaeger's dedupe adjuster: a span stored twice (an exporter retry, or two
/// collectors forwarding the same batch) is shown once. Duplicates share their
/// start time and span ID, so after sorting they sit in one run and only that run
/// is compared.
fn ordered_unique(spans: &[Span]) -> Vec<&Span> {
    let mut ordered: Vec<&Span> = spans.iter().collect();
    ordered.sort_by_key(|span| (span.start_unix_nanos, span.span_id));
    let mut unique: Vec<&Span> = Vec::with_capacity(ordered.len());
    let mut run_start = 0;
    for span in ordered {
        let same_run = unique.last().is_some_and(|last| {
            (last.start_unix_nanos, last.span_id) == (span.start_unix_nanos, span.span_id)
        });
        if !same_run {
            run_start = unique.len();
        }
        if !unique[run_start..].contains(&span) {
            unique.push(span);
        }
    }
    unique
}

/// One trace's spans as OTLP nests them: per distinct resource, per distinct
/// scope, in order of first appearance, after `ordered_unique`. Shared by the
/// OTLP/JSON (HTTP api_v3) and OTLP protobuf (gRPC api_v3) renderings.
pub(crate) fn by_resource_and_scope(trace: &[Span]) -> ResourceGroups<'_> {
    let mut resources = Distinct::new();
    // Per resource: its distinct scopes, and the spans of each scope.
    let mut groups: Vec<(Distinct<'_, Scope>, Vec<Vec<&Span>>)> = Vec::new();
    for span in ordered_unique(trace) {
        let resource = resources.index_of(&span.resource);
        if resource == groups.len() {
            groups.push((Distinct::new(), Vec::new()));
        }
        let (scopes, spans_by_scope) = &mut groups[resource];
        let scope = scopes.index_of(&span.scope);
        if scope == spans_by_scope.len() {
            spans_by_scope.push(Vec::new());
        }
        spans_by_scope[scope].push(span);
    }
    resources
        .values()
        .iter()
        .zip(groups)
        .map(|(resource, (scopes, spans_by_scope))| {
            let scopes = scopes
                .values()
                .iter()
                .copied()
                .zip(spans_by_scope)
                .collect();
            (*resource, scopes)
        })
        .collect()
}

/// Numbers the distinct values behind `Arc`-shared model parts (resources, scopes)
/// in order of first appearance.
///
/// Spans from one OTLP batch share an `Arc`, so the pointer answers most look-ups.
/// Equal values behind different `Arc`s, such as one process exporting twice, still
/// get one number; that fallback compares values, which is fine because a trace
/// has few distinct resources and scopes.
#[derive(Debug)]
struct Distinct<'a, T> {
    values: Vec<&'a T>,
    by_pointer: HashMap<*const T, usize>,
}

impl<'a, T: PartialEq> Distinct<'a, T> {
    fn new() -> Self {
        Distinct {
            values: Vec::new(),
            by_pointer: HashMap::new(),
        }
    }

    /// The number of `value`; a new value gets the next one, `self.len() - 1`.
    fn index_of(&mut self, value: &'a Arc<T>) -> usize {
        let pointer = Arc::as_ptr(value);
        if let Some(&index) = self.by_pointer.get(&pointer) {
            return index;
        }
        let index = match self.values.iter().position(|known| **known == **value) {
            Some(index) => index,
            None => {
                self.values.push(&**value);
                self.values.len() - 1
            }
        };
        self.by_pointer.insert(pointer, index);
        index
    }

    fn values(&self) -> &[&'a T] {
        &self.values
    }
}

/// Writes a non-finite double the way protobuf's JSON mapping does ("NaN",
/// "Infinity", "-Infinity"); `serde_json` would otherwise write `null`.
fn serialize_f64<S: serde::Serializer>(value: f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(value)
    } else if value.is_nan() {
        serializer.serialize_str("NaN")
    } else if value > 0.0 {
        serializer.serialize_str("Infinity")
    } else {
        serializer.serialize_str("-Infinity")
    }
}

#[cfg(test)]
mod tests;
