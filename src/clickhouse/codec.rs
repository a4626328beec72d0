//! The encoded span in `trace_spans.span`: every field of `model::Span`, so a read
//! rebuilds it exactly. A version byte leads; integers are little-endian, strings
//! and lists carry a u32 length. The column's codec compresses it; nothing here does.
//! Decoding checks every length against the bytes left, so a damaged value is an
//! error, never a panic or a huge allocation.

use std::sync::Arc;

use crate::model::{
    AttrValue, Attribute, Event, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId,
};

const VERSION: u8 = 1;

/// Attribute values nest (arrays, key-value lists); deeper than this is corrupt.
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error)]
#[error("stored span is corrupt: {0}")]
pub struct CorruptSpan(&'static str);

pub fn encode(span: &Span) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(VERSION);
    out.extend_from_slice(span.trace_id.as_bytes());
    out.extend_from_slice(&span.span_id.0);
    match span.parent_span_id {
        Some(parent) => {
            out.push(1);
            out.extend_from_slice(&parent.0);
        }
        None => out.push(0),
    }
    put_str(&mut out, &span.trace_state);
    out.extend_from_slice(&span.flags.to_le_bytes());
    put_str(&mut out, &span.name);
    out.push(span.kind as u8);
    out.extend_from_slice(&span.start_unix_nanos.to_le_bytes());
    out.extend_from_slice(&span.end_unix_nanos.to_le_bytes());
    put_attributes(&mut out, &span.attributes);
    put_len(&mut out, span.events.len());
    for event in &span.events {
        out.extend_from_slice(&event.time_unix_nanos.to_le_bytes());
        put_str(&mut out, &event.name);
        put_attributes(&mut out, &event.attributes);
    }
    put_len(&mut out, span.links.len());
    for link in &span.links {
        out.extend_from_slice(link.trace_id.as_bytes());
        out.extend_from_slice(&link.span_id.0);
        put_str(&mut out, &link.trace_state);
        put_attributes(&mut out, &link.attributes);
    }
    out.push(span.status_code as u8);
    put_str(&mut out, &span.status_message);
    put_str(&mut out, &span.resource.service_name);
    put_attributes(&mut out, &span.resource.attributes);
    put_str(&mut out, &span.scope.name);
    put_str(&mut out, &span.scope.version);
    put_attributes(&mut out, &span.scope.attributes);
    out
}

pub fn decode(bytes: &[u8]) -> Result<Span, CorruptSpan> {
    let mut input = Reader { bytes };
    if input.u8()? != VERSION {
        return Err(CorruptSpan("unknown version"));
    }
    let trace_id = TraceId(input.array()?);
    let span_id = SpanId(input.array()?);
    let parent_span_id = match input.u8()? {
        0 => None,
        1 => Some(SpanId(input.array()?)),
        _ => return Err(CorruptSpan("bad parent marker")),
    };
    let trace_state = input.string()?;
    let flags = u32::from_le_bytes(input.array()?);
    let name = input.string()?;
    let kind = SpanKind::from_number(i32::from(input.u8()?)).ok_or(CorruptSpan("bad kind"))?;
    let start_unix_nanos = u64::from_le_bytes(input.array()?);
    let end_unix_nanos = u64::from_le_bytes(input.array()?);
    let attributes = input.attributes(0)?;
    let num_events = input.len()?;
    let mut events = Vec::with_capacity(num_events.min(1024));
    for _ in 0..num_events {
        events.push(Event {
            time_unix_nanos: u64::from_le_bytes(input.array()?),
            name: input.string()?,
            attributes: input.attributes(0)?,
        });
    }
    let num_links = input.len()?;
    let mut links = Vec::with_capacity(num_links.min(1024));
    for _ in 0..num_links {
        links.push(Link {
            trace_id: TraceId(input.array()?),
            span_id: SpanId(input.array()?),
            trace_state: input.string()?,
            attributes: input.attributes(0)?,
        });
    }
    let status_code =
        StatusCode::from_number(i32::from(input.u8()?)).ok_or(CorruptSpan("bad status"))?;
    let status_message = input.string()?;
    let resource = Resource {
        service_name: input.string()?,
        attributes: input.attributes(0)?,
    };
    let scope = Scope {
        name: input.string()?,
        version: input.string()?,
        attributes: input.attributes(0)?,
    };
    if !input.bytes.is_empty() {
        return Err(CorruptSpan("trailing bytes"));
    }
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state,
        flags,
        name,
        kind,
        start_unix_nanos,
        end_unix_nanos,
        attributes,
        events,
        links,
        status_code,
        status_message,
        resource: Arc::new(resource),
        scope: Arc::new(scope),
    })
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Spans come through bounded receivers (16 MiB messages by default).
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_len(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn put_attributes(out: &mut Vec<u8>, attributes: &[Attribute]) {
    put_len(out, attributes.len());
    for attribute in attributes {
        put_str(out, &attribute.key);
        put_value(out, &attribute.value);
    }
}

fn put_value(out: &mut Vec<u8>, value: &AttrValue) {
    match value {
        AttrValue::Str(text) => {
            out.push(0);
            put_str(out, text);
        }
        AttrValue::Bool(value) => {
            out.push(1);
            out.push(u8::from(*value));
        }
        AttrValue::Int(value) => {
            out.push(2);
            out.extend_from_slice(&value.to_le_bytes());
        }
        AttrValue::Double(value) => {
            out.push(3);
            out.extend_from_slice(&value.to_le_bytes());
        }
        AttrValue::Bytes(bytes) => {
            out.push(4);
            put_len(out, bytes.len());
            out.extend_from_slice(bytes);
        }
        AttrValue::Array(values) => {
            out.push(5);
            put_len(out, values.len());
            for value in values {
                put_value(out, value);
            }
        }
        AttrValue::KvList(attributes) => {
            out.push(6);
            put_attributes(out, attributes);
        }
        AttrValue::Empty => out.push(7),
    }
}

struct Reader<'b> {
    bytes: &'b [u8],
}

impl Reader<'_> {
    fn take(&mut self, len: usize) -> Result<&[u8], CorruptSpan> {
        if len > self.bytes.len() {
            return Err(CorruptSpan("truncated"));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CorruptSpan> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn u8(&mut self) -> Result<u8, CorruptSpan> {
        Ok(self.array::<1>()?[0])
    }

    /// A length, checked to fit in the bytes left (every item takes at least one).
    fn len(&mut self) -> Result<usize, CorruptSpan> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        if len > self.bytes.len() {
            return Err(CorruptSpan("length past the end"));
        }
        Ok(len)
    }

    fn string(&mut self) -> Result<String, CorruptSpan> {
        let len = self.len()?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CorruptSpan("invalid utf-8"))
    }

    fn attributes(&mut self, depth: usize) -> Result<Vec<Attribute>, CorruptSpan> {
        let num = self.len()?;
        let mut attributes = Vec::with_capacity(num);
        for _ in 0..num {
            attributes.push(Attribute {
                key: self.string()?,
                value: self.value(depth)?,
            });
        }
        Ok(attributes)
    }

    fn value(&mut self, depth: usize) -> Result<AttrValue, CorruptSpan> {
        if depth > MAX_DEPTH {
            return Err(CorruptSpan("values nested too deep"));
        }
        Ok(match self.u8()? {
            0 => AttrValue::Str(self.string()?),
            1 => AttrValue::Bool(self.u8()? != 0),
            2 => AttrValue::Int(i64::from_le_bytes(self.array()?)),
            3 => AttrValue::Double(f64::from_le_bytes(self.array()?)),
            4 => {
                let len = self.len()?;
                AttrValue::Bytes(self.take(len)?.to_vec())
            }
            5 => {
                let num = self.len()?;
                let mut values = Vec::with_capacity(num);
                for _ in 0..num {
                    values.push(self.value(depth + 1)?);
                }
                AttrValue::Array(values)
            }
            6 => AttrValue::KvList(self.attributes(depth + 1)?),
            7 => AttrValue::Empty,
            _ => return Err(CorruptSpan("bad value tag")),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn sample_span() -> Span {
        let attribute = |key: &str, value: AttrValue| Attribute {
            key: key.to_owned(),
            value,
        };
        Span {
            trace_id: TraceId([7; 16]),
            span_id: SpanId([1; 8]),
            parent_span_id: Some(SpanId([2; 8])),
            trace_state: "a=b".to_owned(),
            flags: 257,
            name: "GET /cart".to_owned(),
            kind: SpanKind::Server,
            start_unix_nanos: 1_700_000_000_000_000_000,
            end_unix_nanos: 1_700_000_000_012_000_000,
            attributes: vec![
                attribute("http.status_code", AttrValue::Int(200)),
                attribute("ok", AttrValue::Bool(true)),
                attribute("ratio", AttrValue::Double(0.5)),
                attribute("raw", AttrValue::Bytes(vec![0, 255])),
                attribute(
                    "list",
                    AttrValue::Array(vec![AttrValue::Str("x".to_owned()), AttrValue::Empty]),
                ),
                attribute(
                    "map",
                    AttrValue::KvList(vec![attribute("inner", AttrValue::Int(-3))]),
                ),
            ],
            events: vec![Event {
                time_unix_nanos: 1_700_000_000_001_000_000,
                name: "exception".to_owned(),
                attributes: vec![attribute(
                    "exception.type",
                    AttrValue::Str("Boom".to_owned()),
                )],
            }],
            links: vec![Link {
                trace_id: TraceId([9; 16]),
                span_id: SpanId([3; 8]),
                trace_state: String::new(),
                attributes: vec![attribute("link.kind", AttrValue::Str("follows".to_owned()))],
            }],
            status_code: StatusCode::Error,
            status_message: "failed".to_owned(),
            resource: Arc::new(Resource {
                service_name: "checkout".to_owned(),
                attributes: vec![attribute("host.name", AttrValue::Str("h1".to_owned()))],
            }),
            scope: Arc::new(Scope {
                name: "lib".to_owned(),
                version: "1.0".to_owned(),
                attributes: vec![],
            }),
        }
    }

    #[test]
    fn spans_round_trip_exactly() {
        let span = sample_span();
        assert_eq!(decode(&encode(&span)).unwrap(), span);
        let bare = Span {
            parent_span_id: None,
            attributes: vec![],
            events: vec![],
            links: vec![],
            ..span
        };
        assert_eq!(decode(&encode(&bare)).unwrap(), bare);
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let encoded = encode(&sample_span());
        for len in 0..encoded.len() {
            assert!(decode(&encoded[..len]).is_err(), "prefix of {len} bytes");
        }
        let mut wrong_version = encoded.clone();
        wrong_version[0] = 99;
        assert!(decode(&wrong_version).is_err());
        let mut huge_length = encoded;
        // The trace state's length, right after the ids and the parent marker.
        huge_length[1 + 16 + 8 + 1 + 8..][..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge_length).is_err());
    }
}
