//! The admin port: Prometheus `/metrics` moved by exactly what was sent, and
//! readiness on both ports through start-up and shutdown.

use std::time::Duration;

use crate::support::fixtures::TraceBuilder;
use crate::support::TestServer;

/// The value of the sample whose name and labels are exactly `series`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

async fn scrape(server: &TestServer) -> String {
    let (status, text) = server.get_admin("/metrics").await;
    assert_eq!(status, 200);
    text
}

#[tokio::test]
async fn metrics_count_exactly_what_was_exported() {
    let server = TestServer::start().await;
    // One gRPC export of 3 spans with a malformed one among them.
    let mut request = TraceBuilder::new("metered")
        .span("root", 0..10)
        .child("good", 1..2)
        .child("bad", 2..3)
        .build()
        .to_export_request();
    request.resource_spans[0].scope_spans[0].spans[2].span_id = vec![1, 2, 3];
    let reply = server
        .grpc_client()
        .await
        .export(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.partial_success.unwrap().rejected_spans, 1);
    // One OTLP/HTTP JSON export of 2 spans, and one that is not JSON at all.
    let json = TraceBuilder::new("metered")
        .span("a", 0..2)
        .child("b", 0..1)
        .build()
        .to_otlp_json();
    let url = format!("http://{}/v1/traces", server.otlp_http);
    let response = server.http.post(&url).json(&json).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = server
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    server.get_ok("/api/services").await;
    server.get_ok("/api/services").await;

    let metrics = scrape(&server).await;
    let expect = [
        ("tracery_spans_received_total{protocol=\"otlp_grpc\"}", 3.0),
        ("tracery_spans_accepted_total{protocol=\"otlp_grpc\"}", 2.0),
        (
            "tracery_spans_rejected_total{protocol=\"otlp_grpc\",reason=\"invalid\"}",
            1.0,
        ),
        (
            "tracery_export_requests_total{protocol=\"otlp_grpc\",outcome=\"partial\"}",
            1.0,
        ),
        (
            "tracery_export_duration_seconds_count{protocol=\"otlp_grpc\"}",
            1.0,
        ),
        (
            "tracery_spans_received_total{protocol=\"otlp_http_json\"}",
            2.0,
        ),
        (
            "tracery_spans_accepted_total{protocol=\"otlp_http_json\"}",
            2.0,
        ),
        (
            "tracery_export_requests_total{protocol=\"otlp_http_json\",outcome=\"success\"}",
            1.0,
        ),
        (
            "tracery_export_requests_total{protocol=\"otlp_http_json\",outcome=\"invalid\"}",
            1.0,
        ),
        ("tracery_batch_spans_sum", 4.0),
        (
            "tracery_query_requests_total{route=\"/api/services\",status=\"200\"}",
            2.0,
        ),
        (
            "tracery_query_duration_seconds_count{route=\"/api/services\"}",
            2.0,
        ),
        ("tracery_ingest_queue_spans", 0.0),
        ("tracery_ingest_queue_capacity_spans", 65536.0),
    ];
    for (series, value) in expect {
        assert_eq!(
            sample(&metrics, series),
            Some(value),
            "{series} in\n{metrics}"
        );
    }
    assert!(
        sample(
            &metrics,
            "tracery_spans_rejected_total{protocol=\"otlp_http_json\",reason=\"invalid\"}"
        )
        .is_none(),
        "an undecodable body has no spans to count"
    );
    let blocks_written = sample(&metrics, "tracery_blocks_written_total").unwrap();
    assert!((1.0..=2.0).contains(&blocks_written), "{blocks_written}");
    assert!(sample(&metrics, "tracery_fsync_duration_seconds_count").unwrap() >= 1.0);
    assert!(sample(&metrics, "tracery_store_disk_bytes").unwrap() > 0.0);
    assert_eq!(
        sample(&metrics, "tracery_store_spans"),
        Some(4.0),
        "{metrics}"
    );
    // Compaction may have merged the written blocks by now.
    let blocks = sample(&metrics, "tracery_store_blocks").unwrap();
    assert!((1.0..=blocks_written).contains(&blocks), "{blocks}");
    assert!(sample(&metrics, "tracery_store_block_meta_memory_bytes").unwrap() > 0.0);
    assert!(
        metrics.contains("tracery_store_hour_bytes{hour=\""),
        "{metrics}"
    );
    assert!(sample(&metrics, "process_resident_memory_bytes").unwrap() > 0.0);
    assert!(sample(&metrics, "process_open_fds").unwrap() > 0.0);

    // A second export moves the counters by exactly its spans.
    let trace = TraceBuilder::new("metered").span("again", 0..1).build();
    server.export(trace.to_export_request()).await;
    let metrics = scrape(&server).await;
    assert_eq!(
        sample(
            &metrics,
            "tracery_spans_accepted_total{protocol=\"otlp_grpc\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "tracery_export_requests_total{protocol=\"otlp_grpc\",outcome=\"success\"}"
        ),
        Some(1.0)
    );
    // Metrics live on the admin port only.
    let query_port = server
        .http
        .get(server.api_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!query_port.contains("tracery_spans_received_total"));
    server.stop().await;
}

#[tokio::test]
async fn readiness_flips_to_unavailable_during_shutdown() {
    // An OTLP/HTTP export whose body is still arriving keeps the drain open: the
    // window in which the server must say "not ready".
    let server = TestServer::start().await;
    // Ready once the store is open and every listener serves (start-up may still run).
    let ready = tokio::time::timeout(Duration::from_secs(10), async {
        while server.get_admin("/health/ready").await.0 != 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "the server never became ready");
    for port in [server.admin, server.api] {
        let url = format!("http://{port}/health/ready");
        let response = server.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let live = server
            .http
            .get(format!("http://{port}/health/live"))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200);
    }
    let (status, body) = server.get_admin("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"Server available\""), "{body}");

    let trace = TraceBuilder::new("draining").span("slow", 0..1).build();
    let encoded = prost::Message::encode_to_vec(&trace.to_export_request());
    let (head, tail) = encoded.split_at(encoded.len() / 2);
    let (head, tail) = (head.to_vec(), tail.to_vec());
    let (body_tx, body_rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    body_tx.send(Ok(head)).await.unwrap();
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::unfold(body_rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
    let request = server
        .http
        .post(format!("http://{}/v1/traces", server.otlp_http))
        .header("content-type", "application/x-protobuf")
        .header("content-length", encoded.len().to_string())
        .body(body)
        .send();
    let export = tokio::spawn(request);
    // Wait until the client has taken the first half of the body (the request is on
    // the wire), then shut down while the rest is outstanding.
    let receiving = tokio::time::timeout(Duration::from_secs(10), async {
        while body_tx.capacity() < body_tx.max_capacity() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(receiving.is_ok(), "the export never started");
    server.begin_shutdown();
    let (status, body) = server.get_admin("/health/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("shutting down"), "{body}");
    let (status, body) = server.get_admin("/").await;
    assert_eq!(status, 503);
    assert!(body.contains("Server not available"), "{body}");
    assert!(!export.is_finished(), "the drain should still be waiting");
    body_tx.send(Ok(tail)).await.unwrap();
    drop(body_tx);
    let response = export
        .await
        .unwrap()
        .expect("the in-flight export is still answered");
    assert_eq!(
        response.status(),
        200,
        "the in-flight export is still acknowledged"
    );
    server.stop().await;
}

/// gRPC query calls (16685) land in the same families as HTTP requests, by method
/// and gRPC code, streamed replies counted once they end.
#[tokio::test]
async fn grpc_query_calls_are_counted_by_method_and_code() {
    use tracery::protocol::jaeger::api_v2::query_service_client::QueryServiceClient as V2Client;
    use tracery::protocol::jaeger::api_v2::{self as v2};
    use tracery::protocol::jaeger::api_v3 as v3;
    use tracery::protocol::jaeger::api_v3::query_service_client::QueryServiceClient as V3Client;

    let server = TestServer::start().await;
    let mut builder = TraceBuilder::new("metered").span("root", 0..50);
    for i in 0..14 {
        builder = builder.child_of(0, &format!("step {i}"), i..i + 1);
    }
    let trace = builder.build();
    server.export(trace.to_export_request()).await;
    let endpoint = format!("http://{}", server.query_grpc);
    let mut client_v2 = V2Client::connect(endpoint.clone()).await.unwrap();
    let mut client_v3 = V3Client::connect(endpoint).await.unwrap();

    for _ in 0..2 {
        client_v2
            .get_services(v2::GetServicesRequest::default())
            .await
            .unwrap();
    }
    // A streamed reply of two chunks, read to its end.
    let mut stream = client_v2
        .get_trace(v2::GetTraceRequest {
            trace_id: trace.id.to_vec(),
            ..v2::GetTraceRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut chunks = 0;
    while stream.message().await.unwrap().is_some() {
        chunks += 1;
    }
    assert_eq!(chunks, 2);
    let missing = client_v2
        .get_trace(v2::GetTraceRequest {
            trace_id: vec![7; 16],
            ..v2::GetTraceRequest::default()
        })
        .await;
    let code = match missing {
        Ok(reply) => reply.into_inner().message().await.unwrap_err().code(),
        Err(status) => status.code(),
    };
    assert_eq!(code, tonic::Code::NotFound);
    let archive = client_v2
        .archive_trace(v2::ArchiveTraceRequest {
            trace_id: vec![7; 16],
            ..v2::ArchiveTraceRequest::default()
        })
        .await;
    assert_eq!(archive.unwrap_err().code(), tonic::Code::Unimplemented);
    let zero = client_v3
        .get_trace(v3::GetTraceRequest {
            trace_id: "0".repeat(32),
            ..v3::GetTraceRequest::default()
        })
        .await;
    assert_eq!(zero.unwrap_err().code(), tonic::Code::InvalidArgument);
    client_v3
        .get_operations(v3::GetOperationsRequest {
            service: "metered".into(),
            span_kind: String::new(),
        })
        .await
        .unwrap();

    let metrics = scrape(&server).await;
    let requests = |method: &str, code: &str| {
        format!("tracery_query_requests_total{{route=\"/{method}\",status=\"{code}\"}}")
    };
    for (series, value) in [
        (
            requests("jaeger.api_v2.QueryService/GetServices", "OK"),
            2.0,
        ),
        (requests("jaeger.api_v2.QueryService/GetTrace", "OK"), 1.0),
        (
            requests("jaeger.api_v2.QueryService/GetTrace", "NOT_FOUND"),
            1.0,
        ),
        (
            requests("jaeger.api_v2.QueryService/ArchiveTrace", "UNIMPLEMENTED"),
            1.0,
        ),
        (
            requests("jaeger.api_v3.QueryService/GetTrace", "INVALID_ARGUMENT"),
            1.0,
        ),
        (
            requests("jaeger.api_v3.QueryService/GetOperations", "OK"),
            1.0,
        ),
        (
            "tracery_query_duration_seconds_count{route=\"/jaeger.api_v2.QueryService/GetTrace\"}"
                .to_owned(),
            2.0,
        ),
    ] {
        assert_eq!(
            sample(&metrics, &series),
            Some(value),
            "{series} in\n{metrics}"
        );
    }
    let grpc_calls: usize = metrics
        .lines()
        .filter(|line| line.starts_with("tracery_query_requests_total{route=\"/jaeger."))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as usize)
        .sum();
    assert_eq!(grpc_calls, 7, "exactly the calls made:\n{metrics}");
    server.stop().await;
}
