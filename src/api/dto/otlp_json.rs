//! OTLP `TracesData` in the OTLP/JSON mapping, as api_v3 returns traces.
//!
//! The mapping (opentelemetry-proto `docs/specification.md`): lowerCamelCase keys,
//! trace and span IDs as lower-case hex, enums as integers, 64-bit integers as
//! decimal strings, bytes as base64. Unlike protobuf's own JSON printer we always
//! write `attributes`, `scopeSpans` and `spans`, even when empty: jaeger-ui
//! validates replies and requires the span arrays. The DTOs borrow from the model
//! and serialize attribute values straight from it.

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::{by_resource_and_scope, serialize_f64};
use crate::model::{AttrValue, Attribute, Event, Link, Resource, Span};

/// `{"resourceSpans":[…]}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TracesData<'a> {
    resource_spans: Vec<ResourceSpans<'a>>,
}

/// Renders traces, each given as its spans, into one `TracesData`, as an api_v3
/// search merges every matching trace.
///
/// Within a trace, spans are ordered by start time and then span ID, identical
/// copies are dropped, and spans are grouped into one `resourceSpans` per distinct
/// resource and one `scopeSpans` per distinct scope within it, in order of first
/// appearance. Traces are not merged with each other, so each trace's spans stay
/// together.
pub(crate) fn otlp_traces_data(traces: &[Vec<Span>]) -> TracesData<'_> {
    TracesData {
        resource_spans: traces
            .iter()
            .flat_map(|trace| resource_spans(trace))
            .collect(),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans<'a> {
    resource: ResourceDto<'a>,
    scope_spans: Vec<ScopeSpans<'a>>,
}

/// `{"attributes":[…]}` with `service.name` put back as the first attribute.
#[derive(Debug, Clone)]
struct ResourceDto<'a>(&'a Resource);

#[derive(Debug, Clone, Serialize)]
struct ScopeSpans<'a> {
    scope: ScopeDto<'a>,
    spans: Vec<SpanDto<'a>>,
}

#[derive(Debug, Clone, Serialize)]
struct ScopeDto<'a> {
    name: &'a str,
    version: &'a str,
    attributes: Attributes<'a>,
}

/// Key order is the proto's field order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SpanDto<'a> {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "is_empty")]
    trace_state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    flags: u32,
    name: &'a str,
    kind: i32,
    start_time_unix_nano: String,
    end_time_unix_nano: String,
    attributes: Attributes<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<EventDto<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<LinkDto<'a>>,
    status: StatusDto<'a>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct EventDto<'a> {
    time_unix_nano: String,
    name: &'a str,
    attributes: Attributes<'a>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkDto<'a> {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "is_empty")]
    trace_state: &'a str,
    attributes: Attributes<'a>,
}

#[derive(Debug, Clone, Serialize)]
struct StatusDto<'a> {
    #[serde(skip_serializing_if = "is_empty")]
    message: &'a str,
    code: i32,
}

/// A list of `{"key":…,"value":<AnyValue>}`.
#[derive(Debug, Clone, Copy)]
struct Attributes<'a>(&'a [Attribute]);

#[derive(Debug, Clone, Copy)]
struct KeyValue<'a>(&'a Attribute);

/// An OTLP `AnyValue` object such as `{"stringValue":"x"}`.
#[derive(Debug, Clone, Copy)]
struct AnyValue<'a>(&'a AttrValue);

fn resource_spans(trace: &[Span]) -> Vec<ResourceSpans<'_>> {
    by_resource_and_scope(trace)
        .into_iter()
        .map(|(resource, scopes)| ResourceSpans {
            resource: ResourceDto(resource),
            scope_spans: scopes
                .into_iter()
                .map(|(scope, spans)| ScopeSpans {
                    scope: ScopeDto {
                        name: &scope.name,
                        version: &scope.version,
                        attributes: Attributes(&scope.attributes),
                    },
                    spans: spans.into_iter().map(SpanDto::from_model).collect(),
                })
                .collect(),
        })
        .collect()
}

impl<'a> SpanDto<'a> {
    fn from_model(span: &'a Span) -> SpanDto<'a> {
        SpanDto {
            trace_id: span.trace_id.to_hex(),
            span_id: span.span_id.to_hex(),
            trace_state: &span.trace_state,
            parent_span_id: span.parent_span_id.map(|parent| parent.to_hex()),
            flags: span.flags,
            name: &span.name,
            kind: span.kind as i32,
            start_time_unix_nano: span.start_unix_nanos.to_string(),
            end_time_unix_nano: span.end_unix_nanos.to_string(),
            attributes: Attributes(&span.attributes),
            events: span.events.iter().map(EventDto::from_model).collect(),
            links: span.links.iter().map(LinkDto::from_model).collect(),
            status: StatusDto {
                message: &span.status_message,
                code: span.status_code as i32,
            },
        }
    }
}

impl<'a> EventDto<'a> {
    fn from_model(event: &'a Event) -> EventDto<'a> {
        EventDto {
            time_unix_nano: event.time_unix_nanos.to_string(),
            name: &event.name,
            attributes: Attributes(&event.attributes),
        }
    }
}

impl<'a> LinkDto<'a> {
    fn from_model(link: &'a Link) -> LinkDto<'a> {
        LinkDto {
            trace_id: link.trace_id.to_hex(),
            span_id: link.span_id.to_hex(),
            trace_state: &link.trace_state,
            attributes: Attributes(&link.attributes),
        }
    }
}

fn is_empty(text: &&str) -> bool {
    text.is_empty()
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl Serialize for ResourceDto<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_struct("Resource", 1)?;
        object.serialize_field("attributes", &ResourceAttributes(self.0))?;
        object.end()
    }
}

struct ResourceAttributes<'a>(&'a Resource);

impl Serialize for ResourceAttributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct ServiceName<'a>(&'a str);
        impl Serialize for ServiceName<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut object = serializer.serialize_struct("KeyValue", 2)?;
                object.serialize_field("key", "service.name")?;
                object.serialize_field("value", &StringValue(self.0))?;
                object.end()
            }
        }
        struct StringValue<'a>(&'a str);
        impl Serialize for StringValue<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut object = serializer.serialize_map(Some(1))?;
                object.serialize_entry("stringValue", self.0)?;
                object.end()
            }
        }

        let attributes = &self.0.attributes;
        let mut list = serializer.serialize_seq(Some(attributes.len() + 1))?;
        list.serialize_element(&ServiceName(&self.0.service_name))?;
        for attribute in attributes {
            list.serialize_element(&KeyValue(attribute))?;
        }
        list.end()
    }
}

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(KeyValue))
    }
}

impl Serialize for KeyValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_struct("KeyValue", 2)?;
        object.serialize_field("key", &self.0.key)?;
        object.serialize_field("value", &AnyValue(&self.0.value))?;
        object.end()
    }
}

impl Serialize for AnyValue<'_> {
    /// An empty value is `{}`, exactly as protobuf's JSON printer writes an unset
    /// `oneof`; jaeger-ui's validator rejects that, but Jaeger sends the same.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Double(f64);
        impl Serialize for Double {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_f64(self.0, serializer)
            }
        }
        struct Values<T>(T);
        impl<T: Serialize> Serialize for Values<T> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut object = serializer.serialize_struct("Values", 1)?;
                object.serialize_field("values", &self.0)?;
                object.end()
            }
        }

        let mut object = serializer.serialize_map(None)?;
        match self.0 {
            AttrValue::Str(text) => object.serialize_entry("stringValue", text)?,
            AttrValue::Bool(value) => object.serialize_entry("boolValue", value)?,
            AttrValue::Int(value) => object.serialize_entry("intValue", &value.to_string())?,
            AttrValue::Double(value) => object.serialize_entry("doubleValue", &Double(*value))?,
            AttrValue::Bytes(_) => {
                object.serialize_entry("bytesValue", &self.0.to_search_string())?
            }
            AttrValue::Array(items) => {
                let items: Vec<AnyValue<'_>> = items.iter().map(AnyValue).collect();
                object.serialize_entry("arrayValue", &Values(items))?
            }
            AttrValue::KvList(entries) => {
                object.serialize_entry("kvlistValue", &Values(Attributes(entries)))?
            }
            AttrValue::Empty => {}
        }
        object.end()
    }
}
