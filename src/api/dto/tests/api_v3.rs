use pretty_assertions::assert_eq;
use serde_json::json;

use super::{resource, span, to_json, T, TRACE};
use crate::api::dto::api_v3::{TraceSummaryDto, V3Error, V3ErrorBody};
use crate::api::dto::{
    trace_summary, v3_error, OperationDto, ServicesDto, TraceSummariesDto, V3Operations,
};
use crate::model::{AttrValue, StatusCode};

#[test]
fn summary_counts_errors_orphans_and_services() {
    let frontend = resource("frontend", vec![]);
    let cart = resource("cart", vec![]);
    let root = span("0000000000000001", &frontend)
        .name("GET /")
        .times(T, T + 10_000_000)
        .build();
    let reserve = span("0000000000000002", &cart)
        .parent("0000000000000001")
        .name("reserve")
        .times(T + 1_000_000, T + 20_000_000)
        .status(StatusCode::Error, "out of stock")
        .build();
    let orphan = span("0000000000000003", &cart)
        .parent("00000000000000ff")
        .name("late-callback")
        .times(T + 2_000_000, T + 3_000_000)
        .status(StatusCode::Ok, "")
        .build();
    // Only the status makes an error span, as in Jaeger's summaries.
    let flagged = span("0000000000000004", &frontend)
        .parent("0000000000000001")
        .name("render")
        .attr("error", AttrValue::Bool(true))
        .times(T + 3_000_000, T + 4_000_000)
        .build();
    let later_root = span("0000000000000005", &frontend)
        .name("background")
        .times(T + 5_000_000, T + 6_000_000)
        .build();

    let summary: TraceSummaryDto =
        trace_summary(&[later_root, reserve.clone(), flagged, orphan, reserve, root]);
    assert_eq!(
        to_json(TraceSummariesDto {
            summaries: vec![summary],
        }),
        json!({"summaries": [{
            "traceId": TRACE,
            "rootServiceName": "frontend",
            "rootOperationName": "GET /",
            "minStartTimeUnixNano": "1717171717123456789",
            "maxEndTimeUnixNano": "1717171717143456789",
            "spanCount": 5,
            "errorSpanCount": 1,
            "orphanSpanCount": 1,
            "services": [
                {"name": "cart", "spanCount": 2, "errorSpanCount": 1},
                {"name": "frontend", "spanCount": 3, "errorSpanCount": 0},
            ],
        }]}),
    );
}

#[test]
fn summary_of_a_fragment_uses_the_earliest_span_as_root() {
    const SHORT: &str = "00f067aa0ba902b7";
    let worker = resource("worker", vec![]);
    let waiting = span("0000000000000002", &worker)
        .trace(SHORT)
        .parent("00000000000000ff")
        .name("wait")
        .times(T + 1_000_000, T + 2_000_000)
        .build();
    let first = span("0000000000000003", &worker)
        .trace(SHORT)
        .parent("0000000000000002")
        .name("poll")
        .times(T, T + 5_000_000)
        .build();

    assert_eq!(
        to_json(trace_summary(&[waiting, first])),
        json!({
            // api_v3 always writes 32 digits.
            "traceId": "000000000000000000f067aa0ba902b7",
            "rootServiceName": "worker",
            "rootOperationName": "poll",
            "minStartTimeUnixNano": "1717171717123456789",
            "maxEndTimeUnixNano": "1717171717128456789",
            "spanCount": 2,
            "errorSpanCount": 0,
            "orphanSpanCount": 1,
            "services": [{"name": "worker", "spanCount": 2, "errorSpanCount": 0}],
        }),
    );
}

#[test]
fn v3_payloads_always_write_their_arrays() {
    assert_eq!(
        to_json(TraceSummariesDto { summaries: vec![] }),
        json!({"summaries": []}),
    );
    assert_eq!(
        to_json(ServicesDto { services: vec![] }),
        json!({"services": []}),
    );
    let operations = V3Operations {
        operations: vec![OperationDto {
            name: "GET /".to_owned(),
            span_kind: "server".to_owned(),
        }],
    };
    assert_eq!(
        to_json(operations),
        json!({"operations": [{"name": "GET /", "spanKind": "server"}]}),
    );
}

#[test]
fn v3_errors_match_the_grpc_gateway() {
    let error: V3Error = v3_error(404, "No traces found");
    assert_eq!(
        error,
        V3Error {
            error: V3ErrorBody {
                http_code: 404,
                message: "No traces found".to_owned(),
            },
        }
    );
    assert_eq!(
        to_json(&error),
        json!({"error": {"httpCode": 404, "message": "No traces found"}}),
    );
}
