//! Where IDs and timestamps sit inside encoded requests, so sends can patch them.
//!
//! For protobuf, prost encodes the request and a small wire-format walker finds the
//! fields afterwards (field numbers from opentelemetry-proto's `trace.proto`). For
//! OTLP/JSON, the writer here emits the JSON itself and notes the offsets as it goes:
//! IDs as lower-case hex and 64-bit times as 19-digit decimal strings, both fixed
//! width, so a patch never moves a byte around it.

use std::collections::HashMap;

use anyhow::{bail, ensure, Context as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtlpExportRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::KeyValue as OtlpKeyValue;

/// Digits of a Unix-nanosecond time between 2001 and 2286.
pub(crate) const TIME_DIGITS: usize = 19;

/// Where the patchable fields sit in one encoded request.
#[derive(Debug, Default)]
pub(crate) struct Patches {
    /// (byte offset, index of the trace in the template's trace list).
    pub(crate) trace_ids: Vec<(usize, u32)>,
    /// Span and parent span IDs.
    pub(crate) span_ids: Vec<usize>,
    /// Start and end times.
    pub(crate) times: Vec<usize>,
    /// (byte offset, trace index) of each `user.id` placeholder's 16 digits.
    pub(crate) user_ids: Vec<(usize, u32)>,
    /// Trace IDs written as two 8-byte halves apart (Jaeger Thrift's `traceIdHigh` and
    /// `traceIdLow`): (offset of the high half, offset of the low half, trace index).
    pub(crate) trace_id_halves: Vec<(usize, usize, u32)>,
}

/// What a root span's `user.id` holds until a send patches in a value unique to
/// its trace: this marker, then the trace's index in 8 hex digits (16 bytes in all,
/// the width of the patched value). It is found by a byte search, which works the
/// same in protobuf and in JSON (no byte of it needs escaping).
pub(crate) const USER_ID_MARKER: &str = "@@@@@@@@";

/// The placeholder of the trace at `position`; what follows `USER_ID_PREFIX`.
pub(crate) fn user_id_placeholder(position: u32) -> String {
    format!("{USER_ID_MARKER}{position:08x}")
}

/// The prefix of every unique `user.id` value.
pub(crate) const USER_ID_PREFIX: &str = "u-";

/// Offsets of the `user.id` placeholders in an encoded request.
pub(crate) fn user_id_patches(bytes: &[u8]) -> anyhow::Result<Vec<(usize, u32)>> {
    let marker = USER_ID_MARKER.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = bytes[at..]
        .windows(marker.len())
        .position(|window| window == marker)
    {
        let start = at + offset;
        let digits = bytes
            .get(start + marker.len()..start + marker.len() + 8)
            .context("user.id placeholder cut short")?;
        let position = u32::from_str_radix(std::str::from_utf8(digits)?, 16)?;
        found.push((start, position));
        at = start + 16;
    }
    Ok(found)
}

// Field numbers (opentelemetry/proto/trace/v1/trace.proto and trace_service.proto).
const REQUEST_RESOURCE_SPANS: u32 = 1;
const RESOURCE_SPANS_SCOPE_SPANS: u32 = 2;
const SCOPE_SPANS_SPANS: u32 = 2;
const SPAN_TRACE_ID: u32 = 1;
const SPAN_SPAN_ID: u32 = 2;
const SPAN_PARENT_SPAN_ID: u32 = 4;
const SPAN_START_TIME: u32 = 7;
const SPAN_END_TIME: u32 = 8;

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

/// Offsets of every trace ID, span ID and time in an encoded request.
pub(crate) fn proto_patches(
    bytes: &[u8],
    trace_index: &HashMap<[u8; 16], u32>,
) -> anyhow::Result<Patches> {
    let mut patches = Patches::default();
    for resource_spans in fields(bytes, 0..bytes.len(), REQUEST_RESOURCE_SPANS)? {
        for scope_spans in fields(bytes, resource_spans, RESOURCE_SPANS_SCOPE_SPANS)? {
            for span in fields(bytes, scope_spans, SCOPE_SPANS_SPANS)? {
                span_patches(bytes, span, trace_index, &mut patches)?;
            }
        }
    }
    Ok(patches)
}

fn span_patches(
    bytes: &[u8],
    span: std::ops::Range<usize>,
    trace_index: &HashMap<[u8; 16], u32>,
    patches: &mut Patches,
) -> anyhow::Result<()> {
    let mut position = span.start;
    while position < span.end {
        let (field, wire, value) = next_field(bytes, &mut position)?;
        match (field, wire) {
            (SPAN_TRACE_ID, WIRE_LEN) => {
                let id: [u8; 16] = bytes[value.clone()].try_into()?;
                let index = trace_index.get(&id).context("unknown trace ID")?;
                patches.trace_ids.push((value.start, *index));
            }
            (SPAN_SPAN_ID | SPAN_PARENT_SPAN_ID, WIRE_LEN) => {
                ensure!(value.len() == 8, "span ID of {} bytes", value.len());
                patches.span_ids.push(value.start);
            }
            (SPAN_START_TIME | SPAN_END_TIME, WIRE_I64) => patches.times.push(value.start),
            _ => {}
        }
    }
    Ok(())
}

/// The value ranges of every length-delimited field `wanted` in `range`.
fn fields(
    bytes: &[u8],
    range: std::ops::Range<usize>,
    wanted: u32,
) -> anyhow::Result<Vec<std::ops::Range<usize>>> {
    let mut found = Vec::new();
    let mut position = range.start;
    while position < range.end {
        let (field, wire, value) = next_field(bytes, &mut position)?;
        if field == wanted && wire == WIRE_LEN {
            found.push(value);
        }
    }
    Ok(found)
}

/// Reads one field's key and skips its value; returns (number, wire type, value range).
fn next_field(
    bytes: &[u8],
    position: &mut usize,
) -> anyhow::Result<(u32, u8, std::ops::Range<usize>)> {
    let key = varint(bytes, position)?;
    let (field, wire) = ((key >> 3) as u32, (key & 7) as u8);
    let start = *position;
    let end = match wire {
        WIRE_VARINT => {
            varint(bytes, position)?;
            *position
        }
        WIRE_I64 => start + 8,
        WIRE_I32 => start + 4,
        WIRE_LEN => {
            let len = varint(bytes, position)? as usize;
            *position + len
        }
        other => bail!("unexpected wire type {other}"),
    };
    let value_start = if wire == WIRE_LEN { *position } else { start };
    ensure!(end <= bytes.len(), "field runs past the end");
    *position = end;
    Ok((field, wire, value_start..end))
}

fn varint(bytes: &[u8], position: &mut usize) -> anyhow::Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*position).context("varint runs past the end")?;
        *position += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
    }
    bail!("varint longer than 10 bytes")
}

/// Writes OTLP/JSON (the "JSON Protobuf Encoding" of the OTLP specification) for the
/// shapes the generator makes, recording patch offsets.
#[derive(Debug, Default)]
pub(crate) struct JsonWriter {
    pub(crate) out: Vec<u8>,
    pub(crate) patches: Patches,
}

impl JsonWriter {
    pub(crate) fn request(
        &mut self,
        request: &OtlpExportRequest,
        trace_index: &HashMap<[u8; 16], u32>,
    ) -> anyhow::Result<()> {
        self.raw("{\"resourceSpans\":[");
        for (i, resource_spans) in request.resource_spans.iter().enumerate() {
            self.comma(i);
            self.raw("{\"resource\":{\"attributes\":");
            let attributes = resource_spans
                .resource
                .as_ref()
                .map_or(&[][..], |resource| &resource.attributes[..]);
            self.attributes(attributes)?;
            self.raw("},\"scopeSpans\":[");
            for (j, scope_spans) in resource_spans.scope_spans.iter().enumerate() {
                self.comma(j);
                self.raw("{");
                if let Some(scope) = &scope_spans.scope {
                    self.raw("\"scope\":{\"name\":");
                    self.string(&scope.name)?;
                    self.raw(",\"version\":");
                    self.string(&scope.version)?;
                    self.raw("},");
                }
                self.raw("\"spans\":[");
                for (k, span) in scope_spans.spans.iter().enumerate() {
                    self.comma(k);
                    self.span(span, trace_index)?;
                }
                self.raw("],\"schemaUrl\":");
                self.string(&scope_spans.schema_url)?;
                self.raw("}");
            }
            self.raw("]}");
        }
        self.raw("]}");
        Ok(())
    }

    fn span(
        &mut self,
        span: &opentelemetry_proto::tonic::trace::v1::Span,
        trace_index: &HashMap<[u8; 16], u32>,
    ) -> anyhow::Result<()> {
        let trace_id: [u8; 16] = span.trace_id.as_slice().try_into()?;
        let index = trace_index.get(&trace_id).context("unknown trace ID")?;
        self.raw("{\"traceId\":\"");
        self.patches.trace_ids.push((self.out.len(), *index));
        self.raw(&hex::encode(trace_id));
        self.raw("\",\"spanId\":\"");
        self.patches.span_ids.push(self.out.len());
        self.raw(&hex::encode(&span.span_id));
        self.raw("\"");
        if !span.parent_span_id.is_empty() {
            self.raw(",\"parentSpanId\":\"");
            self.patches.span_ids.push(self.out.len());
            self.raw(&hex::encode(&span.parent_span_id));
            self.raw("\"");
        }
        self.raw(&format!(",\"flags\":{},\"name\":", span.flags));
        self.string(&span.name)?;
        self.raw(&format!(",\"kind\":{},\"startTimeUnixNano\":\"", span.kind));
        self.time(span.start_time_unix_nano)?;
        self.raw("\",\"endTimeUnixNano\":\"");
        self.time(span.end_time_unix_nano)?;
        self.raw("\",\"attributes\":");
        self.attributes(&span.attributes)?;
        if let Some(status) = &span.status {
            self.raw(",\"status\":{\"message\":");
            self.string(&status.message)?;
            self.raw(&format!(",\"code\":{}}}", status.code));
        }
        self.raw("}");
        Ok(())
    }

    fn attributes(&mut self, attributes: &[OtlpKeyValue]) -> anyhow::Result<()> {
        self.raw("[");
        for (i, attribute) in attributes.iter().enumerate() {
            self.comma(i);
            self.raw("{\"key\":");
            self.string(&attribute.key)?;
            self.raw(",\"value\":{");
            match attribute
                .value
                .as_ref()
                .and_then(|value| value.value.as_ref())
            {
                Some(OtlpValue::StringValue(text)) => {
                    self.raw("\"stringValue\":");
                    self.string(text)?;
                }
                // proto3 JSON writes 64-bit integers as strings.
                Some(OtlpValue::IntValue(number)) => {
                    self.raw(&format!("\"intValue\":\"{number}\""));
                }
                Some(OtlpValue::BoolValue(flag)) => self.raw(&format!("\"boolValue\":{flag}")),
                Some(OtlpValue::DoubleValue(number)) => {
                    self.raw(&format!("\"doubleValue\":{number}"));
                }
                _ => bail!("the generator makes only scalar attributes"),
            }
            self.raw("}}");
        }
        self.raw("]");
        Ok(())
    }

    fn time(&mut self, unix_nanos: u64) -> anyhow::Result<()> {
        let digits = unix_nanos.to_string();
        ensure!(
            digits.len() == TIME_DIGITS,
            "time {unix_nanos} is not 19 digits"
        );
        self.patches.times.push(self.out.len());
        self.raw(&digits);
        Ok(())
    }

    fn string(&mut self, text: &str) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.out, text)?;
        Ok(())
    }

    fn comma(&mut self, index: usize) {
        if index > 0 {
            self.out.push(b',');
        }
    }

    fn raw(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }
}
