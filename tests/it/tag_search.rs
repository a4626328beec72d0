//! Tag search over many blocks: the per-block term filters skip blocks but never
//! hide a match, and link attributes are searchable.

use serde_json::json;

use crate::support::fixtures::{kv, now_nanos, TraceBuilder};
use crate::support::{v1_trace_ids, TestServer};

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Jaeger's storage-integration fixture "Link Attributes" (query25): the tags sit on
/// a link of the only matching span, in four value types.
#[tokio::test]
async fn link_attributes_are_searchable() {
    let server = TestServer::start().await;
    let now = now_nanos();
    let linked = TraceBuilder::new("query25-service")
        .at(now - 5_000_000_000)
        .span("query25-operation", 0..10)
        .link_with(
            [7; 16],
            [7; 8],
            vec![
                kv("sameplaceattribute1", "sameplacevalue"),
                kv("sameplaceattribute2", 123_i64),
                kv("sameplaceattribute3", 72.5),
                kv("sameplaceattribute4", true),
            ],
        )
        .build();
    // The same attributes split over two links of one span don't make a match
    // for a value neither holds, and a span without links never matches.
    let other = TraceBuilder::new("query25-service")
        .at(now - 4_000_000_000)
        .span("query25-operation", 0..10)
        .attr(kv("sameplaceattribute1", "othervalue"))
        .build();
    server.export(linked.request.clone()).await;
    server.export(other.request.clone()).await;
    let tags = json!({
        "sameplaceattribute1": "sameplacevalue",
        "sameplaceattribute2": "123",
        "sameplaceattribute3": "72.5",
        "sameplaceattribute4": "true",
    });
    let query = format!(
        "/api/traces?service=query25-service&tags={}",
        url_escape(&tags.to_string())
    );
    assert_eq!(
        v1_trace_ids(&server.get_ok(&query).await),
        [linked.id_hex()]
    );
    // The filters are read back from disk after a restart.
    let server = server.restart().await;
    assert_eq!(
        v1_trace_ids(&server.get_ok(&query).await),
        [linked.id_hex()]
    );
    server.stop().await;
}

/// Each export is its own block (durable acks, idle writer), so every search below
/// has to skip the blocks that can't match and still find the one that does.
#[tokio::test]
async fn needles_are_found_among_many_blocks() {
    let server = TestServer::start().await;
    let now = now_nanos();
    let mut ids = Vec::new();
    for index in 0..40_u64 {
        let trace = TraceBuilder::new("frontend")
            .at(now - (60 - index) * 1_000_000_000)
            .span("GET /account", 0..10)
            .attr(kv("user.id", format!("user-{index}").as_str()))
            .attr(kv("http.status_code", if index == 13 { 503 } else { 200 }))
            .build();
        server.export(trace.request.clone()).await;
        ids.push(trace.id_hex());
    }
    let search = |query: String| {
        let server = &server;
        async move {
            v1_trace_ids(
                &server
                    .get_ok(&format!("/api/traces?service=frontend&{query}"))
                    .await,
            )
        }
    };
    for index in [0_usize, 17, 39] {
        assert_eq!(
            search(format!("tag=user.id:user-{index}")).await,
            [ids[index].clone()]
        );
    }
    assert_eq!(
        search("tag=http.status_code:503".into()).await,
        [ids[13].clone()]
    );
    assert_eq!(
        search("tag=http.status_code:%2B0503".into()).await,
        [ids[13].clone()],
        "an integer tag in another spelling"
    );
    assert!(search("tag=user.id:user-40".into()).await.is_empty());
    // A common value: the newest 5 of 39, newest first.
    let common = search("tag=http.status_code:200&limit=5".into()).await;
    let newest: Vec<String> = ids.iter().rev().take(5).cloned().collect();
    assert_eq!(common, newest);
    server.stop().await;
}
