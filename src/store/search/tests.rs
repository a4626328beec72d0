use std::sync::Arc;

use super::*;
use crate::config::StoreConfig;
use crate::model::StatusCode;
use crate::model::{AttrValue, Attribute, Event, Link, Resource, Scope, Span, SpanId, SpanKind};
use crate::storage::query::tag_matches;

fn span() -> Span {
    Span {
        trace_id: TraceId([1; 16]),
        span_id: SpanId([2; 8]),
        parent_span_id: None,
        trace_state: String::new(),
        flags: 0,
        name: "GET /cart".into(),
        kind: SpanKind::Server,
        start_unix_nanos: 1_000_000,
        end_unix_nanos: 3_000_000,
        attributes: vec![
            Attribute {
                key: "http.status_code".into(),
                value: AttrValue::Int(500),
            },
            Attribute {
                key: "cache.hit".into(),
                value: AttrValue::Bool(false),
            },
        ],
        events: vec![Event {
            time_unix_nanos: 1_500_000,
            name: "exception".into(),
            attributes: vec![Attribute {
                key: "exception.type".into(),
                value: AttrValue::Str("Boom".into()),
            }],
        }],
        links: vec![],
        status_code: StatusCode::Error,
        status_message: String::new(),
        resource: Arc::new(Resource {
            service_name: "cart".into(),
            attributes: vec![Attribute {
                key: "host.name".into(),
                value: AttrValue::Str("node-7".into()),
            }],
        }),
        scope: Arc::new(Scope {
            name: "io.otel.http".into(),
            version: "1.2".into(),
            attributes: vec![],
        }),
    }
}

#[track_caller]
fn check(key: &str, value: &str, expected: bool) {
    assert_eq!(tag_matches(&span(), key, value), expected, "{key}={value}");
}

#[test]
fn tags_match_like_jaeger() {
    check("http.status_code", "500", true);
    check("http.status_code", "404", false);
    check("cache.hit", "false", true);
    check("host.name", "node-7", true);
    check("resource.host.name", "node-7", true);
    check("resource.http.status_code", "500", false);
    check("exception.type", "Boom", true);
    check("error", "true", true);
    check("error", "false", false);
    check("span.kind", "server", true);
    check("span.kind", "client", false);
    check("otel.status_code", "ERROR", true);
    check("otel.scope.name", "io.otel.http", true);
    check("missing", "", false);
}

#[test]
fn every_filter_applies_to_one_span() {
    let base = TraceQuery {
        service: Some("cart".into()),
        start_min_unix_nanos: 1_000_000,
        start_max_unix_nanos: 1_000_000,
        limit: 20,
        ..TraceQuery::default()
    };
    assert!(span_matches(&span(), &base));
    let exact = TraceQuery {
        duration_min: Some(Duration::from_millis(2)),
        duration_max: Some(Duration::from_millis(2)),
        ..base.clone()
    };
    assert!(
        span_matches(&span(), &exact),
        "duration bounds are inclusive"
    );
    let too_long = TraceQuery {
        duration_min: Some(Duration::from_nanos(2_000_001)),
        ..base.clone()
    };
    assert!(!span_matches(&span(), &too_long));
    let other_op = TraceQuery {
        operation: Some("GET /".into()),
        ..base.clone()
    };
    assert!(!span_matches(&span(), &other_op));
    let tags = TraceQuery {
        tags: vec![
            ("http.status_code".into(), "500".into()),
            ("error".into(), "true".into()),
        ],
        ..base.clone()
    };
    assert!(span_matches(&span(), &tags));
    let late = TraceQuery {
        start_min_unix_nanos: 1_000_001,
        start_max_unix_nanos: 2_000_000,
        ..base
    };
    assert!(!span_matches(&span(), &late));
}

/// Random spans over a few services, operations, durations and tag values, in many
/// small blocks whose time ranges overlap, as ingest produces them.
fn random_spans(rng: &mut impl rand::Rng) -> Vec<Span> {
    let resources: Vec<Arc<Resource>> = ["cart", "shop", "db"]
        .iter()
        .map(|service| {
            Arc::new(Resource {
                service_name: (*service).into(),
                attributes: vec![],
            })
        })
        .collect();
    let mut spans = Vec::new();
    for trace in 0..300u32 {
        let mut trace_id = [0u8; 16];
        rng.fill(&mut trace_id);
        let trace_start = u64::from(trace) * 1_000 + rng.random_range(0..5_000);
        for position in 0..rng.random_range(1..6u8) {
            let start = trace_start + rng.random_range(0..3_000);
            spans.push(Span {
                trace_id: TraceId(trace_id),
                span_id: SpanId([position + 1; 8]),
                name: ["GET /", "POST /pay", "query"][rng.random_range(0..3)].into(),
                kind: [SpanKind::Server, SpanKind::Client][rng.random_range(0..2)],
                start_unix_nanos: start,
                end_unix_nanos: start + rng.random_range(0..2_000),
                attributes: vec![Attribute {
                    key: "http.status_code".into(),
                    value: AttrValue::Int([200, 500][rng.random_range(0..2)]),
                }],
                links: (0..rng.random_range(0..2))
                    .map(|_| Link {
                        trace_id: TraceId([9; 16]),
                        span_id: SpanId([9; 8]),
                        trace_state: String::new(),
                        attributes: vec![Attribute {
                            key: "peer.shard".into(),
                            value: AttrValue::Int(rng.random_range(0..3)),
                        }],
                    })
                    .collect(),
                resource: resources[rng.random_range(0..resources.len())].clone(),
                ..span()
            });
        }
    }
    spans
}

/// The newest `limit` matching traces by brute force over every span.
fn expected(spans: &[Span], query: &TraceQuery) -> Vec<TraceId> {
    let mut newest: HashMap<TraceId, u64> = HashMap::new();
    for span in spans.iter().filter(|span| span_matches(*span, query)) {
        note_match(&mut newest, span.trace_id, span.start_unix_nanos);
    }
    let mut ranked: Vec<(TraceId, u64)> = newest.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(query.limit);
    ranked.into_iter().map(|(trace_id, _)| trace_id).collect()
}

#[test]
fn searches_over_summaries_and_bodies_agree_with_brute_force() {
    use rand::{Rng as _, SeedableRng as _};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig {
        data_dir: dir.path().to_owned(),
        cache_capacity_bytes: 8 << 20,
        max_block_spans: std::num::NonZeroUsize::new(64).unwrap(),
        zstd_level: 1,
        flush_every_ms: 500,
        max_disk_bytes: None,
        retention: None,
        red_metrics: true,
    })
    .unwrap();
    let spans = random_spans(&mut rng);
    // Written in arrival batches, not sorted, so block time ranges overlap.
    for batch in spans.chunks(100) {
        store
            .write_spans(&batch.iter().collect::<Vec<_>>())
            .unwrap();
    }
    assert!(store.blocks().len() > 10);
    let end = spans
        .iter()
        .map(|span| span.start_unix_nanos)
        .max()
        .unwrap();
    for round in 0..200 {
        let start_min = rng.random_range(0..end);
        let query = TraceQuery {
            service: [None, Some("cart"), Some("db")][round % 3].map(str::to_owned),
            operation: [None, Some("GET /"), Some("query")][rng.random_range(0..3)]
                .map(str::to_owned),
            tags: match round % 4 {
                0 => vec![("http.status_code".into(), "500".into())],
                _ => vec![],
            },
            filters: match round % 5 {
                1 => vec!["http.status_code>=500"],
                2 => vec!["peer.shard=~^[12]$"],
                3 => vec!["!peer.shard", "http.status_code!=500"],
                _ => vec![],
            }
            .into_iter()
            .map(|text| AttrFilter::parse(text).unwrap())
            .collect(),
            n_plus_one: false,
            start_min_unix_nanos: start_min,
            start_max_unix_nanos: rng.random_range(start_min..=end),
            duration_min: [None, Some(Duration::from_nanos(500))][rng.random_range(0..2)],
            duration_max: [None, Some(Duration::from_nanos(1_500))][rng.random_range(0..2)],
            limit: rng.random_range(1..30),
        };
        assert_eq!(
            matching_trace_ids(&store, &query).unwrap(),
            expected(&spans, &query),
            "{query:?}"
        );
    }
}

/// The block filter may only rule a block out when no span in it matches: every tag
/// that `tag_matches` accepts must find one of its terms in the span's filter.
#[test]
fn the_block_filter_never_hides_a_match() {
    use crate::model::{Link, SpanId as Id};
    use crate::store::codec::filter;
    let mut variants = vec![span()];
    let mut ok = span();
    ok.status_code = StatusCode::Ok;
    ok.status_message = "fine".into();
    ok.trace_state = "vendor=1".into();
    ok.kind = SpanKind::Client;
    ok.links = vec![Link {
        trace_id: TraceId([9; 16]),
        span_id: Id([9; 8]),
        trace_state: String::new(),
        attributes: vec![
            Attribute {
                key: "link.weight".into(),
                value: AttrValue::Double(72.5),
            },
            Attribute {
                key: "error".into(),
                value: AttrValue::Bool(true),
            },
        ],
    }];
    ok.attributes.push(Attribute {
        key: "tags".into(),
        value: AttrValue::Array(vec![AttrValue::Str("a".into()), AttrValue::Int(2)]),
    });
    variants.push(ok);
    let mut unset = span();
    unset.status_code = StatusCode::Unset;
    unset.kind = SpanKind::Unspecified;
    unset.attributes.push(Attribute {
        key: "error".into(),
        value: AttrValue::Str("true".into()),
    });
    variants.push(unset);
    let keys = [
        "http.status_code",
        "cache.hit",
        "exception.type",
        "host.name",
        "resource.host.name",
        "error",
        "span.kind",
        "otel.status_code",
        "otel.status_description",
        "otel.scope.name",
        "scope.name",
        "otel.scope.version",
        "scope.version",
        "w3c.tracestate",
        "service.name",
        "link.weight",
        "tags",
    ];
    let values = [
        "500",
        "+500",
        "0500",
        "false",
        "true",
        "Boom",
        "node-7",
        "server",
        "client",
        "OK",
        "ERROR",
        "fine",
        "io.otel.http",
        "1.2",
        "vendor=1",
        "cart",
        "72.5",
        "",
        r#"["a",2]"#,
    ];
    let mut matches = 0;
    for variant in &variants {
        let bytes = filter::encode(&[variant]);
        for key in keys {
            for value in values {
                if tag_matches(variant, key, value) {
                    matches += 1;
                    let required = [query_terms(key, value)];
                    assert!(
                        filter::may_contain_all(&bytes, &required).unwrap(),
                        "{key}={value} matches but the filter rules it out"
                    );
                }
            }
        }
    }
    assert!(matches > 40, "only {matches} matching tags were checked");
}
