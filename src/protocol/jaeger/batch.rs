//! Jaeger's Thrift structs (`jaeger.thrift`: Batch, Process, Span, Tag, Log, SpanRef;
//! `agent.thrift`: `Agent.emitBatch`) read into the `api_v2` protobuf types, so both
//! encodings share one translation into the model (`convert`).
//!
//! Fields of a known id with the wrong type are errors, not skipped: a sender that
//! gets them wrong would otherwise lose data silently. Unknown fields are skipped.

use prost_types::{Duration, Timestamp};

use super::api_v2;
use super::thrift::{BinaryReader, CompactReader, ThriftError, ThriftRead, Type};

/// Thrift `oneway` message type.
const ONEWAY: u8 = 4;
/// Thrift `call` message type (some senders use it for `emitBatch`).
const CALL: u8 = 1;

/// A Thrift binary `Batch` struct: the body of `POST /api/traces` on 14268.
pub fn decode_binary_batch(input: &[u8]) -> Result<api_v2::Batch, ThriftError> {
    let mut reader = BinaryReader::new(input);
    let batch = read_batch(&mut reader)?;
    trailing(&reader)?;
    Ok(batch)
}

/// An `Agent.emitBatch` message in Thrift compact: a UDP datagram on 6831.
pub fn decode_compact_emit_batch(input: &[u8]) -> Result<api_v2::Batch, ThriftError> {
    read_emit_batch(&mut CompactReader::new(input))
}

/// An `Agent.emitBatch` message in Thrift binary: a UDP datagram on 6832.
pub fn decode_binary_emit_batch(input: &[u8]) -> Result<api_v2::Batch, ThriftError> {
    read_emit_batch(&mut BinaryReader::new(input))
}

fn trailing(reader: &impl ThriftRead) -> Result<(), ThriftError> {
    match reader.remaining() {
        0 => Ok(()),
        extra => Err(ThriftError::BadMessage(format!(
            "{extra} bytes after the end of the Batch"
        ))),
    }
}

fn read_emit_batch<R: ThriftRead>(reader: &mut R) -> Result<api_v2::Batch, ThriftError> {
    let (name, message_type) = reader.message_begin()?;
    if name != "emitBatch" {
        return Err(ThriftError::BadMessage(format!(
            "expected an Agent.emitBatch message, got `{name}`"
        )));
    }
    if message_type != ONEWAY && message_type != CALL {
        return Err(ThriftError::BadMessage(format!(
            "emitBatch must be a oneway or call message, got type {message_type}"
        )));
    }
    let mut batch = None;
    reader.struct_begin()?;
    while let Some((ty, id)) = reader.field()? {
        match id {
            1 => {
                expect(ty, Type::Struct, "emitBatch.batch")?;
                batch = Some(read_batch(reader)?);
            }
            _ => reader.skip(ty)?,
        }
    }
    reader.struct_end();
    let batch = batch.ok_or(ThriftError::Missing("emitBatch.batch"))?;
    trailing(reader)?;
    Ok(batch)
}

fn expect(got: Type, expected: Type, field: &'static str) -> Result<(), ThriftError> {
    if got == expected {
        Ok(())
    } else {
        Err(ThriftError::WrongType {
            field,
            expected: expected.name(),
            got: got.name(),
        })
    }
}

/// Reads a list of structs with `read` for each element.
fn read_list<R: ThriftRead, T>(
    reader: &mut R,
    ty: Type,
    field: &'static str,
    mut read: impl FnMut(&mut R) -> Result<T, ThriftError>,
) -> Result<Vec<T>, ThriftError> {
    expect(ty, Type::List, field)?;
    let (element, len) = reader.list_begin()?;
    expect(element, Type::Struct, field)?;
    reader.nested(|reader| {
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(read(reader)?);
        }
        Ok(items)
    })
}

fn read_batch<R: ThriftRead>(reader: &mut R) -> Result<api_v2::Batch, ThriftError> {
    let mut process = None;
    let mut spans = None;
    reader.struct_begin()?;
    while let Some((ty, id)) = reader.field()? {
        match id {
            1 => {
                expect(ty, Type::Struct, "Batch.process")?;
                process = Some(read_process(reader)?);
            }
            2 => spans = Some(read_list(reader, ty, "Batch.spans", read_span)?),
            _ => reader.skip(ty)?,
        }
    }
    reader.struct_end();
    Ok(api_v2::Batch {
        spans: spans.ok_or(ThriftError::Missing("Batch.spans"))?,
        process: Some(process.ok_or(ThriftError::Missing("Batch.process"))?),
    })
}

fn read_process<R: ThriftRead>(reader: &mut R) -> Result<api_v2::Process, ThriftError> {
    let mut process = api_v2::Process::default();
    let mut has_service_name = false;
    reader.struct_begin()?;
    while let Some((ty, id)) = reader.field()? {
        match id {
            1 => {
                expect(ty, Type::Binary, "Process.serviceName")?;
                process.service_name = reader.string()?;
                has_service_name = true;
            }
            2 => process.tags = read_list(reader, ty, "Process.tags", read_tag)?,
            _ => reader.skip(ty)?,
        }
    }
    reader.struct_end();
    if !has_service_name {
        return Err(ThriftError::Missing("Process.serviceName"));
    }
    Ok(process)
}

fn read_i64<R: ThriftRead>(
    reader: &mut R,
    ty: Type,
    field: &'static str,
) -> Result<i64, ThriftError> {
    expect(ty, Type::I64, field)?;
    reader.i64()
}

fn trace_id_bytes(high: i64, low: i64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16);
    bytes.extend_from_slice(&high.to_be_bytes());
    bytes.extend_from_slice(&low.to_be_bytes());
    bytes
}

fn micros_timestamp(micros: i64) -> Timestamp {
    Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

fn read_span<R: ThriftRead>(reader: &mut R) -> Result<api_v2::Span, ThriftError> {
    let (mut trace_low, mut trace_high, mut span_id, mut parent_id) = (None, None, None, 0);
    let (mut start, mut duration) = (None, None);
    let mut span = api_v2::Span::default();
    reader.struct_begin()?;
    while let Some((ty, id)) = reader.field()? {
        match id {
            1 => trace_low = Some(read_i64(reader, ty, "Span.traceIdLow")?),
            2 => trace_high = Some(read_i64(reader, ty, "Span.traceIdHigh")?),
            3 => span_id = Some(read_i64(reader, ty, "Span.spanId")?),
            4 => parent_id = read_i64(reader, ty, "Span.parentSpanId")?,
            5 => {
                expect(ty, Type::Binary, "Span.operationName")?;
                span.operation_name = reader.string()?;
            }
            6 => span.references = read_list(reader, ty, "Span.references", read_span_ref)?,
            7 => {
                expect(ty, Type::I32, "Span.flags")?;
                span.flags = reader.i32()? as u32;
            }
            8 => start = Some(read_i64(reader, ty, "Span.startTime")?),
            9 => duration = Some(read_i64(reader, ty, "Span.duration")?),
            10 => span.tags = read_list(reader, ty, "Span.tags", read_tag)?,
            11 => span.logs = read_list(reader, ty, "Span.logs", read_log)?,
            _ => reader.skip(ty)?,
        }
    }
    reader.struct_end();
    let trace_low = trace_low.ok_or(ThriftError::Missing("Span.traceIdLow"))?;
    let trace_high = trace_high.ok_or(ThriftError::Missing("Span.traceIdHigh"))?;
    span.trace_id = trace_id_bytes(trace_high, trace_low);
    span.span_id = span_id
        .ok_or(ThriftError::Missing("Span.spanId"))?
        .to_be_bytes()
        .to_vec();
    span.start_time = Some(micros_timestamp(
        start.ok_or(ThriftError::Missing("Span.startTime"))?,
    ));
    let duration = duration.ok_or(ThriftError::Missing("Span.duration"))?;
    span.duration = Some(Duration {
        seconds: duration.div_euclid(1_000_000),
        nanos: (duration.rem_euclid(1_000_000) * 1000) as i32,
    });
    // Thrift carries the parent in its own field as well as (sometimes) in the
    // references; the parent goes first, as Jaeger's converter puts it.
    if parent_id != 0 {
        let parent = parent_id.to_be_bytes().to_vec();
        let already = span.references.iter().any(|reference| {
            reference.span_id == parent
                && reference.trace_id == span.trace_id
                && reference.ref_type == api_v2::SpanRefType::ChildOf as i32
        });
        if !already {
            span.references.insert(
                0,
                api_v2::SpanRef {
                    trace_id: span.trace_id.clone(),
                    span_id: parent,
                    ref_type: api_v2::SpanRefType::ChildOf as i32,
                },
            );
        }
    }
    Ok(span)
}

fn read_span_ref<R: ThriftRead>(reader: &mut R) -> Result<api_v2::SpanRef, ThriftError> {
    let (mut ref_type, mut low, mut high, mut span_id) = (None, None, None, None);
    reader.struct_begin()?;
    while let Some((ty, id)) = reader.field()? {
        match id {
            1 => {
                expect(ty, Type::I32, "SpanRef.refType")?;
                ref_type = Some(reader.i32()?);
            }
            2 => low = Some(read_i64(reader, ty, "SpanRef.traceIdLow")?),
            3 => high = Some(read_i64(reader, ty, "SpanRef.traceIdHigh")?),
            4 => span_id = Some(read_i64(reader, ty, "SpanRef.spanId")?),
            _ => reader.skip(ty)?,
        }
    }
    reader.struct_end();
    Ok(api_v2::SpanRef {
        trace_id: trace_id_bytes(
            high.ok_or(ThriftError::Missing("SpanRef.traceIdHigh"))?,
            low.ok_or(ThriftError::Missing("SpanRef.traceIdLow"))?,
        ),
        span_id: span_id
            .ok_or(ThriftError::Missing("SpanRef.spanId"))?
            .to_be_bytes()
            .to_vec(),
        // Thrift and api_v2 number CHILD_OF = 0, FOLLOWS_FROM = 1 alike.
        ref_type: ref_type.ok_or(ThriftError::Missing("SpanRef.refType"))?,
    })
}

fn read_log<R: ThriftRead>(reader: &mut R) -> Result<api_v2::Log, ThriftError> {
    let (mut timestamp, mut fields) = (None, Vec::new());
    reader.struct_begin()?;
    while let Some((ty, id)) = reader.field()? {
        match id {
            1 => timestamp = Some(read_i64(reader, ty, "Log.timestamp")?),
            2 => fields = read_list(reader, ty, "Log.fields", read_tag)?,
            _ => reader.skip(ty)?,
        }
    }
    reader.struct_end();
    Ok(api_v2::Log {
        timestamp: Some(micros_timestamp(
            timestamp.ok_or(ThriftError::Missing("Log.timestamp"))?,
        )),
        fields,
    })
}

/// Thrift `TagType` numbers: STRING, DOUBLE, BOOL, LONG, BINARY.
fn read_tag<R: ThriftRead>(reader: &mut R) -> Result<api_v2::KeyValue, ThriftError> {
    let mut tag = api_v2::KeyValue::default();
    let mut tag_type = None;
    reader.struct_begin()?;
    while let Some((ty, id)) = reader.field()? {
        match id {
            1 => {
                expect(ty, Type::Binary, "Tag.key")?;
                tag.key = reader.string()?;
            }
            2 => {
                expect(ty, Type::I32, "Tag.vType")?;
                tag_type = Some(reader.i32()?);
            }
            3 => {
                expect(ty, Type::Binary, "Tag.vStr")?;
                tag.v_str = reader.string()?;
            }
            4 => {
                expect(ty, Type::Double, "Tag.vDouble")?;
                tag.v_float64 = reader.double()?;
            }
            5 => {
                expect(ty, Type::Bool, "Tag.vBool")?;
                tag.v_bool = reader.bool()?;
            }
            6 => tag.v_int64 = read_i64(reader, ty, "Tag.vLong")?,
            7 => {
                expect(ty, Type::Binary, "Tag.vBinary")?;
                tag.v_binary = reader.binary()?.to_vec();
            }
            _ => reader.skip(ty)?,
        }
    }
    reader.struct_end();
    tag.v_type = match tag_type.ok_or(ThriftError::Missing("Tag.vType"))? {
        0 => api_v2::ValueType::String,
        1 => api_v2::ValueType::Float64,
        2 => api_v2::ValueType::Bool,
        3 => api_v2::ValueType::Int64,
        4 => api_v2::ValueType::Binary,
        other => {
            return Err(ThriftError::BadMessage(format!(
                "Tag `{}` has unknown vType {other}",
                tag.key
            )))
        }
    } as i32;
    Ok(tag)
}
