//! Block body version 3: the span rows of version 2, transposed into streams so
//! that zstd sees similar bytes next to each other.
//!
//! Version 2 wrote each span as one row (ids, string indexes, attribute keys and
//! values interleaved). A row mixes random bytes (span ids, the indexes of strings
//! that occur once) with bytes that repeat from span to span (keys, tags, common
//! values), so zstd found only short matches and paid for every one. Version 3
//! writes the same fields into separate streams:
//!
//! ```text
//! strings          count, then (len, utf-8 bytes)…   strings used more than once, or
//!                                                     anywhere but as a span attribute's value
//! resources        count, then (service: str, attrs)…      (as in version 2)
//! scopes           count, then (name: str, version: str, attrs)…
//! columns          count, then key: str…              one column per span attribute key
//! stream lengths   ids, parents, raw, head, misc, then one per column (varints)
//! ids              span_id[8] per span
//! parents          varint per span: 0 none, 1 the id follows in raw, k + 2 the trace's
//!                  k-th span in block order
//! raw              parent ids that are not in the block
//! head             per span: trace_state:str flags name:str kind:u8 status:u8
//!                  status_message:str resource scope num_attrs column… num_events num_links
//! misc             events and links, as version 2 writes them
//! column k         the values of key k, in span order, as version 2 writes values, plus
//!                  tag 9: a string used by this value only, stored in place (len, bytes),
//!                  tag 10: the same with its lowercase UUIDs packed into 16 bytes, and
//!                  tag 11: an IPv4 address as its 4 bytes
//! ```
//!
//! Readers turn a version 3 body back into version 2's rows (`join`) and parse
//! those, so decoding and scanning have one parser. A trace's place in the body
//! (`Summary`'s section length, 0 here) is computed rather than stored, so the
//! streams are walked for every trace; `join` writes rows (and unpacks inline
//! strings) only for the traces its caller wants, so `get-trace` pays for walking
//! a block's other spans but not for rebuilding them.

use std::borrow::Cow;
use std::sync::Arc;

use foldhash::HashMap;

use super::super::varint::{put_bytes, put_i64, put_u64, Reader};
use super::{
    encode_attributes, encode_value, Interner, Summary, MAX_VALUE_DEPTH, TAG_ARRAY, TAG_BYTES,
    TAG_DOUBLE, TAG_EMPTY, TAG_FALSE, TAG_INT, TAG_KVLIST, TAG_STR, TAG_TRUE,
};
use crate::model::{AttrValue, Resource, Scope, Span, SpanId, TraceId};
use crate::store::CodecError;

/// A string value stored in its column rather than in the string table.
const TAG_INLINE: u8 = 9;
/// The same, with its lowercase UUIDs (as in `/carts/0c6f…-…/items`) packed into 16
/// bytes each: `count, (text before: len bytes, uuid[16])…, rest: len bytes`.
const TAG_INLINE_UUIDS: u8 = 10;
/// The same for an IPv4 address in dotted-quad form: its 4 bytes.
const TAG_INLINE_IPV4: u8 = 11;
/// Length of a UUID's text, `8-4-4-4-12` hex digits.
const UUID_LEN: usize = 36;
/// Streams before the columns: ids, parents, raw, head, misc.
const NUM_FIXED_STREAMS: usize = 5;

/// (trace, spans, section length) per trace in block order, as the summary wants it.
pub(super) type Directory = Vec<(TraceId, u64, u64)>;

/// The raw (uncompressed) body of `spans` taken in `order`, which groups each
/// trace's spans together; and the trace directory.
pub(super) fn encode(spans: &[&Span], order: &[usize]) -> (Vec<u8>, Directory) {
    // Strings that only one span attribute value uses go into their column: most are
    // unique values (paths with ids, addresses), and a table index of a string used
    // once is a random-looking number that breaks zstd's matches.
    let mut value_uses: HashMap<&str, u32> = HashMap::default();
    for span in spans {
        for attribute in &span.attributes {
            if let AttrValue::Str(text) = &attribute.value {
                *value_uses.entry(text.as_str()).or_default() += 1;
            }
        }
    }
    let mut writer = Writer {
        interner: Interner::default(),
        value_uses,
        resources: Vec::new(),
        resource_index: HashMap::default(),
        scopes: Vec::new(),
        scope_index: HashMap::default(),
        column_index: HashMap::default(),
        column_keys: Vec::new(),
        streams: Default::default(),
        columns: Vec::new(),
    };
    let mut directory = Vec::new();
    let mut local: HashMap<SpanId, u64> = HashMap::default();
    let mut position = 0;
    while position < order.len() {
        let trace_id = spans[order[position]].trace_id;
        let count = order[position..]
            .iter()
            .take_while(|&&index| spans[index].trace_id == trace_id)
            .count();
        let trace = &order[position..position + count];
        local.clear();
        for (index, &span) in trace.iter().enumerate() {
            local.entry(spans[span].span_id).or_insert(index as u64);
        }
        for &span in trace {
            writer.span(spans[span], &local);
        }
        directory.push((trace_id, count as u64, 0));
        position += count;
    }
    (writer.finish(), directory)
}

struct Writer<'a> {
    interner: Interner<'a>,
    value_uses: HashMap<&'a str, u32>,
    resources: Vec<&'a Arc<Resource>>,
    resource_index: HashMap<*const Resource, u64>,
    scopes: Vec<&'a Arc<Scope>>,
    scope_index: HashMap<*const Scope, u64>,
    column_index: HashMap<&'a str, usize>,
    column_keys: Vec<&'a str>,
    /// ids, parents, raw, head, misc.
    streams: [Vec<u8>; NUM_FIXED_STREAMS],
    columns: Vec<Vec<u8>>,
}

impl<'a> Writer<'a> {
    fn span(&mut self, span: &'a Span, local: &HashMap<SpanId, u64>) {
        let [ids, parents, raw, head, misc] = &mut self.streams;
        ids.extend_from_slice(&span.span_id.0);
        match span.parent_span_id {
            None => put_u64(parents, 0),
            Some(parent) => match local.get(&parent) {
                Some(index) => put_u64(parents, index + 2),
                None => {
                    put_u64(parents, 1);
                    raw.extend_from_slice(&parent.0);
                }
            },
        }
        let interner = &mut self.interner;
        put_u64(head, interner.index(&span.trace_state));
        put_u64(head, u64::from(span.flags));
        put_u64(head, interner.index(&span.name));
        head.push(span.kind as u8);
        head.push(span.status_code as u8);
        put_u64(head, interner.index(&span.status_message));
        let resource = *self
            .resource_index
            .entry(Arc::as_ptr(&span.resource))
            .or_insert_with(|| {
                self.resources.push(&span.resource);
                self.resources.len() as u64 - 1
            });
        put_u64(head, resource);
        let scope = *self
            .scope_index
            .entry(Arc::as_ptr(&span.scope))
            .or_insert_with(|| {
                self.scopes.push(&span.scope);
                self.scopes.len() as u64 - 1
            });
        put_u64(head, scope);
        put_u64(head, span.attributes.len() as u64);
        for attribute in &span.attributes {
            let column = *self
                .column_index
                .entry(attribute.key.as_str())
                .or_insert_with(|| {
                    self.column_keys.push(&attribute.key);
                    self.columns.push(Vec::new());
                    self.columns.len() - 1
                });
            put_u64(head, column as u64);
            let out = &mut self.columns[column];
            match &attribute.value {
                AttrValue::Str(text) if self.value_uses.get(text.as_str()) == Some(&1) => {
                    put_inline(out, text.as_bytes());
                }
                value => encode_value(out, interner, value),
            }
        }
        put_u64(head, span.events.len() as u64);
        put_u64(head, span.links.len() as u64);
        for event in &span.events {
            put_i64(
                misc,
                event.time_unix_nanos.wrapping_sub(span.start_unix_nanos) as i64,
            );
            put_u64(misc, interner.index(&event.name));
            encode_attributes(misc, interner, &event.attributes);
        }
        for link in &span.links {
            misc.extend_from_slice(link.trace_id.as_bytes());
            misc.extend_from_slice(&link.span_id.0);
            put_u64(misc, interner.index(&link.trace_state));
            encode_attributes(misc, interner, &link.attributes);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let interner = &mut self.interner;
        let mut resource_bytes = Vec::new();
        for resource in &self.resources {
            put_u64(&mut resource_bytes, interner.index(&resource.service_name));
            encode_attributes(&mut resource_bytes, interner, &resource.attributes);
        }
        let mut scope_bytes = Vec::new();
        for scope in &self.scopes {
            put_u64(&mut scope_bytes, interner.index(&scope.name));
            put_u64(&mut scope_bytes, interner.index(&scope.version));
            encode_attributes(&mut scope_bytes, interner, &scope.attributes);
        }
        let column_keys: Vec<u64> = self
            .column_keys
            .iter()
            .map(|key| interner.index(key))
            .collect();
        let streams_len: usize = self.streams.iter().chain(&self.columns).map(Vec::len).sum();
        let mut out = Vec::with_capacity(streams_len + 64 * interner.strings.len() + 4096);
        put_u64(&mut out, interner.strings.len() as u64);
        for text in &interner.strings {
            put_bytes(&mut out, text.as_bytes());
        }
        put_u64(&mut out, self.resources.len() as u64);
        out.extend_from_slice(&resource_bytes);
        put_u64(&mut out, self.scopes.len() as u64);
        out.extend_from_slice(&scope_bytes);
        put_u64(&mut out, column_keys.len() as u64);
        column_keys.iter().for_each(|key| put_u64(&mut out, *key));
        for stream in self.streams.iter().chain(&self.columns) {
            put_u64(&mut out, stream.len() as u64);
        }
        for stream in self.streams.iter().chain(&self.columns) {
            out.extend_from_slice(stream);
        }
        out
    }
}

/// An inline string; UUIDs in it are packed (their hex text is most of many unique
/// values, and zstd's entropy coding of hex digits costs about 19 bytes a UUID).
fn put_inline(out: &mut Vec<u8>, text: &[u8]) {
    if let Some(address) = ipv4(text) {
        out.push(TAG_INLINE_IPV4);
        out.extend_from_slice(&address.octets());
        return;
    }
    let mut uuids = Vec::new();
    let mut at = 0;
    while at + UUID_LEN <= text.len() {
        if is_uuid(&text[at..at + UUID_LEN]) {
            uuids.push(at);
            at += UUID_LEN;
        } else {
            at += 1;
        }
    }
    if uuids.is_empty() {
        out.push(TAG_INLINE);
        put_bytes(out, text);
        return;
    }
    out.push(TAG_INLINE_UUIDS);
    put_u64(out, uuids.len() as u64);
    let mut rest = 0;
    for start in uuids {
        put_bytes(out, &text[rest..start]);
        let digits = text[start..start + UUID_LEN]
            .iter()
            .filter(|&&byte| byte != b'-')
            .map(|&byte| hex_value(byte));
        let mut packed = [0u8; 16];
        for (index, digit) in digits.enumerate() {
            packed[index / 2] |= digit << (4 * (1 - index % 2));
        }
        out.extend_from_slice(&packed);
        rest = start + UUID_LEN;
    }
    put_bytes(out, &text[rest..]);
}

/// An IPv4 address whose text is exactly what `Display` writes back (so no leading
/// zeros): addresses in attributes (`client.address`) are mostly unique values.
fn ipv4(text: &[u8]) -> Option<std::net::Ipv4Addr> {
    if text.len() > 15 {
        return None;
    }
    let address: std::net::Ipv4Addr = std::str::from_utf8(text).ok()?.parse().ok()?;
    // Written back into a stack buffer: this runs for every IP-shaped value written.
    let mut written = [0u8; 15];
    let mut cursor = std::io::Cursor::new(&mut written[..]);
    std::io::Write::write_fmt(&mut cursor, format_args!("{address}")).ok()?;
    let len = cursor.position() as usize;
    (&written[..len] == text).then_some(address)
}

/// Lowercase `8-4-4-4-12` hex (uppercase ones stay text, so every string round-trips).
fn is_uuid(text: &[u8]) -> bool {
    text.iter().enumerate().all(|(index, &byte)| match index {
        8 | 13 | 18 | 23 => byte == b'-',
        _ => matches!(byte, b'0'..=b'9' | b'a'..=b'f'),
    })
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        _ => digit - b'a' + 10,
    }
}

/// The text of a packed UUID.
fn unpack_uuid(packed: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (index, byte) in packed.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0xf)]);
    }
}

/// Where each trace's rows start in a joined body: (trace, its first span's index,
/// number of spans, offset), in block order.
pub(super) type Sections = Vec<(TraceId, usize, usize, usize)>;

/// Turns a version 3 body back into version 2's layout (strings, resources, scopes,
/// span rows), with the strings stored in columns appended to the string table.
/// Only the traces that `wanted` selects get rows and sections; the others are
/// walked (every stream is read in span order) and checked the same way.
pub(super) fn join(
    raw: &[u8],
    summary: &Summary,
    wanted: impl Fn(&TraceId) -> bool,
) -> Result<(Vec<u8>, Sections), CodecError> {
    let mut reader = Reader::new(raw);
    let num_strings = reader.count()?;
    let table_start = reader.position();
    for _ in 0..num_strings {
        reader.bytes()?;
    }
    let table = &raw[table_start..reader.position()];
    let mut resources_and_scopes = Vec::new();
    let num_resources = reader.count()?;
    put_u64(&mut resources_and_scopes, num_resources as u64);
    for _ in 0..num_resources {
        copy_u64(&mut reader, &mut resources_and_scopes)?;
        copy_attributes(&mut reader, &mut resources_and_scopes, &mut None, 0)?;
    }
    let num_scopes = reader.count()?;
    put_u64(&mut resources_and_scopes, num_scopes as u64);
    for _ in 0..num_scopes {
        copy_u64(&mut reader, &mut resources_and_scopes)?;
        copy_u64(&mut reader, &mut resources_and_scopes)?;
        copy_attributes(&mut reader, &mut resources_and_scopes, &mut None, 0)?;
    }
    let num_columns = reader.count()?;
    let mut column_keys = Vec::with_capacity(num_columns);
    for _ in 0..num_columns {
        column_keys.push(reader.u64()?);
    }
    let mut lengths = Vec::with_capacity(NUM_FIXED_STREAMS + num_columns);
    for _ in 0..NUM_FIXED_STREAMS + num_columns {
        lengths.push(reader.usize()?);
    }
    let mut streams = Vec::with_capacity(lengths.len());
    for len in lengths {
        streams.push(Reader::new(reader.take(len)?));
    }
    let columns = streams.split_off(NUM_FIXED_STREAMS);
    let [ids, parents, raw_ids, head, misc]: [Reader<'_>; NUM_FIXED_STREAMS] =
        streams
            .try_into()
            .map_err(|_| CodecError::Corrupt("block body lacks a stream"))?;
    let ids = ids.rest();
    let mut streams = SpanStreams {
        parents,
        raw_ids,
        head,
        misc,
        columns,
    };

    let mut inline = Inline {
        base: num_strings as u64,
        strings: Vec::new(),
        skipping: false,
    };
    // Rows take about twice the raw body; reserve for the wanted share of the spans.
    let (mut num_spans, mut num_wanted) = (0usize, 0usize);
    for (trace_id, count, _) in &summary.directory {
        num_spans = num_spans.saturating_add(*count);
        if wanted(trace_id) {
            num_wanted = num_wanted.saturating_add(*count);
        }
    }
    let reserve = (raw.len() as u128 * 2 * num_wanted as u128 / num_spans.max(1) as u128) as usize;
    let mut rows = Vec::with_capacity(reserve.min(raw.len().saturating_mul(2)));
    let mut sections = Vec::new();
    let mut first_span = 0usize;
    for &(trace_id, count, _) in &summary.directory {
        let keep = wanted(&trace_id);
        // A skipped trace's streams are read past (the walk has to read every field
        // to find the next trace's), written nowhere; its inline strings aren't unpacked.
        inline.skipping = !keep;
        if keep {
            sections.push((trace_id, first_span, count, rows.len()));
        }
        let end = first_span
            .checked_add(count)
            .and_then(|end| end.checked_mul(8))
            .ok_or(CodecError::Corrupt("span count overflows"))?;
        let trace_ids = ids
            .get(first_span * 8..end)
            .ok_or(CodecError::Corrupt("fewer span ids than spans"))?;
        for span_id in trace_ids.chunks_exact(8) {
            if keep {
                streams.join_span(&mut rows, span_id, trace_ids, &column_keys, &mut inline)?;
            } else {
                streams.join_span(&mut Skipped, span_id, trace_ids, &column_keys, &mut inline)?;
            }
        }
        first_span += count;
    }
    if first_span * 8 != ids.len() {
        return Err(CodecError::Corrupt("more span ids than spans"));
    }

    let mut out = Vec::with_capacity(table.len() + rows.len() + 4096);
    put_u64(&mut out, inline.base + inline.strings.len() as u64);
    out.extend_from_slice(table);
    for text in &inline.strings {
        put_bytes(&mut out, text);
    }
    out.extend_from_slice(&resources_and_scopes);
    let rows_start = out.len();
    out.extend_from_slice(&rows);
    for section in &mut sections {
        section.3 += rows_start;
    }
    Ok((out, sections))
}

/// The streams a span's row is joined from, each at the next span's fields.
struct SpanStreams<'r> {
    parents: Reader<'r>,
    raw_ids: Reader<'r>,
    head: Reader<'r>,
    misc: Reader<'r>,
    columns: Vec<Reader<'r>>,
}

impl<'r> SpanStreams<'r> {
    /// Reads one span's fields off the streams and writes its row to `rows`.
    /// `trace_ids` are the span ids of its trace (parents refer into them).
    fn join_span(
        &mut self,
        rows: &mut impl Rows,
        span_id: &[u8],
        trace_ids: &[u8],
        column_keys: &[u64],
        inline: &mut Inline<'r>,
    ) -> Result<(), CodecError> {
        let head = &mut self.head;
        rows.bytes(span_id);
        match self.parents.u64()? {
            0 => rows.byte(0),
            1 => {
                rows.byte(1);
                rows.bytes(self.raw_ids.take(8)?);
            }
            index => {
                let at = usize::try_from(index - 2)
                    .ok()
                    .and_then(|at| at.checked_mul(8))
                    .ok_or(CodecError::Corrupt("parent index out of range"))?;
                let parent = trace_ids
                    .get(at..at + 8)
                    .ok_or(CodecError::Corrupt("parent index out of range"))?;
                rows.byte(1);
                rows.bytes(parent);
            }
        }
        copy_u64(head, rows)?; // trace state
        copy_u64(head, rows)?; // flags
        copy_u64(head, rows)?; // name
        rows.byte(head.u8()?); // kind
        rows.byte(head.u8()?); // status
        copy_u64(head, rows)?; // status message
        copy_u64(head, rows)?; // resource
        copy_u64(head, rows)?; // scope
        let num_attributes = head.u64()?;
        rows.varint(num_attributes);
        for _ in 0..num_attributes {
            let column = head.usize()?;
            let (key, values) = column_keys
                .get(column)
                .zip(self.columns.get_mut(column))
                .ok_or(CodecError::Corrupt("column index out of range"))?;
            rows.varint(*key);
            copy_value(values, rows, &mut Some(&mut *inline), 0)?;
        }
        let (num_events, num_links) = (head.u64()?, head.u64()?);
        let misc = &mut self.misc;
        rows.varint(num_events);
        for _ in 0..num_events {
            copy_u64(misc, rows)?; // time
            copy_u64(misc, rows)?; // name
            copy_attributes(misc, rows, &mut None, 0)?;
        }
        rows.varint(num_links);
        for _ in 0..num_links {
            rows.bytes(misc.take(16 + 8)?);
            copy_u64(misc, rows)?; // trace state
            copy_attributes(misc, rows, &mut None, 0)?;
        }
        Ok(())
    }
}

/// Where joined rows go: the rows, or nowhere for a trace nobody asked for.
trait Rows {
    fn varint(&mut self, value: u64);
    fn byte(&mut self, value: u8);
    fn bytes(&mut self, bytes: &[u8]);
}

impl Rows for Vec<u8> {
    fn varint(&mut self, value: u64) {
        put_u64(self, value);
    }
    fn byte(&mut self, value: u8) {
        self.push(value);
    }
    fn bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// The rows of a skipped trace: nothing is written.
struct Skipped;

impl Rows for Skipped {
    fn varint(&mut self, _: u64) {}
    fn byte(&mut self, _: u8) {}
    fn bytes(&mut self, _: &[u8]) {}
}

/// Reads past attributes in version 2's encoding (no inline strings).
pub(super) fn skip_attributes(reader: &mut Reader<'_>) -> Result<(), CodecError> {
    copy_attributes(reader, &mut Skipped, &mut None, 0)
}

/// Strings met in columns while joining; they follow the table's `base` strings.
struct Inline<'r> {
    base: u64,
    strings: Vec<Cow<'r, [u8]>>,
    /// The span being joined is cut off afterwards: read inline strings past.
    skipping: bool,
}

fn copy_u64(reader: &mut Reader<'_>, out: &mut impl Rows) -> Result<(), CodecError> {
    out.varint(reader.u64()?);
    Ok(())
}

fn copy_attributes<'r>(
    reader: &mut Reader<'r>,
    out: &mut impl Rows,
    inline: &mut Option<&mut Inline<'r>>,
    depth: usize,
) -> Result<(), CodecError> {
    let count = reader.u64()?;
    out.varint(count);
    for _ in 0..count {
        copy_u64(reader, out)?;
        copy_value(reader, out, inline, depth)?;
    }
    Ok(())
}

/// Copies one value in version 2's encoding; an inline string (allowed only where
/// `inline` is given) becomes an index past the string table.
fn copy_value<'r>(
    reader: &mut Reader<'r>,
    out: &mut impl Rows,
    inline: &mut Option<&mut Inline<'r>>,
    depth: usize,
) -> Result<(), CodecError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(CodecError::Corrupt("attribute value nested too deeply"));
    }
    let tag = reader.u8()?;
    if matches!(tag, TAG_INLINE | TAG_INLINE_UUIDS | TAG_INLINE_IPV4) {
        let inline = inline
            .as_mut()
            .ok_or(CodecError::Corrupt("inline string outside a column"))?;
        out.byte(TAG_STR);
        out.varint(inline.base + inline.strings.len() as u64);
        if inline.skipping {
            match tag {
                TAG_INLINE => {
                    reader.bytes()?;
                }
                TAG_INLINE_IPV4 => {
                    reader.take(4)?;
                }
                _ => {
                    for _ in 0..reader.u64()? {
                        reader.bytes()?;
                        reader.take(16)?;
                    }
                    reader.bytes()?;
                }
            }
            return Ok(());
        }
        let text = if tag == TAG_INLINE {
            Cow::Borrowed(reader.bytes()?)
        } else if tag == TAG_INLINE_IPV4 {
            let octets: [u8; 4] = reader.array()?;
            Cow::Owned(std::net::Ipv4Addr::from(octets).to_string().into_bytes())
        } else {
            let count = reader.u64()?;
            let mut text = Vec::new();
            for _ in 0..count {
                text.extend_from_slice(reader.bytes()?);
                unpack_uuid(reader.take(16)?, &mut text);
            }
            text.extend_from_slice(reader.bytes()?);
            Cow::Owned(text)
        };
        inline.strings.push(text);
        return Ok(());
    }
    out.byte(tag);
    match tag {
        TAG_EMPTY | TAG_FALSE | TAG_TRUE => {}
        TAG_STR | TAG_INT => copy_u64(reader, out)?,
        TAG_DOUBLE => out.bytes(reader.take(8)?),
        TAG_BYTES => {
            let bytes = reader.bytes()?;
            out.varint(bytes.len() as u64);
            out.bytes(bytes);
        }
        TAG_ARRAY => {
            let count = reader.u64()?;
            out.varint(count);
            for _ in 0..count {
                copy_value(reader, out, &mut None, depth + 1)?;
            }
        }
        TAG_KVLIST => copy_attributes(reader, out, &mut None, depth + 1)?,
        _ => return Err(CodecError::Corrupt("unknown attribute tag")),
    }
    Ok(())
}
