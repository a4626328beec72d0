use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpSpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use pretty_assertions::assert_eq;

use super::*;

/// A request exercising every field, with IDs in both cases, enums by name and
/// by number, and 64-bit integers as strings and as numbers.
const REALISTIC_REQUEST: &str = r#"{
  "resourceSpans": [{
    "resource": {
      "attributes": [
        {"key": "service.name", "value": {"stringValue": "checkout"}},
        {"key": "host.cores", "value": {"intValue": "8"}}
      ],
      "droppedAttributesCount": 1
    },
    "scopeSpans": [{
      "scope": {
        "name": "io.opentelemetry.http",
        "version": "1.2.3",
        "attributes": [{"key": "scope.flag", "value": {"boolValue": true}}],
        "droppedAttributesCount": "6"
      },
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "",
        "traceState": "vendor=1",
        "flags": 257,
        "name": "GET /cart",
        "kind": "SPAN_KIND_SERVER",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "attributes": [
          {"key": "http.status_code", "value": {"intValue": 200}},
          {"key": "ratio", "value": {"doubleValue": 0.25}},
          {"key": "tags", "value": {"arrayValue": {"values": [
            {"stringValue": "a"}, {"intValue": "-3"}, {}
          ]}}},
          {"key": "nested", "value": {"kvlistValue": {"values": [
            {"key": "inner", "value": {"arrayValue": {"values": [{"boolValue": false}]}}}
          ]}}},
          {"key": "payload", "value": {"bytesValue": "aGVsbG8="}},
          {"key": "no.value"}
        ],
        "droppedAttributesCount": 2,
        "events": [{
          "timeUnixNano": "1544712660500000000",
          "name": "cache miss",
          "attributes": [{"key": "cache", "value": {"stringValue": "l1"}}],
          "droppedAttributesCount": 7
        }],
        "droppedEventsCount": 3,
        "links": [{
          "traceId": "0af7651916cd43dd8448eb211c80319c",
          "spanId": "B7AD6B7169203331",
          "traceState": "x=y",
          "attributes": [{"key": "link.kind", "value": {"stringValue": "follows"}}],
          "droppedAttributesCount": 4,
          "flags": "1"
        }],
        "droppedLinksCount": 5,
        "status": {"message": "boom", "code": 2}
      }, {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "0102030405060708",
        "parentSpanId": "eee19b7ec3c1b174",
        "name": "db.query",
        "kind": 3,
        "startTimeUnixNano": 1544712660100000000,
        "endTimeUnixNano": "1544712660900000000",
        "status": {"code": "STATUS_CODE_OK"}
      }],
      "schemaUrl": "https://opentelemetry.io/schemas/1.21.0"
    }],
    "schemaUrl": "https://opentelemetry.io/schemas/1.20.0"
  }]
}"#;

fn realistic_expected() -> OtlpExportRequest {
    let trace_id = vec![
        0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6,
        0x0c,
    ];
    let root_span_id = vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
    let root = OtlpSpan {
        trace_id: trace_id.clone(),
        span_id: root_span_id.clone(),
        trace_state: "vendor=1".into(),
        parent_span_id: Vec::new(),
        flags: 257,
        name: "GET /cart".into(),
        kind: OtlpSpanKind::Server as i32,
        start_time_unix_nano: 1_544_712_660_000_000_000,
        end_time_unix_nano: 1_544_712_661_000_000_000,
        attributes: vec![
            key_value("http.status_code", Some(OtlpValue::IntValue(200))),
            key_value("ratio", Some(OtlpValue::DoubleValue(0.25))),
            key_value(
                "tags",
                Some(array(vec![
                    Some(string_value("a")),
                    Some(OtlpValue::IntValue(-3)),
                    None,
                ])),
            ),
            key_value(
                "nested",
                Some(OtlpValue::KvlistValue(OtlpKeyValueList {
                    values: vec![key_value(
                        "inner",
                        Some(array(vec![Some(OtlpValue::BoolValue(false))])),
                    )],
                })),
            ),
            key_value("payload", Some(OtlpValue::BytesValue(b"hello".to_vec()))),
            OtlpKeyValue {
                key: "no.value".into(),
                value: None,
                ..Default::default()
            },
        ],
        dropped_attributes_count: 2,
        events: vec![OtlpEvent {
            time_unix_nano: 1_544_712_660_500_000_000,
            name: "cache miss".into(),
            attributes: vec![key_value("cache", Some(string_value("l1")))],
            dropped_attributes_count: 7,
        }],
        dropped_events_count: 3,
        links: vec![OtlpLink {
            trace_id: hex::decode("0af7651916cd43dd8448eb211c80319c").expect("valid hex"),
            span_id: hex::decode("b7ad6b7169203331").expect("valid hex"),
            trace_state: "x=y".into(),
            attributes: vec![key_value("link.kind", Some(string_value("follows")))],
            dropped_attributes_count: 4,
            flags: 1,
        }],
        dropped_links_count: 5,
        status: Some(OtlpStatus {
            message: "boom".into(),
            code: OtlpStatusCode::Error as i32,
        }),
    };
    let child = OtlpSpan {
        trace_id,
        span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        parent_span_id: root_span_id,
        name: "db.query".into(),
        kind: OtlpSpanKind::Client as i32,
        start_time_unix_nano: 1_544_712_660_100_000_000,
        end_time_unix_nano: 1_544_712_660_900_000_000,
        status: Some(OtlpStatus {
            message: String::new(),
            code: OtlpStatusCode::Ok as i32,
        }),
        ..Default::default()
    };
    OtlpExportRequest {
        resource_spans: vec![OtlpResourceSpans {
            resource: Some(OtlpResource {
                attributes: vec![
                    key_value("service.name", Some(string_value("checkout"))),
                    key_value("host.cores", Some(OtlpValue::IntValue(8))),
                ],
                dropped_attributes_count: 1,
                ..Default::default()
            }),
            scope_spans: vec![OtlpScopeSpans {
                scope: Some(OtlpScope {
                    name: "io.opentelemetry.http".into(),
                    version: "1.2.3".into(),
                    attributes: vec![key_value("scope.flag", Some(OtlpValue::BoolValue(true)))],
                    dropped_attributes_count: 6,
                }),
                spans: vec![root, child],
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
        }],
    }
}

fn key_value(key: &str, value: Option<OtlpValue>) -> OtlpKeyValue {
    OtlpKeyValue {
        key: key.into(),
        value: Some(OtlpAnyValue { value }),
        ..Default::default()
    }
}

fn string_value(text: &str) -> OtlpValue {
    OtlpValue::StringValue(text.into())
}

fn array(values: Vec<Option<OtlpValue>>) -> OtlpValue {
    OtlpValue::ArrayValue(OtlpArrayValue {
        values: values
            .into_iter()
            .map(|value| OtlpAnyValue { value })
            .collect(),
    })
}

#[track_caller]
fn decode(json: &str) -> OtlpExportRequest {
    decode_export_request(json.as_bytes())
        .unwrap_or_else(|error| panic!("failed to decode {json}: {error}"))
}

/// Wraps the fields of one span into a whole request.
fn request_with_span(span_fields: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{span_fields}}}]}}]}}]}}"#)
}

#[track_caller]
fn decode_span(span_fields: &str) -> OtlpSpan {
    let mut request = decode(&request_with_span(span_fields));
    request
        .resource_spans
        .remove(0)
        .scope_spans
        .remove(0)
        .spans
        .remove(0)
}

/// Decodes `value_json` as the AnyValue of a span attribute.
#[track_caller]
fn decode_value(value_json: &str) -> Option<OtlpValue> {
    let span = decode_span(&format!(
        r#""attributes":[{{"key":"k","value":{value_json}}}]"#
    ));
    let key_value = span.attributes.into_iter().next().expect("one attribute");
    key_value.value.expect("a value").value
}

/// Rewrites every object key from lowerCamelCase to snake_case.
fn snake_case_keys(json: &str) -> String {
    let mut out = String::new();
    let mut rest = json;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..=start]);
        let end = start + 1 + rest[start + 1..].find('"').expect("closed string");
        let text = &rest[start + 1..end];
        if rest[end + 1..].trim_start().starts_with(':') {
            for character in text.chars() {
                if character.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(character.to_ascii_lowercase());
            }
        } else {
            out.push_str(text);
        }
        rest = &rest[end..];
        out.push('"');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

/// Adds an unknown field, itself holding nested values, to every non-empty object.
fn with_unknown_fields(json: &str) -> String {
    let mut out = String::new();
    let mut characters = json.chars().peekable();
    while let Some(character) = characters.next() {
        out.push(character);
        if character == '{' && characters.peek() != Some(&'}') {
            out.push_str(r#""futureField":{"a":[1,"two",null,{"b":{}}]},"#);
        }
    }
    out
}

#[test]
fn decodes_a_realistic_request() {
    assert_eq!(decode(REALISTIC_REQUEST), realistic_expected());
}

#[test]
fn accepts_original_snake_case_field_names() {
    let snake_case = snake_case_keys(REALISTIC_REQUEST);
    assert!(snake_case.contains(r#""start_time_unix_nano": "1544712660000000000""#));
    assert!(snake_case.contains(r#""kvlist_value""#));
    assert_eq!(decode(&snake_case), realistic_expected());
}

#[test]
fn ignores_unknown_fields() {
    let with_unknown = with_unknown_fields(REALISTIC_REQUEST);
    assert!(with_unknown.contains(r#"{"futureField":{"a":[1,"two",null,{"b":{}}]},"stringValue""#));
    assert_eq!(decode(&with_unknown), realistic_expected());
}

#[test]
fn empty_bodies_are_empty_requests() {
    for body in [
        "",
        " \r\n\t",
        "{}",
        r#"{"resourceSpans":[]}"#,
        r#"{"resourceSpans":null}"#,
    ] {
        assert_eq!(decode(body), OtlpExportRequest::default(), "body: {body:?}");
    }
}

#[test]
fn null_means_the_default() {
    let all_null = [
        "traceId",
        "spanId",
        "traceState",
        "parentSpanId",
        "flags",
        "name",
        "kind",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "attributes",
        "droppedAttributesCount",
        "events",
        "droppedEventsCount",
        "links",
        "droppedLinksCount",
        "status",
    ]
    .map(|field| format!(r#""{field}":null"#))
    .join(",");
    assert_eq!(decode_span(&all_null), OtlpSpan::default());
    let request =
        decode(r#"{"resourceSpans":[{"resource":null,"scopeSpans":null,"schemaUrl":null}]}"#);
    assert_eq!(request.resource_spans, vec![OtlpResourceSpans::default()]);
    // A null oneof member leaves the AnyValue unset.
    assert_eq!(decode_value(r#"{"stringValue":null}"#), None);
}

#[test]
fn span_scalars_accept_every_proto3_json_form() {
    #[track_caller]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "owned expectations keep the table rows short"
    )]
    fn check(span_fields: &str, expected: OtlpSpan) {
        assert_eq!(
            decode_span(span_fields),
            expected,
            "span fields: {span_fields}"
        );
    }
    let times = |start, end| OtlpSpan {
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        ..Default::default()
    };
    check(
        r#""startTimeUnixNano":"18446744073709551615","endTimeUnixNano":0"#,
        times(u64::MAX, 0),
    );
    check(
        r#""startTimeUnixNano":1e3,"endTimeUnixNano":"2.5e1""#,
        times(1000, 25),
    );
    check(
        r#""startTimeUnixNano":"7.0","endTimeUnixNano":7.0"#,
        times(7, 7),
    );
    let kind = |kind| OtlpSpan {
        kind,
        ..Default::default()
    };
    check(r#""kind":"SPAN_KIND_UNSPECIFIED""#, kind(0));
    check(r#""kind":"SPAN_KIND_INTERNAL""#, kind(1));
    check(r#""kind":"SPAN_KIND_PRODUCER""#, kind(4));
    check(r#""kind":"SPAN_KIND_CONSUMER""#, kind(5));
    check(r#""kind":5"#, kind(5));
    check(r#""kind":"2""#, kind(2));
    // proto3 enums are open: unknown numbers are kept for otlp::convert to judge.
    check(r#""kind":42"#, kind(42));
    let status = |code| OtlpSpan {
        status: Some(OtlpStatus {
            message: String::new(),
            code,
        }),
        ..Default::default()
    };
    check(r#""status":{"code":"STATUS_CODE_UNSET"}"#, status(0));
    check(r#""status":{"code":"STATUS_CODE_ERROR"}"#, status(2));
    check(r#""status":{"code":1}"#, status(1));
    check(r#""status":{}"#, status(0));
    check(
        r#""flags":"512","droppedAttributesCount":4294967295"#,
        OtlpSpan {
            flags: 512,
            dropped_attributes_count: u32::MAX,
            ..Default::default()
        },
    );
    check(
        r#""traceId":"","spanId":"","parentSpanId":"0000000000000000""#,
        OtlpSpan {
            parent_span_id: vec![0; 8],
            ..Default::default()
        },
    );
}

#[test]
fn any_value_accepts_every_proto3_json_form() {
    #[track_caller]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "owned expectations keep the table rows short"
    )]
    fn check(value_json: &str, expected: Option<OtlpValue>) {
        assert_eq!(decode_value(value_json), expected, "value: {value_json}");
    }
    check("{}", None);
    check(r#"{"stringValue":""}"#, Some(string_value("")));
    check(
        r#"{"stringValue":"caf\u00e9 \"x\""}"#,
        Some(string_value("café \"x\"")),
    );
    check(r#"{"boolValue":false}"#, Some(OtlpValue::BoolValue(false)));
    check(
        r#"{"intValue":"-9223372036854775808"}"#,
        Some(OtlpValue::IntValue(i64::MIN)),
    );
    check(
        r#"{"intValue":9223372036854775807}"#,
        Some(OtlpValue::IntValue(i64::MAX)),
    );
    check(
        r#"{"doubleValue":-1.5e300}"#,
        Some(OtlpValue::DoubleValue(-1.5e300)),
    );
    check(r#"{"doubleValue":3}"#, Some(OtlpValue::DoubleValue(3.0)));
    check(
        r#"{"doubleValue":"0.5"}"#,
        Some(OtlpValue::DoubleValue(0.5)),
    );
    check(
        r#"{"doubleValue":"Infinity"}"#,
        Some(OtlpValue::DoubleValue(f64::INFINITY)),
    );
    check(
        r#"{"doubleValue":"-Infinity"}"#,
        Some(OtlpValue::DoubleValue(f64::NEG_INFINITY)),
    );
    let bytes = |bytes: &[u8]| Some(OtlpValue::BytesValue(bytes.to_vec()));
    check(r#"{"bytesValue":"+/8="}"#, bytes(&[0xfb, 0xff]));
    check(r#"{"bytesValue":"-_8="}"#, bytes(&[0xfb, 0xff]));
    check(r#"{"bytesValue":"-_8"}"#, bytes(&[0xfb, 0xff]));
    check(r#"{"bytesValue":""}"#, bytes(&[]));
    check(r#"{"arrayValue":{}}"#, Some(array(vec![])));
    check(
        r#"{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"arrayValue":{}}]}}}]}}"#,
        Some(OtlpValue::KvlistValue(OtlpKeyValueList {
            values: vec![key_value("a", Some(array(vec![Some(array(vec![]))])))],
        })),
    );
    // NaN is not equal to itself, so it gets its own assertion.
    assert!(matches!(
        decode_value(r#"{"doubleValue":"NaN"}"#),
        Some(OtlpValue::DoubleValue(number)) if number.is_nan()
    ));
}

#[test]
fn malformed_input_names_the_problem() {
    #[track_caller]
    fn check(json: &str, expected: &str) {
        let message = match decode_export_request(json.as_bytes()) {
            Ok(request) => panic!("decoded {json}\ninto {request:?}"),
            Err(error) => error.to_string(),
        };
        assert!(
            message.starts_with("invalid OTLP/JSON: ") && message.contains(expected),
            "body: {json}\nmessage: {message}\nexpected to contain: {expected}"
        );
    }
    let span = |fields: &str| request_with_span(fields);
    let value = |value_json: &str| {
        span(&format!(
            r#""attributes":[{{"key":"k","value":{value_json}}}]"#
        ))
    };

    // Syntax, with the position.
    check(
        r#"{"resourceSpans":["#,
        "EOF while parsing a list at line 1 column 18",
    );
    check(
        r#"{"resourceSpans":[}"#,
        "expected value at line 1 column 19",
    );
    check("{} {}", "trailing characters at line 1 column 4");
    // Shape.
    check(
        "null",
        "invalid type: null, expected an ExportTraceServiceRequest object",
    );
    check(
        r#"{"resourceSpans":{}}"#,
        "invalid type: map, expected an array",
    );
    check(
        "[]",
        "invalid type: sequence, expected an ExportTraceServiceRequest object",
    );
    check(
        r#"{"resourceSpans":[[]]}"#,
        "invalid type: sequence, expected a ResourceSpans object",
    );
    check(
        &span(r#""status":["boom",2]"#),
        "invalid type: sequence, expected a Status object",
    );
    check(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[null]}]}]}"#,
        "expected a Span object",
    );
    check(
        &span(r#""name":5"#),
        "invalid type: integer `5`, expected a string",
    );
    check(&span(r#""name":"a","name":"b""#), "duplicate field `name`");
    check(
        &span(r#""events":[{"attributes":{}}]"#),
        "invalid type: map, expected an array",
    );
    // IDs.
    check(
        &span(r#""traceId":"xyz""#),
        r#"invalid trace id "xyz" (expected 32 hex digits) at line 1 column 59"#,
    );
    check(
        &span(r#""traceId":"5b8efff798038103d269b633813fc6""#),
        "invalid trace id",
    );
    check(
        &span(r#""traceId":"W47/95gDgQPSabYzgT/GDA==""#),
        "(expected 32 hex digits, not base64)",
    );
    check(
        &span(r#""spanId":"eee19b7ec3c1b17g""#),
        r#"invalid span id "eee19b7ec3c1b17g" (expected 16 hex digits)"#,
    );
    check(
        &span(r#""parentSpanId":"eee19b7ec3c1b174ff""#),
        "invalid parent span id",
    );
    check(
        &span(r#""traceId":16"#),
        "invalid type: integer `16`, expected a trace id of 32 hex digits",
    );
    check(
        &span(r#""links":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad"}]"#),
        "invalid span id \"b7ad\"",
    );
    let long_id = "z".repeat(10_000);
    let message = decode_export_request(span(&format!(r#""traceId":"{long_id}""#)).as_bytes())
        .expect_err("bad id")
        .to_string();
    assert!(message.len() < 200, "message not shortened: {message}");
    // Enums.
    check(
        &span(r#""kind":"SPAN_KIND_FOO""#),
        r#"unknown span kind "SPAN_KIND_FOO" (expected a SPAN_KIND_* name or a number)"#,
    );
    check(&span(r#""kind":"server""#), r#"unknown span kind "server""#);
    check(
        &span(r#""kind":2147483648"#),
        "span kind 2147483648 is out of range",
    );
    check(
        &span(r#""kind":1.5"#),
        "invalid type: floating point `1.5`, expected a span kind",
    );
    check(
        &span(r#""status":{"code":"ERROR"}"#),
        r#"unknown status code "ERROR""#,
    );
    // Integers.
    check(
        &span(r#""startTimeUnixNano":"abc""#),
        r#"invalid uint64 "abc""#,
    );
    check(&span(r#""startTimeUnixNano":"""#), r#"invalid uint64 """#);
    check(
        &span(r#""startTimeUnixNano":"1.5""#),
        r#"invalid uint64 "1.5""#,
    );
    check(
        &span(r#""startTimeUnixNano":-1"#),
        "-1 is out of range for uint64",
    );
    check(
        &span(r#""endTimeUnixNano":"18446744073709551616""#),
        "18446744073709551616 is out of range for uint64",
    );
    check(
        &span(r#""flags":4294967296"#),
        "4294967296 is out of range for uint32",
    );
    check(
        &span(r#""droppedLinksCount":true"#),
        "invalid type: boolean `true`, expected a uint32",
    );
    check(
        &value(r#"{"intValue":"9223372036854775808"}"#),
        "out of range for int64",
    );
    // Other AnyValue members.
    check(
        &value(r#"{"doubleValue":"inf"}"#),
        r#"invalid double "inf""#,
    );
    check(
        &value(r#"{"doubleValue":"1e999"}"#),
        r#"invalid double "1e999""#,
    );
    check(
        &value(r#"{"bytesValue":"not base64!"}"#),
        r#"invalid base64 bytes "not base64!""#,
    );
    check(
        &value(r#"{"boolValue":"true"}"#),
        "invalid type: string \"true\", expected a boolean",
    );
    check(
        &value(r#"{"stringValue":"a","intValue":1}"#),
        "AnyValue sets both stringValue and intValue",
    );
    check(
        &value("[]"),
        "invalid type: sequence, expected an AnyValue object",
    );
    check(
        &value(r#"{"arrayValue":[[]]}"#),
        "invalid type: sequence, expected an ArrayValue object",
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    /// An attribute value nested `depth` times: `open` repeated, `{}`, `close` repeated.
    fn nested(open: &str, close: &str, depth: usize) -> String {
        let value_json = format!("{}{{}}{}", open.repeat(depth), close.repeat(depth));
        request_with_span(&format!(
            r#""attributes":[{{"key":"k","value":{value_json}}}]"#
        ))
    }
    let array_open = r#"{"arrayValue":{"values":["#;
    let kvlist_open = r#"{"kvlistValue":{"values":[{"key":"k","value":"#;
    for body in [
        nested(array_open, "]}}", 10_000),
        nested(kvlist_open, "}]}}", 10_000),
    ] {
        let message = decode_export_request(body.as_bytes())
            .expect_err("too deep")
            .to_string();
        assert!(message.contains("recursion limit exceeded"), "{message}");
    }

    // Realistic nesting is far below the limit.
    let request = decode(&nested(array_open, "]}}", 30));
    let mut value = request.resource_spans[0].scope_spans[0].spans[0].attributes[0]
        .value
        .clone();
    let mut depth = 0;
    while let Some(OtlpAnyValue {
        value: Some(OtlpValue::ArrayValue(array)),
    }) = value
    {
        depth += 1;
        value = array.values.into_iter().next();
    }
    assert_eq!(depth, 30);

    // serde_json skips unknown fields without recursing, so any depth is harmless there.
    let deep_unknown = format!(
        r#"{{"futureField":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(decode(&deep_unknown), OtlpExportRequest::default());
}

#[test]
fn encodes_export_responses() {
    #[track_caller]
    fn check(partial_success: Option<ExportTracePartialSuccess>, expected: &str) {
        let encoded = encode_export_response(&OtlpExportResponse { partial_success });
        assert_eq!(String::from_utf8(encoded).expect("utf-8"), expected);
    }
    check(None, "{}");
    check(
        Some(ExportTracePartialSuccess {
            rejected_spans: 3,
            error_message: "spans[0]: bad \"id\"\n".into(),
        }),
        r#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"spans[0]: bad \"id\"\n"}}"#,
    );
    check(
        Some(ExportTracePartialSuccess::default()),
        r#"{"partialSuccess":{"rejectedSpans":"0","errorMessage":""}}"#,
    );
}

#[test]
fn encodes_status() {
    let encoded = encode_status(3, "invalid OTLP/JSON: unknown span kind \"X\"");
    assert_eq!(
        String::from_utf8(encoded).expect("utf-8"),
        r#"{"code":3,"message":"invalid OTLP/JSON: unknown span kind \"X\"","details":[]}"#
    );
    assert_eq!(
        encode_status(14, ""),
        br#"{"code":14,"message":"","details":[]}"#
    );
}
