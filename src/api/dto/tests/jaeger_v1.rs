use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::{attr, resource, scope, span, text, to_json, T, TRACE};
use crate::api::dto::{
    jaeger_trace, DependencyDto, Envelope, EnvelopeError, JaegerTrace, OperationDto,
};
use crate::model::{AttrValue, Span, SpanKind, StatusCode};

#[track_caller]
fn check(spans: &[Span], expected: &Value) {
    let trace: JaegerTrace<'_> = jaeger_trace(spans);
    assert_eq!(to_json(&trace), *expected);
}

#[test]
fn processes_are_numbered_by_first_use_and_shared_when_equal() {
    let frontend = resource("frontend", vec![attr("host.name", text("web-1"))]);
    // Another batch from the same process: a different `Arc`, an equal value.
    let frontend_again = resource("frontend", vec![attr("host.name", text("web-1"))]);
    let cart_a = resource(
        "cart",
        vec![
            attr("host.name", text("cart-a")),
            attr("cloud.region", text("eu")),
        ],
    );
    let cart_b = resource(
        "cart",
        vec![
            attr("host.name", text("cart-b")),
            attr("cloud.region", text("eu")),
        ],
    );
    // Equal to `cart_a` once attributes are sorted, so it shares `cart_a`'s process.
    let cart_a_reordered = resource(
        "cart",
        vec![
            attr("cloud.region", text("eu")),
            attr("host.name", text("cart-a")),
        ],
    );
    let root = span("0000000000000001", &frontend)
        .name("GET /")
        .times(T, T + 5_000_999)
        .build();
    let reserve_a = span("00000000000000a1", &cart_a)
        .parent("0000000000000001")
        .name("reserve")
        .times(T + 1_000_000, T + 2_000_000)
        .build();
    let reserve_b = span("00000000000000b1", &cart_b)
        .parent("0000000000000001")
        .name("reserve")
        .times(T + 1_000_000, T + 2_000_000)
        .build();
    let commit_a = span("00000000000000a2", &cart_a_reordered)
        .parent("00000000000000a1")
        .name("commit")
        .times(T + 1_500_000, T + 2_000_000)
        .build();
    let render = span("00000000000000c1", &frontend_again)
        .parent("0000000000000001")
        .name("render")
        .times(T + 3_000_000, T + 4_000_000)
        .build();

    let child_of =
        |parent: &str| json!([{"refType": "CHILD_OF", "traceID": TRACE, "spanID": parent}]);
    check(
        &[render, commit_a, reserve_b, root, reserve_a],
        &json!({
            "traceID": TRACE,
            "spans": [
                {"traceID": TRACE, "spanID": "0000000000000001", "operationName": "GET /",
                 "references": [], "startTime": 1_717_171_717_123_456_u64, "duration": 5000,
                 "tags": [], "logs": [], "processID": "p1", "warnings": null},
                {"traceID": TRACE, "spanID": "00000000000000a1", "operationName": "reserve",
                 "references": child_of("0000000000000001"), "startTime": 1_717_171_717_124_456_u64,
                 "duration": 1000, "tags": [], "logs": [], "processID": "p2", "warnings": null},
                {"traceID": TRACE, "spanID": "00000000000000b1", "operationName": "reserve",
                 "references": child_of("0000000000000001"), "startTime": 1_717_171_717_124_456_u64,
                 "duration": 1000, "tags": [], "logs": [], "processID": "p3", "warnings": null},
                {"traceID": TRACE, "spanID": "00000000000000a2", "operationName": "commit",
                 "references": child_of("00000000000000a1"), "startTime": 1_717_171_717_124_956_u64,
                 "duration": 500, "tags": [], "logs": [], "processID": "p2", "warnings": null},
                {"traceID": TRACE, "spanID": "00000000000000c1", "operationName": "render",
                 "references": child_of("0000000000000001"), "startTime": 1_717_171_717_126_456_u64,
                 "duration": 1000, "tags": [], "logs": [], "processID": "p1", "warnings": null},
            ],
            "processes": {
                "p1": {"serviceName": "frontend", "tags": [
                    {"key": "host.name", "type": "string", "value": "web-1"}]},
                "p2": {"serviceName": "cart", "tags": [
                    {"key": "cloud.region", "type": "string", "value": "eu"},
                    {"key": "host.name", "type": "string", "value": "cart-a"}]},
                "p3": {"serviceName": "cart", "tags": [
                    {"key": "cloud.region", "type": "string", "value": "eu"},
                    {"key": "host.name", "type": "string", "value": "cart-b"}]},
            },
            "warnings": null,
        }),
    );
}

#[test]
fn tags_are_typed_and_ordered_like_jaeger() {
    let web = resource("web", vec![]);
    let http = scope("io.otel.http", "1.2.0");
    let checkout = span("00f067aa0ba902b7", &web)
        .scope(&http)
        .name("GET /checkout")
        .kind(SpanKind::Server)
        .attr("zeta", text("last"))
        .attr("http.status_code", AttrValue::Int(500))
        .attr("big", AttrValue::Int(9_007_199_254_740_992))
        .attr("big.negative", AttrValue::Int(-9_007_199_254_740_992))
        .attr("safe", AttrValue::Int(9_007_199_254_740_991))
        .attr("ratio", AttrValue::Double(0.25))
        .attr("not.a.number", AttrValue::Double(f64::NAN))
        .attr("cached", AttrValue::Bool(false))
        .attr("payload", AttrValue::Bytes(vec![0xde, 0xad, 0xbe, 0xef]))
        .attr("list", AttrValue::Array(vec![text("a"), AttrValue::Int(2)]))
        .attr(
            "headers",
            AttrValue::KvList(vec![attr("accept", text("json"))]),
        )
        .attr("nothing", AttrValue::Empty)
        .attr("dup", text("first"))
        .attr("dup", text("second"))
        .status(StatusCode::Error, "boom")
        .trace_state("congo=t61rcWkgMzE")
        .build();

    check(
        &[checkout],
        &json!({
            "traceID": TRACE,
            "spans": [{
                "traceID": TRACE, "spanID": "00f067aa0ba902b7", "operationName": "GET /checkout",
                "references": [], "startTime": 1_717_171_717_123_456_u64, "duration": 1000,
                "tags": [
                    {"key": "otel.scope.name", "type": "string", "value": "io.otel.http"},
                    {"key": "otel.scope.version", "type": "string", "value": "1.2.0"},
                    {"key": "big", "type": "int64", "value": "9007199254740992"},
                    {"key": "big.negative", "type": "int64", "value": "-9007199254740992"},
                    {"key": "cached", "type": "bool", "value": false},
                    {"key": "dup", "type": "string", "value": "first"},
                    {"key": "dup", "type": "string", "value": "second"},
                    {"key": "headers", "type": "string", "value": "{\"accept\":\"json\"}"},
                    {"key": "http.status_code", "type": "int64", "value": 500},
                    {"key": "list", "type": "string", "value": "[\"a\",2]"},
                    {"key": "not.a.number", "type": "float64", "value": "NaN"},
                    {"key": "nothing", "type": "string", "value": ""},
                    {"key": "payload", "type": "binary", "value": "3q2+7w=="},
                    {"key": "ratio", "type": "float64", "value": 0.25},
                    {"key": "safe", "type": "int64", "value": 9_007_199_254_740_991_i64},
                    {"key": "zeta", "type": "string", "value": "last"},
                    {"key": "span.kind", "type": "string", "value": "server"},
                    {"key": "otel.status_code", "type": "string", "value": "ERROR"},
                    {"key": "error", "type": "bool", "value": true},
                    {"key": "otel.status_description", "type": "string", "value": "boom"},
                    {"key": "w3c.tracestate", "type": "string", "value": "congo=t61rcWkgMzE"},
                ],
                "logs": [], "processID": "p1", "warnings": null,
            }],
            "processes": {"p1": {"serviceName": "web", "tags": []}},
            "warnings": null,
        }),
    );
}

#[test]
fn status_kind_and_scope_tags_appear_only_when_set() {
    let web = resource("web", vec![]);
    let named_only = scope("lib", "");
    let ok_client = span("0000000000000001", &web)
        .scope(&named_only)
        .kind(SpanKind::Client)
        .attr("a", AttrValue::Int(1))
        .status(StatusCode::Ok, "")
        .build();
    let unset_with_message = span("0000000000000002", &web)
        .times(T + 1_000_000, T + 2_000_000)
        .kind(SpanKind::Internal)
        .status(StatusCode::Unset, "note")
        .build();
    let bare = span("0000000000000003", &web)
        .times(T + 2_000_000, T + 3_000_000)
        .build();

    let plain = |id: &str, start: u64, tags: Value| {
        json!({"traceID": TRACE, "spanID": id, "operationName": "op", "references": [],
               "startTime": start, "duration": 1000, "tags": tags, "logs": [],
               "processID": "p1", "warnings": null})
    };
    check(
        &[bare, unset_with_message, ok_client],
        &json!({
            "traceID": TRACE,
            "spans": [
                plain("0000000000000001", 1_717_171_717_123_456, json!([
                    {"key": "otel.scope.name", "type": "string", "value": "lib"},
                    {"key": "a", "type": "int64", "value": 1},
                    {"key": "span.kind", "type": "string", "value": "client"},
                    {"key": "otel.status_code", "type": "string", "value": "OK"},
                ])),
                plain("0000000000000002", 1_717_171_717_124_456, json!([
                    {"key": "span.kind", "type": "string", "value": "internal"},
                    {"key": "otel.status_description", "type": "string", "value": "note"},
                ])),
                plain("0000000000000003", 1_717_171_717_125_456, json!([])),
            ],
            "processes": {"p1": {"serviceName": "web", "tags": []}},
            "warnings": null,
        }),
    );
}

#[test]
fn events_become_logs_sorted_by_time_then_name() {
    let web = resource("web", vec![]);
    let with_events = span("0000000000000001", &web)
        .event(T + 2_000, "retry", vec![attr("attempt", AttrValue::Int(2))])
        .event(
            T + 1_000,
            "exception",
            vec![
                attr("exception.type", text("IOError")),
                attr("exception.message", text("boom")),
            ],
        )
        .event(
            T + 3_000,
            "custom",
            vec![attr("level", text("info")), attr("event", text("explicit"))],
        )
        .event(T + 1_000, "cache.miss", vec![])
        .event(T + 4_000, "", vec![attr("message", text("unnamed"))])
        .build();

    check(
        &[with_events],
        &json!({
            "traceID": TRACE,
            "spans": [{
                "traceID": TRACE, "spanID": "0000000000000001", "operationName": "op",
                "references": [], "startTime": 1_717_171_717_123_456_u64, "duration": 1000,
                "tags": [],
                "logs": [
                    {"timestamp": 1_717_171_717_123_457_u64, "fields": [
                        {"key": "event", "type": "string", "value": "cache.miss"}]},
                    {"timestamp": 1_717_171_717_123_457_u64, "fields": [
                        {"key": "event", "type": "string", "value": "exception"},
                        {"key": "exception.message", "type": "string", "value": "boom"},
                        {"key": "exception.type", "type": "string", "value": "IOError"}]},
                    {"timestamp": 1_717_171_717_123_458_u64, "fields": [
                        {"key": "event", "type": "string", "value": "retry"},
                        {"key": "attempt", "type": "int64", "value": 2}]},
                    // An `event` attribute wins over the name, and sorts with the others.
                    {"timestamp": 1_717_171_717_123_459_u64, "fields": [
                        {"key": "event", "type": "string", "value": "explicit"},
                        {"key": "level", "type": "string", "value": "info"}]},
                    {"timestamp": 1_717_171_717_123_460_u64, "fields": [
                        {"key": "message", "type": "string", "value": "unnamed"}]},
                ],
                "processID": "p1", "warnings": null,
            }],
            "processes": {"p1": {"serviceName": "web", "tags": []}},
            "warnings": null,
        }),
    );
}

#[test]
fn parent_and_links_become_references_with_jaeger_trace_ids() {
    // High 64 bits zero: Jaeger writes 16 digits, keeping the leading zero.
    const SHORT: &str = "00f067aa0ba902b7";
    let web = resource("web", vec![]);
    let child_of = || vec![attr("opentracing.ref_type", text("child_of"))];
    let linked = span("0000000000000002", &web)
        .trace(SHORT)
        .parent("0000000000000001")
        .link(TRACE, "53995c3f42cd8ad8", vec![])
        .link(SHORT, "0000000000000003", child_of())
        // A link to the parent only retypes the parent reference.
        .link(SHORT, "0000000000000001", vec![])
        .link(
            SHORT,
            "0000000000000004",
            vec![attr("opentracing.ref_type", text("follows_from"))],
        )
        .build();
    let parent_linked_as_child = span("0000000000000005", &web)
        .trace(SHORT)
        .times(T + 1_000_000, T + 2_000_000)
        .parent("0000000000000001")
        .link(SHORT, "0000000000000001", child_of())
        .build();

    check(
        &[linked, parent_linked_as_child],
        &json!({
            "traceID": SHORT,
            "spans": [
                {"traceID": SHORT, "spanID": "0000000000000002", "operationName": "op",
                 "references": [
                     {"refType": "FOLLOWS_FROM", "traceID": SHORT, "spanID": "0000000000000001"},
                     {"refType": "FOLLOWS_FROM", "traceID": TRACE, "spanID": "53995c3f42cd8ad8"},
                     {"refType": "CHILD_OF", "traceID": SHORT, "spanID": "0000000000000003"},
                     {"refType": "FOLLOWS_FROM", "traceID": SHORT, "spanID": "0000000000000004"},
                 ],
                 "startTime": 1_717_171_717_123_456_u64, "duration": 1000, "tags": [], "logs": [],
                 "processID": "p1", "warnings": null},
                {"traceID": SHORT, "spanID": "0000000000000005", "operationName": "op",
                 "references": [
                     {"refType": "CHILD_OF", "traceID": SHORT, "spanID": "0000000000000001"},
                 ],
                 "startTime": 1_717_171_717_124_456_u64, "duration": 1000, "tags": [], "logs": [],
                 "processID": "p1", "warnings": null},
            ],
            "processes": {"p1": {"serviceName": "web", "tags": []}},
            "warnings": null,
        }),
    );
}

#[test]
fn identical_spans_are_shown_once_in_start_order() {
    let web = resource("web", vec![]);
    let web_again = resource("web", vec![]);
    let later = span("00000000000000aa", &web)
        .name("later")
        .times(T + 2_000_000, T + 3_000_000)
        .build();
    let higher_id = span("00000000000000bb", &web).name("higher-id").build();
    let lower_id = span("0000000000000011", &web).name("lower-id").build();
    let later_from_another_batch = span("00000000000000aa", &web_again)
        .name("later")
        .times(T + 2_000_000, T + 3_000_000)
        .build();
    // Same ID and start, different content: not a duplicate, so both stay.
    let later_variant = span("00000000000000aa", &web)
        .name("later")
        .times(T + 2_000_000, T + 3_000_000)
        .attr("retry", AttrValue::Bool(true))
        .build();

    let plain = |id: &str, name: &str, start: u64, tags: Value| {
        json!({"traceID": TRACE, "spanID": id, "operationName": name, "references": [],
               "startTime": start, "duration": 1000, "tags": tags, "logs": [],
               "processID": "p1", "warnings": null})
    };
    check(
        &[
            later.clone(),
            higher_id,
            later.clone(),
            lower_id,
            later_variant,
            later_from_another_batch,
        ],
        &json!({
            "traceID": TRACE,
            "spans": [
                plain("0000000000000011", "lower-id", 1_717_171_717_123_456, json!([])),
                plain("00000000000000bb", "higher-id", 1_717_171_717_123_456, json!([])),
                plain("00000000000000aa", "later", 1_717_171_717_125_456, json!([])),
                plain("00000000000000aa", "later", 1_717_171_717_125_456, json!([
                    {"key": "retry", "type": "bool", "value": true}])),
            ],
            "processes": {"p1": {"serviceName": "web", "tags": []}},
            "warnings": null,
        }),
    );
}

#[test]
fn library_attributes_move_to_the_process() {
    let checkout = resource(
        "checkout",
        vec![
            attr("telemetry.sdk.name", text("opentelemetry")),
            attr("host.name", text("n1")),
        ],
    );
    let worker = resource("worker", vec![]);
    let first = span("0000000000000001", &checkout)
        .attr("telemetry.sdk.language", text("rust"))
        .attr("telemetry.sdk.name", text("opentelemetry"))
        .attr("http.route", text("/a"))
        .build();
    // The resource took "rust" from `first`, so "go" conflicts and stays.
    let conflicting = span("0000000000000002", &checkout)
        .times(T + 1_000_000, T + 2_000_000)
        .attr("telemetry.sdk.language", text("go"))
        .build();
    let other_resource = span("0000000000000003", &worker)
        .times(T + 2_000_000, T + 3_000_000)
        .attr("telemetry.distro.name", text("custom"))
        .build();

    let plain = |id: &str, start: u64, tags: Value, process: &str, warnings: Value| {
        json!({"traceID": TRACE, "spanID": id, "operationName": "op", "references": [],
               "startTime": start, "duration": 1000, "tags": tags, "logs": [],
               "processID": process, "warnings": warnings})
    };
    check(
        &[other_resource, conflicting, first],
        &json!({
            "traceID": TRACE,
            "spans": [
                plain("0000000000000001", 1_717_171_717_123_456, json!([
                    {"key": "http.route", "type": "string", "value": "/a"}]), "p1", Value::Null),
                plain("0000000000000002", 1_717_171_717_124_456, json!([
                    {"key": "telemetry.sdk.language", "type": "string", "value": "go"}]), "p1",
                    json!(["conflicting values between Span and Resource for attribute telemetry.sdk.language"])),
                plain("0000000000000003", 1_717_171_717_125_456, json!([]), "p2", Value::Null),
            ],
            "processes": {
                "p1": {"serviceName": "checkout", "tags": [
                    {"key": "host.name", "type": "string", "value": "n1"},
                    {"key": "telemetry.sdk.language", "type": "string", "value": "rust"},
                    {"key": "telemetry.sdk.name", "type": "string", "value": "opentelemetry"}]},
                "p2": {"serviceName": "worker", "tags": [
                    {"key": "telemetry.distro.name", "type": "string", "value": "custom"}]},
            },
            "warnings": null,
        }),
    );
}

/// `json!` comparisons ignore key order, so pin it once on the raw text.
#[test]
fn keys_are_written_in_jaeger_order() {
    let web = resource("web", vec![]);
    let child = span("0000000000000002", &web)
        .parent("0000000000000001")
        .flags(1)
        .attr("k", text("v"))
        .event(T, "e", vec![])
        .build();
    let text = serde_json::to_string(&jaeger_trace(&[child])).expect("DTOs serialize to JSON");
    assert_eq!(
        text,
        concat!(
            r#"{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spans":[{"#,
            r#""traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"0000000000000002","#,
            r#""operationName":"op","references":[{"refType":"CHILD_OF","#,
            r#""traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"0000000000000001"}],"#,
            r#""startTime":1717171717123456,"duration":1000,"#,
            r#""tags":[{"key":"k","type":"string","value":"v"}],"#,
            r#""logs":[{"timestamp":1717171717123456,"fields":[{"key":"event","type":"string","value":"e"}]}],"#,
            r#""processID":"p1","warnings":null}],"#,
            r#""processes":{"p1":{"serviceName":"web","tags":[]}},"warnings":null}"#,
        )
    );
}

#[test]
fn processes_keep_numbering_order_past_nine() {
    let spans: Vec<Span> = (1..=11_u64)
        .map(|index| {
            let service = resource(&format!("service-{index}"), vec![]);
            span(&format!("{index:016x}"), &service)
                .times(T + index, T + index + 1_000_000)
                .build()
        })
        .collect();
    let text = serde_json::to_string(&jaeger_trace(&spans)).expect("DTOs serialize to JSON");
    let positions: Vec<usize> = (1..=11)
        .map(|number| {
            text.find(&format!("\"p{number}\":{{"))
                .expect("every process is written")
        })
        .collect();
    assert!(positions.is_sorted(), "{text}");
}

#[test]
fn envelopes_match_jaeger() {
    assert_eq!(
        to_json(Envelope::ok(vec!["a"])),
        json!({"data": ["a"], "total": 0, "limit": 0, "offset": 0, "errors": null}),
    );
    assert_eq!(
        to_json(Envelope::with_total(vec!["cart", "web"], 2)),
        json!({"data": ["cart", "web"], "total": 2, "limit": 0, "offset": 0, "errors": null}),
    );
    assert_eq!(
        to_json(Envelope::error(404, "trace not found")),
        json!({"data": null, "total": 0, "limit": 0, "offset": 0,
               "errors": [{"code": 404, "msg": "trace not found"}]}),
    );
    // Multi-ID lookups report each missing trace and still return the others.
    let missing = EnvelopeError {
        code: Some(404),
        msg: "trace not found".to_owned(),
        trace_id: Some(TRACE.to_owned()),
    };
    assert_eq!(
        to_json(Envelope::ok(vec!["found"]).with_errors(vec![missing])),
        json!({"data": ["found"], "total": 0, "limit": 0, "offset": 0,
               "errors": [{"code": 404, "msg": "trace not found", "traceID": TRACE}]}),
    );
    assert_eq!(
        to_json(Envelope::ok(vec!["found"]).with_errors(vec![])),
        json!({"data": ["found"], "total": 0, "limit": 0, "offset": 0, "errors": null}),
    );
    let bare = EnvelopeError {
        code: None,
        msg: "partial results".to_owned(),
        trace_id: None,
    };
    assert_eq!(to_json(bare), json!({"msg": "partial results"}));
}

#[test]
fn small_dtos_use_jaeger_key_names() {
    let operation = OperationDto {
        name: "GET /".to_owned(),
        span_kind: "server".to_owned(),
    };
    assert_eq!(
        to_json(Envelope::with_total(vec![operation], 1)),
        json!({"data": [{"name": "GET /", "spanKind": "server"}], "total": 1, "limit": 0,
               "offset": 0, "errors": null}),
    );
    let dependency = DependencyDto {
        parent: "web".to_owned(),
        child: "cart".to_owned(),
        call_count: 3,
    };
    assert_eq!(
        to_json(dependency),
        json!({"parent": "web", "child": "cart", "callCount": 3}),
    );
}
