//! Pure conversion from OTLP protobuf types into the model.
//!
//! Each span is validated on its own: a span with a malformed ID is rejected and
//! counted, its neighbours are kept. Fixes that Jaeger applies at write time
//! (missing service name, empty span name, end before start) happen here too, so
//! everything stored is already well-formed.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtlpExportRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue as OtlpAnyValue, KeyValue as OtlpKeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;

use crate::model::{
    AttrValue, Attribute, Event, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId,
};

use crate::protocol::{
    Converted, EMPTY_SERVICE_NAME, EMPTY_SPAN_NAME, MISSING_SERVICE_NAME, WRONG_TYPE_SERVICE_NAME,
};

/// Converts one export request, rejecting malformed spans one by one.
pub fn convert(request: OtlpExportRequest) -> Converted {
    let mut converted = Converted::default();
    for (resource_index, resource_spans) in request.resource_spans.into_iter().enumerate() {
        let resource = Arc::new(resource_from_otlp(resource_spans.resource));
        for (scope_index, scope_spans) in resource_spans.scope_spans.into_iter().enumerate() {
            let scope = Arc::new(match scope_spans.scope {
                Some(scope) => Scope {
                    name: scope.name,
                    version: scope.version,
                    attributes: attributes_from_otlp(scope.attributes),
                },
                None => Scope::default(),
            });
            for (span_index, span) in scope_spans.spans.into_iter().enumerate() {
                let place = format!("resource_spans[{resource_index}].scope_spans[{scope_index}].spans[{span_index}]");
                match span_from_otlp(span, &resource, &scope) {
                    Ok(span) => converted.spans.push(span),
                    Err(reason) => converted.reject(format!("{place}: {reason}")),
                }
            }
        }
    }
    converted
}

fn resource_from_otlp(resource: Option<OtlpResource>) -> Resource {
    let mut service_name = None;
    let mut attributes = Vec::new();
    for key_value in resource
        .map(|resource| resource.attributes)
        .unwrap_or_default()
    {
        if key_value.key == "service.name" {
            service_name = Some(match key_value.value.and_then(|value| value.value) {
                Some(OtlpValue::StringValue(name)) if name.is_empty() => {
                    EMPTY_SERVICE_NAME.to_owned()
                }
                Some(OtlpValue::StringValue(name)) => name,
                _ => WRONG_TYPE_SERVICE_NAME.to_owned(),
            });
        } else {
            attributes.push(attribute_from_otlp(key_value));
        }
    }
    Resource {
        service_name: service_name.unwrap_or_else(|| MISSING_SERVICE_NAME.to_owned()),
        attributes,
    }
}

fn span_from_otlp(
    span: OtlpSpan,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
) -> Result<Span, String> {
    let trace_id = TraceId::from_bytes(&span.trace_id).ok_or_else(|| {
        format!(
            "trace_id must be 16 bytes and not all zero, got {} bytes",
            span.trace_id.len()
        )
    })?;
    let span_id = SpanId::from_bytes(&span.span_id).ok_or_else(|| {
        format!(
            "span_id must be 8 bytes and not all zero, got {} bytes",
            span.span_id.len()
        )
    })?;
    let parent_span_id = match span.parent_span_id.len() {
        0 => None,
        8 => SpanId::from_bytes(&span.parent_span_id),
        other => {
            return Err(format!(
                "parent_span_id must be empty or 8 bytes, got {other} bytes"
            ))
        }
    };
    let mut links = Vec::with_capacity(span.links.len());
    for (index, link) in span.links.into_iter().enumerate() {
        // Jaeger drops links to the all-zero trace; a malformed link ID is the client's error.
        if link.trace_id.iter().all(|byte| *byte == 0) {
            continue;
        }
        let trace_id = TraceId::from_bytes(&link.trace_id)
            .ok_or_else(|| format!("links[{index}].trace_id must be 16 bytes"))?;
        let span_id = SpanId::from_bytes(&link.span_id)
            .ok_or_else(|| format!("links[{index}].span_id must be 8 bytes and not all zero"))?;
        links.push(Link {
            trace_id,
            span_id,
            trace_state: link.trace_state,
            attributes: attributes_from_otlp(link.attributes),
        });
    }
    let status = span.status.unwrap_or_default();
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: span.trace_state,
        flags: span.flags,
        name: if span.name.is_empty() {
            EMPTY_SPAN_NAME.to_owned()
        } else {
            span.name
        },
        kind: SpanKind::from_number(span.kind).unwrap_or(SpanKind::Unspecified),
        start_unix_nanos: span.start_time_unix_nano,
        end_unix_nanos: span.end_time_unix_nano.max(span.start_time_unix_nano),
        attributes: attributes_from_otlp(span.attributes),
        events: span
            .events
            .into_iter()
            .map(|event| Event {
                time_unix_nanos: event.time_unix_nano,
                name: event.name,
                attributes: attributes_from_otlp(event.attributes),
            })
            .collect(),
        links,
        status_code: StatusCode::from_number(status.code).unwrap_or(StatusCode::Unset),
        status_message: status.message,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
    })
}

fn attributes_from_otlp(key_values: Vec<OtlpKeyValue>) -> Vec<Attribute> {
    key_values.into_iter().map(attribute_from_otlp).collect()
}

fn attribute_from_otlp(key_value: OtlpKeyValue) -> Attribute {
    Attribute {
        key: key_value.key,
        value: value_from_otlp(key_value.value),
    }
}

fn value_from_otlp(value: Option<OtlpAnyValue>) -> AttrValue {
    match value.and_then(|value| value.value) {
        None => AttrValue::Empty,
        Some(OtlpValue::StringValue(text)) => AttrValue::Str(text),
        Some(OtlpValue::BoolValue(value)) => AttrValue::Bool(value),
        Some(OtlpValue::IntValue(value)) => AttrValue::Int(value),
        Some(OtlpValue::DoubleValue(value)) => AttrValue::Double(value),
        Some(OtlpValue::BytesValue(bytes)) => AttrValue::Bytes(bytes),
        Some(OtlpValue::ArrayValue(array)) => AttrValue::Array(
            array
                .values
                .into_iter()
                .map(|item| value_from_otlp(Some(item)))
                .collect(),
        ),
        Some(OtlpValue::KvlistValue(list)) => AttrValue::KvList(attributes_from_otlp(list.values)),
        // Newer protos may add value kinds; keep them visible rather than failing the span.
        #[allow(unreachable_patterns)]
        Some(_) => AttrValue::Empty,
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    use super::*;

    fn string_kv(key: &str, value: &str) -> OtlpKeyValue {
        OtlpKeyValue {
            key: key.to_owned(),
            value: Some(OtlpAnyValue {
                value: Some(OtlpValue::StringValue(value.to_owned())),
            }),
            ..Default::default()
        }
    }

    fn request(resource: Vec<OtlpKeyValue>, spans: Vec<OtlpSpan>) -> OtlpExportRequest {
        OtlpExportRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(OtlpResource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        version: "1.0".into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn good_span() -> OtlpSpan {
        OtlpSpan {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /".into(),
            kind: 2,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 3_000,
            status: Some(Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn converts_a_span_and_lifts_service_name() {
        let converted = convert(request(
            vec![string_kv("service.name", "cart"), string_kv("host", "a")],
            vec![good_span()],
        ));
        assert_eq!(converted.num_rejected, 0);
        let span = &converted.spans[0];
        assert_eq!(span.service_name(), "cart");
        assert_eq!(span.resource.attributes.len(), 1);
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.status_code, StatusCode::Error);
        assert_eq!(span.duration_nanos(), 2_000);
        assert_eq!(span.scope.name, "lib");
        assert!(span.is_error());
    }

    #[test]
    fn rejects_bad_ids_but_keeps_neighbours() {
        let bad = OtlpSpan {
            trace_id: vec![1; 3],
            ..good_span()
        };
        let converted = convert(request(vec![], vec![bad, good_span()]));
        assert_eq!(converted.spans.len(), 1);
        assert_eq!(converted.num_rejected, 1);
        assert!(converted
            .first_error_message()
            .contains("spans[0]: trace_id must be 16 bytes"));
    }

    #[test]
    fn applies_jaeger_write_time_fixes() {
        let inverted = OtlpSpan {
            name: String::new(),
            start_time_unix_nano: 10,
            end_time_unix_nano: 5,
            ..good_span()
        };
        let converted = convert(request(vec![], vec![inverted]));
        let span = &converted.spans[0];
        assert_eq!(span.service_name(), MISSING_SERVICE_NAME);
        assert_eq!(span.name, EMPTY_SPAN_NAME);
        assert_eq!(span.duration_nanos(), 0);
        let converted = convert(request(
            vec![string_kv("service.name", "")],
            vec![good_span()],
        ));
        assert_eq!(converted.spans[0].service_name(), EMPTY_SERVICE_NAME);
    }
}
