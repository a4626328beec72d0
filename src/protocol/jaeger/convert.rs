//! Jaeger `api_v2` batches (from gRPC, or read from Thrift by `batch`) → model, with
//! the semantics of the OpenTelemetry Collector's Jaeger receiver: the process
//! becomes the resource, the first `CHILD_OF` reference in the same trace the parent,
//! other references links, and the `span.kind`, `otel.status_code`,
//! `otel.status_description`, `error`, `w3c.tracestate` and `otel.scope.*` tags the
//! span's fields they describe.

use std::sync::Arc;

use super::api_v2;
use crate::model::{
    AttrValue, Attribute, Event, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId,
};
use crate::protocol::{Converted, EMPTY_SPAN_NAME, MISSING_SERVICE_NAME};

/// Translates one batch; a span with a bad ID is rejected, its neighbours are kept.
pub fn convert_batch(batch: api_v2::Batch, converted: &mut Converted) {
    let batch_resource = Arc::new(resource(batch.process.unwrap_or_default()));
    for (index, span) in batch.spans.into_iter().enumerate() {
        // api_v2 lets a span carry its own process, overriding the batch's.
        let resource = match span.process.clone() {
            Some(process) => Arc::new(resource(process)),
            None => Arc::clone(&batch_resource),
        };
        match convert_span(span, resource) {
            Ok(span) => converted.spans.push(span),
            Err(reason) => converted.reject(format!("spans[{index}]: {reason}")),
        }
    }
}

fn resource(process: api_v2::Process) -> Resource {
    Resource {
        service_name: if process.service_name.is_empty() {
            MISSING_SERVICE_NAME.to_owned()
        } else {
            process.service_name
        },
        attributes: process.tags.into_iter().map(attribute).collect(),
    }
}

pub(crate) fn attribute(tag: api_v2::KeyValue) -> Attribute {
    let value = match api_v2::ValueType::try_from(tag.v_type) {
        Ok(api_v2::ValueType::Bool) => AttrValue::Bool(tag.v_bool),
        Ok(api_v2::ValueType::Int64) => AttrValue::Int(tag.v_int64),
        Ok(api_v2::ValueType::Float64) => AttrValue::Double(tag.v_float64),
        Ok(api_v2::ValueType::Binary) => AttrValue::Bytes(tag.v_binary),
        Ok(api_v2::ValueType::String) | Err(_) => AttrValue::Str(tag.v_str),
    };
    Attribute {
        key: tag.key,
        value,
    }
}

fn nanos(timestamp: Option<prost_types::Timestamp>) -> u64 {
    timestamp.map_or(0, |timestamp| {
        (timestamp.seconds as i128 * 1_000_000_000 + i128::from(timestamp.nanos))
            .clamp(0, i128::from(u64::MAX)) as u64
    })
}

fn duration_nanos(duration: Option<prost_types::Duration>) -> u64 {
    duration.map_or(0, |duration| {
        (duration.seconds as i128 * 1_000_000_000 + i128::from(duration.nanos))
            .clamp(0, i128::from(u64::MAX)) as u64
    })
}

fn convert_span(span: api_v2::Span, resource: Arc<Resource>) -> Result<Span, String> {
    let trace_id = TraceId::from_bytes(&span.trace_id).ok_or_else(|| {
        format!(
            "trace ID must be 16 bytes and not all zero, got {} bytes{}",
            span.trace_id.len(),
            zero_note(&span.trace_id)
        )
    })?;
    let span_id = SpanId::from_bytes(&span.span_id).ok_or_else(|| {
        format!(
            "span ID must be 8 bytes and not all zero, got {} bytes{}",
            span.span_id.len(),
            zero_note(&span.span_id)
        )
    })?;
    let mut parent_span_id = None;
    let mut links = Vec::new();
    for (index, reference) in span.references.into_iter().enumerate() {
        let child_of = reference.ref_type == api_v2::SpanRefType::ChildOf as i32;
        let Some(ref_span) = SpanId::from_bytes(&reference.span_id) else {
            // Jaeger clients send a zero parent for roots; such a reference means nothing.
            if reference.span_id.iter().all(|byte| *byte == 0) {
                continue;
            }
            return Err(format!("references[{index}].span_id must be 8 bytes"));
        };
        let ref_trace = if reference.trace_id.iter().all(|byte| *byte == 0) {
            trace_id
        } else {
            TraceId::from_bytes(&reference.trace_id)
                .ok_or_else(|| format!("references[{index}].trace_id must be 16 bytes"))?
        };
        if child_of && ref_trace == trace_id && parent_span_id.is_none() {
            parent_span_id = Some(ref_span);
            continue;
        }
        let mut attributes = Vec::new();
        if child_of {
            attributes.push(Attribute {
                key: "opentracing.ref_type".to_owned(),
                value: AttrValue::Str("child_of".to_owned()),
            });
        }
        links.push(Link {
            trace_id: ref_trace,
            span_id: ref_span,
            trace_state: String::new(),
            attributes,
        });
    }

    let mut fields = SpecialTags::default();
    let attributes = span
        .tags
        .into_iter()
        .filter_map(|tag| fields.take(tag))
        .collect();
    let start_unix_nanos = nanos(span.start_time);
    let end_unix_nanos = start_unix_nanos.saturating_add(duration_nanos(span.duration));
    let (status_code, status_message) = fields.status();
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: fields.trace_state.unwrap_or_default(),
        // Jaeger's sampled bit is W3C's; the debug bit and above have no OTLP meaning.
        flags: span.flags & 0x01,
        name: if span.operation_name.is_empty() {
            EMPTY_SPAN_NAME.to_owned()
        } else {
            span.operation_name
        },
        kind: fields.kind.unwrap_or(SpanKind::Unspecified),
        start_unix_nanos,
        end_unix_nanos,
        attributes,
        events: span.logs.into_iter().map(event).collect(),
        links,
        status_code,
        status_message,
        resource,
        scope: Arc::new(Scope {
            name: fields.scope_name.unwrap_or_default(),
            version: fields.scope_version.unwrap_or_default(),
            attributes: Vec::new(),
        }),
    })
}

fn zero_note(bytes: &[u8]) -> &'static str {
    if !bytes.is_empty() && bytes.iter().all(|byte| *byte == 0) {
        " (all zero)"
    } else {
        ""
    }
}

/// A log becomes an event named by its `event` field (which is then dropped).
fn event(log: api_v2::Log) -> Event {
    let mut name = String::new();
    let mut attributes = Vec::with_capacity(log.fields.len());
    for field in log.fields {
        if name.is_empty() && field.key == "event" && field.v_type == 0 {
            name = field.v_str;
        } else {
            attributes.push(attribute(field));
        }
    }
    Event {
        time_unix_nanos: nanos(log.timestamp),
        name,
        attributes,
    }
}

/// The tags that describe span fields rather than being attributes.
#[derive(Debug, Default)]
struct SpecialTags {
    kind: Option<SpanKind>,
    otel_status: Option<StatusCode>,
    status_description: Option<String>,
    error: bool,
    trace_state: Option<String>,
    scope_name: Option<String>,
    scope_version: Option<String>,
}

impl SpecialTags {
    /// Keeps `tag` as an attribute (`Some`) or takes it into a span field (`None`).
    fn take(&mut self, tag: api_v2::KeyValue) -> Option<Attribute> {
        let is_string = tag.v_type == api_v2::ValueType::String as i32;
        match tag.key.as_str() {
            "span.kind" if is_string => match SpanKind::from_jaeger_name(&tag.v_str) {
                Some(kind) => {
                    self.kind = Some(kind);
                    None
                }
                None => Some(attribute(tag)),
            },
            "otel.status_code" if is_string => {
                let code = match tag.v_str.as_str() {
                    "OK" => StatusCode::Ok,
                    "ERROR" => StatusCode::Error,
                    _ => return Some(attribute(tag)),
                };
                self.otel_status = Some(code);
                None
            }
            "otel.status_description" if is_string => {
                self.status_description = Some(tag.v_str);
                None
            }
            "error" => {
                let value = attribute(tag);
                match &value.value {
                    AttrValue::Bool(true) => {
                        self.error = true;
                        None
                    }
                    AttrValue::Str(text) if text == "true" => {
                        self.error = true;
                        None
                    }
                    _ => Some(value),
                }
            }
            "w3c.tracestate" if is_string => {
                self.trace_state = Some(tag.v_str);
                None
            }
            "otel.scope.name" | "otel.library.name" if is_string => {
                self.scope_name = Some(tag.v_str);
                None
            }
            "otel.scope.version" | "otel.library.version" if is_string => {
                self.scope_version = Some(tag.v_str);
                None
            }
            _ => Some(attribute(tag)),
        }
    }

    fn status(&mut self) -> (StatusCode, String) {
        let code = match self.otel_status {
            Some(code) => code,
            None if self.error => StatusCode::Error,
            None => StatusCode::Unset,
        };
        (code, self.status_description.take().unwrap_or_default())
    }
}
