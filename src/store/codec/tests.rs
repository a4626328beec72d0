use std::sync::Arc;

use super::*;

fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource {
        service_name: service.to_owned(),
        attributes: vec![Attribute {
            key: "host.name".into(),
            value: AttrValue::Str("node-1".into()),
        }],
    })
}

fn span(trace: u8, id: u8, resource: &Arc<Resource>) -> Span {
    Span {
        trace_id: TraceId([trace; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: (id > 1).then_some(SpanId([1; 8])),
        trace_state: "k=v".into(),
        flags: 1,
        name: format!("op-{id}"),
        kind: SpanKind::Client,
        start_unix_nanos: 1_700_000_000_000_000_000 + u64::from(id) * 1000,
        end_unix_nanos: 1_700_000_000_000_000_000 + u64::from(id) * 1000 + 500,
        attributes: vec![
            Attribute {
                key: "s".into(),
                value: AttrValue::Str("text".into()),
            },
            Attribute {
                key: "b".into(),
                value: AttrValue::Bool(true),
            },
            Attribute {
                key: "i".into(),
                value: AttrValue::Int(-42),
            },
            Attribute {
                key: "d".into(),
                value: AttrValue::Double(1.5),
            },
            Attribute {
                key: "y".into(),
                value: AttrValue::Bytes(vec![0, 255]),
            },
            Attribute {
                key: "a".into(),
                value: AttrValue::Array(vec![
                    AttrValue::Int(1),
                    AttrValue::Empty,
                    AttrValue::Bool(false),
                ]),
            },
            Attribute {
                key: "kv".into(),
                value: AttrValue::KvList(vec![Attribute {
                    key: "n".into(),
                    value: AttrValue::Str("x".into()),
                }]),
            },
        ],
        events: vec![Event {
            // Events may precede their span; the signed delta keeps that.
            time_unix_nanos: 1_700_000_000_000_000_000 - 5,
            name: "exception".into(),
            attributes: vec![Attribute {
                key: "exception.message".into(),
                value: AttrValue::Str("boom".into()),
            }],
        }],
        links: vec![Link {
            trace_id: TraceId([9; 16]),
            span_id: SpanId([9; 8]),
            trace_state: String::new(),
            attributes: vec![],
        }],
        status_code: StatusCode::Error,
        status_message: "bad".into(),
        resource: Arc::clone(resource),
        scope: Arc::new(Scope {
            name: "lib".into(),
            version: "1".into(),
            attributes: vec![],
        }),
    }
}

fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|span| (span.trace_id, span.span_id));
    spans
}

#[test]
fn blocks_round_trip_every_field() {
    let (cart, shop) = (resource("cart"), resource("shop"));
    let spans = vec![
        span(2, 1, &cart),
        span(1, 1, &shop),
        span(2, 2, &cart),
        span(1, 3, &cart),
    ];
    let refs: Vec<&Span> = spans.iter().collect();
    let encoded = encode_block(&refs, &[10, 20, 11, 12], 3).unwrap();
    assert_eq!(encoded.trace_ids, vec![TraceId([1; 16]), TraceId([2; 16])]);
    assert_eq!(encoded.bytes[0], BLOCK_VERSION);
    // The summary alone (prefix + summary frame) lists every span's columns.
    let prefix = &encoded.bytes[..BLOCK_PREFIX_LEN + encoded.summary_len as usize];
    let mut seen = Vec::new();
    read_summary(prefix).unwrap().for_each(|trace_id, span| {
        seen.push((
            trace_id.0[0],
            span.operation,
            span.start_unix_nanos,
            span.duration_nanos,
        ))
    });
    seen.sort();
    let mut expected: Vec<(u8, u32, u64, u64)> = spans
        .iter()
        .zip([10, 20, 11, 12])
        .map(|(span, operation)| {
            (
                span.trace_id.0[0],
                operation,
                span.start_unix_nanos,
                span.duration_nanos(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(read_summary(&prefix[..prefix.len() - 1]).is_err());
    let decoded = decode_block(encoded.frames(), |_| true).unwrap();
    assert_eq!(sorted(decoded), sorted(spans.clone()));
    let only = decode_block(encoded.frames(), |trace_id| *trace_id == TraceId([2; 16])).unwrap();
    assert_eq!(
        sorted(only),
        sorted(vec![spans[0].clone(), spans[2].clone()])
    );
}

#[test]
fn corrupt_blocks_are_errors_not_panics() {
    let cart = resource("cart");
    let spans = [span(1, 1, &cart)];
    let refs: Vec<&Span> = spans.iter().collect();
    let encoded = encode_block(&refs, &[0; 4], 3).unwrap();
    assert!(matches!(
        decode_block(&[], |_| true),
        Err(CodecError::Truncated)
    ));
    assert!(matches!(
        decode_block(&[99, 1, 2], |_| true),
        Err(CodecError::UnknownVersion(99))
    ));
    let mut truncated = encoded.frames().to_vec();
    truncated.truncate(truncated.len() / 2);
    assert!(decode_block(&truncated, |_| true).is_err());
    // A valid zstd frame around garbage must fail in the parser, not panic.
    let mut garbage = vec![BLOCK_VERSION];
    garbage.extend(zstd::stream::encode_all(&[0xff; 64][..], 1).unwrap());
    assert!(decode_block(&garbage, |_| true).is_err());
}

#[test]
fn meta_round_trips() {
    let meta = BlockMeta {
        seq: 7,
        partition: 494_000,
        min_start_unix_nanos: 1,
        max_start_unix_nanos: u64::MAX,
        max_duration_nanos: 99,
        num_spans: 4096,
        offset: 1 << 33,
        num_bytes: 123_456,
        checksum: u32::MAX,
        summary_len: 4_321,
        filter_len: 1_000,
        operations: crate::store::id_set::IdSet::new(vec![1, 5, 9]),
        services: vec![0, 2],
        edges: vec![(0, 2, 17)],
        trace_prefixes: vec![3, 1 << 40, u64::MAX],
    };
    assert_eq!(BlockMeta::decode(&meta.encode()).unwrap(), meta);
    assert!(BlockMeta::decode(&meta.encode()[..5]).is_err());
}

#[test]
fn scanning_sees_what_decoding_sees() {
    use crate::model::SpanFields;
    let (cart, shop) = (resource("cart"), resource("shop"));
    let spans = [
        span(2, 1, &cart),
        span(1, 1, &shop),
        span(2, 2, &cart),
        span(1, 3, &cart),
    ];
    let refs: Vec<&Span> = spans.iter().collect();
    let encoded = encode_block(&refs, &[0; 4], 3).unwrap();
    let decoded = decode_block(encoded.frames(), |_| true).unwrap();
    let mut seen = Vec::new();
    scan_block(
        encoded.frames(),
        |_| true,
        |view| {
            // Every key and value of every attribute, and the synthetic fields, agree.
            seen.push((
                (
                    view.trace_id,
                    view.name().to_owned(),
                    view.service_name().to_owned(),
                    view.start_unix_nanos(),
                    view.duration_nanos(),
                    view.kind(),
                ),
                (
                    view.status_code(),
                    view.status_message().to_owned(),
                    view.trace_state().to_owned(),
                    view.scope().name.clone(),
                    [
                        "s=text",
                        "b=true",
                        "i=-42",
                        "d=1.5",
                        "y=AP8=",
                        "a=[1,null,false]",
                        "kv={\"n\":\"x\"}",
                    ]
                    .iter()
                    .all(|pair| {
                        let (key, value) = pair.split_once('=').unwrap();
                        view.attribute_matches(key, value)
                    }),
                    view.event_attribute_matches("exception.message", "boom"),
                    view.attribute_matches("s", "other"),
                ),
            ));
        },
    )
    .unwrap();
    let expected: Vec<_> = decoded
        .iter()
        .map(|span| {
            (
                (
                    span.trace_id,
                    span.name.clone(),
                    span.service_name().to_owned(),
                    span.start_unix_nanos,
                    span.duration_nanos(),
                    span.kind,
                ),
                (
                    span.status_code,
                    span.status_message.clone(),
                    span.trace_state.clone(),
                    span.scope.name.clone(),
                    true,
                    true,
                    false,
                ),
            )
        })
        .collect();
    assert_eq!(seen, expected);
}

fn attribute(key: &str, value: AttrValue) -> Attribute {
    Attribute {
        key: key.into(),
        value,
    }
}

fn by_id_and_start(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|span| (span.trace_id, span.span_id, span.start_unix_nanos));
    spans
}

#[test]
fn old_row_blocks_still_read() {
    // Version 2 blocks (span rows) are on disk in stores written before version 3.
    let (cart, shop) = (resource("cart"), resource("shop"));
    let spans = vec![
        span(2, 1, &cart),
        span(1, 1, &shop),
        span(2, 2, &cart),
        span(1, 3, &cart),
    ];
    let refs: Vec<&Span> = spans.iter().collect();
    let old = encode_block_as(BLOCK_VERSION_ROWS, &refs, &[10, 20, 11, 12], 3).unwrap();
    assert_eq!(old.bytes[0], 2);
    let new = encode_block(&refs, &[10, 20, 11, 12], 3).unwrap();
    assert_eq!(new.bytes[0], 3);
    for encoded in [&old, &new] {
        let decoded = decode_block(encoded.frames(), |_| true).unwrap();
        assert_eq!(sorted(decoded), sorted(spans.clone()));
        let only = decode_block(encoded.frames(), |id| *id == TraceId([2; 16])).unwrap();
        assert_eq!(
            sorted(only),
            sorted(vec![spans[0].clone(), spans[2].clone()])
        );
        let mut names = Vec::new();
        scan_block(
            encoded.frames(),
            |_| true,
            |view| names.push(crate::model::SpanFields::name(view).to_owned()),
        )
        .unwrap();
        names.sort();
        assert_eq!(names, ["op-1", "op-1", "op-2", "op-3"]);
    }
}

#[test]
fn parents_and_strings_survive_the_columns() {
    let cart = resource("cart");
    let start = 1_700_000_000_000_000_000;
    let mut root = span(1, 1, &cart);
    root.parent_span_id = None;
    root.start_unix_nanos = start + 100;
    root.attributes
        .push(attribute("unique", AttrValue::Str("once".into())));
    root.attributes
        .push(attribute("empty", AttrValue::Str(String::new())));
    // Starts before its parent, so it comes first in block order.
    let mut early = span(1, 2, &cart);
    early.start_unix_nanos = start;
    early.attributes = vec![attribute("shared", AttrValue::Str("twice".into()))];
    let mut outside = span(1, 3, &cart);
    outside.parent_span_id = Some(SpanId([77; 8]));
    outside.attributes = vec![
        attribute("shared", AttrValue::Str("twice".into())),
        // The only value use of a string that is also a span name.
        attribute("name", AttrValue::Str("op-9".into())),
    ];
    // Shares its id with `early`; its parent is that id.
    let mut twin = span(1, 2, &cart);
    twin.start_unix_nanos = start + 500;
    twin.parent_span_id = Some(SpanId([2; 8]));
    twin.attributes = vec![];
    let mut other_trace = span(2, 9, &cart);
    other_trace.parent_span_id = Some(SpanId([1; 8])); // the id of a span in trace 1
    let spans = vec![root, early, outside, twin, other_trace];
    let refs: Vec<&Span> = spans.iter().collect();
    let encoded = encode_block(&refs, &[0; 5], 3).unwrap();
    let decoded = decode_block(encoded.frames(), |_| true).unwrap();
    assert_eq!(by_id_and_start(decoded), by_id_and_start(spans.clone()));
    let only = decode_block(encoded.frames(), |id| *id == TraceId([2; 16])).unwrap();
    assert_eq!(only, vec![spans[4].clone()]);
    let mut unique = 0;
    scan_block(
        encoded.frames(),
        |_| true,
        |view| {
            use crate::model::SpanFields as _;
            unique += usize::from(view.attribute_matches("unique", "once"));
            assert_eq!(
                view.attribute_matches("shared", "twice"),
                view.name() == "op-2" && view.start_unix_nanos() == start || view.name() == "op-3"
            );
        },
    )
    .unwrap();
    assert_eq!(unique, 1);
}

#[test]
fn damaged_bodies_are_errors_not_panics() {
    // zstd's checksum catches damage to a stored frame, so this damages the raw
    // body and compresses it again: the parser must refuse it or read something,
    // never panic or run away.
    let (cart, shop) = (resource("cart"), resource("shop"));
    let mut spans = [span(2, 1, &cart), span(1, 1, &shop), span(1, 3, &cart)];
    spans[2].parent_span_id = Some(SpanId([5; 8]));
    spans[1]
        .attributes
        .push(attribute("once", AttrValue::Str("x".into())));
    let refs: Vec<&Span> = spans.iter().collect();
    let encoded = encode_block(&refs, &[0; 3], 3).unwrap();
    let (_, summary_frame, body_frame) = split(encoded.frames()).unwrap();
    let body = decompress(body_frame).unwrap();
    let rebuild = |body: &[u8]| {
        let mut block = encoded.frames()[..BLOCK_PREFIX_LEN].to_vec();
        block.extend_from_slice(summary_frame);
        compress(block, body, 1).unwrap()
    };
    assert_eq!(decode_block(&rebuild(&body), |_| true).unwrap().len(), 3);
    for at in 0..body.len() {
        for flip in [0x01, 0x40, 0xff] {
            let mut damaged = body.clone();
            damaged[at] ^= flip;
            let block = rebuild(&damaged);
            let _ = decode_block(&block, |_| true);
            let _ = scan_block(&block, |_| true, |_| {});
        }
        let block = rebuild(&body[..at]);
        assert!(decode_block(&block, |_| true).is_err(), "cut at {at}");
    }
}

#[test]
fn unique_strings_with_uuids_and_addresses_round_trip() {
    let cart = resource("cart");
    let uuid = "0c6f1e2a-9b3d-4f5e-8a7b-6c5d4e3f2a1b";
    let values = [
        format!("/api/carts/{uuid}"),
        format!("{uuid}/items/{uuid}"),
        format!("/x/{uuid}-tail"),
        uuid.to_owned(),
        uuid.to_uppercase(),        // stays text
        uuid.replace('-', "_"),     // not a UUID
        uuid[..35].to_owned(),      // one digit short
        format!("/a/{uuid}{uuid}"), // back to back
        "ünïcode-0c6f1e2a-9b3d-4f5e-8a7b-6c5d4e3f2a1b-é".to_owned(),
        "10.0.255.1".to_owned(),
        "10.0.255.01".to_owned(), // stays text: a leading zero
        "0.0.0.0".to_owned(),
        "1.2.3".to_owned(),
        "256.1.1.1".to_owned(),
        " 1.2.3.4".to_owned(),
    ];
    let spans: Vec<Span> = values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let mut span = span(1, index as u8 + 1, &cart);
            span.attributes = vec![attribute("url.path", AttrValue::Str(value.clone()))];
            span
        })
        .collect();
    let refs: Vec<&Span> = spans.iter().collect();
    let encoded = encode_block(&refs, &[0; 15], 3).unwrap();
    let decoded = decode_block(encoded.frames(), |_| true).unwrap();
    assert_eq!(sorted(decoded), sorted(spans.clone()));
    for value in &values {
        let mut found = 0;
        scan_block(
            encoded.frames(),
            |_| true,
            |view| {
                found += usize::from(crate::model::SpanFields::attribute_matches(
                    view, "url.path", value,
                ));
            },
        )
        .unwrap();
        assert_eq!(found, 1, "{value}");
    }
}

#[test]
fn each_trace_decodes_alone_past_the_inline_strings_of_the_others() {
    // Every span holds inline strings of each kind (plain, with a UUID, an IPv4
    // address), so a trace decoded alone must walk past the others' without
    // unpacking them and still number its own right.
    let cart = resource("cart");
    let uuid = "0c6f1e2a-9b3d-4f5e-8a7b-6c5d4e3f2a1b";
    let mut spans = Vec::new();
    for trace in 1..=5u8 {
        for id in 1..=3u8 {
            let mut span = span(trace, id, &cart);
            span.start_unix_nanos += u64::from(trace) * 1_000_000;
            span.end_unix_nanos += u64::from(trace) * 1_000_000;
            span.attributes = vec![
                attribute(
                    "path",
                    AttrValue::Str(format!("/carts/{uuid}/{trace}/{id}")),
                ),
                attribute("addr", AttrValue::Str(format!("10.0.{trace}.{id}"))),
                attribute("note", AttrValue::Str(format!("only {trace}-{id}"))),
                attribute("shared", AttrValue::Str("everywhere".into())),
            ];
            spans.push(span);
        }
    }
    let refs: Vec<&Span> = spans.iter().collect();
    let encoded = encode_block(&refs, &[0; 15], 3).unwrap();
    for trace in 1..=5u8 {
        let wanted = TraceId([trace; 16]);
        let only = decode_block(encoded.frames(), |id| *id == wanted).unwrap();
        let expected: Vec<Span> = spans
            .iter()
            .filter(|span| span.trace_id == wanted)
            .cloned()
            .collect();
        assert_eq!(sorted(only), sorted(expected), "trace {trace}");
    }
    // A scan told (by start time) that only trace 4 can match visits its spans only,
    // with the right values.
    let trace_4_starts = 1_700_000_000_004_000_000..1_700_000_000_005_000_000;
    let mut visited = Vec::new();
    scan_block(
        encoded.frames(),
        |span| trace_4_starts.contains(&span.start_unix_nanos),
        |view| {
            use crate::model::SpanFields as _;
            assert!(view.attribute_matches("addr", &format!("10.0.4.{}", &view.name()[3..])));
            visited.push(view.trace_id);
        },
    )
    .unwrap();
    assert_eq!(visited, vec![TraceId([4; 16]); 3]);
    // A scan that nothing can match reads no span.
    scan_block(encoded.frames(), |_| false, |_| panic!("no span can match")).unwrap();
}

#[test]
fn frames_carry_their_raw_size_and_frames_without_it_still_decode() {
    let raw: Vec<u8> = (0..100_000u32)
        .flat_map(|n| (n % 251).to_le_bytes())
        .collect();
    let frame = compress(Vec::new(), &raw, 3).unwrap();
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(&frame).unwrap(),
        Some(raw.len() as u64)
    );
    assert_eq!(decompress(&frame).unwrap(), raw);
    // Blocks written before the size went into the header are streamed.
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    encoder.include_checksum(true).unwrap();
    std::io::Write::write_all(&mut encoder, &raw).unwrap();
    let old = encoder.finish().unwrap();
    assert_eq!(zstd::zstd_safe::get_frame_content_size(&old).unwrap(), None);
    assert_eq!(decompress(&old).unwrap(), raw);
    // A frame that claims less than it holds fails rather than overruns.
    // (A single-segment header with a 4-byte content size, at bytes 5..9.)
    assert_eq!(frame[4] & 0xe0, 0xa0);
    let mut lying = frame.clone();
    lying[5..9].copy_from_slice(&300_000u32.to_le_bytes());
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(&lying).unwrap(),
        Some(300_000)
    );
    assert!(decompress(&lying).is_err());
}

#[test]
fn a_frame_that_claims_over_a_gib_is_refused_before_allocating() {
    // Magic number, then a header descriptor for a single segment with an 8-byte
    // content size, then that size: 2 GiB.
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
    frame.extend_from_slice(&(2u64 << 30).to_le_bytes());
    frame.extend_from_slice(&[0; 16]);
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(&frame).unwrap(),
        Some(2 << 30)
    );
    assert!(matches!(decompress(&frame), Err(CodecError::Corrupt(_))));
}
