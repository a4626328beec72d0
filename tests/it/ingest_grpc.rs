//! OTLP/gRPC ingest through tonic and through the OpenTelemetry SDK exporter.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tonic::codec::CompressionEncoding;
use tonic::Code;

use crate::support::fixtures::{kv, TraceBuilder};
use crate::support::{v1_span_names, TestServer};

#[tokio::test]
async fn export_then_get_trace() {
    let server = TestServer::start().await;
    let trace = TraceBuilder::new("checkout")
        .span("GET /cart", 0..12)
        .child("db.query", 2..9)
        .build();
    let response = server
        .grpc_client()
        .await
        .export(trace.to_export_request())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.partial_success, None,
        "full success leaves partial_success unset"
    );
    let body = server
        .get_ok(&format!("/api/traces/{}", trace.id_hex()))
        .await;
    assert_eq!(v1_span_names(&body), [["GET /cart", "db.query"]]);
    server.stop().await;
}

#[tokio::test]
async fn gzip_compressed_export_is_accepted() {
    let server = TestServer::start().await;
    let trace = TraceBuilder::new("checkout").span("GET /gz", 0..5).build();
    let mut client = server
        .grpc_client()
        .await
        .send_compressed(CompressionEncoding::Gzip);
    client.export(trace.to_export_request()).await.unwrap();
    let body = server
        .get_ok(&format!("/api/traces/{}", trace.id_hex()))
        .await;
    assert_eq!(v1_span_names(&body), [["GET /gz"]]);
    server.stop().await;
}

#[tokio::test]
async fn malformed_spans_are_rejected_and_nothing_half_stored() {
    let server = TestServer::start().await;
    let mut client = server.grpc_client().await;

    let mut all_bad = TraceBuilder::new("checkout")
        .span("bad", 0..1)
        .build()
        .to_export_request();
    all_bad.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1, 2, 3];
    let status = client.export(all_bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("trace_id must be 16 bytes"),
        "{}",
        status.message()
    );

    let mixed_trace = TraceBuilder::new("checkout")
        .span("good", 0..2)
        .span("bad", 0..1)
        .build();
    let mut mixed = mixed_trace.to_export_request();
    mixed.resource_spans[0].scope_spans[0].spans[1].span_id = vec![0; 8];
    let response = client.export(mixed).await.unwrap().into_inner();
    let partial = response.partial_success.expect("rejections are reported");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("span_id"),
        "{}",
        partial.error_message
    );
    let body = server
        .get_ok(&format!("/api/traces/{}", mixed_trace.id_hex()))
        .await;
    assert_eq!(
        v1_span_names(&body),
        [["good"]],
        "only the valid span is stored"
    );
    let services = server.get_ok("/api/services").await;
    assert_eq!(services["data"], serde_json::json!(["checkout"]));
    server.stop().await;
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let server = TestServer::start_with(|config| config.receiver.max_message_bytes = 4096).await;
    let mut builder = TraceBuilder::new("checkout").span("root", 0..1);
    for index in 0..200 {
        builder = builder.attr(kv(
            &format!("attribute.{index}"),
            "some reasonably long value",
        ));
    }
    let status = server
        .grpc_client()
        .await
        .export(builder.build().to_export_request())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    // The server is still healthy afterwards.
    let trace = TraceBuilder::new("checkout").span("small", 0..1).build();
    server.export(trace.to_export_request()).await;
    server.stop().await;
}

#[tokio::test]
async fn empty_request_is_a_no_op() {
    let server = TestServer::start().await;
    let response = server
        .grpc_client()
        .await
        .export(ExportTraceServiceRequest::default())
        .await
        .unwrap();
    assert_eq!(response.into_inner().partial_success, None);
    assert_eq!(
        server.get_ok("/api/services").await["data"],
        serde_json::json!([])
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_sdk_exporter_over_grpc() {
    use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry_otlp::WithExportConfig as _;

    let server = TestServer::start().await;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", server.otlp_grpc))
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("sdk-grpc")
                .build(),
        )
        .build();
    let tracer = provider.tracer("tests");
    let trace_id = tracer.in_span("parent", |cx| {
        let mut child = tracer.start("child");
        child.set_attribute(opentelemetry::KeyValue::new("order.id", 42));
        child.end();
        cx.span().span_context().trace_id().to_string()
    });
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();

    let body = server.get_ok(&format!("/api/traces/{trace_id}")).await;
    let mut names = v1_span_names(&body).remove(0);
    names.sort();
    assert_eq!(names, ["child", "parent"]);
    let tags = server
        .get_ok("/api/traces?service=sdk-grpc&tags=%7B%22order.id%22%3A%2242%22%7D")
        .await;
    assert_eq!(tags["data"].as_array().unwrap().len(), 1);
    server.stop().await;
}
