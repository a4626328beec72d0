//! Translation details not visible through the API tests in tests/it/zipkin_ingest.rs.

use super::*;

#[test]
fn shared_server_ids_are_deterministic_and_distinct() {
    let body = br#"[
        {"traceId": "a1", "id": "b2", "kind": "SERVER", "shared": true, "timestamp": 5,
         "localEndpoint": {"serviceName": "s"}},
        {"traceId": "a1", "id": "c3", "parentId": "b2", "timestamp": 6,
         "localEndpoint": {"serviceName": "s"}},
        {"traceId": "a1", "id": "d4", "parentId": "b2", "timestamp": 6,
         "localEndpoint": {"serviceName": "other"}}
    ]"#;
    let first = convert(decode_json_v2(body).unwrap());
    let second = convert(decode_json_v2(body).unwrap());
    assert_eq!(first.num_rejected, 0);
    let server = &first.spans[0];
    assert_ne!(server.span_id.to_hex(), "00000000000000b2");
    assert_eq!(server.parent_span_id.unwrap().to_hex(), "00000000000000b2");
    assert_eq!(server.span_id, second.spans[0].span_id);
    // The server's own child follows it; another service's span keeps its parent.
    assert_eq!(first.spans[1].parent_span_id, Some(server.span_id));
    assert_eq!(
        first.spans[2].parent_span_id.unwrap().to_hex(),
        "00000000000000b2"
    );
}

#[test]
fn bad_ids_reject_the_span_not_the_request() {
    let body = br#"[
        {"traceId": "a1", "id": "b2", "timestamp": 5},
        {"traceId": "a1", "id": "", "timestamp": 5},
        {"traceId": "123456789012345678901234567890123", "id": "b2", "timestamp": 5}
    ]"#;
    let converted = convert(decode_json_v2(body).unwrap());
    assert_eq!(converted.spans.len(), 1);
    assert_eq!(converted.num_rejected, 2);
    assert!(converted
        .first_error_message()
        .starts_with("spans[1]: id must be"));
}
