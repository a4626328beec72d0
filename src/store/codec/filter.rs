//! The block's term filter: which search terms (`model::search_terms`) the block's
//! spans have, so a tag search skips blocks that cannot match without reading or
//! decompressing them.
//!
//! It is a binary fuse filter with 16-bit fingerprints (crate `xorf`): about 18
//! bits per distinct term and a false-positive rate near 2^-16, so a needle search
//! over thousands of blocks decompresses almost none it did not need. It trails the
//! block's two zstd frames in the segment file, uncompressed (its bits don't
//! compress), and `BlockMeta::filter_len` says how long it is:
//!
//! ```text
//! version:u8 crc32:u32le descriptor[20] pad:u8 fingerprints:u16le…
//! ```
//!
//! The CRC covers everything after it, so a damaged filter is an error, never a
//! wrong skip or an out-of-bounds probe. A block without a filter (older blocks, or
//! a construction that failed) is simply scanned.

use std::sync::Arc;

use foldhash::HashSet;
use xorf::{BinaryFuse16, BinaryFuse16Ref, DmaSerializable as _, Filter as _, FilterRef as _};

use super::CodecError;
use crate::model::search_terms::{resource_terms, scope_terms, span_terms};
use crate::model::{Resource, Scope, Span};

const FILTER_VERSION: u8 = 1;
const DESCRIPTOR_LEN: usize = <BinaryFuse16 as xorf::DmaSerializable>::DESCRIPTOR_LEN;
/// Version, CRC, descriptor and one byte of padding, so the fingerprints start at
/// an even offset.
const HEADER_LEN: usize = 1 + 4 + DESCRIPTOR_LEN + 1;

/// The filter of `spans`; empty when it could not be built (then the block is
/// always scanned).
pub(crate) fn encode(spans: &[&Span]) -> Vec<u8> {
    let mut terms: HashSet<u64> = HashSet::default();
    terms.reserve(spans.len() * 4);
    let mut resources: HashSet<*const Resource> = HashSet::default();
    let mut scopes: HashSet<*const Scope> = HashSet::default();
    let mut add = |term: u64| {
        terms.insert(term);
    };
    for span in spans {
        span_terms(span, &mut add);
        if resources.insert(Arc::as_ptr(&span.resource)) {
            resource_terms(&span.resource, &mut add);
        }
        if scopes.insert(Arc::as_ptr(&span.scope)) {
            scope_terms(&span.scope, &mut add);
        }
    }
    let keys: Vec<u64> = terms.into_iter().collect();
    let Ok(filter) = BinaryFuse16::try_from(&keys) else {
        tracing::warn!(
            num_terms = keys.len(),
            "could not build a block's term filter"
        );
        return Vec::new();
    };
    let fingerprints = filter.dma_fingerprints();
    let mut out = vec![0u8; HEADER_LEN + fingerprints.len()];
    out[0] = FILTER_VERSION;
    filter.dma_copy_descriptor_to(&mut out[5..5 + DESCRIPTOR_LEN]);
    out[HEADER_LEN..].copy_from_slice(fingerprints);
    let checksum = crc32fast::hash(&out[5..]);
    out[1..5].copy_from_slice(&checksum.to_le_bytes());
    out
}

/// Whether a block whose filter is `bytes` may hold a span with every one of
/// `required` terms groups: for each group, at least one of its hashes.
pub(crate) fn may_contain_all(bytes: &[u8], required: &[Vec<u64>]) -> Result<bool, CodecError> {
    let (&version, rest) = bytes.split_first().ok_or(CodecError::Truncated)?;
    if version != FILTER_VERSION {
        return Err(CodecError::UnknownVersion(version));
    }
    if bytes.len() < HEADER_LEN || !(bytes.len() - HEADER_LEN).is_multiple_of(2) {
        return Err(CodecError::Corrupt("term filter has a bad length"));
    }
    let (checksum, _) = rest.split_first_chunk::<4>().ok_or(CodecError::Truncated)?;
    if crc32fast::hash(&bytes[5..]) != u32::from_le_bytes(*checksum) {
        return Err(CodecError::Corrupt("term filter checksum mismatch"));
    }
    let descriptor = &bytes[5..5 + DESCRIPTOR_LEN];
    check_descriptor(descriptor, (bytes.len() - HEADER_LEN) / 2)?;
    let fingerprints = &bytes[HEADER_LEN..];
    // The fingerprints are read as u16s in place, which needs an even address.
    let aligned;
    let fingerprints = if fingerprints.as_ptr().align_offset(2) == 0 {
        fingerprints
    } else {
        aligned = aligned_copy(fingerprints);
        let start = aligned.as_ptr().align_offset(2);
        &aligned[start..start + fingerprints.len()]
    };
    let filter = BinaryFuse16Ref::from_dma(descriptor, fingerprints);
    Ok(required
        .iter()
        .all(|group| group.iter().any(|term| filter.contains(term))))
}

/// Refuses descriptors whose probes could fall outside the fingerprints; a probe
/// of a segment `s` touches segments `s`, `s + 1` and `s + 2`.
fn check_descriptor(descriptor: &[u8], num_fingerprints: usize) -> Result<(), CodecError> {
    let field = |at: usize| {
        let mut word = [0u8; 4];
        word.copy_from_slice(&descriptor[at..at + 4]);
        u64::from(u32::from_le_bytes(word))
    };
    let (segment_length, mask, segment_count_length) = (field(8), field(12), field(16));
    let consistent = segment_length.is_power_of_two()
        && mask + 1 == segment_length
        && segment_count_length.is_multiple_of(segment_length)
        // At least one segment: with none, every probe still lands in segments 0-2.
        && segment_count_length >= segment_length
        && segment_count_length + 2 * segment_length <= num_fingerprints as u64;
    if consistent {
        Ok(())
    } else {
        Err(CodecError::Corrupt(
            "term filter descriptor is inconsistent",
        ))
    }
}

fn aligned_copy(bytes: &[u8]) -> Vec<u8> {
    let mut copy = vec![0u8; bytes.len() + 1];
    let start = copy.as_ptr().align_offset(2);
    copy[start..start + bytes.len()].copy_from_slice(bytes);
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::search_terms::{query_terms, term};
    use crate::model::{AttrValue, Attribute, Link, SpanId, SpanKind, StatusCode, TraceId};

    fn spans(count: u64) -> Vec<Span> {
        let resource = Arc::new(Resource {
            service_name: "frontend".into(),
            attributes: vec![Attribute {
                key: "host.name".into(),
                value: AttrValue::Str("node-1".into()),
            }],
        });
        (0..count)
            .map(|index| Span {
                trace_id: TraceId([1; 16]),
                span_id: SpanId(index.to_be_bytes()),
                parent_span_id: None,
                trace_state: String::new(),
                flags: 0,
                name: "GET /".into(),
                kind: SpanKind::Server,
                start_unix_nanos: 1,
                end_unix_nanos: 2,
                attributes: vec![Attribute {
                    key: "user.id".into(),
                    value: AttrValue::Str(format!("user-{index}")),
                }],
                events: vec![],
                links: vec![Link {
                    trace_id: TraceId([2; 16]),
                    span_id: SpanId([3; 8]),
                    trace_state: String::new(),
                    attributes: vec![Attribute {
                        key: "retry".into(),
                        value: AttrValue::Int(index as i64),
                    }],
                }],
                status_code: StatusCode::Error,
                status_message: String::new(),
                resource: Arc::clone(&resource),
                scope: Arc::default(),
            })
            .collect()
    }

    #[test]
    fn holds_every_term_and_rarely_others() {
        // Each probe checks the whole filter's checksum, so the sizes here are what a
        // debug build gets through quickly: 1,000 spans (a few thousand terms) and 20,000
        // absent values, at most 4 false positives. A 16-bit fingerprint expects 0.3;
        // an 8-bit one (1/256) would expect 78 and fail, as would a filter that lost terms.
        let spans = spans(1_000);
        let refs: Vec<&Span> = spans.iter().collect();
        let filter = encode(&refs);
        assert!(!filter.is_empty());
        let may = |key: &str, value: &str| may_contain_all(&filter, &[query_terms(key, value)]);
        for index in 0..1_000 {
            assert!(may("user.id", &format!("user-{index}")).unwrap());
            assert!(
                may("retry", &format!("{index}")).unwrap(),
                "link attributes"
            );
        }
        assert!(may("retry", "+17").unwrap(), "integers in any spelling");
        assert!(may("resource.host.name", "node-1").unwrap());
        assert!(may("service.name", "frontend").unwrap());
        assert!(may("error", "true").unwrap());
        assert!(may("span.kind", "server").unwrap());
        assert!(may("otel.scope.name", "").unwrap());
        let false_positives = (0..20_000)
            .filter(|index| may("user.id", &format!("absent-{index}")).unwrap())
            .count();
        assert!(false_positives <= 4, "{false_positives} false positives");
        // All groups must hold.
        assert!(!may_contain_all(
            &filter,
            &[
                vec![term("user.id", "user-1")],
                vec![term("user.id", "nobody")]
            ]
        )
        .unwrap());
        assert!(may_contain_all(&filter, &[]).unwrap());
    }

    #[test]
    fn small_blocks_get_filters_too() {
        let spans = spans(1);
        let refs: Vec<&Span> = spans.iter().collect();
        let filter = encode(&refs);
        assert!(may_contain_all(&filter, &[query_terms("user.id", "user-0")]).unwrap());
        assert!(!may_contain_all(&filter, &[query_terms("user.id", "user-1")]).unwrap());
    }

    #[test]
    fn damage_is_an_error_not_a_panic_or_a_wrong_answer() {
        let spans = spans(100);
        let refs: Vec<&Span> = spans.iter().collect();
        let filter = encode(&refs);
        let required = [query_terms("user.id", "user-7")];
        for at in [0, 3, 7, 20, filter.len() - 1] {
            let mut damaged = filter.clone();
            damaged[at] ^= 0x5a;
            assert!(may_contain_all(&damaged, &required).is_err(), "byte {at}");
        }
        for len in [0, 1, 10, HEADER_LEN, filter.len() - 1] {
            assert!(
                may_contain_all(&filter[..len], &required).is_err(),
                "{len} bytes"
            );
        }
        // An odd address works as well as an even one.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&filter);
        assert!(may_contain_all(&shifted[1..], &required).unwrap());
    }
}
