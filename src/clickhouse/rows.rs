//! The rows the backend inserts and reads (RowBinary through the `clickhouse`
//! crate, so they derive serde's traits: allowed here as in `store/codec.rs`), and
//! the searchable terms of a span.
//!
//! A term is `key\x1fvalue` with the value written as Jaeger's tag search compares
//! it (`AttrValue::to_search_string`); an integer attribute also gets
//! `key\x1dvalue` in canonical form, because a tag `7`, `07` and `+7` all match it;
//! a resource attribute also gets `\x1ekey\x1fvalue` for `resource.key` tags, which
//! look only at the resource; and the synthetic tags of the OTLP → Jaeger
//! translation (`error`, `span.kind`, `otel.status_code`, …) are terms too. A tag
//! (key, value) matches a span exactly when one of `tag_terms(key, value)` is among
//! the span's terms: the same answer as `storage::query::tag_matches`.

use serde::{Deserialize, Serialize};

use crate::model::{AttrValue, Attribute, Span, StatusCode};

const VALUE: char = '\x1f';
const INT_VALUE: char = '\x1d';
const RESOURCE_ONLY: char = '\x1e';

/// A row of `spans` (search).
#[derive(Debug, clickhouse::Row, Serialize)]
pub(super) struct SpanRow {
    pub(super) trace_id: [u8; 16],
    pub(super) span_id: [u8; 8],
    /// Zeros for a root span.
    pub(super) parent_span_id: [u8; 8],
    pub(super) service: String,
    pub(super) operation: String,
    pub(super) kind: u8,
    pub(super) start_unix_nanos: u64,
    pub(super) start_time: u32,
    pub(super) duration_nanos: u64,
    pub(super) terms: Vec<String>,
    /// When the span was written: what retention goes by.
    pub(super) ingest_time: u32,
}

/// A row of `trace_spans` (get-trace): the encoded span.
#[derive(Debug, clickhouse::Row, Serialize)]
pub(super) struct TraceSpanRow {
    pub(super) trace_id: [u8; 16],
    pub(super) start_unix_nanos: u64,
    pub(super) start_time: u32,
    pub(super) span: Vec<u8>,
    pub(super) ingest_time: u32,
}

/// A row of `operations`.
#[derive(Debug, clickhouse::Row, Serialize)]
pub(super) struct OperationRow {
    pub(super) service: String,
    pub(super) operation: String,
    pub(super) kind: u8,
    pub(super) last_seen: u32,
}

/// A row of `sampling`.
#[derive(Debug, clickhouse::Row, Serialize, Deserialize)]
pub(super) struct SamplingRow {
    pub(super) service: String,
    pub(super) operation: String,
    pub(super) probability: f64,
    pub(super) updated_unix_nanos: u64,
}

/// What a search returns per trace.
#[derive(Debug, clickhouse::Row, Deserialize)]
pub(super) struct FoundTrace {
    pub(super) trace_id: [u8; 16],
    /// Only ordered by; RowBinary reads columns by position, so it is read too.
    #[allow(dead_code)]
    pub(super) newest: u64,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub(super) struct EncodedSpan {
    pub(super) span: Vec<u8>,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub(super) struct Name {
    pub(super) name: String,
}

/// Spans of one series, bucket and latency-sketch bucket (`sql::red_buckets`).
#[derive(Debug, clickhouse::Row, Deserialize)]
pub(super) struct RedBucketRow {
    pub(super) service: String,
    pub(super) operation: String,
    pub(super) bucket: u64,
    /// -1 for zero durations.
    pub(super) sketch_index: i32,
    pub(super) calls: u64,
    pub(super) errors: u64,
    pub(super) slowest_trace: [u8; 16],
    pub(super) slowest_nanos: u64,
    /// Zeros when none of the calls failed.
    pub(super) error_trace: [u8; 16],
    pub(super) error_nanos: u64,
}

/// A partition of a local table (`system.parts`).
#[derive(Debug, clickhouse::Row, Deserialize)]
pub(super) struct Partition {
    pub(super) table: String,
    pub(super) partition_id: String,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub(super) struct OperationName {
    pub(super) operation: String,
    pub(super) kind: u8,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub(super) struct DependencyRow {
    pub(super) parent: String,
    pub(super) child: String,
    pub(super) calls: u64,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub(super) struct Version {
    pub(super) version: u32,
}

/// Seconds for a DateTime column: Unix seconds, clamped to its u32 range.
pub(super) fn date_time(unix_nanos: u64) -> u32 {
    u32::try_from(unix_nanos / 1_000_000_000).unwrap_or(u32::MAX)
}

impl SpanRow {
    pub(super) fn from_span(span: &Span, ingest_time: u32) -> SpanRow {
        SpanRow {
            trace_id: *span.trace_id.as_bytes(),
            span_id: span.span_id.0,
            parent_span_id: span.parent_span_id.map_or([0; 8], |parent| parent.0),
            service: span.service_name().to_owned(),
            operation: span.name.clone(),
            kind: span.kind as u8,
            start_unix_nanos: span.start_unix_nanos,
            start_time: date_time(span.start_unix_nanos),
            duration_nanos: span.duration_nanos(),
            terms: span_terms(span),
            ingest_time,
        }
    }
}

/// The terms a tag (key, value) is found by; see the module docs.
pub(super) fn tag_terms(key: &str, value: &str) -> Vec<String> {
    let (prefix, key) = match key.strip_prefix("resource.") {
        Some(resource_key) => (Some(RESOURCE_ONLY), resource_key),
        None => (None, key),
    };
    let term = |separator: char, value: &str| {
        let mut term = String::with_capacity(key.len() + value.len() + 2);
        term.extend(prefix);
        term.push_str(key);
        term.push(separator);
        term.push_str(value);
        term
    };
    let mut terms = vec![term(VALUE, value)];
    if let Ok(number) = value.parse::<i64>() {
        terms.push(term(INT_VALUE, &number.to_string()));
    }
    terms
}

/// Every term a span is found by, sorted and without repeats.
pub(super) fn span_terms(span: &Span) -> Vec<String> {
    let mut terms = Vec::with_capacity(16 + span.attributes.len());
    add_attribute_terms(&mut terms, None, &span.attributes);
    add_attribute_terms(&mut terms, None, &span.resource.attributes);
    add_attribute_terms(&mut terms, Some(RESOURCE_ONLY), &span.resource.attributes);
    add_attribute_terms(&mut terms, None, &span.scope.attributes);
    for event in &span.events {
        add_attribute_terms(&mut terms, None, &event.attributes);
    }
    for link in &span.links {
        add_attribute_terms(&mut terms, None, &link.attributes);
    }
    let mut synthetic = |key: &str, value: &str| terms.push(format!("{key}{VALUE}{value}"));
    if span.is_error() {
        synthetic("error", "true");
    }
    match span.status_code {
        StatusCode::Ok => {
            synthetic("error", "false");
            synthetic("otel.status_code", "OK");
        }
        StatusCode::Error => synthetic("otel.status_code", "ERROR"),
        StatusCode::Unset => {}
    }
    if !span.kind.jaeger_name().is_empty() {
        synthetic("span.kind", span.kind.jaeger_name());
    }
    if !span.status_message.is_empty() {
        synthetic("otel.status_description", &span.status_message);
    }
    for key in ["otel.scope.name", "scope.name"] {
        synthetic(key, &span.scope.name);
    }
    for key in ["otel.scope.version", "scope.version"] {
        synthetic(key, &span.scope.version);
    }
    if !span.trace_state.is_empty() {
        synthetic("w3c.tracestate", &span.trace_state);
    }
    synthetic("service.name", span.service_name());
    terms.sort_unstable();
    terms.dedup();
    terms
}

fn add_attribute_terms(terms: &mut Vec<String>, prefix: Option<char>, attributes: &[Attribute]) {
    for attribute in attributes {
        let mut term = String::new();
        term.extend(prefix);
        term.push_str(&attribute.key);
        if let AttrValue::Int(number) = &attribute.value {
            terms.push(format!("{term}{INT_VALUE}{number}"));
        }
        term.push(VALUE);
        term.push_str(&attribute.value.to_search_string());
        terms.push(term);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::codec::tests::sample_span;
    use crate::model::{Resource, Span};
    use crate::storage::query::tag_matches;

    #[track_caller]
    fn check(span: &Span, key: &str, value: &str) {
        let terms = span_terms(span);
        let found = tag_terms(key, value)
            .iter()
            .any(|term| terms.contains(term));
        assert_eq!(found, tag_matches(span, key, value), "tag {key}={value}");
    }

    #[test]
    fn terms_match_exactly_when_the_search_predicate_does() {
        let mut span = sample_span();
        let mut resource = Resource::clone(&span.resource);
        resource.attributes.push(Attribute {
            key: "port".to_owned(),
            value: AttrValue::Int(8080),
        });
        span.resource = std::sync::Arc::new(resource);
        span.attributes.push(Attribute {
            key: "resource.host.name".to_owned(),
            value: AttrValue::Str("fake".to_owned()),
        });
        let tags = [
            ("http.status_code", "200"),
            ("http.status_code", "0200"),
            ("http.status_code", "+200"),
            ("http.status_code", "201"),
            ("ok", "true"),
            ("ok", "false"),
            ("ratio", "0.5"),
            ("raw", "AP8="),
            ("list", "[\"x\",null]"),
            ("map", "{\"inner\":-3}"),
            ("exception.type", "Boom"),
            ("link.kind", "follows"),
            ("host.name", "h1"),
            ("resource.host.name", "h1"),
            ("resource.host.name", "fake"),
            ("port", "8080"),
            ("resource.port", "08080"),
            ("error", "true"),
            ("error", "false"),
            ("span.kind", "server"),
            ("span.kind", "client"),
            ("span.kind", ""),
            ("otel.status_code", "ERROR"),
            ("otel.status_code", "OK"),
            ("otel.status_description", "failed"),
            ("otel.status_description", ""),
            ("otel.scope.name", "lib"),
            ("scope.version", "1.0"),
            ("scope.name", ""),
            ("w3c.tracestate", "a=b"),
            ("w3c.tracestate", ""),
            ("service.name", "checkout"),
            ("service.name", "other"),
            ("missing", ""),
        ];
        for (key, value) in tags {
            check(&span, key, value);
        }
        span.status_code = StatusCode::Ok;
        span.trace_state.clear();
        span.status_message.clear();
        for (key, value) in tags {
            check(&span, key, value);
        }
    }
}
