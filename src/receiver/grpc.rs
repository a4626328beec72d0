//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
//!
//! With `jaeger_grpc`, the only modules that name `tonic::Status`.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest as OtlpExportRequest,
    ExportTraceServiceResponse as OtlpExportResponse,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::codegen::http;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::AcceptError;
use crate::config::ReceiverConfig;
use crate::ingest::{IngestError, IngestHandle};
use crate::metrics::protocol;

/// How long OTLP clients are told to wait before retrying a refused export.
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct OtlpTraces {
    pub(crate) ingest: IngestHandle,
}

#[tonic::async_trait]
impl TraceService for OtlpTraces {
    async fn export(
        &self,
        request: Request<OtlpExportRequest>,
    ) -> Result<Response<OtlpExportResponse>, Status> {
        match super::accept(&self.ingest, protocol::OTLP_GRPC, request.into_inner()).await {
            Ok(partial_success) => Ok(Response::new(OtlpExportResponse { partial_success })),
            Err(error) => Err(status_from(error)),
        }
    }
}

/// OTLP's `TraceService`, also served on Jaeger's gRPC port (`jaeger_grpc`).
pub(crate) fn otlp_service(
    ingest: IngestHandle,
    config: &ReceiverConfig,
) -> ClientFaults<TraceServiceServer<OtlpTraces>> {
    ClientFaults(
        TraceServiceServer::new(OtlpTraces { ingest })
            .max_decoding_message_size(config.max_message_bytes)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip),
    )
}

/// Answers `INVALID_ARGUMENT` where tonic answers `INTERNAL` for a request it could
/// not read.
///
/// Tonic reports a message that fails to decode (garbage or truncated protobuf,
/// invalid UTF-8, nesting past prost's recursion limit), a corrupt compressed frame
/// and a body that ends mid-message as `INTERNAL`, which clients take for a server
/// fault and may retry forever. Our ingest handlers never answer `INTERNAL`
/// themselves (`status_from` maps every outcome to `INVALID_ARGUMENT` or
/// `UNAVAILABLE`), so on these services an `INTERNAL` can only be such a request
/// error, and it is the client's.
#[derive(Debug, Clone)]
pub(crate) struct ClientFaults<S>(pub(crate) S);

impl<S, B> tower::Service<http::Request<B>> for ClientFaults<S>
where
    S: tower::Service<
        http::Request<B>,
        Response = http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
    >,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = self.0.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            // Errors before the handler ran come back as trailers-only responses,
            // with the status in the headers.
            let headers = response.headers_mut();
            if headers.get(GRPC_STATUS) == Some(&http::HeaderValue::from(Code::Internal as i32)) {
                headers.insert(
                    GRPC_STATUS,
                    http::HeaderValue::from(Code::InvalidArgument as i32),
                );
            }
            Ok(response)
        })
    }
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for ClientFaults<S> {
    const NAME: &'static str = S::NAME;
}

const GRPC_STATUS: &str = "grpc-status";

/// Serves until `shutdown` is cancelled, then drains in-flight exports.
pub(crate) async fn serve(
    listener: TcpListener,
    ingest: IngestHandle,
    config: &ReceiverConfig,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(otlp_service(ingest, config))
        .serve_with_incoming_shutdown(incoming(listener), shutdown.cancelled_owned())
        .await
}

/// The accepted connections, with `TCP_NODELAY` set.
///
/// Tonic applies its `tcp_nodelay` (on by default) only to sockets it binds itself,
/// never to an incoming stream. Without it, Nagle's algorithm holds back a
/// connection's small frames (responses, trailers, WINDOW_UPDATEs) while an earlier
/// one is unacknowledged, and the client's delayed ACK turns that into a ~40 ms
/// stall: one connection carrying many concurrent exports, as an OpenTelemetry
/// Collector's does, got half the throughput of several connections.
pub(crate) fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

pub(crate) fn status_from(error: AcceptError) -> Status {
    let retry = || ErrorDetails::with_retry_info(Some(RETRY_AFTER));
    match error {
        AcceptError::Invalid(message) => Status::invalid_argument(message),
        AcceptError::Ingest(error @ (IngestError::QueueFull | IngestError::ShuttingDown)) => {
            Status::with_error_details(Code::Unavailable, error.to_string(), retry())
        }
        AcceptError::Ingest(error @ IngestError::Store(_)) => {
            // Logged once by the batcher with the full chain; the client only learns to retry.
            Status::with_error_details(Code::Unavailable, error.to_string(), retry())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_nodelay() {
        use tokio_stream::StreamExt as _;

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let mut incoming = incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let accepted = incoming
            .next()
            .await
            .expect("a connection")
            .expect("accepted");
        assert!(accepted.nodelay().expect("read TCP_NODELAY"));
    }

    #[test]
    fn refusals_are_retryable_and_carry_retry_info() {
        for error in [IngestError::QueueFull, IngestError::ShuttingDown] {
            let status = status_from(AcceptError::Ingest(error));
            assert_eq!(status.code(), Code::Unavailable);
            let retry = status
                .get_details_retry_info()
                .expect("retry info attached");
            assert_eq!(retry.retry_delay, Some(RETRY_AFTER));
        }
        let invalid = status_from(AcceptError::Invalid("bad span".into()));
        assert_eq!(
            (invalid.code(), invalid.message()),
            (Code::InvalidArgument, "bad span")
        );
        assert!(invalid.get_details_retry_info().is_none());
    }
}
