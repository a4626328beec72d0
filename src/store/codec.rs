//! Versioned, compressed span blocks and their metadata.
//!
//! A block is one version byte, the summary frame's length (u32, little-endian), and
//! two zstd frames (each with zstd's content checksum): the summary (see `summary`:
//! the trace directory plus operation, start and duration of every span), then the
//! body, then (uncompressed) the block's term filter (see `filter`), whose length
//! `BlockMeta::filter_len` holds. Version 3 bodies are column streams (see
//! `columns`); readers join them back into version 2's layout, which is:
//!
//! ```text
//! strings                  count, then (len, utf-8 bytes)…   every string in the block, once
//! resources                count, then (service: str, attrs)…
//! scopes                   count, then (name: str, version: str, attrs)…
//! span sections            one per trace, in directory order; each span:
//!     span_id[8] has_parent:u8 [parent_id[8]] trace_state:str flags name:str kind:u8
//!     status:u8 status_message:str resource scope attrs events links
//! ```
//!
//! Interning strings and resources per block removes most repetition before zstd
//! sees the data, and the trace directory lets `get-trace` decode only its own spans.
//! Searches without a tag filter read only the summary, a few percent of the block.
//! `str` is a varint index into the string table. Metadata (`BlockMeta`) is stored
//! in sled, uncompressed, and is small enough to keep in memory; the block itself
//! lives in its hour's segment file (see `segment`).

use std::sync::Arc;

use foldhash::HashMap;

use self::frames::{compress, decompress};
use super::id_set::IdSet;
use super::varint::{put_bytes, put_i64, put_u64, Reader};
use super::CodecError;
use crate::model::{
    AttrValue, Attribute, Event, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId,
};

/// Bumped whenever the block layout changes; readers reject versions they don't know.
/// Version 2 split the block into a summary frame and a body frame; version 3
/// transposed the body's span rows into streams (`columns`).
pub(crate) const BLOCK_VERSION: u8 = 3;
/// Blocks of version 2 (span rows) are still read.
const BLOCK_VERSION_ROWS: u8 = 2;
/// The version byte and the summary frame's length.
pub(crate) const BLOCK_PREFIX_LEN: usize = 5;
/// Version 2 carries the trace index (`trace_prefixes`) that replaced per-trace keys;
/// version 3 the block's place in its segment file (`offset`, `checksum`); version 4
/// the length of the block's summary frame; version 5 the length of its term filter.
const META_VERSION: u8 = 5;

/// What the store needs besides the bytes: the traces in the block.
#[derive(Debug)]
pub(crate) struct EncodedBlock {
    pub(crate) bytes: Vec<u8>,
    /// Length of the summary frame, which follows `BLOCK_PREFIX_LEN` bytes.
    pub(crate) summary_len: u32,
    /// Length of the term filter (`filter`) that trails the two frames; 0 for none.
    pub(crate) filter_len: u32,
    pub(crate) trace_ids: Vec<TraceId>,
}

impl EncodedBlock {
    /// The two zstd frames without the trailing filter: what `decode_block` reads.
    #[cfg(test)]
    pub(crate) fn frames(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - self.filter_len as usize]
    }
}

/// Encodes one block; `operation_ids[i]` is the catalog operation id of `spans[i]`.
pub(crate) fn encode_block(
    spans: &[&Span],
    operation_ids: &[u32],
    zstd_level: i32,
) -> Result<EncodedBlock, CodecError> {
    encode_block_as(BLOCK_VERSION, spans, operation_ids, zstd_level)
}

fn encode_block_as(
    version: u8,
    spans: &[&Span],
    operation_ids: &[u32],
    zstd_level: i32,
) -> Result<EncodedBlock, CodecError> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| {
        (spans[a].trace_id, spans[a].start_unix_nanos)
            .cmp(&(spans[b].trace_id, spans[b].start_unix_nanos))
    });
    let base_start = spans
        .iter()
        .map(|span| span.start_unix_nanos)
        .min()
        .unwrap_or(0);
    let columns: Vec<(u32, u64, u64)> = order
        .iter()
        .map(|&position| {
            let span = spans[position];
            (
                operation_ids.get(position).copied().unwrap_or(u32::MAX),
                span.start_unix_nanos,
                span.duration_nanos(),
            )
        })
        .collect();
    let (body, directory) = match version {
        #[cfg(test)]
        BLOCK_VERSION_ROWS => encode_rows(spans, &order),
        _ => columns::encode(spans, &order),
    };
    let mut raw_summary = Vec::with_capacity(spans.len() * 8 + directory.len() * 24);
    summary::encode(&mut raw_summary, base_start, &directory, &columns);

    let mut bytes = Vec::with_capacity(body.len() / 6 + raw_summary.len() / 2 + 16);
    bytes.push(version);
    bytes.extend_from_slice(&[0; 4]);
    let bytes = compress(bytes, &raw_summary, zstd_level)?;
    let summary_len = u32::try_from(bytes.len() - BLOCK_PREFIX_LEN)
        .map_err(|_| CodecError::Corrupt("block summary larger than 4 GiB"))?;
    let mut bytes = compress(bytes, &body, zstd_level)?;
    bytes[1..BLOCK_PREFIX_LEN].copy_from_slice(&summary_len.to_le_bytes());
    let filter = filter::encode(spans);
    bytes.extend_from_slice(&filter);
    Ok(EncodedBlock {
        bytes,
        summary_len,
        filter_len: filter.len() as u32,
        trace_ids: directory
            .into_iter()
            .map(|(trace_id, _, _)| trace_id)
            .collect(),
    })
}

/// Version 2's body: the header, then one row per span, trace by trace. Only tests
/// write it now (to check that old blocks still read).
#[cfg(test)]
fn encode_rows(spans: &[&Span], order: &[usize]) -> (Vec<u8>, columns::Directory) {
    let mut interner = Interner::default();
    let mut resources: Vec<&Arc<Resource>> = Vec::new();
    let mut resource_index: HashMap<*const Resource, u64> = HashMap::default();
    let mut scopes: Vec<&Arc<Scope>> = Vec::new();
    let mut scope_index: HashMap<*const Scope, u64> = HashMap::default();

    // Spans first (into a scratch buffer) so the string table is complete afterwards.
    let mut sections = Vec::with_capacity(spans.len() * 96);
    let mut directory: Vec<(TraceId, u64, u64)> = Vec::new();
    for &position in order {
        let span = spans[position];
        let section_start = sections.len();
        let resource = *resource_index
            .entry(Arc::as_ptr(&span.resource))
            .or_insert_with(|| {
                resources.push(&span.resource);
                resources.len() as u64 - 1
            });
        let scope = *scope_index
            .entry(Arc::as_ptr(&span.scope))
            .or_insert_with(|| {
                scopes.push(&span.scope);
                scopes.len() as u64 - 1
            });
        encode_span(&mut sections, &mut interner, span, resource, scope);
        let len = (sections.len() - section_start) as u64;
        match directory.last_mut() {
            Some((trace_id, count, section_len)) if *trace_id == span.trace_id => {
                *count += 1;
                *section_len += len;
            }
            _ => directory.push((span.trace_id, 1, len)),
        }
    }

    let mut header = Vec::with_capacity(4096);
    let mut resource_bytes = Vec::new();
    for resource in &resources {
        let service = interner.index(&resource.service_name);
        put_u64(&mut resource_bytes, service);
        encode_attributes(&mut resource_bytes, &mut interner, &resource.attributes);
    }
    let mut scope_bytes = Vec::new();
    for scope in &scopes {
        let (name, version) = (interner.index(&scope.name), interner.index(&scope.version));
        put_u64(&mut scope_bytes, name);
        put_u64(&mut scope_bytes, version);
        encode_attributes(&mut scope_bytes, &mut interner, &scope.attributes);
    }
    put_u64(&mut header, interner.strings.len() as u64);
    for text in &interner.strings {
        put_bytes(&mut header, text.as_bytes());
    }
    put_u64(&mut header, resources.len() as u64);
    header.extend_from_slice(&resource_bytes);
    put_u64(&mut header, scopes.len() as u64);
    header.extend_from_slice(&scope_bytes);
    header.extend_from_slice(&sections);
    (header, directory)
}

/// Decodes the spans of the traces that `wanted` selects; the others are skipped
/// without being parsed.
pub(crate) fn decode_block(
    bytes: &[u8],
    wanted: impl Fn(&TraceId) -> bool,
) -> Result<Vec<Span>, CodecError> {
    let (version, summary, body) = split(bytes)?;
    let summary = Summary::parse(&decompress(summary)?)?;
    if !summary
        .directory
        .iter()
        .any(|(trace_id, ..)| wanted(trace_id))
    {
        return Ok(Vec::new());
    }
    let (raw, sections) = rows(version, body, &summary, &wanted)?;
    let (header, mut reader) = Header::parse(&raw)?;
    let context = header.context();
    let sections = match sections {
        Some(sections) => sections,
        None => summary.sections(header.sections_start)?,
    };
    let mut spans = Vec::new();
    for (trace_id, first_span, count, section_start) in sections {
        if wanted(&trace_id) {
            reader.seek(section_start)?;
            for columns in span_columns(&summary, first_span, count)? {
                spans.push(decode_span(&mut reader, &context, trace_id, columns)?);
            }
        }
    }
    Ok(spans)
}

/// The summary of a block, from a prefix of the block's bytes that holds at least
/// `BLOCK_PREFIX_LEN` plus the summary frame.
pub(crate) fn read_summary(bytes: &[u8]) -> Result<Summary, CodecError> {
    let (_, summary, _) = split(bytes)?;
    Summary::parse(&decompress(summary)?)
}

/// (version, summary frame, body frame); the body may be cut short when only the
/// summary was read.
fn split(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), CodecError> {
    let (&version, rest) = bytes.split_first().ok_or(CodecError::Truncated)?;
    if version != BLOCK_VERSION && version != BLOCK_VERSION_ROWS {
        return Err(CodecError::UnknownVersion(version));
    }
    let (len, rest) = rest.split_first_chunk::<4>().ok_or(CodecError::Truncated)?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > rest.len() {
        return Err(CodecError::Truncated);
    }
    let (summary, body) = rest.split_at(len);
    Ok((version, summary, body))
}

/// The body in version 2's layout (header, then span rows), and for version 3
/// bodies where each trace's rows start (version 2 takes them from the summary).
/// Version 3 bodies get rows only for the traces `wanted` selects.
fn rows(
    version: u8,
    body: &[u8],
    summary: &Summary,
    wanted: impl Fn(&TraceId) -> bool,
) -> Result<(Vec<u8>, Option<columns::Sections>), CodecError> {
    let raw = decompress(body)?;
    if version == BLOCK_VERSION_ROWS {
        return Ok((raw, None));
    }
    let (joined, sections) = columns::join(&raw, summary, wanted)?;
    Ok((joined, Some(sections)))
}

fn span_columns(
    summary: &Summary,
    first_span: usize,
    count: usize,
) -> Result<&[SpanSummary], CodecError> {
    summary
        .spans
        .get(first_span..first_span + count)
        .ok_or(CodecError::Corrupt(
            "trace directory counts more spans than the summary",
        ))
}

/// Everything in the body before the span sections: shared by full decoding and
/// scanning.
struct Header<'r> {
    strings: Vec<&'r str>,
    resources: Resources<'r>,
    scopes: Vec<Arc<Scope>>,
    sections_start: usize,
}

/// A block's resources, decoded when a span that is read first names one: a block
/// holds a resource per request and service (hundreds, with about ten attributes
/// each), and `get-trace` reads a few spans of it.
struct Resources<'r> {
    raw: &'r [u8],
    /// Where each resource starts in `raw`.
    starts: Vec<usize>,
    decoded: Vec<std::cell::OnceCell<Arc<Resource>>>,
}

impl Resources<'_> {
    fn get(&self, index: usize, table: &StringTable<'_, '_>) -> Result<&Arc<Resource>, CodecError> {
        let (start, cell) = self
            .starts
            .get(index)
            .zip(self.decoded.get(index))
            .ok_or(CodecError::Corrupt("resource index out of range"))?;
        if let Some(resource) = cell.get() {
            return Ok(resource);
        }
        let mut reader = Reader::new(self.raw);
        reader.seek(*start)?;
        let service_name = table.get(reader.u64()?)?.to_owned();
        let attributes = decode_attributes(&mut reader, table, 0)?;
        Ok(cell.get_or_init(|| {
            Arc::new(Resource {
                service_name,
                attributes,
            })
        }))
    }
}

impl<'r> Header<'r> {
    fn parse(raw: &'r [u8]) -> Result<(Header<'r>, Reader<'r>), CodecError> {
        let mut reader = Reader::new(raw);
        let num_strings = reader.count()?;
        let mut strings = Vec::with_capacity(num_strings);
        for _ in 0..num_strings {
            strings.push(
                std::str::from_utf8(reader.bytes()?)
                    .map_err(|_| CodecError::Corrupt("string is not utf-8"))?,
            );
        }
        let table = StringTable(&strings);
        let num_resources = reader.count()?;
        let mut starts = Vec::with_capacity(num_resources);
        for _ in 0..num_resources {
            starts.push(reader.position());
            table.get(reader.u64()?)?;
            columns::skip_attributes(&mut reader)?;
        }
        let resources = Resources {
            raw,
            decoded: std::iter::repeat_with(Default::default)
                .take(starts.len())
                .collect(),
            starts,
        };
        let num_scopes = reader.count()?;
        let mut scopes = Vec::with_capacity(num_scopes);
        for _ in 0..num_scopes {
            let name = table.get(reader.u64()?)?.to_owned();
            let version = table.get(reader.u64()?)?.to_owned();
            let attributes = decode_attributes(&mut reader, &table, 0)?;
            scopes.push(Arc::new(Scope {
                name,
                version,
                attributes,
            }));
        }
        let sections_start = reader.position();
        let header = Header {
            strings,
            resources,
            scopes,
            sections_start,
        };
        Ok((header, reader))
    }

    fn context(&self) -> SpanContext<'_, 'r> {
        SpanContext {
            table: StringTable(&self.strings),
            resources: &self.resources,
            scopes: &self.scopes,
        }
    }
}

/// Per-block metadata: kept in memory to plan searches without reading blocks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BlockMeta {
    pub(crate) seq: u64,
    pub(crate) partition: u32,
    pub(crate) min_start_unix_nanos: u64,
    pub(crate) max_start_unix_nanos: u64,
    pub(crate) max_duration_nanos: u64,
    pub(crate) num_spans: u32,
    /// Where the block starts in its partition's segment file, and its length there.
    pub(crate) offset: u64,
    pub(crate) num_bytes: u32,
    /// CRC-32 of the block's bytes, checked on every read of the whole block.
    pub(crate) checksum: u32,
    /// Length of the summary frame; reading `BLOCK_PREFIX_LEN` plus this many bytes
    /// is enough for a search without tag filters (zstd checks the frame's checksum).
    pub(crate) summary_len: u32,
    /// Length of the term filter at the end of the block's bytes; 0 when it has none.
    pub(crate) filter_len: u32,
    /// Catalog operation ids present in the block.
    pub(crate) operations: IdSet,
    /// Catalog service ids present in the block, sorted.
    pub(crate) services: Vec<u32>,
    /// (parent service, child service, calls) for parent links resolved within the block.
    pub(crate) edges: Vec<(u32, u32, u32)>,
    /// The first 8 bytes of every trace ID in the block, sorted and unique: the trace
    /// index. A match is confirmed against the full ID when the block is decoded.
    pub(crate) trace_prefixes: Vec<u64>,
}

/// The part of a trace ID that the in-memory trace index keeps.
pub(crate) fn trace_prefix(trace_id: &TraceId) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&trace_id.0[..8]);
    u64::from_be_bytes(prefix)
}

impl BlockMeta {
    /// Where the block ends in its segment file.
    pub(crate) fn end(&self) -> u64 {
        self.offset + u64::from(self.num_bytes)
    }

    /// Bytes this meta holds in memory (its struct and its lists' capacity).
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<BlockMeta>()
            + self.operations.heap_bytes()
            + self.services.capacity() * 4
            + self.edges.capacity() * 12
            + self.trace_prefixes.capacity() * 8
    }

    /// Whether the block may hold spans of `trace_id` (false positives are possible,
    /// when two trace IDs share their first 8 bytes).
    pub(crate) fn may_hold(&self, trace_id: &TraceId) -> bool {
        self.trace_prefixes
            .binary_search(&trace_prefix(trace_id))
            .is_ok()
    }
}

impl BlockMeta {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![META_VERSION];
        for value in [
            self.seq,
            u64::from(self.partition),
            self.min_start_unix_nanos,
            self.max_start_unix_nanos,
            self.max_duration_nanos,
            u64::from(self.num_spans),
            self.offset,
            u64::from(self.num_bytes),
            u64::from(self.checksum),
            u64::from(self.summary_len),
            u64::from(self.filter_len),
        ] {
            put_u64(&mut out, value);
        }
        put_u64(&mut out, self.operations.len() as u64);
        self.operations
            .iter()
            .for_each(|id| put_u64(&mut out, u64::from(id)));
        put_u64(&mut out, self.services.len() as u64);
        self.services
            .iter()
            .for_each(|id| put_u64(&mut out, u64::from(*id)));
        put_u64(&mut out, self.edges.len() as u64);
        for (parent, child, calls) in &self.edges {
            put_u64(&mut out, u64::from(*parent));
            put_u64(&mut out, u64::from(*child));
            put_u64(&mut out, u64::from(*calls));
        }
        // Sorted: store each prefix as the gap from the previous one.
        put_u64(&mut out, self.trace_prefixes.len() as u64);
        let mut previous = 0u64;
        for prefix in &self.trace_prefixes {
            put_u64(&mut out, prefix - previous);
            previous = *prefix;
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<BlockMeta, CodecError> {
        let mut reader = Reader::new(bytes);
        let version = reader.u8()?;
        if version != META_VERSION && version != 4 {
            return Err(CodecError::UnknownVersion(version));
        }
        let seq = reader.u64()?;
        let partition = reader.u32()?;
        let (min_start, max_start, max_duration) = (reader.u64()?, reader.u64()?, reader.u64()?);
        let num_spans = reader.u32()?;
        let (offset, num_bytes, checksum) = (reader.u64()?, reader.u32()?, reader.u32()?);
        let summary_len = reader.u32()?;
        // Version 4 blocks have no filter.
        let filter_len = if version >= 5 { reader.u32()? } else { 0 };
        if filter_len > num_bytes {
            return Err(CodecError::Corrupt("term filter longer than its block"));
        }
        let mut id_lists = [Vec::new(), Vec::new()];
        for list in &mut id_lists {
            let count = reader.count()?;
            for _ in 0..count {
                list.push(reader.u32()?);
            }
        }
        let count = reader.count()?;
        let mut edges = Vec::with_capacity(count);
        for _ in 0..count {
            edges.push((reader.u32()?, reader.u32()?, reader.u32()?));
        }
        let count = reader.count()?;
        let mut trace_prefixes = Vec::with_capacity(count);
        let mut previous = 0u64;
        for _ in 0..count {
            previous = previous
                .checked_add(reader.u64()?)
                .ok_or(CodecError::Corrupt("trace prefixes overflow"))?;
            trace_prefixes.push(previous);
        }
        let [operations, services] = id_lists;
        Ok(BlockMeta {
            seq,
            partition,
            min_start_unix_nanos: min_start,
            max_start_unix_nanos: max_start,
            max_duration_nanos: max_duration,
            num_spans,
            offset,
            num_bytes,
            checksum,
            summary_len,
            filter_len,
            operations: IdSet::new(operations),
            services,
            edges,
            trace_prefixes,
        })
    }
}

#[derive(Default)]
struct Interner<'a> {
    strings: Vec<&'a str>,
    index: HashMap<&'a str, u64>,
}

impl<'a> Interner<'a> {
    fn index(&mut self, text: &'a str) -> u64 {
        if let Some(index) = self.index.get(text) {
            return *index;
        }
        let index = self.strings.len() as u64;
        self.strings.push(text);
        self.index.insert(text, index);
        index
    }
}

#[cfg(test)]
fn encode_span<'a>(
    out: &mut Vec<u8>,
    interner: &mut Interner<'a>,
    span: &'a Span,
    resource: u64,
    scope: u64,
) {
    out.extend_from_slice(&span.span_id.0);
    match span.parent_span_id {
        Some(parent) => {
            out.push(1);
            out.extend_from_slice(&parent.0);
        }
        None => out.push(0),
    }
    put_u64(out, interner.index(&span.trace_state));
    put_u64(out, u64::from(span.flags));
    put_u64(out, interner.index(&span.name));
    out.push(span.kind as u8);
    out.push(span.status_code as u8);
    put_u64(out, interner.index(&span.status_message));
    put_u64(out, resource);
    put_u64(out, scope);
    encode_attributes(out, interner, &span.attributes);
    put_u64(out, span.events.len() as u64);
    for event in &span.events {
        put_i64(
            out,
            event.time_unix_nanos.wrapping_sub(span.start_unix_nanos) as i64,
        );
        put_u64(out, interner.index(&event.name));
        encode_attributes(out, interner, &event.attributes);
    }
    put_u64(out, span.links.len() as u64);
    for link in &span.links {
        out.extend_from_slice(link.trace_id.as_bytes());
        out.extend_from_slice(&link.span_id.0);
        put_u64(out, interner.index(&link.trace_state));
        encode_attributes(out, interner, &link.attributes);
    }
}

const TAG_EMPTY: u8 = 0;
const TAG_STR: u8 = 1;
const TAG_FALSE: u8 = 2;
const TAG_TRUE: u8 = 3;
const TAG_INT: u8 = 4;
const TAG_DOUBLE: u8 = 5;
const TAG_BYTES: u8 = 6;
const TAG_ARRAY: u8 = 7;
const TAG_KVLIST: u8 = 8;
/// Nesting allowed when decoding; prost already caps decoding depth at 100 on ingest.
const MAX_VALUE_DEPTH: usize = 128;

fn encode_attributes<'a>(
    out: &mut Vec<u8>,
    interner: &mut Interner<'a>,
    attributes: &'a [Attribute],
) {
    put_u64(out, attributes.len() as u64);
    for attribute in attributes {
        put_u64(out, interner.index(&attribute.key));
        encode_value(out, interner, &attribute.value);
    }
}

fn encode_value<'a>(out: &mut Vec<u8>, interner: &mut Interner<'a>, value: &'a AttrValue) {
    match value {
        AttrValue::Empty => out.push(TAG_EMPTY),
        AttrValue::Str(text) => {
            out.push(TAG_STR);
            put_u64(out, interner.index(text));
        }
        AttrValue::Bool(false) => out.push(TAG_FALSE),
        AttrValue::Bool(true) => out.push(TAG_TRUE),
        AttrValue::Int(number) => {
            out.push(TAG_INT);
            put_i64(out, *number);
        }
        AttrValue::Double(number) => {
            out.push(TAG_DOUBLE);
            out.extend_from_slice(&number.to_le_bytes());
        }
        AttrValue::Bytes(bytes) => {
            out.push(TAG_BYTES);
            put_bytes(out, bytes);
        }
        AttrValue::Array(items) => {
            out.push(TAG_ARRAY);
            put_u64(out, items.len() as u64);
            items
                .iter()
                .for_each(|item| encode_value(out, interner, item));
        }
        AttrValue::KvList(entries) => {
            out.push(TAG_KVLIST);
            encode_attributes(out, interner, entries);
        }
    }
}

#[derive(Clone, Copy)]
struct StringTable<'t, 'a>(&'t [&'a str]);

impl<'a> StringTable<'_, 'a> {
    fn get(&self, index: u64) -> Result<&'a str, CodecError> {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.0.get(index))
            .copied()
            .ok_or(CodecError::Corrupt("string index out of range"))
    }
}

struct SpanContext<'t, 'a> {
    table: StringTable<'t, 'a>,
    resources: &'t Resources<'a>,
    scopes: &'t [Arc<Scope>],
}

impl<'t> SpanContext<'t, '_> {
    /// The resource a span's varint index names.
    fn resource(&self, reader: &mut Reader<'_>) -> Result<&'t Arc<Resource>, CodecError> {
        self.resources.get(reader.usize()?, &self.table)
    }

    /// The scope a span's varint index names.
    fn scope(&self, reader: &mut Reader<'_>) -> Result<&'t Arc<Scope>, CodecError> {
        self.scopes
            .get(reader.usize()?)
            .ok_or(CodecError::Corrupt("scope index out of range"))
    }
}

fn decode_span(
    reader: &mut Reader<'_>,
    context: &SpanContext<'_, '_>,
    trace_id: TraceId,
    columns: &SpanSummary,
) -> Result<Span, CodecError> {
    let table = context.table;
    let span_id = SpanId(reader.array()?);
    let parent_span_id = match reader.u8()? {
        0 => None,
        _ => Some(SpanId(reader.array()?)),
    };
    let trace_state = table.get(reader.u64()?)?.to_owned();
    let flags = reader.u32()?;
    let name = table.get(reader.u64()?)?.to_owned();
    let kind = SpanKind::from_number(i32::from(reader.u8()?))
        .ok_or(CodecError::Corrupt("unknown span kind"))?;
    let start_unix_nanos = columns.start_unix_nanos;
    let end_unix_nanos = start_unix_nanos.wrapping_add(columns.duration_nanos);
    let status_code = StatusCode::from_number(i32::from(reader.u8()?))
        .ok_or(CodecError::Corrupt("unknown status code"))?;
    let status_message = table.get(reader.u64()?)?.to_owned();
    let resource = context.resource(reader)?;
    let scope = context.scope(reader)?;
    let attributes = decode_attributes(reader, &table, 0)?;
    let num_events = reader.count()?;
    let mut events = Vec::with_capacity(num_events);
    for _ in 0..num_events {
        let time_unix_nanos = start_unix_nanos.wrapping_add(reader.i64()? as u64);
        let name = table.get(reader.u64()?)?.to_owned();
        events.push(Event {
            time_unix_nanos,
            name,
            attributes: decode_attributes(reader, &table, 0)?,
        });
    }
    let num_links = reader.count()?;
    let mut links = Vec::with_capacity(num_links);
    for _ in 0..num_links {
        let trace_id = TraceId(reader.array()?);
        let span_id = SpanId(reader.array()?);
        let trace_state = table.get(reader.u64()?)?.to_owned();
        links.push(Link {
            trace_id,
            span_id,
            trace_state,
            attributes: decode_attributes(reader, &table, 0)?,
        });
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
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
    })
}

fn decode_attributes(
    reader: &mut Reader<'_>,
    table: &StringTable<'_, '_>,
    depth: usize,
) -> Result<Vec<Attribute>, CodecError> {
    let count = reader.count()?;
    let mut attributes = Vec::with_capacity(count);
    for _ in 0..count {
        let key = table.get(reader.u64()?)?.to_owned();
        attributes.push(Attribute {
            key,
            value: decode_value(reader, table, depth)?,
        });
    }
    Ok(attributes)
}

fn decode_value(
    reader: &mut Reader<'_>,
    table: &StringTable<'_, '_>,
    depth: usize,
) -> Result<AttrValue, CodecError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(CodecError::Corrupt("attribute value nested too deeply"));
    }
    Ok(match reader.u8()? {
        TAG_EMPTY => AttrValue::Empty,
        TAG_STR => AttrValue::Str(table.get(reader.u64()?)?.to_owned()),
        TAG_FALSE => AttrValue::Bool(false),
        TAG_TRUE => AttrValue::Bool(true),
        TAG_INT => AttrValue::Int(reader.i64()?),
        TAG_DOUBLE => AttrValue::Double(f64::from_le_bytes(reader.array()?)),
        TAG_BYTES => AttrValue::Bytes(reader.bytes()?.to_vec()),
        TAG_ARRAY => {
            let count = reader.count()?;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(decode_value(reader, table, depth + 1)?);
            }
            AttrValue::Array(items)
        }
        TAG_KVLIST => AttrValue::KvList(decode_attributes(reader, table, depth + 1)?),
        _ => return Err(CodecError::Corrupt("unknown attribute tag")),
    })
}

mod columns;
pub(crate) mod filter;
mod frames;
mod scan;
mod summary;

pub(crate) use scan::{scan_block, SpanView};
pub(crate) use summary::{SpanSummary, Summary};

#[cfg(test)]
mod tests;
