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
        operations: vec![1, 5, 9],
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
    scan_block(encoded.frames(), |view| {
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
    })
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
