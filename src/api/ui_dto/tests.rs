use std::sync::Arc;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::*;
use crate::model::{Event, Link, SpanId, TraceId};
use crate::query::tree;

const BASE_NANOS: u64 = 1_700_000_000_000_000_000;

fn attribute(key: &str, value: AttrValue) -> Attribute {
    Attribute {
        key: key.to_owned(),
        value,
    }
}

fn span(resource: &Arc<Resource>, id: u8, parent: Option<u8>, start_us: u64, end_us: u64) -> Span {
    Span {
        trace_id: TraceId([0xab; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|parent| SpanId([parent; 8])),
        trace_state: String::new(),
        flags: 0,
        name: format!("op-{id}"),
        kind: SpanKind::Server,
        start_unix_nanos: BASE_NANOS + start_us * 1000,
        end_unix_nanos: BASE_NANOS + end_us * 1000,
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        status_code: StatusCode::Unset,
        status_message: String::new(),
        resource: Arc::clone(resource),
        scope: Arc::new(Scope {
            name: "io.test".to_owned(),
            version: "1.2".to_owned(),
            attributes: Vec::new(),
        }),
    }
}

fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource {
        service_name: service.to_owned(),
        attributes: vec![attribute("host.name", AttrValue::Str("node-7".to_owned()))],
    })
}

fn render(spans: &[Span]) -> Value {
    let tree = tree::build(spans);
    let findings = crate::query::n_plus_one::detect(spans, &Default::default());
    serde_json::to_value(trace_view(spans, &tree, &findings)).expect("serializes")
}

#[test]
fn a_trace_renders_compactly_with_shared_parts_listed_once() {
    let web = resource("web");
    let db = resource("db");
    let mut root = span(&web, 1, None, 0, 100);
    root.attributes = vec![attribute("http.method", AttrValue::Str("GET".to_owned()))];
    root.events = vec![Event {
        time_unix_nanos: BASE_NANOS + 40_000,
        name: "retry".to_owned(),
        attributes: Vec::new(),
    }];
    let mut query = span(&db, 2, Some(1), 10, 60);
    query.status_code = StatusCode::Error;
    query.status_message = "timeout".to_owned();
    query.links = vec![Link {
        trace_id: TraceId([0xcd; 16]),
        span_id: SpanId([9; 8]),
        trace_state: String::new(),
        attributes: Vec::new(),
    }];
    let body = render(&[query, root]);

    assert_eq!(
        body,
        json!({
            "traceId": "abababababababababababababababab",
            "rootServiceName": "web",
            "rootOperationName": "op-1",
            "startUnixMicros": BASE_NANOS / 1000,
            "durationUs": 100,
            "numSpans": 2,
            "numErrors": 1,
            "maxDepth": 1,
            "services": [
                {"name": "db", "colorIndex": color_indexes(["db", "web"].into_iter())[0], "numSpans": 1, "numErrors": 1},
                {"name": "web", "colorIndex": color_indexes(["db", "web"].into_iter())[1], "numSpans": 1, "numErrors": 0},
            ],
            "resources": [
                {"serviceIndex": 1, "attributes": [["host.name", "string", "node-7"]]},
                {"serviceIndex": 0, "attributes": [["host.name", "string", "node-7"]]},
            ],
            "scopes": [{"name": "io.test", "version": "1.2", "attributes": []}],
            "warnings": [],
            "nPlusOne": [],
            "rows": [
                {
                    "spanId": "0101010101010101", "depth": 0, "subtreeSize": 2,
                    "startOffsetUs": 0, "durationUs": 100,
                    "resourceIndex": 0, "scopeIndex": 0,
                    "name": "op-1", "kind": "server",
                    "attributes": [["http.method", "string", "GET"]],
                    "events": [{"name": "retry", "offsetUs": 40}],
                    "onCriticalPath": true, "criticalSections": [[0, 10], [60, 100]],
                },
                {
                    "spanId": "0202020202020202",
                    "depth": 1, "subtreeSize": 1, "startOffsetUs": 10, "durationUs": 50,
                    "resourceIndex": 1, "scopeIndex": 0,
                    "name": "op-2", "kind": "server",
                    "statusCode": "error", "statusMessage": "timeout", "error": true,
                    "links": [{"traceId": "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", "spanId": "0909090909090909"}],
                    "onCriticalPath": true, "criticalSections": [[10, 60]],
                },
            ],
        })
    );
}

#[test]
fn attribute_values_keep_their_types_and_stay_exact_in_javascript() {
    let web = resource("web");
    let mut only = span(&web, 1, None, 0, 1);
    only.attributes = vec![
        attribute("s", AttrValue::Str("<script>alert(1)</script>".to_owned())),
        attribute("b", AttrValue::Bool(true)),
        attribute("small", AttrValue::Int(-42)),
        attribute("big", AttrValue::Int(i64::MAX)),
        attribute("d", AttrValue::Double(0.5)),
        attribute("nan", AttrValue::Double(f64::NAN)),
        attribute("bytes", AttrValue::Bytes(vec![1, 2, 3])),
        attribute(
            "list",
            AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Str("x".to_owned())]),
        ),
        attribute(
            "map",
            AttrValue::KvList(vec![attribute("k", AttrValue::Bool(false))]),
        ),
        attribute("nothing", AttrValue::Empty),
    ];
    let body = render(&[only]);
    assert_eq!(
        body["rows"][0]["attributes"],
        json!([
            ["s", "string", "<script>alert(1)</script>"],
            ["b", "bool", true],
            ["small", "int64", -42],
            ["big", "int64", "9223372036854775807"],
            ["d", "float64", 0.5],
            ["nan", "float64", "NaN"],
            ["bytes", "bytes", "AQID"],
            ["list", "array", "[1,\"x\"]"],
            ["map", "map", "{\"k\":false}"],
            ["nothing", "empty", null],
        ])
    );
}

#[test]
fn tree_warnings_reach_rows_and_the_header() {
    let web = resource("web");
    let mut early_event = span(&web, 1, None, 10, 100);
    early_event.events = vec![Event {
        time_unix_nanos: BASE_NANOS, // 10µs before the root: before the trace start
        name: "skewed".to_owned(),
        attributes: Vec::new(),
    }];
    let orphan = span(&web, 3, Some(77), 20, 30);
    let body = render(&[early_event, orphan]);
    assert_eq!(
        body["warnings"],
        json!(["1 span(s) have a parent that is not in this trace; they are shown as roots"])
    );
    assert_eq!(
        body["rows"][1]["warnings"],
        json!(["parent span 4d4d4d4d4d4d4d4d is not in this trace; shown as a root"])
    );
    // The orphan's parent is not its tree parent, so it is spelled out.
    assert_eq!(body["rows"][1]["parentSpanId"], json!("4d4d4d4d4d4d4d4d"));
    assert_eq!(body["rows"][0]["events"][0]["offsetUs"], json!(-10));
}

#[test]
fn colours_are_stable_per_name_and_distinct_within_a_trace() {
    let first = color_indexes(["api", "db", "web"].into_iter());
    let again = color_indexes(["api", "db", "web"].into_iter());
    assert_eq!(first, again);
    let mut sorted = first.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 3);
    // The same slots as assignColors in ui/lib/format.js gives (checked with node).
    assert_eq!(fnv1a32(b"checkout"), 0x4db9_5739);
    assert_eq!(
        color_indexes(["api", "checkout", "db", "web"].into_iter()),
        [7, 1, 3, 5]
    );

    let many: Vec<String> = (0..25).map(|index| format!("service-{index:02}")).collect();
    let slots = color_indexes(many.iter().map(String::as_str));
    let mut distinct = slots[..20].to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        20,
        "the first 20 services never share a colour"
    );
    assert!(slots.iter().all(|slot| *slot < NUM_SERVICE_COLORS));
}

#[test]
fn an_empty_trace_renders_without_panicking() {
    let body = render(&[]);
    assert_eq!(body["numSpans"], json!(0));
    assert_eq!(body["rows"], json!([]));
}

#[test]
fn n_plus_one_findings_point_at_rows() {
    let web = resource("web");
    let root = span(&web, 1, None, 0, 1_000_000);
    let mut spans = vec![root];
    // A first child that is not repeated, then six repeats of one statement.
    spans.push(span(&web, 2, Some(1), 1, 2));
    for index in 0..6u8 {
        let start = 10_000 + u64::from(index) * 20_000;
        let mut query = span(&web, 10 + index, Some(1), start, start + 15_000);
        query.attributes = vec![attribute(
            "db.statement",
            AttrValue::Str(format!("SELECT * FROM t WHERE id = {index}")),
        )];
        spans.push(query);
    }
    let body = render(&spans);
    assert_eq!(
        body["nPlusOne"],
        json!([{
            "service": "web",
            "fingerprint": "SELECT * FROM t WHERE id = ?",
            "parentRow": 0,
            "rows": [2, 3, 4, 5, 6, 7],
            "totalUs": 90_000,
            "longestUs": 15_000,
            "wallUs": 115_000,
            "mode": "sequential",
            "couldSaveUs": 75_000,
        }])
    );
}
