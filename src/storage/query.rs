//! What a trace search asks, and the one predicate that decides whether a span
//! meets it (Jaeger's semantics: every condition holds for one span). Every storage
//! backend answers `TraceQuery`; the embedded store matches spans with `span_matches`.

use std::time::Duration;

use super::filter::AttrFilter;
use crate::model::{attributes_match, SpanFields, StatusCode};

/// A search, already validated by the API layer. Every filter applies to one span.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    /// `None` searches every service.
    pub service: Option<String>,
    pub operation: Option<String>,
    /// (key, value) pairs compared as strings; all must hold for the same span.
    pub tags: Vec<(String, String)>,
    /// `filter=` expressions; all must hold for the same span as the tags.
    pub filters: Vec<AttrFilter>,
    /// Only traces with an N+1 finding (checked per trace by `QueryService`).
    pub n_plus_one: bool,
    /// Inclusive bounds on span start.
    pub start_min_unix_nanos: u64,
    pub start_max_unix_nanos: u64,
    /// Inclusive bounds on span duration.
    pub duration_min: Option<Duration>,
    pub duration_max: Option<Duration>,
    /// How many traces to return.
    pub limit: usize,
}

/// Whether `span` meets every condition of `query`.
pub fn span_matches(span: &impl SpanFields, query: &TraceQuery) -> bool {
    let duration = Duration::from_nanos(span.duration_nanos());
    query
        .service
        .as_ref()
        .is_none_or(|service| span.service_name() == service)
        && query
            .operation
            .as_ref()
            .is_none_or(|operation| span.name() == operation)
        && (query.start_min_unix_nanos..=query.start_max_unix_nanos)
            .contains(&span.start_unix_nanos())
        && query.duration_min.is_none_or(|min| duration >= min)
        && query.duration_max.is_none_or(|max| duration <= max)
        && query
            .tags
            .iter()
            .all(|(key, value)| tag_matches(span, key, value))
        && query.filters.iter().all(|filter| filter.matches(span))
}

/// Jaeger's tag semantics: a key is looked up in the span's, resource's, scope's,
/// events' and links' attributes, plus the synthetic tags the OTLP → Jaeger translation adds.
pub(crate) fn tag_matches(span: &impl SpanFields, key: &str, value: &str) -> bool {
    let synthetic = match key {
        "error" => match value {
            "true" => Some(span.is_error()),
            "false" => Some(span.status_code() == StatusCode::Ok),
            _ => None,
        },
        "span.kind" => Some(span.kind().jaeger_name() == value && !value.is_empty()),
        "otel.status_code" => Some(match span.status_code() {
            StatusCode::Ok => value == "OK",
            StatusCode::Error => value == "ERROR",
            StatusCode::Unset => false,
        }),
        "otel.status_description" => {
            Some(!span.status_message().is_empty() && span.status_message() == value)
        }
        "otel.scope.name" | "scope.name" => Some(span.scope().name == value),
        "otel.scope.version" | "scope.version" => Some(span.scope().version == value),
        "w3c.tracestate" => Some(!span.trace_state().is_empty() && span.trace_state() == value),
        "service.name" => Some(span.service_name() == value),
        _ => None,
    };
    if synthetic == Some(true) {
        return true;
    }
    if let Some(resource_key) = key.strip_prefix("resource.") {
        return attributes_match(&span.resource().attributes, resource_key, value);
    }
    span.attribute_matches(key, value)
        || attributes_match(&span.resource().attributes, key, value)
        || attributes_match(&span.scope().attributes, key, value)
        || span.event_attribute_matches(key, value)
        || span.link_attribute_matches(key, value)
}
