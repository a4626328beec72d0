//! The generated spans as Jaeger Thrift binary `Batch`es (`POST /api/traces` on the
//! collector's HTTP port), the way jaeger-client libraries and the OpenTelemetry
//! Jaeger exporters write them, with patch offsets for every send.
//!
//! A `Batch` has one `Process`, so a request of spans from several services becomes
//! one batch per service (resource): the process is the service name plus the other
//! resource attributes as tags, as Jaeger clients send them. The batches are written
//! back to back into one buffer, so one patch pass covers them all; `part_ends` says
//! where each batch ends, and a send posts the batches at once (each service's own
//! client would), the request counting as acknowledged when all are. Span attributes become typed tags; the kind is the
//! `span.kind` tag; an error status is the `otel.status_code` and `error` tags; the
//! scope is the `otel.scope.*` tags. Every patchable field is a fixed-width i64:
//! trace ID halves and span IDs big-endian, the start time in microseconds.

use std::collections::HashMap;

use anyhow::{bail, Context as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtlpExportRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::KeyValue as OtlpKeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpSpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;

use crate::wire::Patches;

// Thrift binary protocol type codes.
const STOP: u8 = 0;
const BOOL: u8 = 2;
const DOUBLE: u8 = 4;
const I32: u8 = 8;
const I64: u8 = 10;
const STRING: u8 = 11;
const STRUCT: u8 = 12;
const LIST: u8 = 15;

// jaeger.thrift's TagType.
const TAG_STRING: i32 = 0;
const TAG_DOUBLE: i32 = 1;
const TAG_BOOL: i32 = 2;
const TAG_LONG: i32 = 3;

/// A typed Jaeger tag value.
#[derive(Debug)]
enum TagValue<'a> {
    Str(&'a str),
    Double(f64),
    Bool(bool),
    Long(i64),
}

/// The request as one Thrift `Batch` per resource, back to back; returns the bytes,
/// the patches and the end offset of each batch.
pub(crate) fn encode(
    request: &OtlpExportRequest,
    trace_index: &HashMap<[u8; 16], u32>,
) -> anyhow::Result<(Vec<u8>, Patches, Vec<usize>)> {
    let mut writer = Writer::default();
    let mut part_ends = Vec::new();
    for resource_spans in &request.resource_spans {
        let attributes = resource_spans
            .resource
            .as_ref()
            .map_or(&[][..], |resource| &resource.attributes[..]);
        let service = attributes
            .iter()
            .find(|attribute| attribute.key == "service.name")
            .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
            .and_then(|value| match value {
                OtlpValue::StringValue(name) => Some(name.as_str()),
                _ => None,
            })
            .context("a resource without service.name")?;
        let process_tags = attributes
            .iter()
            .filter(|attribute| attribute.key != "service.name")
            .map(|attribute| Ok((attribute.key.as_str(), tag_value(attribute)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let num_spans: usize = resource_spans
            .scope_spans
            .iter()
            .map(|scope_spans| scope_spans.spans.len())
            .sum();

        // Batch.process
        writer.field(STRUCT, 1);
        writer.field(STRING, 1);
        writer.string(service);
        writer.field(LIST, 2);
        writer.tags(&process_tags);
        writer.byte(STOP);
        // Batch.spans
        writer.field(LIST, 2);
        writer.list(STRUCT, num_spans);
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let trace_id: [u8; 16] = span.trace_id.as_slice().try_into()?;
                let position = trace_index.get(&trace_id).context("unknown trace ID")?;
                writer.field(I64, 1); // traceIdLow
                let low = writer.out.len();
                writer.bytes(&trace_id[8..]);
                writer.field(I64, 2); // traceIdHigh
                let high = writer.out.len();
                writer.bytes(&trace_id[..8]);
                writer.patches.trace_id_halves.push((high, low, *position));
                writer.field(I64, 3); // spanId
                writer.patches.span_ids.push(writer.out.len());
                writer.bytes(&span.span_id);
                writer.field(I64, 4); // parentSpanId (0 for a root)
                if span.parent_span_id.is_empty() {
                    writer.bytes(&[0; 8]);
                } else {
                    writer.patches.span_ids.push(writer.out.len());
                    writer.bytes(&span.parent_span_id);
                }
                writer.field(STRING, 5);
                writer.string(&span.name);
                writer.field(I32, 7);
                writer.i32(1); // sampled
                writer.field(I64, 8);
                writer.patches.times.push(writer.out.len());
                writer.i64((span.start_time_unix_nano / 1000) as i64);
                writer.field(I64, 9);
                writer.i64(
                    (span
                        .end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano)
                        / 1000) as i64,
                );
                let mut tags = span
                    .attributes
                    .iter()
                    .map(|attribute| Ok((attribute.key.as_str(), tag_value(attribute)?)))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                match OtlpSpanKind::try_from(span.kind) {
                    Ok(OtlpSpanKind::Server) => tags.push(("span.kind", TagValue::Str("server"))),
                    Ok(OtlpSpanKind::Client) => tags.push(("span.kind", TagValue::Str("client"))),
                    Ok(OtlpSpanKind::Producer) => {
                        tags.push(("span.kind", TagValue::Str("producer")));
                    }
                    Ok(OtlpSpanKind::Consumer) => {
                        tags.push(("span.kind", TagValue::Str("consumer")));
                    }
                    _ => tags.push(("span.kind", TagValue::Str("internal"))),
                }
                if let Some(scope) = &scope_spans.scope {
                    tags.push(("otel.scope.name", TagValue::Str(&scope.name)));
                    tags.push(("otel.scope.version", TagValue::Str(&scope.version)));
                }
                if let Some(status) = &span.status {
                    if status.code == OtlpStatusCode::Error as i32 {
                        tags.push(("otel.status_code", TagValue::Str("ERROR")));
                        tags.push(("otel.status_description", TagValue::Str(&status.message)));
                        tags.push(("error", TagValue::Bool(true)));
                    }
                }
                writer.field(LIST, 10);
                writer.tags(&tags);
                writer.byte(STOP);
            }
        }
        writer.byte(STOP); // end of Batch
        part_ends.push(writer.out.len());
    }
    Ok((writer.out, writer.patches, part_ends))
}

fn tag_value(attribute: &OtlpKeyValue) -> anyhow::Result<TagValue<'_>> {
    Ok(
        match attribute
            .value
            .as_ref()
            .and_then(|value| value.value.as_ref())
        {
            Some(OtlpValue::StringValue(text)) => TagValue::Str(text),
            Some(OtlpValue::IntValue(number)) => TagValue::Long(*number),
            Some(OtlpValue::BoolValue(flag)) => TagValue::Bool(*flag),
            Some(OtlpValue::DoubleValue(number)) => TagValue::Double(*number),
            _ => bail!("the generator makes only scalar attributes"),
        },
    )
}

#[derive(Debug, Default)]
struct Writer {
    out: Vec<u8>,
    patches: Patches,
}

impl Writer {
    fn byte(&mut self, value: u8) {
        self.out.push(value);
    }

    fn bytes(&mut self, value: &[u8]) {
        self.out.extend_from_slice(value);
    }

    fn field(&mut self, kind: u8, id: i16) {
        self.out.push(kind);
        self.bytes(&id.to_be_bytes());
    }

    fn i32(&mut self, value: i32) {
        self.bytes(&value.to_be_bytes());
    }

    fn i64(&mut self, value: i64) {
        self.bytes(&value.to_be_bytes());
    }

    fn string(&mut self, text: &str) {
        self.i32(text.len() as i32);
        self.bytes(text.as_bytes());
    }

    fn list(&mut self, element: u8, len: usize) {
        self.out.push(element);
        self.i32(len as i32);
    }

    fn tags(&mut self, tags: &[(&str, TagValue<'_>)]) {
        self.list(STRUCT, tags.len());
        for (key, value) in tags {
            self.field(STRING, 1);
            self.string(key);
            self.field(I32, 2);
            match value {
                TagValue::Str(text) => {
                    self.i32(TAG_STRING);
                    self.field(STRING, 3);
                    self.string(text);
                }
                TagValue::Double(number) => {
                    self.i32(TAG_DOUBLE);
                    self.field(DOUBLE, 4);
                    self.bytes(&number.to_bits().to_be_bytes());
                }
                TagValue::Bool(flag) => {
                    self.i32(TAG_BOOL);
                    self.field(BOOL, 5);
                    self.byte(u8::from(*flag));
                }
                TagValue::Long(number) => {
                    self.i32(TAG_LONG);
                    self.field(I64, 6);
                    self.i64(*number);
                }
            }
            self.byte(STOP);
        }
    }
}
