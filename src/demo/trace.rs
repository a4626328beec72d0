//! A small builder of one OTLP trace: spans are added parent first with explicit
//! times, then grouped into one `ResourceSpans` per service.

use opentelemetry_proto::tonic::common::v1::{
    any_value::Value as OtlpValue, AnyValue as OtlpAnyValue, InstrumentationScope as OtlpScope,
    KeyValue as OtlpKeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::span::{
    Event as OtlpEvent, Link as OtlpLink, SpanKind as OtlpSpanKind,
};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans as OtlpResourceSpans, ScopeSpans as OtlpScopeSpans, Span as OtlpSpan,
    Status as OtlpStatus,
};

use super::services::Service;

/// An attribute value; `kv` turns it into OTLP.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Str(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Str(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

pub(super) fn kv(key: &str, value: impl Into<Value>) -> OtlpKeyValue {
    let value = match value.into() {
        Value::Str(text) => OtlpValue::StringValue(text),
        Value::Int(number) => OtlpValue::IntValue(number),
        Value::Bool(flag) => OtlpValue::BoolValue(flag),
    };
    OtlpKeyValue {
        key: key.to_owned(),
        value: Some(OtlpAnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Where a span sits: its trace, its own ID and the service that emits it.
#[derive(Debug, Clone, Copy)]
pub(super) struct SpanRef {
    pub(super) trace_id: [u8; 16],
    pub(super) span_id: [u8; 8],
    pub(super) index: usize,
}

/// One trace under construction.
#[derive(Debug)]
pub(super) struct TraceBuilder {
    pub(super) trace_id: [u8; 16],
    spans: Vec<(Service, OtlpSpan)>,
}

impl TraceBuilder {
    pub(super) fn new(trace_id: [u8; 16]) -> TraceBuilder {
        TraceBuilder {
            trace_id,
            spans: Vec::new(),
        }
    }

    /// Adds a span and returns a reference to set its end, attributes and events.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn span(
        &mut self,
        parent: Option<SpanRef>,
        span_id: [u8; 8],
        service: Service,
        name: &str,
        kind: OtlpSpanKind,
        start_nanos: u64,
        end_nanos: u64,
    ) -> SpanRef {
        let span = OtlpSpan {
            trace_id: self.trace_id.to_vec(),
            span_id: span_id.to_vec(),
            parent_span_id: parent.map_or_else(Vec::new, |parent| parent.span_id.to_vec()),
            name: name.to_owned(),
            kind: kind as i32,
            start_time_unix_nano: start_nanos,
            end_time_unix_nano: end_nanos.max(start_nanos),
            flags: 0x100 | 1,
            ..Default::default()
        };
        self.spans.push((service, span));
        SpanRef {
            trace_id: self.trace_id,
            span_id,
            index: self.spans.len() - 1,
        }
    }

    /// The span added last.
    pub(super) fn last(&self) -> SpanRef {
        let index = self.spans.len().saturating_sub(1);
        SpanRef {
            trace_id: self.trace_id,
            span_id: self.spans.get(index).map_or([0; 8], |(_, span)| {
                span.span_id.as_slice().try_into().unwrap_or([0; 8])
            }),
            index,
        }
    }

    pub(super) fn service(&self, span: SpanRef) -> Service {
        self.spans[span.index].0
    }

    fn get(&mut self, span: SpanRef) -> &mut OtlpSpan {
        &mut self.spans[span.index].1
    }

    pub(super) fn end(&self, span: SpanRef) -> u64 {
        self.spans[span.index].1.end_time_unix_nano
    }

    pub(super) fn set_end(&mut self, span: SpanRef, end_nanos: u64) {
        let span = self.get(span);
        span.end_time_unix_nano = end_nanos.max(span.start_time_unix_nano);
    }

    pub(super) fn attr(&mut self, span: SpanRef, key: &str, value: impl Into<Value>) {
        self.get(span).attributes.push(kv(key, value));
    }

    pub(super) fn event(
        &mut self,
        span: SpanRef,
        name: &str,
        time_nanos: u64,
        attributes: Vec<OtlpKeyValue>,
    ) {
        self.get(span).events.push(OtlpEvent {
            time_unix_nano: time_nanos,
            name: name.to_owned(),
            attributes,
            dropped_attributes_count: 0,
        });
    }

    pub(super) fn link(&mut self, span: SpanRef, to: SpanRef, attributes: Vec<OtlpKeyValue>) {
        self.get(span).links.push(OtlpLink {
            trace_id: to.trace_id.to_vec(),
            span_id: to.span_id.to_vec(),
            attributes,
            flags: 0x100 | 1,
            ..Default::default()
        });
    }

    /// Marks the span failed, with an `exception` event as the SDKs record it.
    pub(super) fn fail(
        &mut self,
        span: SpanRef,
        exception_type: &str,
        message: &str,
        stacktrace: &str,
    ) {
        let time = self.end(span);
        self.event(
            span,
            "exception",
            time,
            vec![
                kv("exception.type", exception_type),
                kv("exception.message", message),
                kv("exception.stacktrace", stacktrace),
            ],
        );
        self.set_error(span, message);
    }

    /// Error status without an exception (a failed downstream call).
    pub(super) fn set_error(&mut self, span: SpanRef, message: &str) {
        self.get(span).status = Some(OtlpStatus {
            code: OtlpStatusCode::Error as i32,
            message: message.to_owned(),
        });
    }

    /// The spans grouped by service, each with its SDK's resource and scope.
    pub(super) fn into_resource_spans(self) -> Vec<OtlpResourceSpans> {
        let mut by_service: Vec<(Service, Vec<OtlpSpan>)> = Vec::new();
        for (service, span) in self.spans {
            match by_service.iter_mut().find(|(known, _)| *known == service) {
                Some((_, spans)) => spans.push(span),
                None => by_service.push((service, vec![span])),
            }
        }
        by_service
            .into_iter()
            .map(|(service, spans)| OtlpResourceSpans {
                resource: Some(OtlpResource {
                    attributes: service.resource_attributes(),
                    ..Default::default()
                }),
                scope_spans: vec![OtlpScopeSpans {
                    scope: Some(OtlpScope {
                        name: service.scope_name().to_owned(),
                        version: service.scope_version().to_owned(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
            })
            .collect()
    }
}
