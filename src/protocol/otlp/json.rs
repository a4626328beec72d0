//! OTLP/JSON for traces: the "JSON Protobuf Encoding" of the OTLP specification.
//!
//! Decodes `/v1/traces` JSON bodies into the same prost types the gRPC and
//! protobuf receivers produce, so everything after the transport is shared, and
//! encodes the JSON response bodies. This module owns only the wire mapping:
//! OTLP's deviations from proto3 JSON (trace and span IDs are hex, not base64)
//! and proto3 JSON's leniency (lowerCamelCase or original field names, 64-bit
//! integers as strings or numbers, enums by name or number, `null` meaning the
//! default, unknown fields ignored). It must not judge the data: semantic checks
//! such as all-zero IDs belong to `otlp::convert`.
//!
//! Bodies are parsed straight from the byte slice into private DTOs, and each DTO
//! is moved into its prost type as soon as it is complete (see `fields::repeated`),
//! so no `serde_json::Value` tree and no second pass over the spans is needed.
//! Messages must be JSON objects (see `fields::ObjectOnly`).
//! serde_json's recursion limit (128 levels) stays on: deeply nested
//! `arrayValue`/`kvlistValue` bodies fail with an error instead of overflowing
//! the stack. Each nested `arrayValue` costs three levels, so 39 levels of
//! attribute nesting fit inside a span, in line with prost's limit of 100 nested
//! messages for protobuf bodies.

use std::fmt;
use std::io::Write as _;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest as OtlpExportRequest,
    ExportTraceServiceResponse as OtlpExportResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpAnyValue, ArrayValue as OtlpArrayValue, InstrumentationScope as OtlpScope,
    KeyValue as OtlpKeyValue, KeyValueList as OtlpKeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::span::{Event as OtlpEvent, Link as OtlpLink};
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans as OtlpResourceSpans, ScopeSpans as OtlpScopeSpans, Span as OtlpSpan,
    Status as OtlpStatus,
};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use self::fields::{
    integer, optional, parent_span_id, repeated, span_id, span_kind, status_code, string, trace_id,
    AsMap, Base64Bytes, Double, HasDto, Int64, ObjectOnly,
};
use super::DecodeError;

mod fields;

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
///
/// An empty (or all-whitespace) body is an empty request, as an empty protobuf
/// body is. Errors carry serde_json's line and column.
pub(crate) fn decode_export_request(body: &[u8]) -> Result<OtlpExportRequest, DecodeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(OtlpExportRequest::default());
    }
    // What serde_json::from_slice does, but through `AsMap`.
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let request = ExportRequestDto::deserialize(AsMap(&mut deserializer))?;
    deserializer.end()?;
    Ok(OtlpExportRequest {
        resource_spans: request.resource_spans,
    })
}

/// Encodes an ExportTraceServiceResponse as OTLP/JSON: `{}` when partial_success is None, else
/// `{"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}` (int64 as string per proto3 JSON).
pub(crate) fn encode_export_response(response: &OtlpExportResponse) -> Vec<u8> {
    let Some(partial_success) = &response.partial_success else {
        return b"{}".to_vec();
    };
    let mut out = Vec::with_capacity(64 + partial_success.error_message.len());
    write!(
        out,
        r#"{{"partialSuccess":{{"rejectedSpans":"{}","errorMessage":"#,
        partial_success.rejected_spans
    )
    .expect("writing to a Vec cannot fail");
    write_json_string(&mut out, &partial_success.error_message);
    out.extend_from_slice(b"}}");
    out
}

/// Encodes a google.rpc.Status as JSON: {"code": <grpc code int>, "message": "...", "details": []}.
pub(crate) fn encode_status(grpc_code: i32, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + message.len());
    write!(out, r#"{{"code":{grpc_code},"message":"#).expect("writing to a Vec cannot fail");
    write_json_string(&mut out, message);
    out.extend_from_slice(br#","details":[]}"#);
    out
}

// The DTOs below mirror the proto messages field for field. Fields already hold
// their prost types, filled in by the `deserialize_with` helpers in `fields`;
// `#[serde(default)]` supplies proto defaults for missing fields, and fields not
// listed here are ignored. Only the original field names that differ from their
// lowerCamelCase form need an alias.

#[derive(Default, Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    expecting = "an ExportTraceServiceRequest object"
)]
struct ExportRequestDto {
    #[serde(alias = "resource_spans", deserialize_with = "repeated")]
    resource_spans: Vec<OtlpResourceSpans>,
}

#[derive(Default, Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    expecting = "a ResourceSpans object"
)]
struct ResourceSpansDto {
    #[serde(deserialize_with = "optional")]
    resource: Option<OtlpResource>,
    #[serde(alias = "scope_spans", deserialize_with = "repeated")]
    scope_spans: Vec<OtlpScopeSpans>,
    #[serde(alias = "schema_url", deserialize_with = "string")]
    schema_url: String,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "a Resource object")]
struct ResourceDto {
    #[serde(deserialize_with = "repeated")]
    attributes: Vec<OtlpKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "integer")]
    dropped_attributes_count: u32,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "a ScopeSpans object")]
struct ScopeSpansDto {
    #[serde(deserialize_with = "optional")]
    scope: Option<OtlpScope>,
    #[serde(deserialize_with = "repeated")]
    spans: Vec<OtlpSpan>,
    #[serde(alias = "schema_url", deserialize_with = "string")]
    schema_url: String,
}

#[derive(Default, Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    expecting = "an InstrumentationScope object"
)]
struct ScopeDto {
    #[serde(deserialize_with = "string")]
    name: String,
    #[serde(deserialize_with = "string")]
    version: String,
    #[serde(deserialize_with = "repeated")]
    attributes: Vec<OtlpKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "integer")]
    dropped_attributes_count: u32,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "a Span object")]
struct SpanDto {
    #[serde(alias = "trace_id", deserialize_with = "trace_id")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "span_id")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state", deserialize_with = "string")]
    trace_state: String,
    #[serde(alias = "parent_span_id", deserialize_with = "parent_span_id")]
    parent_span_id: Vec<u8>,
    #[serde(deserialize_with = "integer")]
    flags: u32,
    #[serde(deserialize_with = "string")]
    name: String,
    #[serde(deserialize_with = "span_kind")]
    kind: i32,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "integer")]
    start_time_unix_nano: u64,
    #[serde(alias = "end_time_unix_nano", deserialize_with = "integer")]
    end_time_unix_nano: u64,
    #[serde(deserialize_with = "repeated")]
    attributes: Vec<OtlpKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "integer")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "repeated")]
    events: Vec<OtlpEvent>,
    #[serde(alias = "dropped_events_count", deserialize_with = "integer")]
    dropped_events_count: u32,
    #[serde(deserialize_with = "repeated")]
    links: Vec<OtlpLink>,
    #[serde(alias = "dropped_links_count", deserialize_with = "integer")]
    dropped_links_count: u32,
    #[serde(deserialize_with = "optional")]
    status: Option<OtlpStatus>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "a Span.Event object")]
struct EventDto {
    #[serde(alias = "time_unix_nano", deserialize_with = "integer")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "string")]
    name: String,
    #[serde(deserialize_with = "repeated")]
    attributes: Vec<OtlpKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "integer")]
    dropped_attributes_count: u32,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "a Span.Link object")]
struct LinkDto {
    #[serde(alias = "trace_id", deserialize_with = "trace_id")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "span_id")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state", deserialize_with = "string")]
    trace_state: String,
    #[serde(deserialize_with = "repeated")]
    attributes: Vec<OtlpKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "integer")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "integer")]
    flags: u32,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "a Status object")]
struct StatusDto {
    #[serde(deserialize_with = "string")]
    message: String,
    #[serde(deserialize_with = "status_code")]
    code: i32,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "a KeyValue object")]
struct KeyValueDto {
    #[serde(deserialize_with = "string")]
    key: String,
    #[serde(deserialize_with = "optional")]
    value: Option<OtlpAnyValue>,
}

/// AnyValue's `value` is a oneof, which derive cannot express: see its
/// hand-written `Deserialize` impl.
struct AnyValueDto(OtlpAnyValue);

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "an ArrayValue object")]
struct ArrayValueDto {
    #[serde(deserialize_with = "repeated")]
    values: Vec<OtlpAnyValue>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase", expecting = "a KeyValueList object")]
struct KeyValueListDto {
    #[serde(deserialize_with = "repeated")]
    values: Vec<OtlpKeyValue>,
}

/// The members of AnyValue's `value` oneof.
#[derive(Clone, Copy, Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum AnyValueField {
    #[serde(alias = "string_value")]
    StringValue,
    #[serde(alias = "bool_value")]
    BoolValue,
    #[serde(alias = "int_value")]
    IntValue,
    #[serde(alias = "double_value")]
    DoubleValue,
    #[serde(alias = "array_value")]
    ArrayValue,
    #[serde(alias = "kvlist_value")]
    KvlistValue,
    #[serde(alias = "bytes_value")]
    BytesValue,
    #[serde(other)]
    Unknown,
}

/// Each OTLP message type and the DTO its JSON form is read through.
macro_rules! has_dto {
    ($($otlp:ty => $dto:ty),* $(,)?) => {
        $(impl HasDto for $otlp {
            type Dto = $dto;
        })*
    };
}

has_dto! {
    OtlpResourceSpans => ResourceSpansDto,
    OtlpResource => ResourceDto,
    OtlpScopeSpans => ScopeSpansDto,
    OtlpScope => ScopeDto,
    OtlpSpan => SpanDto,
    OtlpEvent => EventDto,
    OtlpLink => LinkDto,
    OtlpStatus => StatusDto,
    OtlpKeyValue => KeyValueDto,
    OtlpAnyValue => AnyValueDto,
}

impl From<ResourceSpansDto> for OtlpResourceSpans {
    fn from(dto: ResourceSpansDto) -> Self {
        OtlpResourceSpans {
            resource: dto.resource,
            scope_spans: dto.scope_spans,
            schema_url: dto.schema_url,
        }
    }
}

impl From<ResourceDto> for OtlpResource {
    fn from(dto: ResourceDto) -> Self {
        // `entity_refs` is still in development in the spec and not decoded.
        OtlpResource {
            attributes: dto.attributes,
            dropped_attributes_count: dto.dropped_attributes_count,
            ..Default::default()
        }
    }
}

impl From<ScopeSpansDto> for OtlpScopeSpans {
    fn from(dto: ScopeSpansDto) -> Self {
        OtlpScopeSpans {
            scope: dto.scope,
            spans: dto.spans,
            schema_url: dto.schema_url,
        }
    }
}

impl From<ScopeDto> for OtlpScope {
    fn from(dto: ScopeDto) -> Self {
        OtlpScope {
            name: dto.name,
            version: dto.version,
            attributes: dto.attributes,
            dropped_attributes_count: dto.dropped_attributes_count,
        }
    }
}

impl From<SpanDto> for OtlpSpan {
    fn from(dto: SpanDto) -> Self {
        OtlpSpan {
            trace_id: dto.trace_id,
            span_id: dto.span_id,
            trace_state: dto.trace_state,
            parent_span_id: dto.parent_span_id,
            flags: dto.flags,
            name: dto.name,
            kind: dto.kind,
            start_time_unix_nano: dto.start_time_unix_nano,
            end_time_unix_nano: dto.end_time_unix_nano,
            attributes: dto.attributes,
            dropped_attributes_count: dto.dropped_attributes_count,
            events: dto.events,
            dropped_events_count: dto.dropped_events_count,
            links: dto.links,
            dropped_links_count: dto.dropped_links_count,
            status: dto.status,
        }
    }
}

impl From<EventDto> for OtlpEvent {
    fn from(dto: EventDto) -> Self {
        OtlpEvent {
            time_unix_nano: dto.time_unix_nano,
            name: dto.name,
            attributes: dto.attributes,
            dropped_attributes_count: dto.dropped_attributes_count,
        }
    }
}

impl From<LinkDto> for OtlpLink {
    fn from(dto: LinkDto) -> Self {
        OtlpLink {
            trace_id: dto.trace_id,
            span_id: dto.span_id,
            trace_state: dto.trace_state,
            attributes: dto.attributes,
            dropped_attributes_count: dto.dropped_attributes_count,
            flags: dto.flags,
        }
    }
}

impl From<StatusDto> for OtlpStatus {
    fn from(dto: StatusDto) -> Self {
        OtlpStatus {
            message: dto.message,
            code: dto.code,
        }
    }
}

impl From<KeyValueDto> for OtlpKeyValue {
    fn from(dto: KeyValueDto) -> Self {
        // `key_strindex` is only used by the profiles signal.
        OtlpKeyValue {
            key: dto.key,
            value: dto.value,
            ..Default::default()
        }
    }
}

impl From<AnyValueDto> for OtlpAnyValue {
    fn from(dto: AnyValueDto) -> Self {
        dto.0
    }
}

impl<'de> Deserialize<'de> for AnyValueDto {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AnyValueVisitor)
    }
}

struct AnyValueVisitor;

impl<'de> Visitor<'de> for AnyValueVisitor {
    type Value = AnyValueDto;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an AnyValue object")
    }

    /// `{}` (or only `null` members) leaves the value unset; setting two
    /// members of the oneof is an error, as in other proto3 JSON parsers.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValueDto, A::Error> {
        let mut value = None;
        let mut value_field: Option<AnyValueField> = None;
        while let Some(field) = map.next_key::<AnyValueField>()? {
            let next = match field {
                AnyValueField::StringValue => map
                    .next_value::<Option<String>>()?
                    .map(OtlpValue::StringValue),
                AnyValueField::BoolValue => {
                    map.next_value::<Option<bool>>()?.map(OtlpValue::BoolValue)
                }
                AnyValueField::IntValue => map
                    .next_value::<Option<Int64>>()?
                    .map(|Int64(number)| OtlpValue::IntValue(number)),
                AnyValueField::DoubleValue => map
                    .next_value::<Option<Double>>()?
                    .map(|Double(number)| OtlpValue::DoubleValue(number)),
                AnyValueField::ArrayValue => map
                    .next_value::<Option<ObjectOnly<ArrayValueDto>>>()?
                    .map(|ObjectOnly(array)| {
                        OtlpValue::ArrayValue(OtlpArrayValue {
                            values: array.values,
                        })
                    }),
                AnyValueField::KvlistValue => map
                    .next_value::<Option<ObjectOnly<KeyValueListDto>>>()?
                    .map(|ObjectOnly(list)| {
                        OtlpValue::KvlistValue(OtlpKeyValueList {
                            values: list.values,
                        })
                    }),
                AnyValueField::BytesValue => map
                    .next_value::<Option<Base64Bytes>>()?
                    .map(|Base64Bytes(bytes)| OtlpValue::BytesValue(bytes)),
                AnyValueField::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                    None
                }
            };
            if next.is_none() {
                continue;
            }
            if let Some(earlier) = value_field {
                return Err(de::Error::custom(format_args!(
                    "AnyValue sets both {} and {}, but may set only one value",
                    earlier.name(),
                    field.name()
                )));
            }
            value = next;
            value_field = Some(field);
        }
        Ok(AnyValueDto(OtlpAnyValue { value }))
    }
}

impl AnyValueField {
    fn name(self) -> &'static str {
        match self {
            AnyValueField::StringValue => "stringValue",
            AnyValueField::BoolValue => "boolValue",
            AnyValueField::IntValue => "intValue",
            AnyValueField::DoubleValue => "doubleValue",
            AnyValueField::ArrayValue => "arrayValue",
            AnyValueField::KvlistValue => "kvlistValue",
            AnyValueField::BytesValue => "bytesValue",
            AnyValueField::Unknown => "an unknown field",
        }
    }
}

fn write_json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("writing a string to a Vec cannot fail");
}

#[cfg(test)]
mod tests;
