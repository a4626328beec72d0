//! The Thrift reader's bounds, on hand-made compact and binary messages. Whole
//! batches from real clients are tested in tests/it/legacy_clients.rs.

use super::thrift::{BinaryReader, CompactReader, ThriftError, ThriftRead, Type, MAX_DEPTH};
use super::*;

/// Compact `emitBatch` with one span: trace 0x1_0000000000000002, span 3, parent 0.
fn compact_emit_batch() -> Vec<u8> {
    let mut m = vec![0x82, (4 << 5) | 1, 0x00];
    m.push(9);
    m.extend_from_slice(b"emitBatch");
    m.push(0x1c); // field 1 (delta 1), struct: the Batch
    m.push(0x1c); // Batch.process (delta 1), struct
    m.push(0x18); // Process.serviceName, binary
    m.push(3);
    m.extend_from_slice(b"svc");
    m.push(0x00); // end Process
    m.push(0x19); // Batch.spans (delta 1), list
    m.push(0x1c); // one struct
    for (field, value) in [(1u8, 2i64), (1, 1), (1, 3), (1, 0)] {
        m.push((field << 4) | 6);
        m.push(((value << 1) ^ (value >> 63)) as u8);
    }
    m.push(0x18); // operationName (5)
    m.push(2);
    m.extend_from_slice(b"op");
    m.push(0x25); // flags (7, delta 2), i32
    m.push(2);
    m.push(0x16); // startTime (8)
    m.extend_from_slice(&[0x80, 0x89, 0x7a]); // 2_000_000 zigzagged
    m.push(0x16); // duration (9)
    m.push(20);
    m.push(0x00); // end Span
    m.push(0x00); // end Batch
    m.push(0x00); // end args
    m
}

#[test]
fn compact_emit_batch_decodes_and_translates() {
    let batch = decode_compact_emit_batch(&compact_emit_batch()).unwrap();
    assert_eq!(batch.process.as_ref().unwrap().service_name, "svc");
    let converted = convert(batch);
    assert_eq!(converted.num_rejected, 0, "{:?}", converted.first_error);
    let span = &converted.spans[0];
    assert_eq!(span.trace_id.to_hex(), "00000000000000010000000000000002");
    assert_eq!(span.span_id.to_hex(), "0000000000000003");
    assert_eq!(span.parent_span_id, None);
    assert_eq!(span.name, "op");
    assert_eq!(span.start_unix_nanos, 1_000_000 * 1000);
    assert_eq!(span.end_unix_nanos - span.start_unix_nanos, 10_000);
    assert_eq!(span.resource.service_name, "svc");
}

#[test]
fn every_truncation_of_a_message_is_an_error_not_a_panic() {
    let message = compact_emit_batch();
    for len in 0..message.len() {
        assert!(
            decode_compact_emit_batch(&message[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
}

#[test]
fn lengths_beyond_the_input_are_refused_before_allocating() {
    // A compact list header claiming 2^31 elements.
    let input = [0xfc, 0xff, 0xff, 0xff, 0xff, 0x07];
    let error = CompactReader::new(&input).list_begin().unwrap_err();
    assert!(
        matches!(error, ThriftError::LengthOverLimit { .. }),
        "{error}"
    );
    // A binary string claiming 1000 bytes with 2 left.
    let input = [0, 0, 0x03, 0xe8, b'h', b'i'];
    let error = BinaryReader::new(&input).binary().unwrap_err();
    assert_eq!(
        error.to_string(),
        "string length 1000 at byte 0 exceeds the 2 bytes left in the message"
    );
    // A negative binary length.
    let error = BinaryReader::new(&[0xff, 0xff, 0xff, 0xff])
        .binary()
        .unwrap_err();
    assert!(
        matches!(error, ThriftError::LengthOverLimit { len: -1, .. }),
        "{error}"
    );
}

#[test]
fn deep_nesting_of_unknown_fields_is_cut_off() {
    // Binary: struct field 9 holding a struct holding a struct ... never closed.
    let mut input = Vec::new();
    for _ in 0..(MAX_DEPTH * 4) {
        input.extend_from_slice(&[12, 0, 9]);
    }
    let mut reader = BinaryReader::new(&input);
    let error = reader.skip(Type::Struct).unwrap_err();
    assert!(matches!(error, ThriftError::TooDeep { .. }), "{error}");
}

#[test]
fn wrong_field_types_and_missing_fields_are_named() {
    // Batch with field 1 (process) as an i32.
    let input = [8, 0, 1, 0, 0, 0, 1, 0];
    let error = decode_binary_batch(&input).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Batch.process must be a Thrift struct, got i32"
    );
    let error = decode_binary_batch(&[0]).unwrap_err();
    assert_eq!(error.to_string(), "Batch.spans is required but missing");
}

#[test]
fn a_binary_message_on_the_compact_port_is_refused() {
    let error = decode_compact_emit_batch(&[0x80, 0x01, 0x00, 0x04]).unwrap_err();
    assert!(error.to_string().contains("0x82"), "{error}");
}
