//! The model → OTLP protobuf direction, for the gRPC api_v3 `QueryService`.
//!
//! Takes one trace already grouped per resource and scope (`api::dto` does that,
//! with Jaeger's dedupe, for OTLP/JSON and protobuf alike) and builds
//! `opentelemetry-proto`'s `TracesData`.

use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::{
    span, ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, TracesData,
};

use crate::model::{AttrValue, Attribute, Resource, Scope, Span};

/// One trace's spans per distinct resource, per distinct scope within it.
pub type ResourceGroups<'a> = Vec<(&'a Resource, Vec<(&'a Scope, Vec<&'a Span>)>)>;

/// One `TracesData` holding one trace, as api_v3 streams one message per trace.
/// `service.name` goes back into the resource as its first attribute.
pub fn traces_data(groups: ResourceGroups<'_>) -> TracesData {
    let resource_spans = groups
        .into_iter()
        .map(|(resource, scopes)| {
            let mut attributes = Vec::with_capacity(resource.attributes.len() + 1);
            attributes.push(KeyValue {
                key: "service.name".to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(resource.service_name.clone())),
                }),
                ..KeyValue::default()
            });
            attributes.extend(resource.attributes.iter().map(key_value));
            ResourceSpans {
                resource: Some(OtlpResource {
                    attributes,
                    ..OtlpResource::default()
                }),
                scope_spans: scopes
                    .into_iter()
                    .map(|(scope, spans)| ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: scope.name.clone(),
                            version: scope.version.clone(),
                            attributes: key_values(&scope.attributes),
                            ..InstrumentationScope::default()
                        }),
                        spans: spans.into_iter().map(span).collect(),
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: String::new(),
            }
        })
        .collect();
    TracesData { resource_spans }
}

fn span(span: &Span) -> OtlpSpan {
    OtlpSpan {
        trace_id: span.trace_id.as_bytes().to_vec(),
        span_id: span.span_id.0.to_vec(),
        trace_state: span.trace_state.clone(),
        parent_span_id: span
            .parent_span_id
            .map(|parent| parent.0.to_vec())
            .unwrap_or_default(),
        flags: span.flags,
        name: span.name.clone(),
        kind: span.kind as i32,
        start_time_unix_nano: span.start_unix_nanos,
        end_time_unix_nano: span.end_unix_nanos,
        attributes: key_values(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| span::Event {
                time_unix_nano: event.time_unix_nanos,
                name: event.name.clone(),
                attributes: key_values(&event.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        links: span
            .links
            .iter()
            .map(|link| span::Link {
                trace_id: link.trace_id.as_bytes().to_vec(),
                span_id: link.span_id.0.to_vec(),
                trace_state: link.trace_state.clone(),
                attributes: key_values(&link.attributes),
                ..span::Link::default()
            })
            .collect(),
        status: Some(Status {
            message: span.status_message.clone(),
            code: span.status_code as i32,
        }),
        ..OtlpSpan::default()
    }
}

fn key_values(attributes: &[Attribute]) -> Vec<KeyValue> {
    attributes.iter().map(key_value).collect()
}

fn key_value(attribute: &Attribute) -> KeyValue {
    KeyValue {
        key: attribute.key.clone(),
        value: Some(any_value(&attribute.value)),
        ..KeyValue::default()
    }
}

fn any_value(value: &AttrValue) -> AnyValue {
    use any_value::Value;
    let value = match value {
        AttrValue::Str(text) => Some(Value::StringValue(text.clone())),
        AttrValue::Bool(value) => Some(Value::BoolValue(*value)),
        AttrValue::Int(value) => Some(Value::IntValue(*value)),
        AttrValue::Double(value) => Some(Value::DoubleValue(*value)),
        AttrValue::Bytes(bytes) => Some(Value::BytesValue(bytes.clone())),
        AttrValue::Array(items) => Some(Value::ArrayValue(ArrayValue {
            values: items.iter().map(any_value).collect(),
        })),
        AttrValue::KvList(entries) => Some(Value::KvlistValue(KeyValueList {
            values: key_values(entries),
        })),
        AttrValue::Empty => None,
    };
    AnyValue { value }
}
