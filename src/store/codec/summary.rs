//! A block's summary: its own small zstd frame in front of the body, holding what
//! most searches filter on, so they can skip the body's decompression.
//!
//! ```text
//! base_start          varint
//! traces              count, then (trace_id[16], num_spans, section_len)…   sorted by trace id
//! operations          one varint per span: catalog operation id (service, kind, name)
//! starts              one varint per span: the first span of a trace from base_start,
//!                     the others from the previous span (spans are sorted by start)
//! durations           one varint per span
//! ```
//!
//! Spans are in block order (by trace, then start), the same order as the body's
//! span sections, which don't repeat start or duration.

use super::super::varint::{put_u64, Reader};
use crate::model::TraceId;
use crate::store::CodecError;

/// The columns of one span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanSummary {
    pub(crate) operation: u32,
    pub(crate) start_unix_nanos: u64,
    pub(crate) duration_nanos: u64,
}

#[derive(Debug)]
pub(crate) struct Summary {
    /// (trace, number of spans, length of its body section), in block order.
    pub(super) directory: Vec<(TraceId, usize, usize)>,
    /// One per span, in block order.
    pub(super) spans: Vec<SpanSummary>,
}

/// Appends the raw summary. `spans` yields (operation, start, duration) in block
/// order and must hold as many spans as `directory` counts.
pub(super) fn encode(
    out: &mut Vec<u8>,
    base_start: u64,
    directory: &[(TraceId, u64, u64)],
    spans: &[(u32, u64, u64)],
) {
    put_u64(out, base_start);
    put_u64(out, directory.len() as u64);
    for (trace_id, count, section_len) in directory {
        out.extend_from_slice(trace_id.as_bytes());
        put_u64(out, *count);
        put_u64(out, *section_len);
    }
    spans
        .iter()
        .for_each(|(operation, ..)| put_u64(out, u64::from(*operation)));
    let mut position = 0;
    for (_, count, _) in directory {
        let mut previous = base_start;
        for (_, start, _) in &spans[position..position + *count as usize] {
            put_u64(out, start - previous);
            previous = *start;
        }
        position += *count as usize;
    }
    spans
        .iter()
        .for_each(|(.., duration)| put_u64(out, *duration));
}

impl Summary {
    pub(super) fn parse(raw: &[u8]) -> Result<Summary, CodecError> {
        let mut reader = Reader::new(raw);
        let base_start = reader.u64()?;
        let num_traces = reader.count()?;
        let mut directory = Vec::with_capacity(num_traces);
        let mut num_spans = 0usize;
        for _ in 0..num_traces {
            let trace_id = TraceId(reader.array()?);
            let count = reader.count()?;
            num_spans = num_spans
                .checked_add(count)
                .ok_or(CodecError::Corrupt("span count overflows"))?;
            directory.push((trace_id, count, reader.usize()?));
        }
        if num_spans > raw.len() {
            return Err(CodecError::Corrupt("more spans than the summary can hold"));
        }
        let mut spans = Vec::with_capacity(num_spans);
        for _ in 0..num_spans {
            spans.push(SpanSummary {
                operation: reader.u32()?,
                start_unix_nanos: 0,
                duration_nanos: 0,
            });
        }
        let mut position = 0;
        for (_, count, _) in &directory {
            let mut previous = base_start;
            for span in &mut spans[position..position + count] {
                previous = previous.wrapping_add(reader.u64()?);
                span.start_unix_nanos = previous;
            }
            position += count;
        }
        for span in &mut spans {
            span.duration_nanos = reader.u64()?;
        }
        Ok(Summary { directory, spans })
    }

    /// Calls `visit` with every span's trace and columns, in block order.
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&TraceId, &SpanSummary)) {
        let mut spans = self.spans.iter();
        for (trace_id, count, _) in &self.directory {
            for span in spans.by_ref().take(*count) {
                visit(trace_id, span);
            }
        }
    }

    /// (trace, its first span's index, number of spans, where its body section
    /// starts relative to `sections_start`) in block order.
    pub(super) fn sections(
        &self,
        sections_start: usize,
    ) -> Result<Vec<(TraceId, usize, usize, usize)>, CodecError> {
        let mut start = sections_start;
        let mut first_span = 0;
        let mut sections = Vec::with_capacity(self.directory.len());
        for &(trace_id, count, len) in &self.directory {
            sections.push((trace_id, first_span, count, start));
            start = start.checked_add(len).ok_or(CodecError::Truncated)?;
            first_span += count;
        }
        Ok(sections)
    }
}
