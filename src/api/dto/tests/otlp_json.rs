use std::sync::Arc;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::{attr, resource, scope, span, text, to_json, T, TRACE};
use crate::api::dto::otlp_json::TracesData;
use crate::api::dto::{otlp_traces_data, V3Result};
use crate::model::{AttrValue, Scope, Span, SpanKind, StatusCode};

#[track_caller]
fn check(traces: &[Vec<Span>], expected: &Value) {
    let data: TracesData<'_> = otlp_traces_data(traces);
    assert_eq!(to_json(&data), *expected);
}

#[test]
fn every_field_follows_the_otlp_json_mapping() {
    let checkout = resource(
        "checkout",
        vec![
            attr("host.name", text("node-7")),
            attr("process.pid", AttrValue::Int(42)),
        ],
    );
    let http = Arc::new(Scope {
        name: "io.otel.http".to_owned(),
        version: "1.2.0".to_owned(),
        attributes: vec![attr("scope.attr", AttrValue::Bool(true))],
    });
    let mut full = span("00f067aa0ba902b7", &checkout)
        .scope(&http)
        .parent("53995c3f42cd8ad8")
        .name("GET /checkout")
        .kind(SpanKind::Server)
        .trace_state("congo=t61rcWkgMzE")
        .flags(0x301)
        .times(T, T + 2_048_000)
        .attr("s", text("x"))
        .attr("b", AttrValue::Bool(true))
        .attr("i", AttrValue::Int(i64::MIN))
        .attr("d", AttrValue::Double(1.5))
        .attr("inf", AttrValue::Double(f64::INFINITY))
        .attr("bytes", AttrValue::Bytes(vec![0, 1, 2, 255]))
        .attr(
            "arr",
            AttrValue::Array(vec![text("a"), AttrValue::Int(1), AttrValue::Array(vec![])]),
        )
        .attr(
            "kv",
            AttrValue::KvList(vec![
                attr("nested", AttrValue::Double(0.5)),
                attr("none", AttrValue::Empty),
            ]),
        )
        .attr("empty", AttrValue::Empty)
        .event(
            T + 1_000,
            "exception",
            vec![attr("exception.message", text("boom"))],
        )
        // A 64-bit trace ID: Jaeger v1 would shorten it, OTLP/JSON never does.
        .link(
            "00f067aa0ba902b7",
            "0000000000000009",
            vec![attr("opentracing.ref_type", text("child_of"))],
        )
        .status(StatusCode::Error, "boom")
        .build();
    full.links[0].trace_state = "a=b".to_owned();

    check(
        &[vec![full]],
        &json!({"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "checkout"}},
                {"key": "host.name", "value": {"stringValue": "node-7"}},
                {"key": "process.pid", "value": {"intValue": "42"}},
            ]},
            "scopeSpans": [{
                "scope": {"name": "io.otel.http", "version": "1.2.0", "attributes": [
                    {"key": "scope.attr", "value": {"boolValue": true}}]},
                "spans": [{
                    "traceId": TRACE,
                    "spanId": "00f067aa0ba902b7",
                    "traceState": "congo=t61rcWkgMzE",
                    "parentSpanId": "53995c3f42cd8ad8",
                    "flags": 769,
                    "name": "GET /checkout",
                    "kind": 2,
                    "startTimeUnixNano": "1717171717123456789",
                    "endTimeUnixNano": "1717171717125504789",
                    "attributes": [
                        {"key": "s", "value": {"stringValue": "x"}},
                        {"key": "b", "value": {"boolValue": true}},
                        {"key": "i", "value": {"intValue": "-9223372036854775808"}},
                        {"key": "d", "value": {"doubleValue": 1.5}},
                        {"key": "inf", "value": {"doubleValue": "Infinity"}},
                        {"key": "bytes", "value": {"bytesValue": "AAEC/w=="}},
                        {"key": "arr", "value": {"arrayValue": {"values": [
                            {"stringValue": "a"},
                            {"intValue": "1"},
                            {"arrayValue": {"values": []}},
                        ]}}},
                        {"key": "kv", "value": {"kvlistValue": {"values": [
                            {"key": "nested", "value": {"doubleValue": 0.5}},
                            {"key": "none", "value": {}},
                        ]}}},
                        {"key": "empty", "value": {}},
                    ],
                    "events": [{
                        "timeUnixNano": "1717171717123457789",
                        "name": "exception",
                        "attributes": [
                            {"key": "exception.message", "value": {"stringValue": "boom"}}],
                    }],
                    "links": [{
                        "traceId": "000000000000000000f067aa0ba902b7",
                        "spanId": "0000000000000009",
                        "traceState": "a=b",
                        "attributes": [
                            {"key": "opentracing.ref_type", "value": {"stringValue": "child_of"}}],
                    }],
                    "status": {"message": "boom", "code": 2},
                }],
            }],
        }]}),
    );
}

#[test]
fn spans_are_grouped_by_resource_then_scope_per_trace() {
    const OTHER_TRACE: &str = "0000000000000000000000000000abcd";
    let web = resource("web", vec![attr("host.name", text("w1"))]);
    let web_again = resource("web", vec![attr("host.name", text("w1"))]);
    let cart = resource("cart", vec![]);
    let http = scope("http", "1.0");
    let http_again = scope("http", "1.0");
    let db = scope("db", "2.0");
    let root = span("0000000000000001", &web).scope(&http).build();
    let reserve = span("0000000000000002", &cart)
        .scope(&db)
        .parent("0000000000000001")
        .times(T + 1_000_000, T + 2_000_000)
        .build();
    let query = span("0000000000000003", &web_again)
        .scope(&db)
        .parent("0000000000000001")
        .times(T + 2_000_000, T + 3_000_000)
        .build();
    let render = span("0000000000000004", &web)
        .scope(&http_again)
        .parent("0000000000000001")
        .kind(SpanKind::Internal)
        .status(StatusCode::Ok, "")
        .times(T + 3_000_000, T + 4_000_000)
        .build();
    let other = span("0000000000000005", &cart)
        .trace(OTHER_TRACE)
        .scope(&db)
        .build();

    let otlp_span = |trace: &str, id: &str, parent: Option<&str>, start: &str, end: &str| {
        let mut span = json!({"traceId": trace, "spanId": id, "name": "op", "kind": 0,
                              "startTimeUnixNano": start, "endTimeUnixNano": end,
                              "attributes": [], "status": {"code": 0}});
        if let Some(parent) = parent {
            span["parentSpanId"] = json!(parent);
        }
        span
    };
    let mut render_json = otlp_span(
        TRACE,
        "0000000000000004",
        Some("0000000000000001"),
        "1717171717126456789",
        "1717171717127456789",
    );
    render_json["kind"] = json!(1);
    render_json["status"] = json!({"code": 1});
    let service = |name: &str| json!({"key": "service.name", "value": {"stringValue": name}});
    let host = json!({"key": "host.name", "value": {"stringValue": "w1"}});
    let http_json = json!({"name": "http", "version": "1.0", "attributes": []});
    let db_json = json!({"name": "db", "version": "2.0", "attributes": []});

    check(
        &[vec![render, reserve, root, query], vec![other]],
        &json!({"resourceSpans": [
            {"resource": {"attributes": [service("web"), host]}, "scopeSpans": [
                {"scope": http_json, "spans": [
                    otlp_span(TRACE, "0000000000000001", None,
                              "1717171717123456789", "1717171717124456789"),
                    render_json,
                ]},
                {"scope": db_json, "spans": [
                    otlp_span(TRACE, "0000000000000003", Some("0000000000000001"),
                              "1717171717125456789", "1717171717126456789"),
                ]},
            ]},
            {"resource": {"attributes": [service("cart")]}, "scopeSpans": [
                {"scope": db_json, "spans": [
                    otlp_span(TRACE, "0000000000000002", Some("0000000000000001"),
                              "1717171717124456789", "1717171717125456789"),
                ]},
            ]},
            {"resource": {"attributes": [service("cart")]}, "scopeSpans": [
                {"scope": db_json, "spans": [
                    otlp_span(OTHER_TRACE, "0000000000000005", None,
                              "1717171717123456789", "1717171717124456789"),
                ]},
            ]},
        ]}),
    );
}

#[test]
fn the_v3_envelope_wraps_traces_data() {
    let web = resource("web", vec![]);
    let duplicated = span("0000000000000001", &web).build();
    let traces = [vec![duplicated.clone(), duplicated]];
    let result = V3Result {
        result: otlp_traces_data(&traces),
    };
    assert_eq!(
        to_json(&result),
        json!({"result": {"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "web"}}]},
            "scopeSpans": [{
                "scope": {"name": "", "version": "", "attributes": []},
                "spans": [{
                    "traceId": TRACE, "spanId": "0000000000000001", "name": "op", "kind": 0,
                    "startTimeUnixNano": "1717171717123456789",
                    "endTimeUnixNano": "1717171717124456789",
                    "attributes": [], "status": {"code": 0},
                }],
            }],
        }]}}),
    );
    let empty = V3Result {
        result: otlp_traces_data(&[]),
    };
    assert_eq!(to_json(&empty), json!({"result": {"resourceSpans": []}}),);
}
