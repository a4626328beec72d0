//! Golden tests: spans built with a small builder, rendered, and compared as whole
//! JSON documents.

mod api_v3;
mod jaeger_v1;
mod otlp_json;

use std::sync::Arc;

use crate::model::{
    AttrValue, Attribute, Event, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId,
};

/// A start time with a sub-microsecond remainder, so truncation shows:
/// 1_717_171_717_123_456 µs and 789 ns.
const T: u64 = 1_717_171_717_123_456_789;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Serializes a DTO the way axum's `Json` does, as a `Value` for whole-document
/// comparison.
fn to_json(value: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("DTOs serialize to JSON")
}

fn resource(service: &str, attributes: Vec<Attribute>) -> Arc<Resource> {
    Arc::new(Resource {
        service_name: service.to_owned(),
        attributes,
    })
}

fn scope(name: &str, version: &str) -> Arc<Scope> {
    Arc::new(Scope {
        name: name.to_owned(),
        version: version.to_owned(),
        attributes: Vec::new(),
    })
}

fn attr(key: &str, value: AttrValue) -> Attribute {
    Attribute {
        key: key.to_owned(),
        value,
    }
}

fn text(value: &str) -> AttrValue {
    AttrValue::Str(value.to_owned())
}

fn trace_id(hex: &str) -> TraceId {
    TraceId::from_hex(hex).expect("test trace ids are valid")
}

fn span_id(hex: &str) -> SpanId {
    SpanId::from_hex(hex).expect("test span ids are valid")
}

/// A span of `TRACE` named "op", 1 ms long from `T`, with an empty scope.
fn span(id: &str, resource: &Arc<Resource>) -> SpanBuilder {
    SpanBuilder(Span {
        trace_id: trace_id(TRACE),
        span_id: span_id(id),
        parent_span_id: None,
        trace_state: String::new(),
        flags: 0,
        name: "op".to_owned(),
        kind: SpanKind::Unspecified,
        start_unix_nanos: T,
        end_unix_nanos: T + 1_000_000,
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        status_code: StatusCode::Unset,
        status_message: String::new(),
        resource: Arc::clone(resource),
        scope: Arc::new(Scope::default()),
    })
}

struct SpanBuilder(Span);

impl SpanBuilder {
    fn trace(mut self, hex: &str) -> Self {
        self.0.trace_id = trace_id(hex);
        self
    }

    fn parent(mut self, hex: &str) -> Self {
        self.0.parent_span_id = Some(span_id(hex));
        self
    }

    fn name(mut self, name: &str) -> Self {
        self.0.name = name.to_owned();
        self
    }

    fn kind(mut self, kind: SpanKind) -> Self {
        self.0.kind = kind;
        self
    }

    fn times(mut self, start: u64, end: u64) -> Self {
        self.0.start_unix_nanos = start;
        self.0.end_unix_nanos = end;
        self
    }

    fn scope(mut self, scope: &Arc<Scope>) -> Self {
        self.0.scope = Arc::clone(scope);
        self
    }

    fn attr(mut self, key: &str, value: AttrValue) -> Self {
        self.0.attributes.push(attr(key, value));
        self
    }

    fn event(mut self, time: u64, name: &str, attributes: Vec<Attribute>) -> Self {
        self.0.events.push(Event {
            time_unix_nanos: time,
            name: name.to_owned(),
            attributes,
        });
        self
    }

    fn link(mut self, trace: &str, span: &str, attributes: Vec<Attribute>) -> Self {
        self.0.links.push(Link {
            trace_id: trace_id(trace),
            span_id: span_id(span),
            trace_state: String::new(),
            attributes,
        });
        self
    }

    fn status(mut self, code: StatusCode, message: &str) -> Self {
        self.0.status_code = code;
        self.0.status_message = message.to_owned();
        self
    }

    fn trace_state(mut self, state: &str) -> Self {
        self.0.trace_state = state.to_owned();
        self
    }

    fn flags(mut self, flags: u32) -> Self {
        self.0.flags = flags;
        self
    }

    fn build(self) -> Span {
        self.0
    }
}
