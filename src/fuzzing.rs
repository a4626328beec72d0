//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz) and for the test that
//! replays their corpora in `cargo test`. Not an API: hidden from the docs.
//!
//! Each function takes arbitrary bytes, runs on them the decoders the server runs on
//! a request body, a query string or a value read back from disk, then uses what
//! decoded as the server would (conversion into the model, a block written and read
//! back, a search filter applied). Whatever the bytes, it must return without
//! panicking: a decoder answers bad input with an error, never a crash. The few
//! assertions here are invariants the server relies on.
//!
//! Targets and the decoders they reach:
//! - `otlp_protobuf`: `ExportTraceServiceRequest` (prost) and `protocol::otlp::convert`.
//! - `otlp_json`: OTLP/JSON (`protocol::otlp::decode_json_converted`) and the UI's trace
//!   files (`protocol::decode_json_file`).
//! - `jaeger`: Thrift binary `Batch`, compact and binary `emitBatch`, the api_v2
//!   `PostSpansRequest` protobuf and Jaeger's trace JSON.
//! - `zipkin`: JSON v2, JSON v1 and proto3 `ListOfSpans`.
//! - `block`: the block codec's reader (`store::codec`) on bytes as read from a
//!   segment file, on raw frames the harness compresses, and the term filter.
//! - `store_values`: every value the store reads back from sled: block metadata,
//!   the catalog, RED cells, adaptive-sampling rows.
//! - `query_params`: the Jaeger v1, api_v3 and metrics query-string parsers and the
//!   `filter=` language.

use std::io::Write as _;

use prost::Message as _;

use crate::model::{Span, SpanFields as _};
use crate::protocol::{self, jaeger, otlp, zipkin, Converted};
use crate::storage::filter::AttrFilter;
use crate::storage::red::RedCell;
use crate::store::codec::{self, BlockMeta};
use crate::store::{catalog::Catalog, red::cell_codec, sampling};

/// OTLP/gRPC `Export` and OTLP/HTTP protobuf bodies.
pub fn otlp_protobuf(data: &[u8]) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    if let Ok(request) = ExportTraceServiceRequest::decode(data) {
        store_and_read_back(&otlp::convert(request));
    }
}

/// OTLP/HTTP JSON bodies, `/api/transform` uploads and trace files opened in the UI.
pub fn otlp_json(data: &[u8]) {
    if let Ok(converted) = otlp::decode_json_converted(data) {
        store_and_read_back(&converted);
    }
    if let Ok(converted) = protocol::decode_json_file(data) {
        store_and_read_back(&converted);
    }
}

/// Jaeger's collector and agent formats: Thrift over HTTP (`/api/traces`) and UDP
/// (compact and binary `emitBatch`), api_v2 `PostSpans` protobuf, and trace JSON.
pub fn jaeger(data: &[u8]) {
    for batch in [
        jaeger::decode_binary_batch(data),
        jaeger::decode_compact_emit_batch(data),
        jaeger::decode_binary_emit_batch(data),
    ]
    .into_iter()
    .flatten()
    {
        store_and_read_back(&jaeger::convert(batch));
    }
    if let Ok(request) = jaeger::api_v2::PostSpansRequest::decode(data) {
        if let Some(batch) = request.batch {
            store_and_read_back(&jaeger::convert(batch));
        }
    }
    if let Ok(converted) = jaeger::decode_json(data) {
        store_and_read_back(&converted);
    }
}

/// Zipkin's `POST /api/v2/spans` (JSON and protobuf) and `POST /api/v1/spans`.
pub fn zipkin(data: &[u8]) {
    for spans in [
        zipkin::decode_json_v2(data),
        zipkin::decode_json_v1(data),
        zipkin::decode_proto(data),
    ]
    .into_iter()
    .flatten()
    {
        store_and_read_back(&zipkin::convert(spans));
    }
}

/// The block reader. The same bytes are tried three ways:
/// - as a block's frames as read from its segment file (`decode_block`,
///   `read_summary`, `scan_block`);
/// - as `[summary length: u16 LE][raw summary][raw body]`, which the harness
///   compresses into a block first, so mutations reach the span parser instead of
///   dying in zstd's checksum;
/// - as a term filter, its CRC fixed up first for the same reason.
pub fn block(data: &[u8]) {
    read_block(data);
    if let Some((len, rest)) = data.split_first_chunk::<2>() {
        let split = usize::from(u16::from_le_bytes(*len)).min(rest.len());
        let (summary, body) = rest.split_at(split);
        if let Some(frames) = frames_of(summary, body) {
            read_block(&frames);
        }
    }
    if data.first() == Some(&1) && data.len() >= 5 {
        let mut filter = data.to_vec();
        let checksum = crc32fast::hash(&filter[5..]);
        filter[1..5].copy_from_slice(&checksum.to_le_bytes());
        let required = [vec![1, 2, 3], vec![u64::MAX], Vec::new()];
        let _ = codec::filter::may_contain_all(&filter, &required);
        let _ = codec::filter::may_contain_all(&filter, &required[..1]);
    }
}

/// Values the store reads back from sled. The first byte picks the kind:
/// - 0: block metadata, `[key: 9][hour: u32 BE][value]`, as `Store::open` reads it;
/// - 1: two RED cells, `[len: u8][cell][cell]`, merged and rendered as a query does;
/// - 2: the catalog tree, `([key len: u8][key][value len: u8][value])*`;
/// - 3: one adaptive-sampling row, `[key len: u8][key][value]`.
pub fn store_values(data: &[u8]) {
    let Some((&kind, data)) = data.split_first() else {
        return;
    };
    match kind % 4 {
        0 => block_meta(data),
        1 => red_cells(data),
        2 => catalog(data),
        _ => {
            if let Some((key, value)) = length_prefixed(data) {
                if let Ok((_, _, probability)) = sampling::decode_row(key, value) {
                    assert!((0.0..=1.0).contains(&probability), "{probability}");
                }
            }
        }
    }
}

/// A query string (the part after `?`) given to every parser that reads one: Jaeger
/// v1 search and dependencies, api_v3 search, the metrics API, trace IDs and
/// `filter=` expressions; each parsed filter is applied to a span and asked for its
/// block-filter terms.
pub fn query_params(data: &[u8]) {
    use crate::api::params::{self, Params};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = params::parse_go_duration(text);
    let _ = params::parse_rfc3339_nanos(text);
    let _ = params::parse_trace_id(text);
    if let Ok(filter) = AttrFilter::parse(text) {
        use_filter(&filter);
    }
    let Ok(params) = Params::parse(Some(text)) else {
        return;
    };
    for id in params.all("traceID") {
        let _ = params::parse_trace_id(id);
    }
    for query in [
        crate::api::jaeger_v1::search_query(&params),
        crate::api::jaeger_v3::search_query(&params),
    ]
    .into_iter()
    .flatten()
    {
        assert!(query.start_min_unix_nanos <= query.start_max_unix_nanos);
        query.filters.iter().for_each(use_filter);
    }
    for kind in ["latencies", "calls", "errors"] {
        if let Ok((_, query)) = crate::api::metrics::parse(kind, &params, 1_800_000_000_000) {
            let _ = crate::query::metrics::PointGrid::new(
                query.end_unix_millis,
                query.lookback_millis,
                query.step_millis,
            );
        }
    }
    let millis = |name: &str| {
        params
            .get(&[name])
            .and_then(|text| text.parse::<u64>().ok())
    };
    if let (Some(end), Some(lookback)) = (millis("endTs"), millis("lookback")) {
        let (start, end) = crate::storage::window(
            end.saturating_mul(1_000_000),
            std::time::Duration::from_millis(lookback),
        );
        assert!(start <= end);
    }
}

/// Writes the converted spans into a block, reads it back, and checks that what
/// comes back is what went in: ingest's path from a request to the disk.
fn store_and_read_back(converted: &Converted) {
    let _ = converted.first_error_message();
    let spans: Vec<&Span> = converted.spans.iter().collect();
    if spans.is_empty() {
        return;
    }
    for span in &spans {
        assert!(span.end_unix_nanos >= span.start_unix_nanos);
        let _ = (span.approx_bytes(), span.is_error());
    }
    let operation_ids: Vec<u32> = (0..spans.len() as u32).collect();
    let encoded = codec::encode_block(&spans, &operation_ids, 1).expect("a block encodes");
    let frames = &encoded.bytes[..encoded.bytes.len() - encoded.filter_len as usize];
    let decoded = codec::decode_block(frames, |_| true).expect("a fresh block decodes");
    assert_eq!(decoded.len(), spans.len(), "spans lost in the block");
    // Compared through a second encoding: NaN attributes are not equal to themselves.
    let again: Vec<&Span> = decoded.iter().collect();
    let reencoded = codec::encode_block(&again, &sorted_ids(&encoded), 1).expect("re-encodes");
    let frames_again = &reencoded.bytes[..reencoded.bytes.len() - reencoded.filter_len as usize];
    assert!(
        frames == frames_again,
        "a block read back differs from the spans written"
    );
    let mut num_scanned = 0;
    codec::scan_block(frames, |_| true, |_| num_scanned += 1).expect("a fresh block scans");
    assert_eq!(num_scanned, spans.len());
}

/// The operation ids of a block's spans, in block order (what `encode_block` stored).
fn sorted_ids(encoded: &codec::EncodedBlock) -> Vec<u32> {
    let summary = codec::read_summary(&encoded.bytes).expect("a fresh summary decodes");
    let mut ids = Vec::new();
    summary.for_each(|_, span| ids.push(span.operation));
    ids
}

fn read_block(frames: &[u8]) {
    let _ = codec::read_summary(frames).map(|summary| summary.for_each(|_, _| {}));
    // Only the first trace asked for, as a trace lookup does (the rest is skipped).
    let first = std::cell::Cell::new(None);
    let _ = codec::decode_block(frames, |trace_id| {
        *trace_id == first.get().unwrap_or(*trace_id) && {
            first.set(Some(*trace_id));
            true
        }
    });
    let _ = codec::decode_block(frames, |_| true);
    let filter = AttrFilter::parse("http.status_code>=500").expect("a valid filter");
    let _ = codec::scan_block(
        frames,
        |_| true,
        |view| {
            let _ = (view.is_error(), view.service_name(), filter.matches(view));
        },
    );
}

/// A block's frames from raw (uncompressed) summary and body.
fn frames_of(summary: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let mut frames = vec![codec::BLOCK_VERSION, 0, 0, 0, 0];
    frames = compress(frames, summary)?;
    let summary_len = u32::try_from(frames.len() - codec::BLOCK_PREFIX_LEN).ok()?;
    frames[1..codec::BLOCK_PREFIX_LEN].copy_from_slice(&summary_len.to_le_bytes());
    compress(frames, body)
}

fn compress(out: Vec<u8>, raw: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = zstd::stream::Encoder::new(out, 1).ok()?;
    encoder.include_checksum(true).ok()?;
    encoder.write_all(raw).ok()?;
    encoder.finish().ok()
}

fn block_meta(data: &[u8]) {
    let Some((key, rest)) = data.split_first_chunk::<9>() else {
        return;
    };
    let Some((hour, value)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let _ = BlockMeta::decode(value);
    if let Ok(meta) = crate::store::decode_meta(u32::from_be_bytes(*hour), key, value) {
        // What `Store::open` and the readers compute from every meta they keep.
        let _ = (
            meta.seq + 1,
            meta.end(),
            meta.end() - u64::from(meta.filter_len),
        );
        let _ = meta.num_bytes - meta.filter_len;
        let _ = meta.may_hold(&crate::model::TraceId([7; 16]));
        assert_eq!(BlockMeta::decode(&meta.encode()).ok(), Some(meta));
    }
}

fn red_cells(data: &[u8]) {
    let Some((first, second)) = length_prefixed(data) else {
        return;
    };
    let cells: Vec<RedCell> = [first, second]
        .into_iter()
        .filter_map(|bytes| cell_codec::decode(bytes).ok())
        .collect();
    // As a query does: merge the rows of one bucket and of the whole window, then
    // render latency quantiles, rates, the distribution, exemplars and a heatmap.
    let mut total = RedCell::default();
    for cell in &cells {
        assert_eq!(
            cell_codec::decode(&cell_codec::encode(cell)).ok().as_ref(),
            Some(cell)
        );
        total.merge(cell);
    }
    for cell in cells.iter().chain([&total]) {
        for quantile in [0.5, 0.95, 0.99, 1.0] {
            let _ = crate::query::metrics::latency_millis(cell, quantile);
        }
        let _ = crate::query::metrics::call_rate(cell, 10);
        let _ = crate::query::metrics::error_rate(cell);
        let _ = cell.latency.cumulative();
        let _ = cell.latency.buckets().count();
    }
    let _ = crate::query::metrics::exemplars(&cells);
    let _ = crate::query::metrics::heatmap(&cells);
}

fn catalog(mut data: &[u8]) {
    let mut entries = Vec::new();
    while let Some((key, rest)) = length_prefixed_prefix(data) {
        let Some((value, rest)) = length_prefixed_prefix(rest) else {
            break;
        };
        entries.push(Ok((key, value)));
        data = rest;
    }
    let _ = Catalog::from_entries(entries);
}

/// `[len: u8][len bytes][rest]` as (those bytes, rest).
fn length_prefixed(data: &[u8]) -> Option<(&[u8], &[u8])> {
    length_prefixed_prefix(data)
}

fn length_prefixed_prefix(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = data.split_first()?;
    (usize::from(len) <= rest.len()).then(|| rest.split_at(usize::from(len)))
}

fn use_filter(filter: &AttrFilter) {
    let _ = filter.required_terms();
    for span in sample_spans() {
        let _ = filter.matches(span);
    }
}

/// A few spans with attributes of every kind, for filters to match against.
fn sample_spans() -> &'static [Span] {
    static SPANS: std::sync::OnceLock<Vec<Span>> = std::sync::OnceLock::new();
    SPANS.get_or_init(|| {
        let body = br#"{"resourceSpans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"shop"}},
            {"key":"host.cpu","value":{"intValue":"8"}}]},
          "scopeSpans":[{"scope":{"name":"s","version":"1"},"spans":[
            {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
             "name":"GET /cart","kind":2,"startTimeUnixNano":"1700000000000000000",
             "endTimeUnixNano":"1700000000500000000","status":{"code":2,"message":"boom"},
             "attributes":[
               {"key":"http.status_code","value":{"intValue":"503"}},
               {"key":"ratio","value":{"doubleValue":0.25}},
               {"key":"ok","value":{"boolValue":false}},
               {"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"1"}]}}},
               {"key":"m","value":{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}}},
               {"key":"raw","value":{"bytesValue":"AAEC"}}],
             "events":[{"timeUnixNano":"1700000000100000000","name":"retry",
               "attributes":[{"key":"attempt","value":{"intValue":"2"}}]}],
             "links":[{"traceId":"1af7651916cd43dd8448eb211c80319c","spanId":"c7ad6b7169203331",
               "attributes":[{"key":"link.kind","value":{"stringValue":"follows"}}]}]}]}]}]}"#;
        otlp::decode_json_spans(body).expect("the sample spans decode")
    })
}

#[cfg(test)]
mod tests;
