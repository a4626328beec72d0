//! Builds trace data for tests: `TraceBuilder::new("checkout").span(..).child(..)`.
//! Produces OTLP protobuf requests and their OTLP/JSON form, never hand-written bytes.

use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{json, Value};

pub(crate) const KIND_SERVER: i32 = 2;
pub(crate) const KIND_CLIENT: i32 = 3;
pub(crate) const STATUS_ERROR: i32 = 2;

pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

pub(crate) fn kv(key: &str, value: impl IntoValue) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(value.into_value()),
        }),
        ..Default::default()
    }
}

pub(crate) trait IntoValue {
    fn into_value(self) -> OtlpValue;
}
impl IntoValue for &str {
    fn into_value(self) -> OtlpValue {
        OtlpValue::StringValue(self.to_owned())
    }
}
impl IntoValue for i64 {
    fn into_value(self) -> OtlpValue {
        OtlpValue::IntValue(self)
    }
}
impl IntoValue for bool {
    fn into_value(self) -> OtlpValue {
        OtlpValue::BoolValue(self)
    }
}
impl IntoValue for f64 {
    fn into_value(self) -> OtlpValue {
        OtlpValue::DoubleValue(self)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Trace {
    pub(crate) id: [u8; 16],
    pub(crate) request: ExportTraceServiceRequest,
}

impl Trace {
    pub(crate) fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    pub(crate) fn to_export_request(&self) -> ExportTraceServiceRequest {
        self.request.clone()
    }

    /// The request in the OTLP/JSON mapping (hex IDs, int64 as strings, enums as numbers).
    pub(crate) fn to_otlp_json(&self) -> Value {
        request_to_json(&self.request)
    }
}

/// Merges several traces into one export request.
pub(crate) fn merged(traces: &[&Trace]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: traces
            .iter()
            .flat_map(|trace| trace.request.resource_spans.clone())
            .collect(),
    }
}

pub(crate) struct TraceBuilder {
    id: [u8; 16],
    base_nanos: u64,
    service: String,
    /// (service, span) in insertion order.
    spans: Vec<(String, Span)>,
    last: Option<usize>,
}

impl TraceBuilder {
    pub(crate) fn new(service: &str) -> TraceBuilder {
        TraceBuilder {
            id: rand::random(),
            base_nanos: now_nanos(),
            service: service.to_owned(),
            spans: Vec::new(),
            last: None,
        }
    }

    /// Fixed IDs and times, for golden files.
    pub(crate) fn fixed(mut self, id: [u8; 16], base_nanos: u64) -> TraceBuilder {
        self.id = id;
        self.base_nanos = base_nanos;
        self
    }

    pub(crate) fn at(mut self, base_nanos: u64) -> TraceBuilder {
        self.base_nanos = base_nanos;
        self
    }

    /// Later spans belong to `service`.
    pub(crate) fn service(mut self, service: &str) -> TraceBuilder {
        self.service = service.to_owned();
        self
    }

    /// A root span over `millis` (offsets from the trace start).
    pub(crate) fn span(self, name: &str, millis: Range<u64>) -> TraceBuilder {
        self.push(name, millis, None)
    }

    /// A child of the most recently added span.
    pub(crate) fn child(self, name: &str, millis: Range<u64>) -> TraceBuilder {
        let parent = self.last;
        self.push(name, millis, parent)
    }

    /// A child of the `parent`-th span added (0-based), for shapes that `child`
    /// cannot build, such as wide trees.
    pub(crate) fn child_of(self, parent: usize, name: &str, millis: Range<u64>) -> TraceBuilder {
        assert!(parent < self.spans.len(), "no span {parent} yet");
        self.push(name, millis, Some(parent))
    }

    pub(crate) fn attr(mut self, key_value: KeyValue) -> TraceBuilder {
        self.last_span().attributes.push(key_value);
        self
    }

    pub(crate) fn kind(mut self, kind: i32) -> TraceBuilder {
        self.last_span().kind = kind;
        self
    }

    pub(crate) fn error(mut self, message: &str) -> TraceBuilder {
        self.last_span().status = Some(Status {
            code: STATUS_ERROR,
            message: message.to_owned(),
        });
        self
    }

    pub(crate) fn event(
        mut self,
        name: &str,
        offset_millis: u64,
        attributes: Vec<KeyValue>,
    ) -> TraceBuilder {
        let time_unix_nano = self.base_nanos + offset_millis * 1_000_000;
        self.last_span().events.push(Event {
            time_unix_nano,
            name: name.to_owned(),
            attributes,
            dropped_attributes_count: 0,
        });
        self
    }

    pub(crate) fn link(self, trace_id: [u8; 16], span_id: [u8; 8]) -> TraceBuilder {
        self.link_with(trace_id, span_id, Vec::new())
    }

    /// A link with attributes on the most recent span.
    pub(crate) fn link_with(
        mut self,
        trace_id: [u8; 16],
        span_id: [u8; 8],
        attributes: Vec<KeyValue>,
    ) -> TraceBuilder {
        self.last_span().links.push(Link {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
            attributes,
            ..Default::default()
        });
        self
    }

    pub(crate) fn build(self) -> Trace {
        let mut resource_spans: Vec<ResourceSpans> = Vec::new();
        for (service, span) in &self.spans {
            let index = match resource_spans
                .iter()
                .position(|resource| service_of(resource) == service)
            {
                Some(index) => index,
                None => {
                    resource_spans.push(ResourceSpans {
                        resource: Some(Resource {
                            attributes: vec![
                                kv("service.name", service.as_str()),
                                kv("host.name", "test-host"),
                            ],
                            ..Default::default()
                        }),
                        scope_spans: vec![ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: "tracery-tests".into(),
                                version: "1.0.0".into(),
                                ..Default::default()
                            }),
                            spans: Vec::new(),
                            schema_url: String::new(),
                        }],
                        schema_url: String::new(),
                    });
                    resource_spans.len() - 1
                }
            };
            resource_spans[index].scope_spans[0]
                .spans
                .push(span.clone());
        }
        Trace {
            id: self.id,
            request: ExportTraceServiceRequest { resource_spans },
        }
    }

    fn push(mut self, name: &str, millis: Range<u64>, parent: Option<usize>) -> TraceBuilder {
        // Span IDs derive from the trace ID and position: unique, yet stable under `fixed`.
        let mut span_id = [0u8; 8];
        span_id[..4].copy_from_slice(&self.id[..4]);
        span_id[4..].copy_from_slice(&(self.spans.len() as u32 + 1).to_be_bytes());
        let parent_span_id = parent
            .map(|index| self.spans[index].1.span_id.clone())
            .unwrap_or_default();
        let span = Span {
            trace_id: self.id.to_vec(),
            span_id: span_id.to_vec(),
            parent_span_id,
            name: name.to_owned(),
            kind: KIND_SERVER,
            start_time_unix_nano: self.base_nanos + millis.start * 1_000_000,
            end_time_unix_nano: self.base_nanos + millis.end * 1_000_000,
            ..Default::default()
        };
        self.spans.push((self.service.clone(), span));
        self.last = Some(self.spans.len() - 1);
        self
    }

    fn last_span(&mut self) -> &mut Span {
        let index = self.last.expect("add a span first");
        &mut self.spans[index].1
    }
}

fn service_of(resource: &ResourceSpans) -> &str {
    resource
        .resource
        .as_ref()
        .and_then(|resource| {
            resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
        })
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            OtlpValue::StringValue(name) => Some(name.as_str()),
            _ => None,
        })
        .unwrap_or("")
}

pub(crate) fn request_to_json(request: &ExportTraceServiceRequest) -> Value {
    json!({ "resourceSpans": request.resource_spans.iter().map(|resource| json!({
        "resource": { "attributes": attrs_json(&resource.resource.as_ref().unwrap().attributes) },
        "scopeSpans": resource.scope_spans.iter().map(|scope| json!({
            "scope": { "name": scope.scope.as_ref().unwrap().name, "version": scope.scope.as_ref().unwrap().version },
            "spans": scope.spans.iter().map(span_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>() })
}

fn span_json(span: &Span) -> Value {
    let mut value = json!({
        "traceId": hex::encode(&span.trace_id),
        "spanId": hex::encode(&span.span_id),
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano.to_string(),
        "endTimeUnixNano": span.end_time_unix_nano.to_string(),
        "attributes": attrs_json(&span.attributes),
        "events": span.events.iter().map(|event| json!({
            "timeUnixNano": event.time_unix_nano.to_string(),
            "name": event.name,
            "attributes": attrs_json(&event.attributes),
        })).collect::<Vec<_>>(),
        "links": span.links.iter().map(|link| json!({
            "traceId": hex::encode(&link.trace_id), "spanId": hex::encode(&link.span_id),
        })).collect::<Vec<_>>(),
    });
    if !span.parent_span_id.is_empty() {
        value["parentSpanId"] = json!(hex::encode(&span.parent_span_id));
    }
    if let Some(status) = &span.status {
        value["status"] = json!({ "code": status.code, "message": status.message });
    }
    value
}

fn attrs_json(attributes: &[KeyValue]) -> Value {
    Value::Array(
        attributes
            .iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|value| value.value.as_ref()) {
                    Some(OtlpValue::StringValue(text)) => json!({ "stringValue": text }),
                    Some(OtlpValue::IntValue(number)) => json!({ "intValue": number.to_string() }),
                    Some(OtlpValue::BoolValue(flag)) => json!({ "boolValue": flag }),
                    Some(OtlpValue::DoubleValue(number)) => json!({ "doubleValue": number }),
                    other => panic!("fixture JSON does not cover {other:?}"),
                };
                json!({ "key": kv.key, "value": value })
            })
            .collect(),
    )
}

/// A wide trace for the UI's big-trace test and benchmark: one root, 100 batches,
/// the rest of `num_spans` spread over the batches as leaves (each with a
/// `leaf.index` attribute); leaf 31,337 (when there is one) fails with "the needle".
pub(crate) fn big_trace(start_nanos: u64, num_spans: usize) -> Trace {
    const NUM_BATCHES: usize = 100;
    let services = ["gateway", "search", "index", "ranker", "storage"];
    let mut builder = TraceBuilder::new("gateway")
        .at(start_nanos)
        .span("GET /big", 0..60_000);
    for batch in 0..NUM_BATCHES as u64 {
        builder = builder
            .service(services[1 + (batch as usize % 4)])
            .child_of(0, &format!("batch-{batch}"), batch * 600..batch * 600 + 590);
    }
    for leaf in 0..num_spans.saturating_sub(1 + NUM_BATCHES) as u64 {
        let batch = leaf % NUM_BATCHES as u64;
        let start = batch * 600 + (leaf / NUM_BATCHES as u64) % 580;
        builder = builder
            .service(services[(leaf % 5) as usize])
            .child_of(
                1 + batch as usize,
                &format!("leaf-{leaf}"),
                start..start + 1 + leaf % 9,
            )
            .attr(kv("leaf.index", leaf as i64));
        if leaf == 31_337 {
            builder = builder.error("the needle");
        }
    }
    builder.build()
}
