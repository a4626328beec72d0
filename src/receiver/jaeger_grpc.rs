//! Jaeger's collector gRPC port (14250): `jaeger.api_v2.CollectorService/PostSpans`
//! and, on the same listener, OTLP's `TraceService/Export`, because OpenTelemetry
//! Collectors pointed at Jaeger all-in-one often send OTLP there.
//!
//! Remote sampling's `SamplingManager` is served here too, as Jaeger v1's collector
//! did; `app` passes it in from `sampling::grpc::service`.

use crate::net::auth::{self, Tokens};
use crate::net::Listener;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::grpc::{otlp_service, status_from, ClientFaults};
use crate::config::ReceiverConfig;
use crate::ingest::IngestHandle;
use crate::protocol::jaeger::api_v2::sampling_manager_server::{
    SamplingManager, SamplingManagerServer,
};
use crate::protocol::jaeger::{self, api_v2};

#[derive(Debug)]
struct JaegerCollector {
    ingest: IngestHandle,
}

#[tonic::async_trait]
impl api_v2::collector_service_server::CollectorService for JaegerCollector {
    async fn post_spans(
        &self,
        request: Request<api_v2::PostSpansRequest>,
    ) -> Result<Response<api_v2::PostSpansResponse>, Status> {
        let Some(batch) = request.into_inner().batch else {
            return Err(Status::invalid_argument(
                "PostSpansRequest.batch is missing",
            ));
        };
        let num_spans = batch.spans.len();
        let converted = super::translate(num_spans, batch, jaeger::convert)
            .await
            .map_err(status_from)?;
        match super::submit(
            &self.ingest,
            crate::metrics::protocol::JAEGER_GRPC,
            converted,
        )
        .await
        {
            Ok(None) => Ok(Response::new(api_v2::PostSpansResponse {})),
            Ok(Some((rejected, first_error))) => {
                // PostSpansResponse has no partial-success field.
                tracing::debug!(rejected, first_error, "dropped malformed Jaeger spans");
                Ok(Response::new(api_v2::PostSpansResponse {}))
            }
            Err(error) => Err(status_from(error)),
        }
    }
}

/// Serves until `shutdown` is cancelled, then drains in-flight requests.
pub(crate) async fn serve(
    listener: Listener,
    ingest: IngestHandle,
    config: &ReceiverConfig,
    tokens: Option<Tokens>,
    shutdown: CancellationToken,
    sampling: SamplingManagerServer<impl SamplingManager>,
) -> Result<(), tonic::transport::Error> {
    let collector =
        api_v2::collector_service_server::CollectorServiceServer::new(JaegerCollector {
            ingest: ingest.clone(),
        })
        .max_decoding_message_size(config.max_message_bytes)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip);
    crate::net::grpc_server(&listener)
        .layer(tower::util::option_layer(tokens.map(auth::grpc_layer)))
        .add_service(ClientFaults(collector))
        .add_service(otlp_service(ingest, config))
        .add_service(sampling)
        .serve_with_incoming_shutdown(listener.into_incoming(), shutdown.cancelled_owned())
        .await
}
