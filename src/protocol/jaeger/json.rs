//! Jaeger's trace JSON, the shape its query API serves (`/api/traces/{id}`) and its
//! UI downloads: `{"data": [trace, …]}`, where a trace is `{traceID, spans,
//! processes}` and a span names its process by `processID`. Also a bare list of
//! traces, or one trace object.
//!
//! The spans are read into `api_v2` types, one batch per process, so they share
//! `convert`'s translation with the gRPC and Thrift receivers (`span.kind`,
//! `otel.status_code`, `error`, `otel.scope.*` tags → span fields; the first
//! same-trace `CHILD_OF` reference → parent). This module only maps the JSON: hex
//! IDs (leading zeros may be left out), microsecond times, and typed tag values.

use std::collections::HashMap;
use std::fmt;

use prost_types::{Duration, Timestamp};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::{api_v2, convert_batch};
use crate::model::{SpanId, TraceId};
use crate::protocol::Converted;

/// Decodes a Jaeger JSON document into model spans; spans with bad IDs are
/// rejected one by one. Errors carry serde_json's line and column.
pub fn decode_json(body: &[u8]) -> Result<Converted, serde_json::Error> {
    let traces = match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(&b'[') => serde_json::from_slice::<Vec<TraceDto>>(body)?,
        _ => {
            let document: DocumentDto = serde_json::from_slice(body)?;
            match document.data {
                Some(traces) => traces,
                None => vec![TraceDto {
                    spans: document.spans,
                    processes: document.processes,
                }],
            }
        }
    };
    let mut converted = Converted::default();
    for trace in traces {
        convert_trace(trace, &mut converted);
    }
    Ok(converted)
}

fn convert_trace(trace: TraceDto, converted: &mut Converted) {
    // One batch per process ID, in the order the spans first use them, so spans of
    // one process share one resource.
    let mut batches: Vec<api_v2::Batch> = Vec::new();
    let mut batch_of: HashMap<String, usize> = HashMap::new();
    for (index, span) in trace.spans.into_iter().enumerate() {
        let process_id = span.process_id.clone();
        let span = match span_from_dto(span) {
            Ok(span) => span,
            Err(reason) => {
                converted.reject(format!("spans[{index}]: {reason}"));
                continue;
            }
        };
        let batch = *batch_of.entry(process_id.clone()).or_insert_with(|| {
            let process = trace
                .processes
                .get(&process_id)
                .map(|process| process_from_dto(process.clone()));
            batches.push(api_v2::Batch {
                spans: Vec::new(),
                process,
            });
            batches.len() - 1
        });
        batches[batch].spans.push(span);
    }
    for batch in batches {
        convert_batch(batch, converted);
    }
}

fn span_from_dto(span: SpanDto) -> Result<api_v2::Span, String> {
    let trace_id = TraceId::from_hex(&span.trace_id)
        .map_err(|error| format!("traceID `{}`: {error}", span.trace_id))?;
    let span_id = SpanId::from_hex(&span.span_id)
        .map_err(|error| format!("spanID `{}`: {error}", span.span_id))?;
    let mut references = Vec::with_capacity(span.references.len() + 1);
    for (index, reference) in span.references.iter().enumerate() {
        let ref_trace = if reference.trace_id.is_empty() {
            trace_id
        } else {
            TraceId::from_hex(&reference.trace_id)
                .map_err(|error| format!("references[{index}].traceID: {error}"))?
        };
        let ref_span = SpanId::from_hex(&reference.span_id)
            .map_err(|error| format!("references[{index}].spanID: {error}"))?;
        let ref_type = if reference.ref_type.eq_ignore_ascii_case("FOLLOWS_FROM") {
            api_v2::SpanRefType::FollowsFrom
        } else {
            api_v2::SpanRefType::ChildOf
        };
        references.push(api_v2::SpanRef {
            trace_id: ref_trace.as_bytes().to_vec(),
            span_id: ref_span.0.to_vec(),
            ref_type: ref_type as i32,
        });
    }
    // The deprecated `parentSpanID` field, when no reference names the parent.
    if let Some(parent) = span.parent_span_id.as_deref().filter(|id| !id.is_empty()) {
        if let Ok(parent) = SpanId::from_hex(parent) {
            if !references.iter().any(|reference| {
                reference.ref_type == api_v2::SpanRefType::ChildOf as i32
                    && reference.trace_id == trace_id.as_bytes()
            }) {
                references.insert(
                    0,
                    api_v2::SpanRef {
                        trace_id: trace_id.as_bytes().to_vec(),
                        span_id: parent.0.to_vec(),
                        ref_type: api_v2::SpanRefType::ChildOf as i32,
                    },
                );
            }
        }
    }
    Ok(api_v2::Span {
        trace_id: trace_id.as_bytes().to_vec(),
        span_id: span_id.0.to_vec(),
        operation_name: span.operation_name,
        references,
        flags: span.flags,
        start_time: Some(micros_timestamp(span.start_time)),
        duration: Some(Duration {
            seconds: (span.duration / 1_000_000) as i64,
            nanos: ((span.duration % 1_000_000) * 1000) as i32,
        }),
        tags: span.tags.into_iter().map(TagDto::into_key_value).collect(),
        logs: span
            .logs
            .into_iter()
            .map(|log| api_v2::Log {
                timestamp: Some(micros_timestamp(log.timestamp)),
                fields: log.fields.into_iter().map(TagDto::into_key_value).collect(),
            })
            .collect(),
        process: span.process.map(process_from_dto),
        process_id: String::new(),
        warnings: Vec::new(),
    })
}

fn process_from_dto(process: ProcessDto) -> api_v2::Process {
    api_v2::Process {
        service_name: process.service_name,
        tags: process
            .tags
            .into_iter()
            .map(TagDto::into_key_value)
            .collect(),
    }
}

fn micros_timestamp(micros: u64) -> Timestamp {
    Timestamp {
        seconds: (micros / 1_000_000) as i64,
        nanos: ((micros % 1_000_000) * 1000) as i32,
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a Jaeger document: {\"data\": [trace, …]} or one trace")]
struct DocumentDto {
    data: Option<Vec<TraceDto>>,
    #[serde(default)]
    spans: Vec<SpanDto>,
    #[serde(default)]
    processes: HashMap<String, ProcessDto>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Jaeger trace object")]
struct TraceDto {
    #[serde(default)]
    spans: Vec<SpanDto>,
    #[serde(default)]
    processes: HashMap<String, ProcessDto>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a Jaeger span object")]
struct SpanDto {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(rename = "parentSpanID", default)]
    parent_span_id: Option<String>,
    #[serde(default)]
    operation_name: String,
    #[serde(default)]
    references: Vec<ReferenceDto>,
    #[serde(default)]
    flags: u32,
    /// Microseconds since the Unix epoch.
    #[serde(default)]
    start_time: u64,
    /// Microseconds.
    #[serde(default)]
    duration: u64,
    #[serde(default)]
    tags: Vec<TagDto>,
    #[serde(default)]
    logs: Vec<LogDto>,
    #[serde(rename = "processID", default)]
    process_id: String,
    /// Some writers embed the process in each span instead.
    #[serde(default)]
    process: Option<ProcessDto>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a Jaeger reference object")]
struct ReferenceDto {
    #[serde(default)]
    ref_type: String,
    #[serde(rename = "traceID", default)]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Deserialize)]
#[serde(expecting = "a Jaeger log object")]
struct LogDto {
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    fields: Vec<TagDto>,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a Jaeger process object")]
struct ProcessDto {
    #[serde(default)]
    service_name: String,
    #[serde(default)]
    tags: Vec<TagDto>,
}

/// `{key, type, value}`; the value is read as whatever JSON scalar it is and then
/// taken as the declared type where it fits (int64 beyond 2^53 comes as a string,
/// binary as base64), else kept as a string.
#[derive(Clone, Deserialize)]
#[serde(expecting = "a Jaeger tag object {key, type, value}")]
struct TagDto {
    key: String,
    #[serde(rename = "type", default)]
    value_type: String,
    #[serde(default)]
    value: Scalar,
}

#[derive(Clone, Debug, Default, PartialEq)]
enum Scalar {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl TagDto {
    fn into_key_value(self) -> api_v2::KeyValue {
        use api_v2::ValueType;
        let mut key_value = api_v2::KeyValue {
            key: self.key,
            ..api_v2::KeyValue::default()
        };
        let value = self.value;
        match (self.value_type.to_ascii_lowercase().as_str(), value) {
            ("bool", Scalar::Bool(value)) => {
                key_value.v_type = ValueType::Bool as i32;
                key_value.v_bool = value;
            }
            ("bool", Scalar::Str(text)) if text == "true" || text == "false" => {
                key_value.v_type = ValueType::Bool as i32;
                key_value.v_bool = text == "true";
            }
            ("int64", Scalar::Int(value)) => {
                key_value.v_type = ValueType::Int64 as i32;
                key_value.v_int64 = value;
            }
            ("int64", Scalar::Str(text)) if text.parse::<i64>().is_ok() => {
                key_value.v_type = ValueType::Int64 as i32;
                key_value.v_int64 = text.parse().unwrap_or_default();
            }
            ("float64", Scalar::Float(value)) => {
                key_value.v_type = ValueType::Float64 as i32;
                key_value.v_float64 = value;
            }
            ("float64", Scalar::Int(value)) => {
                key_value.v_type = ValueType::Float64 as i32;
                key_value.v_float64 = value as f64;
            }
            ("float64", Scalar::Str(text)) if text.parse::<f64>().is_ok() => {
                key_value.v_type = ValueType::Float64 as i32;
                key_value.v_float64 = text.parse().unwrap_or_default();
            }
            ("binary", Scalar::Str(text)) => {
                use base64::Engine as _;
                match base64::engine::general_purpose::STANDARD.decode(&text) {
                    Ok(bytes) => {
                        key_value.v_type = ValueType::Binary as i32;
                        key_value.v_binary = bytes;
                    }
                    Err(_) => key_value.v_str = text,
                }
            }
            (_, Scalar::Str(text)) => key_value.v_str = text,
            (_, Scalar::Bool(value)) => {
                key_value.v_type = ValueType::Bool as i32;
                key_value.v_bool = value;
            }
            (_, Scalar::Int(value)) => {
                key_value.v_type = ValueType::Int64 as i32;
                key_value.v_int64 = value;
            }
            (_, Scalar::Float(value)) => {
                key_value.v_type = ValueType::Float64 as i32;
                key_value.v_float64 = value;
            }
            (_, Scalar::Null) => {}
        }
        key_value
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Scalar, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string, number, boolean or null")
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(value))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Scalar, E> {
                Ok(i64::try_from(value).map_or(Scalar::Float(value as f64), Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(value))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(value.to_owned()))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(value))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttrValue, SpanKind, StatusCode};

    #[test]
    fn reads_the_v1_envelope_into_model_spans() {
        let body = br#"{"data":[{"traceID":"abc","spans":[
            {"traceID":"abc","spanID":"1","operationName":"GET /","references":[],
             "startTime":1000000,"duration":2500,"processID":"p1",
             "tags":[{"key":"span.kind","type":"string","value":"server"},
                     {"key":"otel.status_code","type":"string","value":"ERROR"},
                     {"key":"error","type":"bool","value":true},
                     {"key":"big","type":"int64","value":"9007199254740993"},
                     {"key":"ratio","type":"float64","value":0.5},
                     {"key":"raw","type":"binary","value":"AQI="}],
             "logs":[{"timestamp":1000100,"fields":[{"key":"event","type":"string","value":"retry"},
                                                    {"key":"attempt","type":"int64","value":2}]}]},
            {"traceID":"abc","spanID":"2","operationName":"db","startTime":1000500,"duration":10,
             "references":[{"refType":"CHILD_OF","traceID":"abc","spanID":"1"}],"processID":"p2",
             "tags":[],"logs":[]}],
          "processes":{"p1":{"serviceName":"api","tags":[{"key":"host","type":"string","value":"a"}]},
                       "p2":{"serviceName":"db","tags":[]}}}]}"#;
        let converted = decode_json(body).expect("valid");
        assert_eq!(converted.num_rejected, 0);
        let [root, child] = &converted.spans[..] else {
            panic!("two spans: {:?}", converted.spans.len())
        };
        assert_eq!(root.trace_id, TraceId::from_hex("abc").expect("hex"));
        assert_eq!(root.resource.service_name, "api");
        assert_eq!(root.kind, SpanKind::Server);
        assert_eq!(root.status_code, StatusCode::Error);
        assert_eq!(root.start_unix_nanos, 1_000_000_000);
        assert_eq!(root.end_unix_nanos, 1_002_500_000);
        let value = |key: &str| {
            root.attributes
                .iter()
                .find(|attribute| attribute.key == key)
                .map(|attribute| attribute.value.clone())
        };
        assert_eq!(value("big"), Some(AttrValue::Int(9_007_199_254_740_993)));
        assert_eq!(value("ratio"), Some(AttrValue::Double(0.5)));
        assert_eq!(value("raw"), Some(AttrValue::Bytes(vec![1, 2])));
        assert_eq!(value("error"), None, "the error tag became the status");
        assert_eq!(root.events[0].name, "retry");
        assert_eq!(root.events[0].time_unix_nanos, 1_000_100_000);
        assert_eq!(child.parent_span_id, Some(root.span_id));
        assert_eq!(child.resource.service_name, "db");
    }

    #[test]
    fn bad_ids_reject_one_span_and_bad_json_says_where() {
        let body = br#"[{"spans":[{"traceID":"xyz","spanID":"1"},{"traceID":"1","spanID":"2"}],"processes":{}}]"#;
        let converted = decode_json(body).expect("valid JSON");
        assert_eq!(converted.spans.len(), 1);
        assert_eq!(converted.num_rejected, 1);
        assert!(converted
            .first_error_message()
            .starts_with("spans[0]: traceID `xyz`"));

        let error =
            decode_json(br#"{"data":[{"spans":[{"spanID":"1"}]}]}"#).expect_err("no traceID");
        assert!(
            error.to_string().contains("missing field `traceID`"),
            "{error}"
        );
    }
}
