//! Scanning a block for search without building `Span`s: strings are borrowed from
//! the decompressed block and attribute lists go into buffers reused across spans,
//! so a span costs a few varint reads instead of dozens of allocations.

use super::{
    decode_value, decompress, rows, span_columns, split, Header, SpanContext, SpanSummary,
    StringTable, Summary,
};
use crate::model::{
    AttrValue, Resource, Scope, SpanFields, SpanKind, StatusCode, TraceId, ValueRef,
};
use crate::store::varint::Reader;
use crate::store::CodecError;

/// An encoded span as search sees it; valid for one callback.
#[derive(Debug)]
pub(crate) struct SpanView<'v> {
    pub(crate) trace_id: TraceId,
    name: &'v str,
    kind: SpanKind,
    start_unix_nanos: u64,
    duration_nanos: u64,
    status_code: StatusCode,
    status_message: &'v str,
    trace_state: &'v str,
    resource: &'v Resource,
    scope: &'v Scope,
    attributes: &'v [(&'v str, ValueView<'v>)],
    event_attributes: &'v [(&'v str, ValueView<'v>)],
    link_attributes: &'v [(&'v str, ValueView<'v>)],
}

/// An attribute value borrowed from the block; rare kinds are decoded in full.
#[derive(Debug)]
enum ValueView<'v> {
    Str(&'v str),
    Bool(bool),
    Int(i64),
    Other(AttrValue),
}

impl ValueView<'_> {
    fn matches_str(&self, text: &str) -> bool {
        match self {
            ValueView::Str(value) => *value == text,
            ValueView::Bool(value) => text == if *value { "true" } else { "false" },
            ValueView::Int(value) => text.parse::<i64>().ok() == Some(*value),
            ValueView::Other(value) => value.matches_str(text),
        }
    }

    fn as_ref(&self) -> ValueRef<'_> {
        match self {
            ValueView::Str(value) => ValueRef::Str(value),
            ValueView::Bool(value) => ValueRef::Bool(*value),
            ValueView::Int(value) => ValueRef::Int(*value),
            ValueView::Other(value) => ValueRef::from(value),
        }
    }
}

/// Calls `visit` with every span of the traces that have a span `may_match` lets
/// through (judged from the summary: operation, start, duration), in block order.
/// A block where no trace has one is not decompressed past its summary.
pub(crate) fn scan_block(
    bytes: &[u8],
    may_match: impl Fn(&SpanSummary) -> bool,
    mut visit: impl FnMut(&SpanView<'_>),
) -> Result<(), CodecError> {
    let (version, summary, body) = split(bytes)?;
    let summary = Summary::parse(&decompress(summary)?)?;
    let mut wanted: foldhash::HashSet<TraceId> = foldhash::HashSet::default();
    summary.for_each(|trace_id, span| {
        if may_match(span) {
            wanted.insert(*trace_id);
        }
    });
    if wanted.is_empty() {
        return Ok(());
    }
    let (raw, sections) = rows(version, body, &summary, |trace_id| {
        wanted.contains(trace_id)
    })?;
    let (header, mut reader) = Header::parse(&raw)?;
    let context = header.context();
    let sections = match sections {
        Some(sections) => sections,
        None => summary.sections(header.sections_start)?,
    };
    let mut attributes = Vec::new();
    let mut event_attributes = Vec::new();
    let mut link_attributes = Vec::new();
    for (trace_id, first_span, count, section_start) in sections {
        if !wanted.contains(&trace_id) {
            continue;
        }
        reader.seek(section_start)?;
        for columns in span_columns(&summary, first_span, count)? {
            attributes.clear();
            event_attributes.clear();
            link_attributes.clear();
            let head = read_span(
                &mut reader,
                &context,
                columns,
                &mut attributes,
                &mut event_attributes,
                &mut link_attributes,
            )?;
            visit(&SpanView {
                trace_id,
                name: head.name,
                kind: head.kind,
                start_unix_nanos: head.start_unix_nanos,
                duration_nanos: head.duration_nanos,
                status_code: head.status_code,
                status_message: head.status_message,
                trace_state: head.trace_state,
                resource: head.resource,
                scope: head.scope,
                attributes: &attributes,
                event_attributes: &event_attributes,
                link_attributes: &link_attributes,
            });
        }
    }
    Ok(())
}

/// The scalar fields of an encoded span.
struct SpanHead<'h> {
    name: &'h str,
    kind: SpanKind,
    start_unix_nanos: u64,
    duration_nanos: u64,
    status_code: StatusCode,
    status_message: &'h str,
    trace_state: &'h str,
    resource: &'h Resource,
    scope: &'h Scope,
}

/// Mirrors `decode_span` field by field; `codec/tests.rs` checks the two agree.
fn read_span<'h, 'r: 'h>(
    reader: &mut Reader<'r>,
    context: &'h SpanContext<'h, 'r>,
    columns: &SpanSummary,
    attributes: &mut Vec<(&'r str, ValueView<'r>)>,
    event_attributes: &mut Vec<(&'r str, ValueView<'r>)>,
    link_attributes: &mut Vec<(&'r str, ValueView<'r>)>,
) -> Result<SpanHead<'h>, CodecError> {
    let table = context.table;
    reader.take(8)?; // span id
    if reader.u8()? != 0 {
        reader.take(8)?; // parent span id
    }
    let trace_state = table.get(reader.u64()?)?;
    reader.u32()?; // flags
    let name = table.get(reader.u64()?)?;
    let kind = SpanKind::from_number(i32::from(reader.u8()?))
        .ok_or(CodecError::Corrupt("unknown span kind"))?;
    let start_unix_nanos = columns.start_unix_nanos;
    let duration_nanos = columns.duration_nanos;
    let status_code = StatusCode::from_number(i32::from(reader.u8()?))
        .ok_or(CodecError::Corrupt("unknown status code"))?;
    let status_message = table.get(reader.u64()?)?;
    let resource = context.resource(reader)?;
    let scope = context.scope(reader)?;
    read_attributes(reader, table, attributes)?;
    let num_events = reader.count()?;
    for _ in 0..num_events {
        reader.i64()?; // time
        reader.u64()?; // name
        read_attributes(reader, table, event_attributes)?;
    }
    let num_links = reader.count()?;
    for _ in 0..num_links {
        reader.take(16 + 8)?; // trace and span id
        reader.u64()?; // trace state
        read_attributes(reader, table, link_attributes)?;
    }
    Ok(SpanHead {
        name,
        kind,
        start_unix_nanos,
        duration_nanos,
        status_code,
        status_message,
        trace_state,
        resource,
        scope,
    })
}

fn read_attributes<'r>(
    reader: &mut Reader<'r>,
    table: StringTable<'_, 'r>,
    out: &mut Vec<(&'r str, ValueView<'r>)>,
) -> Result<(), CodecError> {
    let count = reader.count()?;
    for _ in 0..count {
        let key = table.get(reader.u64()?)?;
        let value = match reader.peek_u8()? {
            super::TAG_STR => {
                reader.u8()?;
                ValueView::Str(table.get(reader.u64()?)?)
            }
            super::TAG_TRUE | super::TAG_FALSE => ValueView::Bool(reader.u8()? == super::TAG_TRUE),
            super::TAG_INT => {
                reader.u8()?;
                ValueView::Int(reader.i64()?)
            }
            _ => ValueView::Other(decode_value(reader, &table, 0)?),
        };
        out.push((key, value));
    }
    Ok(())
}

impl SpanFields for SpanView<'_> {
    fn service_name(&self) -> &str {
        &self.resource.service_name
    }
    fn name(&self) -> &str {
        self.name
    }
    fn kind(&self) -> SpanKind {
        self.kind
    }
    fn start_unix_nanos(&self) -> u64 {
        self.start_unix_nanos
    }
    fn duration_nanos(&self) -> u64 {
        self.duration_nanos
    }
    fn status_code(&self) -> StatusCode {
        self.status_code
    }
    fn status_message(&self) -> &str {
        self.status_message
    }
    fn trace_state(&self) -> &str {
        self.trace_state
    }
    fn resource(&self) -> &Resource {
        self.resource
    }
    fn scope(&self) -> &Scope {
        self.scope
    }
    fn attribute_matches(&self, key: &str, value: &str) -> bool {
        self.attributes
            .iter()
            .any(|(name, found)| *name == key && found.matches_str(value))
    }
    fn event_attribute_matches(&self, key: &str, value: &str) -> bool {
        self.event_attributes
            .iter()
            .any(|(name, found)| *name == key && found.matches_str(value))
    }
    fn link_attribute_matches(&self, key: &str, value: &str) -> bool {
        self.link_attributes
            .iter()
            .any(|(name, found)| *name == key && found.matches_str(value))
    }
    fn any_attribute(&self, key: &str, test: &mut dyn FnMut(ValueRef<'_>) -> bool) -> bool {
        self.attributes
            .iter()
            .chain(self.event_attributes)
            .chain(self.link_attributes)
            .any(|(name, found)| *name == key && test(found.as_ref()))
    }
}
