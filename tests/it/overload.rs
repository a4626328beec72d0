//! Overload, CI-sized (issue #14): a server made slow (zstd level 19, a small
//! queue) gets more exports than it can write. Every export is either acknowledged
//! and then stored whole, or refused with a retryable status (`UNAVAILABLE` with
//! RetryInfo); some are refused; and once the load stops a fresh export is accepted.
//! `TRACERY_OVERLOAD_SECS` sets the length of the load (default 15).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::fixtures::{big_trace, now_nanos};
use crate::support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_refused_retryably_and_every_ack_is_stored() {
    let secs: u64 = std::env::var("TRACERY_OVERLOAD_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(15);
    let server = TestServer::start_with(|config| {
        config.store.zstd_level = 19;
        config.ingest.max_queued_spans = std::num::NonZeroUsize::new(4000).unwrap();
        config.ingest.queue_wait = Duration::from_millis(50);
    })
    .await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(0usize));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut exporters = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let mut client = server.grpc_client().await;
        let (acked, refused) = (acked.clone(), refused.clone());
        exporters.spawn(async move {
            while Instant::now() < deadline {
                let trace = big_trace(now_nanos(), 600);
                match client.export(trace.to_export_request()).await {
                    Ok(_) => acked.lock().unwrap().push(trace.id_hex()),
                    Err(status) => {
                        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                        assert!(
                            status.get_details_retry_info().is_some(),
                            "refused without RetryInfo: {status:?}"
                        );
                        *refused.lock().unwrap() += 1;
                    }
                }
            }
        });
    }
    while let Some(joined) = exporters.join_next().await {
        joined.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let refused = *refused.lock().unwrap();
    println!(
        "overload: {} exports of 600 spans acknowledged, {refused} refused retryably in {secs} s",
        acked.len()
    );
    assert!(refused > 0, "the server was never overloaded");
    assert!(!acked.is_empty(), "nothing was acknowledged");
    // Recovers once the load stops.
    let fresh = big_trace(now_nanos(), 600);
    let mut client = server.grpc_client().await;
    let mut accepted = false;
    for _ in 0..50 {
        if client.export(fresh.to_export_request()).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(accepted, "ingest did not recover after the load");
    for id in acked.iter().chain([&fresh.id_hex()]) {
        let body = server.get_ok(&format!("/api/traces/{id}")).await;
        assert_eq!(
            body["data"][0]["spans"].as_array().unwrap().len(),
            600,
            "acknowledged trace {id} is not whole"
        );
    }
    server.stop().await;
}
