//! The same Jaeger trace as protobuf (`jaeger.api_v2.Span`), for the gRPC api_v2
//! `QueryService`.
//!
//! Renders a `JaegerTrace`, so the adjusters and the OTLP → Jaeger translation run
//! once, in `jaeger_trace`, for JSON and protobuf alike. As Jaeger's gRPC query
//! service does, each span carries its process itself and `process_id` stays
//! empty; times keep their nanoseconds.

use prost_types::{Duration, Timestamp};

use super::{JaegerProcess, JaegerTrace, Tag, TagValue};
use crate::protocol::jaeger::api_v2 as pb;

impl JaegerTrace<'_> {
    /// The trace's spans in the order `jaeger_trace` put them.
    pub(crate) fn to_proto_spans(&self) -> Vec<pb::Span> {
        let processes: Vec<pb::Process> = self.processes.0.iter().map(process).collect();
        self.spans
            .iter()
            .map(|span| {
                let source = span.source;
                pb::Span {
                    trace_id: source.trace_id.as_bytes().to_vec(),
                    span_id: source.span_id.0.to_vec(),
                    operation_name: span.operation_name.to_owned(),
                    references: span
                        .references
                        .iter()
                        .map(|reference| pb::SpanRef {
                            trace_id: reference.ids.0.as_bytes().to_vec(),
                            span_id: reference.ids.1 .0.to_vec(),
                            ref_type: if reference.ref_type == "FOLLOWS_FROM" {
                                pb::SpanRefType::FollowsFrom
                            } else {
                                pb::SpanRefType::ChildOf
                            } as i32,
                        })
                        .collect(),
                    flags: 0,
                    start_time: Some(timestamp(source.start_unix_nanos)),
                    duration: Some(duration(source.duration_nanos())),
                    tags: span.tags.iter().map(key_value).collect(),
                    logs: span
                        .logs
                        .iter()
                        .map(|log| pb::Log {
                            timestamp: Some(timestamp(log.time_unix_nanos)),
                            fields: log.fields.iter().map(key_value).collect(),
                        })
                        .collect(),
                    process: processes.get(span.process_index).cloned(),
                    process_id: String::new(),
                    warnings: span.warnings.clone().unwrap_or_default(),
                }
            })
            .collect()
    }
}

fn process(process: &JaegerProcess<'_>) -> pb::Process {
    pb::Process {
        service_name: process.service_name.to_owned(),
        tags: process.tags.iter().map(key_value).collect(),
    }
}

fn key_value(tag: &Tag<'_>) -> pb::KeyValue {
    let mut key_value = pb::KeyValue {
        key: tag.key.to_owned(),
        ..pb::KeyValue::default()
    };
    match &tag.value {
        TagValue::String(text) => {
            key_value.v_type = pb::ValueType::String as i32;
            key_value.v_str = text.to_string();
        }
        TagValue::Bool(value) => {
            key_value.v_type = pb::ValueType::Bool as i32;
            key_value.v_bool = *value;
        }
        TagValue::Int64(value) => {
            key_value.v_type = pb::ValueType::Int64 as i32;
            key_value.v_int64 = *value;
        }
        TagValue::Float64(value) => {
            key_value.v_type = pb::ValueType::Float64 as i32;
            key_value.v_float64 = *value;
        }
        TagValue::Binary(bytes) => {
            key_value.v_type = pb::ValueType::Binary as i32;
            key_value.v_binary = bytes.to_vec();
        }
    }
    key_value
}

pub(crate) fn timestamp(unix_nanos: u64) -> Timestamp {
    Timestamp {
        seconds: (unix_nanos / 1_000_000_000) as i64,
        nanos: (unix_nanos % 1_000_000_000) as i32,
    }
}

fn duration(nanos: u64) -> Duration {
    Duration {
        seconds: (nanos / 1_000_000_000) as i64,
        nanos: (nanos % 1_000_000_000) as i32,
    }
}
