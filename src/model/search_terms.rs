//! Search terms: the (key, value) pairs a span can be found by, hashed to 64 bits.
//!
//! The store puts every term of a block's spans into a probabilistic filter, and a
//! tag search skips blocks whose filter lacks the query's term. So the two functions
//! here must agree with the search predicate (`storage::query::tag_matches`): every
//! tag that matches a span must hash to one of `query_terms` that is also among the
//! span's `span_terms`. Terms only rule blocks out; matching itself stays in the
//! predicate. The hash is Tracery's own and stable, because filters are stored.

use super::{AttrValue, Attribute, Span};

/// Calls `emit` with the hash of every term of `span`'s own fields (attributes,
/// events, links, kind, status, trace state). Resource and scope terms come from
/// `resource_terms` and `scope_terms`, once per distinct resource or scope.
pub fn span_terms(span: &Span, emit: &mut impl FnMut(u64)) {
    attribute_terms(&span.attributes, emit);
    for event in &span.events {
        attribute_terms(&event.attributes, emit);
    }
    for link in &span.links {
        attribute_terms(&link.attributes, emit);
    }
    let kind = span.kind.jaeger_name();
    if !kind.is_empty() {
        emit(term("span.kind", kind));
    }
    match span.status_code {
        super::StatusCode::Ok => {
            emit(term("otel.status_code", "OK"));
            emit(term("error", "false"));
        }
        super::StatusCode::Error => {
            emit(term("otel.status_code", "ERROR"));
            emit(term("error", "true"));
        }
        super::StatusCode::Unset => {}
    }
    if !span.status_message.is_empty() {
        emit(term("otel.status_description", &span.status_message));
    }
    if !span.trace_state.is_empty() {
        emit(term("w3c.tracestate", &span.trace_state));
    }
}

/// Terms of a resource: its attributes and `service.name`.
pub fn resource_terms(resource: &super::Resource, emit: &mut impl FnMut(u64)) {
    attribute_terms(&resource.attributes, emit);
    emit(term("service.name", &resource.service_name));
}

/// Terms of a scope: its attributes, name and version under both of Jaeger's keys.
pub fn scope_terms(scope: &super::Scope, emit: &mut impl FnMut(u64)) {
    attribute_terms(&scope.attributes, emit);
    for key in ["otel.scope.name", "scope.name"] {
        emit(term(key, &scope.name));
    }
    for key in ["otel.scope.version", "scope.version"] {
        emit(term(key, &scope.version));
    }
}

/// The hashes a block must hold at least one of to have a span matching tag
/// `key`=`value`.
pub fn query_terms(key: &str, value: &str) -> Vec<u64> {
    let key = key.strip_prefix("resource.").unwrap_or(key);
    let mut terms = vec![term(key, value)];
    // Integers match any spelling that parses to them ("+5", "05").
    if let Ok(number) = value.parse::<i64>() {
        let canonical = number.to_string();
        if canonical != value {
            terms.push(term(key, &canonical));
        }
    }
    terms
}

/// The hash of a key with no value: blocks that have attribute `key` at all.
pub fn key_term(key: &str) -> u64 {
    hash_parts(key.as_bytes(), &[], 0x9e37_79b9_7f4a_7c15)
}

fn attribute_terms(attributes: &[Attribute], emit: &mut impl FnMut(u64)) {
    for attribute in attributes {
        let key = attribute.key.as_str();
        emit(key_term(key));
        match &attribute.value {
            AttrValue::Str(text) => emit(term(key, text)),
            AttrValue::Bool(value) => emit(term(key, if *value { "true" } else { "false" })),
            AttrValue::Int(value) => emit(term(key, itoa::Buffer::new().format(*value))),
            other => emit(term(key, &other.to_search_string())),
        }
    }
}

/// The hash of the term `key`=`value`.
pub fn term(key: &str, value: &str) -> u64 {
    hash_parts(key.as_bytes(), value.as_bytes(), 0)
}

/// A 64-bit hash of two byte strings, eight bytes at a time, with splitmix64's
/// finaliser for avalanche. Defined here, not taken from a hasher crate, because
/// stored filters depend on it never changing.
fn hash_parts(key: &[u8], value: &[u8], seed: u64) -> u64 {
    const MULTIPLIER: u64 = 0xa076_1d64_78bd_642f;
    let mut hash = seed ^ (key.len() as u64).wrapping_mul(MULTIPLIER);
    for part in [key, value] {
        let mut chunks = part.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            hash = (hash ^ u64::from_le_bytes(word))
                .wrapping_mul(MULTIPLIER)
                .rotate_left(31);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        hash = (hash ^ u64::from_le_bytes(tail) ^ ((part.len() as u64) << 56))
            .wrapping_mul(MULTIPLIER)
            .rotate_left(29);
    }
    mix64(hash)
}

fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable() {
        // Stored filters depend on these values: changing the hash needs a new filter version.
        assert_eq!(term("http.status_code", "500"), 0x38f6_c35a_4841_85c0);
    }

    #[test]
    fn key_and_value_boundaries_matter() {
        assert_ne!(term("ab", "c"), term("a", "bc"));
        assert_ne!(term("a", ""), term("", "a"));
        assert_ne!(term("k", "v"), key_term("k"));
    }

    #[test]
    fn integers_are_probed_in_canonical_form() {
        let terms = query_terms("http.status_code", "+500");
        assert!(terms.contains(&term("http.status_code", "500")));
        assert_eq!(query_terms("resource.host", "a"), [term("host", "a")]);
    }
}
