//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
//!
//! With `jaeger_grpc`, the only modules that name `tonic::Status`.

use std::time::Duration;

use crate::net::auth::{self, Tokens};
use crate::net::Listener;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest as OtlpExportRequest,
    ExportTraceServiceResponse as OtlpExportResponse,
};
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::codegen::http;
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
    listener: Listener,
    ingest: IngestHandle,
    config: &ReceiverConfig,
    tokens: Option<Tokens>,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    crate::net::grpc_server(&listener)
        .layer(tower::util::option_layer(tokens.map(auth::grpc_layer)))
        .add_service(otlp_service(ingest, config))
        .serve_with_incoming_shutdown(listener.into_incoming(), shutdown.cancelled_owned())
        .await
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
