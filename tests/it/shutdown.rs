//! Persistence across restarts and the graceful-shutdown flush.

use tracery::config::AckMode;

use crate::support::fixtures::TraceBuilder;
use crate::support::{v1_span_names, TestServer};

#[tokio::test]
async fn data_survives_a_restart() {
    let server = TestServer::start().await;
    let trace = TraceBuilder::new("persisted")
        .span("kept", 0..5)
        .child("also kept", 1..2)
        .build();
    server.export(trace.to_export_request()).await;
    let server = server.restart().await;
    let body = server
        .get_ok(&format!("/api/traces/{}", trace.id_hex()))
        .await;
    assert_eq!(v1_span_names(&body), [["kept", "also kept"]]);
    assert_eq!(
        server.get_ok("/api/services").await["data"],
        serde_json::json!(["persisted"])
    );
    let search = server
        .get_ok("/api/traces?service=persisted&operation=kept")
        .await;
    assert_eq!(v1_span_names(&search), [["kept", "also kept"]]);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_flushes_enqueued_spans() {
    // Enqueued acks and a flush interval far longer than the test: only the
    // shutdown flush can have written these spans.
    let server = TestServer::start_with(|config| {
        config.ingest.ack = AckMode::Enqueued;
        config.ingest.flush_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    let traces: Vec<_> = (0..20)
        .map(|index| {
            TraceBuilder::new("queued")
                .span(&format!("op-{index}"), 0..1)
                .build()
        })
        .collect();
    for trace in &traces {
        server.export(trace.to_export_request()).await;
    }
    let server = server.restart().await;
    for (index, trace) in traces.iter().enumerate() {
        let body = server
            .get_ok(&format!("/api/traces/{}", trace.id_hex()))
            .await;
        assert_eq!(v1_span_names(&body), [[format!("op-{index}")]]);
    }
    server.stop().await;
}
