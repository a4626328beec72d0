//! Hostile input (issue #14): a table of malformed, oversized and tricky requests
//! against every ingest and query surface of one server. Each case must get a clear
//! 4xx or gRPC status naming the problem (or, where the input is legal, be stored
//! whole), and after each one a trace stored before the case reads back unchanged
//! and a normal export still works.

use std::io::Write as _;
use std::net::SocketAddr;

use bytes::{Buf as _, BufMut as _};
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use prost::Message as _;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Code;

use crate::support::fixtures::{kv, Trace, TraceBuilder};
use crate::support::{v1_span_names, TestServer};

/// More than the default 16 MiB message limit once inflated.
const BOMB_BYTES: usize = 32 << 20;
const SECRET: &str = "secret-outside-the-ui-dir";

enum Send {
    /// `POST /v1/traces` on the OTLP/HTTP port.
    Http {
        content_type: Option<&'static str>,
        content_encoding: Option<&'static str>,
        body: Vec<u8>,
        chunked: bool,
    },
    /// Raw bytes as the message of OTLP/gRPC `Export`, sent `times` times.
    Grpc {
        /// Jaeger's `PostSpans` on the Jaeger gRPC port instead.
        jaeger: bool,
        message: Vec<u8>,
        compression: Option<CompressionEncoding>,
        times: usize,
    },
    /// GET on the query port through reqwest.
    Get(String),
    /// A raw HTTP/1.1 request line on the query port, for paths a URL parser would
    /// normalise away.
    RawGet(Vec<u8>),
}

enum Expect {
    /// An HTTP status and a piece of the response body.
    Http(u16, &'static str),
    /// One of these HTTP statuses, and the body must not contain this text.
    HttpNot(&'static [u16], &'static str),
    /// A gRPC status and a piece of its message.
    Grpc(Code, &'static str),
    /// Accepted; the stored trace (v1 JSON) passes the check.
    Stored([u8; 16], Box<dyn Fn(&Value)>),
}

struct Case {
    name: &'static str,
    send: Send,
    expect: Expect,
}

fn http(content_type: &'static str, body: Vec<u8>) -> Send {
    Send::Http {
        content_type: Some(content_type),
        content_encoding: None,
        body,
        chunked: false,
    }
}

fn grpc(message: Vec<u8>) -> Send {
    Send::Grpc {
        jaeger: false,
        message,
        compression: None,
        times: 1,
    }
}

fn one_span(name: &str) -> TraceBuilder {
    TraceBuilder::new("hostile").span(name, 0..5)
}

fn encoded(trace: &Trace) -> Vec<u8> {
    trace.to_export_request().encode_to_vec()
}

/// A request whose single span is changed by `edit`.
fn with_span(edit: impl FnOnce(&mut opentelemetry_proto::tonic::trace::v1::Span)) -> Trace {
    let mut trace = one_span("edited").build();
    edit(&mut trace.request.resource_spans[0].scope_spans[0].spans[0]);
    trace
}

fn span_json(trace: &Trace, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut json = trace.to_otlp_json();
    edit(&mut json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]);
    json.to_string().into_bytes()
}

fn nested_array(depth: usize) -> AnyValue {
    let mut value = AnyValue {
        value: Some(OtlpValue::StringValue("bottom".into())),
    };
    for _ in 0..depth {
        value = AnyValue {
            value: Some(OtlpValue::ArrayValue(ArrayValue {
                values: vec![value],
            })),
        };
    }
    value
}

fn nested_kvlist(depth: usize) -> AnyValue {
    let mut value = AnyValue {
        value: Some(OtlpValue::StringValue("bottom".into())),
    };
    for _ in 0..depth {
        value = AnyValue {
            value: Some(OtlpValue::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(value),
                    ..Default::default()
                }],
            })),
        };
    }
    value
}

fn with_attribute(value: AnyValue) -> Trace {
    with_span(|span| {
        span.attributes.push(KeyValue {
            key: "deep".into(),
            value: Some(value),
            ..Default::default()
        })
    })
}

/// `bytes` with the first occurrence of `marker` replaced by invalid UTF-8 of the same length.
fn break_utf8(mut bytes: Vec<u8>, marker: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(marker.len())
        .position(|window| window == marker)
        .expect("marker present");
    for byte in &mut bytes[at..at + marker.len()] {
        *byte = 0xff;
    }
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn stored_spans(body: &Value) -> &Vec<Value> {
    body["data"][0]["spans"].as_array().expect("spans")
}

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|tag| tag["key"] == key)
        .map(|tag| &tag["value"])
}

fn cases() -> Vec<Case> {
    let valid = one_span("valid").build();
    let valid_bytes = encoded(&valid);
    let zeros = vec![0u8; BOMB_BYTES];
    let oversized = {
        let mut builder = one_span("oversized");
        builder = builder.attr(kv("padding", "x".repeat(20 << 20).as_str()));
        encoded(&builder.build())
    };
    let mut cases = vec![
        // OTLP/HTTP: broken bodies.
        Case {
            name: "http: truncated protobuf",
            send: http(
                "application/x-protobuf",
                valid_bytes[..valid_bytes.len() / 2].to_vec(),
            ),
            expect: Expect::Http(400, "failed to decode"),
        },
        Case {
            name: "http: garbage protobuf",
            send: http("application/x-protobuf", b"\xff\xfe\xfd garbage \x00\x01".to_vec()),
            expect: Expect::Http(400, "failed to decode"),
        },
        Case {
            name: "http: invalid JSON",
            send: http("application/json", b"{\"resourceSpans\": [".to_vec()),
            expect: Expect::Http(400, "invalid OTLP/JSON"),
        },
        Case {
            name: "http: JSON of the wrong shape",
            send: http("application/json", b"{\"resourceSpans\": 5}".to_vec()),
            expect: Expect::Http(400, "invalid OTLP/JSON"),
        },
        Case {
            name: "http: gzip bomb",
            send: Send::Http {
                content_type: Some("application/x-protobuf"),
                content_encoding: Some("gzip"),
                body: gzip(&zeros),
                chunked: false,
            },
            expect: Expect::Http(413, "exceeds the limit"),
        },
        Case {
            name: "http: zstd bomb",
            send: Send::Http {
                content_type: Some("application/x-protobuf"),
                content_encoding: Some("zstd"),
                body: zstd::encode_all(zeros.as_slice(), 1).unwrap(),
                chunked: false,
            },
            expect: Expect::Http(413, "exceeds the limit"),
        },
        Case {
            name: "http: gzip header on a plain body",
            send: Send::Http {
                content_type: Some("application/x-protobuf"),
                content_encoding: Some("gzip"),
                body: valid_bytes.clone(),
                chunked: false,
            },
            expect: Expect::Http(400, "failed to read request body"),
        },
        Case {
            name: "http: unsupported content encoding",
            send: Send::Http {
                content_type: Some("application/x-protobuf"),
                content_encoding: Some("br"),
                body: valid_bytes.clone(),
                chunked: false,
            },
            expect: Expect::Http(415, ""),
        },
        Case {
            name: "http: body over the limit",
            send: http("application/x-protobuf", oversized.clone()),
            expect: Expect::Http(413, "exceeds the limit of 16777216 bytes"),
        },
        Case {
            name: "http: chunked body over the limit",
            send: Send::Http {
                content_type: Some("application/x-protobuf"),
                content_encoding: None,
                body: oversized.clone(),
                chunked: true,
            },
            expect: Expect::Http(413, "exceeds the limit of 16777216 bytes"),
        },
        Case {
            name: "http: text/plain",
            send: http("text/plain", b"hello".to_vec()),
            expect: Expect::Http(415, "unsupported content type `text/plain`"),
        },
        Case {
            name: "http: no content type",
            send: Send::Http {
                content_type: None,
                content_encoding: None,
                body: valid_bytes.clone(),
                chunked: false,
            },
            expect: Expect::Http(415, "unsupported content type"),
        },
        Case {
            name: "http: protobuf sent as JSON",
            send: http("application/json", valid_bytes.clone()),
            expect: Expect::Http(400, "invalid OTLP/JSON"),
        },
        Case {
            name: "http: JSON sent as protobuf",
            send: http(
                "application/x-protobuf",
                valid.to_otlp_json().to_string().into_bytes(),
            ),
            expect: Expect::Http(400, "failed to decode"),
        },
        Case {
            name: "http: JSON all-zero trace ID",
            send: http(
                "application/json",
                span_json(&valid, |span| span["traceId"] = json!("0".repeat(32))),
            ),
            expect: Expect::Http(400, "trace_id"),
        },
        Case {
            name: "http: JSON short trace ID",
            send: http(
                "application/json",
                span_json(&valid, |span| span["traceId"] = json!("abcd")),
            ),
            expect: Expect::Http(400, "abcd"),
        },
        Case {
            name: "http: JSON overlong span ID",
            send: http(
                "application/json",
                span_json(&valid, |span| span["spanId"] = json!("ab".repeat(16))),
            ),
            expect: Expect::Http(400, "span"),
        },
        Case {
            name: "http: JSON arrays nested 1000 deep",
            send: http("application/json", {
                let deep = format!("{}\"x\"{}", "[".repeat(1000), "]".repeat(1000));
                format!("{{\"resourceSpans\": [{{\"resource\": {deep}}}]}}").into_bytes()
            }),
            expect: Expect::Http(400, "invalid OTLP/JSON"),
        },
        Case {
            name: "http: JSON invalid UTF-8 in a span name",
            send: http(
                "application/json",
                break_utf8(
                    span_json(&valid, |span| span["name"] = json!("MARKER")),
                    b"MARKER",
                ),
            ),
            expect: Expect::Http(400, "invalid OTLP/JSON"),
        },
        Case {
            name: "http: JSON lone surrogate in a value",
            send: http(
                "application/json",
                span_json(&valid, |span| span["name"] = json!("SURROGATE"))
                    .replace_marker(b"SURROGATE", b"\\udc00"),
            ),
            expect: Expect::Http(400, "invalid OTLP/JSON"),
        },
        // OTLP/gRPC: broken messages.
        Case {
            name: "grpc: garbage bytes",
            send: grpc(b"\xff\xfe\xfd garbage \x00\x01".to_vec()),
            expect: Expect::Grpc(Code::InvalidArgument, "failed to decode"),
        },
        Case {
            name: "grpc: garbage bytes to Jaeger's PostSpans",
            send: Send::Grpc {
                jaeger: true,
                message: b"\xff\xfe\xfd garbage \x00\x01".to_vec(),
                compression: None,
                times: 1,
            },
            expect: Expect::Grpc(Code::InvalidArgument, "failed to decode"),
        },
        Case {
            name: "grpc: truncated protobuf",
            send: grpc(valid_bytes[..valid_bytes.len() / 2].to_vec()),
            expect: Expect::Grpc(Code::InvalidArgument, "failed to decode"),
        },
        Case {
            name: "grpc: gzip bomb",
            send: Send::Grpc {
                jaeger: false,
                message: zeros.clone(),
                compression: Some(CompressionEncoding::Gzip),
                times: 1,
            },
            expect: Expect::Grpc(Code::ResourceExhausted, "size limit"),
        },
        Case {
            name: "grpc: zstd bomb",
            send: Send::Grpc {
                jaeger: false,
                message: zeros,
                compression: Some(CompressionEncoding::Zstd),
                times: 1,
            },
            expect: Expect::Grpc(Code::ResourceExhausted, "size limit"),
        },
        Case {
            name: "grpc: message over the limit",
            send: grpc(oversized),
            expect: Expect::Grpc(Code::OutOfRange, "too large"),
        },
        Case {
            name: "grpc: all-zero trace ID",
            send: grpc(encoded(&with_span(|span| span.trace_id = vec![0; 16]))),
            expect: Expect::Grpc(Code::InvalidArgument, "trace_id must be 16 bytes"),
        },
        Case {
            name: "grpc: short trace ID",
            send: grpc(encoded(&with_span(|span| span.trace_id = vec![7; 8]))),
            expect: Expect::Grpc(Code::InvalidArgument, "got 8 bytes"),
        },
        Case {
            name: "grpc: overlong trace ID",
            send: grpc(encoded(&with_span(|span| span.trace_id = vec![7; 32]))),
            expect: Expect::Grpc(Code::InvalidArgument, "got 32 bytes"),
        },
        Case {
            name: "grpc: missing trace ID",
            send: grpc(encoded(&with_span(|span| span.trace_id = Vec::new()))),
            expect: Expect::Grpc(Code::InvalidArgument, "got 0 bytes"),
        },
        Case {
            name: "grpc: all-zero span ID",
            send: grpc(encoded(&with_span(|span| span.span_id = vec![0; 8]))),
            expect: Expect::Grpc(Code::InvalidArgument, "span_id must be 8 bytes"),
        },
        Case {
            name: "grpc: short span ID",
            send: grpc(encoded(&with_span(|span| span.span_id = vec![7; 3]))),
            expect: Expect::Grpc(Code::InvalidArgument, "got 3 bytes"),
        },
        Case {
            name: "grpc: overlong parent span ID",
            send: grpc(encoded(&with_span(|span| span.parent_span_id = vec![7; 9]))),
            expect: Expect::Grpc(Code::InvalidArgument, "parent_span_id"),
        },
        Case {
            name: "grpc: arrays nested 1000 deep",
            send: grpc(encoded(&with_attribute(nested_array(1000)))),
            expect: Expect::Grpc(Code::InvalidArgument, "recursion limit"),
        },
        Case {
            name: "grpc: kvlists nested 1000 deep",
            send: grpc(encoded(&with_attribute(nested_kvlist(1000)))),
            expect: Expect::Grpc(Code::InvalidArgument, "recursion limit"),
        },
        Case {
            name: "grpc: invalid UTF-8 in a span name",
            send: grpc(break_utf8(
                encoded(&with_span(|span| span.name = "MARKER".into())),
                b"MARKER",
            )),
            expect: Expect::Grpc(Code::InvalidArgument, "UTF-8"),
        },
        Case {
            name: "grpc: invalid UTF-8 in an attribute value",
            send: grpc(break_utf8(
                encoded(&with_span(|span| span.attributes.push(kv("k", "MARKER")))),
                b"MARKER",
            )),
            expect: Expect::Grpc(Code::InvalidArgument, "UTF-8"),
        },
        Case {
            name: "grpc: invalid UTF-8 in a service name",
            send: grpc({
                let trace = TraceBuilder::new("MARKER").span("x", 0..1).build();
                break_utf8(encoded(&trace), b"MARKER")
            }),
            expect: Expect::Grpc(Code::InvalidArgument, "UTF-8"),
        },
        // Query API: huge, malformed and repeated parameters.
        Case {
            name: "query: start after end",
            send: Send::Get("/api/traces?service=hostile&start=2000000&end=1000000".into()),
            expect: Expect::Http(400, "'start' must not be after 'end'"),
        },
        Case {
            name: "query: limit of 10^9",
            send: Send::Get("/api/traces?service=hostile&limit=1000000000".into()),
            expect: Expect::Http(200, "\"data\""),
        },
        Case {
            name: "query: limit not a number",
            send: Send::Get("/api/traces?service=hostile&limit=many".into()),
            expect: Expect::Http(400, "unable to parse param 'limit'"),
        },
        Case {
            name: "query: negative start",
            send: Send::Get("/api/traces?service=hostile&start=-5".into()),
            expect: Expect::Http(400, "unable to parse param 'start'"),
        },
        Case {
            name: "query: end beyond u64",
            send: Send::Get("/api/traces?service=hostile&end=99999999999999999999999".into()),
            expect: Expect::Http(400, "unable to parse param 'end'"),
        },
        Case {
            name: "query: search window of 100 years",
            send: Send::Get("/api/traces?service=hostile&start=0&limit=5".into()),
            expect: Expect::Http(200, "\"data\""),
        },
        Case {
            name: "query: dependencies lookback of 100 years",
            send: Send::Get("/api/dependencies?lookback=3153600000000".into()),
            expect: Expect::Http(200, "\"data\""),
        },
        Case {
            name: "query: dependencies lookback not a number",
            send: Send::Get("/api/dependencies?lookback=100y".into()),
            expect: Expect::Http(400, "unable to parse param 'lookback'"),
        },
        Case {
            name: "query: metrics lookback of 100 years",
            send: Send::Get("/api/metrics/calls?service=hostile&lookback=3153600000000".into()),
            expect: Expect::Http(400, "points"),
        },
        Case {
            name: "query: repeated parameters",
            send: Send::Get(
                "/api/traces?service=hostile&service=other&limit=1&limit=2&start=1&start=9&end=2&end=1"
                    .into(),
            ),
            expect: Expect::Http(200, "\"data\""),
        },
        Case {
            name: "query: huge service name",
            send: Send::Get(format!("/api/traces?service={}", "s".repeat(60_000))),
            expect: Expect::Http(200, "\"data\":[]"),
        },
        Case {
            name: "query: huge duration",
            send: Send::Get("/api/traces?service=hostile&minDuration=99999999999999999h".into()),
            expect: Expect::Http(400, "unable to parse param 'minDuration'"),
        },
        Case {
            name: "query: trace ID of 33 digits",
            send: Send::Get(format!("/api/traces/{}", "a".repeat(33))),
            expect: Expect::Http(400, "trace"),
        },
        Case {
            name: "query: trace ID not hex",
            send: Send::Get("/api/traces/zzzz".into()),
            expect: Expect::Http(400, "trace"),
        },
        Case {
            name: "query: api_v3 start after end",
            send: Send::Get(
                "/api/v3/traces?query.service_name=hostile\
                 &query.start_time_min=2024-01-02T00:00:00Z\
                 &query.start_time_max=2024-01-01T00:00:00Z"
                    .into(),
            ),
            expect: Expect::Http(400, "must not be before query.startTimeMin"),
        },
        // UI assets: path tricks against --ui-dir (a secret file sits next to it).
        Case {
            name: "ui: dot-dot",
            send: Send::RawGet(b"/../secret.txt".to_vec()),
            expect: Expect::HttpNot(&[400, 404], SECRET),
        },
        Case {
            name: "ui: nested dot-dot",
            send: Send::RawGet(b"/js/../../secret.txt".to_vec()),
            expect: Expect::HttpNot(&[400, 404], SECRET),
        },
        Case {
            name: "ui: encoded dot-dot",
            send: Send::RawGet(b"/%2e%2e/secret.txt".to_vec()),
            expect: Expect::HttpNot(&[400, 404], SECRET),
        },
        Case {
            name: "ui: encoded slashes",
            send: Send::RawGet(b"/..%2fsecret.txt".to_vec()),
            expect: Expect::HttpNot(&[400, 404], SECRET),
        },
        Case {
            name: "ui: encoded backslash",
            send: Send::RawGet(b"/..%5csecret.txt".to_vec()),
            expect: Expect::HttpNot(&[400, 404], SECRET),
        },
        Case {
            name: "ui: absolute path",
            send: Send::RawGet(b"//etc/passwd".to_vec()),
            // Extension-less, so the SPA shell (200) or a 404, never the file.
            expect: Expect::HttpNot(&[200, 404], "root:"),
        },
        Case {
            name: "ui: encoded NUL",
            send: Send::RawGet(b"/index.html%00.js".to_vec()),
            expect: Expect::HttpNot(&[400, 404], SECRET),
        },
        Case {
            name: "ui: raw NUL",
            send: Send::RawGet(b"/index.html\x00.js".to_vec()),
            expect: Expect::HttpNot(&[400, 404], SECRET),
        },
    ];

    // Legal but extreme input: stored whole.
    let end_before_start = with_span(|span| {
        span.end_time_unix_nano = span.start_time_unix_nano - 1_000_000;
    });
    cases.push(Case {
        name: "grpc: end before start",
        send: grpc(encoded(&end_before_start)),
        expect: Expect::Stored(
            end_before_start.id,
            Box::new(|body| assert_eq!(stored_spans(body)[0]["duration"], 0)),
        ),
    });
    let in_1970 = TraceBuilder::new("hostile")
        .at(1_000)
        .span("1970", 0..1)
        .build();
    cases.push(Case {
        name: "grpc: timestamps in 1970",
        send: grpc(encoded(&in_1970)),
        expect: Expect::Stored(
            in_1970.id,
            Box::new(|body| assert_eq!(stored_spans(body)[0]["startTime"], 1)),
        ),
    });
    let year_2200_nanos = 7_258_118_400 * 1_000_000_000;
    let in_2200 = TraceBuilder::new("hostile")
        .at(year_2200_nanos)
        .span("2200", 0..1)
        .build();
    cases.push(Case {
        name: "grpc: timestamps in 2200",
        send: grpc(encoded(&in_2200)),
        expect: Expect::Stored(
            in_2200.id,
            Box::new(move |body| {
                assert_eq!(stored_spans(body)[0]["startTime"], year_2200_nanos / 1000)
            }),
        ),
    });
    let mut many = one_span("100k attributes");
    for index in 0..100_000 {
        many = many.attr(kv(&format!("a{index}"), index as i64));
    }
    let many = many.build();
    cases.push(Case {
        name: "grpc: 100k attributes on one span",
        send: grpc(encoded(&many)),
        expect: Expect::Stored(
            many.id,
            Box::new(|body| {
                let span = &stored_spans(body)[0];
                assert!(span["tags"].as_array().unwrap().len() >= 100_000);
                assert_eq!(tag(span, "a99999"), Some(&json!(99_999)));
            }),
        ),
    });
    let big_value = one_span("10 MiB value")
        .attr(kv("big", "v".repeat(10 << 20).as_str()))
        .build();
    cases.push(Case {
        name: "grpc: 10 MiB attribute value",
        send: grpc(encoded(&big_value)),
        expect: Expect::Stored(
            big_value.id,
            Box::new(|body| {
                let value = tag(&stored_spans(body)[0], "big").unwrap();
                assert_eq!(value.as_str().unwrap().len(), 10 << 20);
            }),
        ),
    });
    let deep_but_legal = with_attribute(nested_kvlist(20));
    cases.push(Case {
        name: "grpc: kvlists nested 20 deep",
        send: grpc(encoded(&deep_but_legal)),
        expect: Expect::Stored(
            deep_but_legal.id,
            Box::new(|body| assert!(tag(&stored_spans(body)[0], "deep").is_some())),
        ),
    });
    let twice = TraceBuilder::new("hostile")
        .span("sent twice", 0..5)
        .child("child", 1..2)
        .build();
    cases.push(Case {
        name: "grpc: the same spans in two requests",
        send: Send::Grpc {
            jaeger: false,
            message: encoded(&twice),
            compression: None,
            times: 2,
        },
        expect: Expect::Stored(
            twice.id,
            Box::new(|body| assert_eq!(v1_span_names(body), [["sent twice", "child"]])),
        ),
    });
    cases
}

trait ReplaceMarker {
    fn replace_marker(self, marker: &[u8], with: &[u8]) -> Vec<u8>;
}

impl ReplaceMarker for Vec<u8> {
    fn replace_marker(self, marker: &[u8], with: &[u8]) -> Vec<u8> {
        let at = self
            .windows(marker.len())
            .position(|window| window == marker)
            .expect("marker present");
        [&self[..at], with, &self[at + marker.len()..]].concat()
    }
}

#[tokio::test]
async fn hostile_input_gets_clear_errors_and_harms_nothing() {
    let root = tempfile::tempdir().unwrap();
    let ui_dir = root.path().join("ui");
    std::fs::create_dir(&ui_dir).unwrap();
    std::fs::write(
        ui_dir.join("index.html"),
        "<!doctype html><title>ui</title>",
    )
    .unwrap();
    std::fs::write(root.path().join("secret.txt"), SECRET).unwrap();
    let server = TestServer::start_with(|config| config.ui.ui_dir = Some(ui_dir.clone())).await;

    let known = TraceBuilder::new("known")
        .span("GET /known", 0..10)
        .child("db", 2..5)
        .attr(kv("db.system", "postgresql"))
        .build();
    server.export(known.to_export_request()).await;
    let known_path = format!("/api/traces/{}", known.id_hex());
    let known_body = server.get_ok(&known_path).await;

    let cases = cases();
    assert!(cases.len() >= 40, "the issue asks for at least 40 cases");
    for case in cases {
        run_case(&server, &case).await;
        assert_eq!(
            server.get_ok(&known_path).await,
            known_body,
            "{}: the known trace changed",
            case.name
        );
        let normal = TraceBuilder::new("normal").span("after", 0..1).build();
        server.export(normal.to_export_request()).await;
        let stored = server
            .get_ok(&format!("/api/traces/{}", normal.id_hex()))
            .await;
        assert_eq!(v1_span_names(&stored), [["after"]], "{}", case.name);
    }
    server.stop().await;
}

async fn run_case(server: &TestServer, case: &Case) {
    let name = case.name;
    match (&case.send, &case.expect) {
        (Send::Grpc { .. }, Expect::Stored(trace_id, check)) => {
            let result = send_grpc(server, &case.send).await;
            assert!(result.is_ok(), "{name}: {result:?}");
            let body = server
                .get_ok(&format!("/api/traces/{}", hex::encode(trace_id)))
                .await;
            check(&body);
        }
        (Send::Grpc { .. }, Expect::Grpc(code, message)) => {
            let status = send_grpc(server, &case.send).await.expect_err(name);
            assert_eq!(status.code(), *code, "{name}: {status:?}");
            assert!(status.message().contains(message), "{name}: {status:?}");
        }
        (send, Expect::Http(want, message)) => {
            let (status, body) = send_http(server, send).await;
            assert_eq!(status, *want, "{name}: {}", preview(&body));
            assert!(body.contains(message), "{name}: {}", preview(&body));
        }
        (send, Expect::HttpNot(allowed, forbidden)) => {
            let (status, body) = send_http(server, send).await;
            assert!(
                allowed.contains(&status),
                "{name}: {status} {}",
                preview(&body)
            );
            assert!(
                !body.contains(forbidden),
                "{name}: leaked {}",
                preview(&body)
            );
        }
        _ => panic!("{name}: no such combination"),
    }
}

fn preview(body: &str) -> &str {
    &body[..body.len().min(300)]
}

async fn send_http(server: &TestServer, send: &Send) -> (u16, String) {
    match send {
        Send::Http {
            content_type,
            content_encoding,
            body,
            chunked,
        } => {
            let mut request = server
                .http
                .post(format!("http://{}/v1/traces", server.otlp_http));
            if let Some(content_type) = content_type {
                request = request.header("content-type", *content_type);
            }
            if let Some(encoding) = content_encoding {
                request = request.header("content-encoding", *encoding);
            }
            request = if *chunked {
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
                    .chunks(64 << 10)
                    .map(|chunk| Ok(chunk.to_vec()))
                    .collect();
                request.body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                    chunks,
                )))
            } else {
                request.body(body.clone())
            };
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let bytes = response.bytes().await.unwrap();
                    (status, String::from_utf8_lossy(&bytes).into_owned())
                }
                Err(error) => panic!("request failed: {error:#}"),
            }
        }
        Send::Get(path) => {
            let response = server.http.get(server.api_url(path)).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
        Send::RawGet(path) => raw_get(server.api, path).await,
        Send::Grpc { .. } => unreachable!("gRPC cases are sent by send_grpc"),
    }
}

/// One HTTP/1.1 GET with the path exactly as given; returns the status and body.
async fn raw_get(addr: SocketAddr, path: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(path);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: tracery\r\nConnection: close\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

async fn send_grpc(server: &TestServer, send: &Send) -> Result<(), tonic::Status> {
    let Send::Grpc {
        jaeger,
        message,
        compression,
        times,
    } = send
    else {
        unreachable!("only gRPC cases")
    };
    let (addr, path) = if *jaeger {
        (
            server.jaeger_grpc,
            "/jaeger.api_v2.CollectorService/PostSpans",
        )
    } else {
        (
            server.otlp_grpc,
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        )
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    if let Some(encoding) = compression {
        client = client.send_compressed(*encoding);
    }
    for _ in 0..*times {
        client.ready().await.unwrap();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        client
            .unary(tonic::Request::new(message.clone()), path, RawCodec)
            .await?;
    }
    Ok(())
}

/// Sends and receives gRPC messages as raw bytes, so a test can send what no
/// well-behaved client would.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

#[derive(Debug)]
struct RawEncoder;

#[derive(Debug)]
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}
