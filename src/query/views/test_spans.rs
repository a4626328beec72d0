//! Spans for the views' unit tests: a trace written as (id, parent, service,
//! operation, start ms, end ms).

use std::sync::Arc;

use crate::model::{
    AttrValue, Attribute, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId,
};

pub(crate) struct TraceSpec {
    trace: u8,
    base_nanos: u64,
    spans: Vec<Span>,
}

impl TraceSpec {
    pub(crate) fn new() -> TraceSpec {
        TraceSpec::with_id(1)
    }

    pub(crate) fn with_id(trace: u8) -> TraceSpec {
        TraceSpec {
            trace,
            base_nanos: 1_700_000_000_000_000_000,
            spans: Vec::new(),
        }
    }

    pub(crate) fn span(
        mut self,
        id: u8,
        parent: Option<u8>,
        service: &str,
        operation: &str,
        start_ms: u64,
        end_ms: u64,
    ) -> TraceSpec {
        self.spans.push(Span {
            trace_id: TraceId([self.trace; 16]),
            span_id: SpanId([id + 1; 8]),
            parent_span_id: parent.map(|parent| SpanId([parent + 1; 8])),
            trace_state: String::new(),
            flags: 0,
            name: operation.to_owned(),
            kind: SpanKind::Server,
            start_unix_nanos: self.base_nanos + start_ms * 1_000_000,
            end_unix_nanos: self.base_nanos + end_ms * 1_000_000,
            attributes: vec![],
            events: vec![],
            links: vec![],
            status_code: StatusCode::Unset,
            status_message: String::new(),
            resource: Arc::new(Resource {
                service_name: service.to_owned(),
                attributes: vec![],
            }),
            scope: Arc::new(Scope::default()),
        });
        self
    }

    /// A string attribute on the last span.
    pub(crate) fn attr(mut self, key: &str, value: &str) -> TraceSpec {
        if let Some(span) = self.spans.last_mut() {
            span.attributes.push(Attribute {
                key: key.to_owned(),
                value: AttrValue::Str(value.to_owned()),
            });
        }
        self
    }

    pub(crate) fn error(mut self) -> TraceSpec {
        if let Some(span) = self.spans.last_mut() {
            span.status_code = StatusCode::Error;
        }
        self
    }

    pub(crate) fn build(self) -> Vec<Span> {
        self.spans
    }
}
