//! The listeners: OTLP over gRPC (`grpc`) and HTTP (`http`); Jaeger's collector
//! gRPC (`jaeger_grpc`, also OTLP), Thrift over HTTP (`jaeger_http`) and agent UDP
//! (`jaeger_udp`); `plain_http` is what the non-OTLP HTTP listeners share.
//!
//! Transport only: bind, limits, decode with `protocol`, hand the spans to the
//! ingester, and map the outcome to the transport's status codes. Malformed data is
//! never retried by clients; a full queue or a failing store is.

pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod jaeger_grpc;
pub(crate) mod jaeger_http;
pub(crate) mod jaeger_udp;
mod plain_http;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess as OtlpPartialSuccess, ExportTraceServiceRequest as OtlpExportRequest,
};

use crate::ingest::{IngestError, IngestHandle};
use crate::protocol::{otlp, Converted};

/// Why an export was not (fully) accepted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AcceptError {
    /// Every span was malformed: the client must not retry.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// Requests with more spans than this are converted on the blocking pool, so one big
/// export can't stall the async workers.
pub(crate) const INLINE_CONVERSION_MAX_SPANS: usize = 512;

/// Runs `translate` inline for small requests and on the blocking pool for big ones.
pub(crate) async fn translate<T, F>(
    num_spans: usize,
    input: T,
    translate: F,
) -> Result<Converted, AcceptError>
where
    T: Send + 'static,
    F: FnOnce(T) -> Converted + Send + 'static,
{
    if num_spans > INLINE_CONVERSION_MAX_SPANS {
        tokio::task::spawn_blocking(move || translate(input))
            .await
            .map_err(|_| AcceptError::Invalid("request could not be converted".to_owned()))
    } else {
        Ok(translate(input))
    }
}

/// Submits translated spans: a request whose spans were all rejected is refused
/// whole (nothing is stored); otherwise the good spans are queued and `Ok` reports
/// how many were rejected, with the first reason.
pub(crate) async fn submit(
    ingest: &IngestHandle,
    converted: Converted,
) -> Result<Option<(u64, String)>, AcceptError> {
    if converted.spans.is_empty() && converted.num_rejected > 0 {
        return Err(AcceptError::Invalid(converted.first_error_message()));
    }
    let rejected = (converted.num_rejected > 0)
        .then(|| (converted.num_rejected, converted.first_error_message()));
    ingest.submit(converted.spans).await?;
    Ok(rejected)
}

/// Converts and submits one OTLP export request. `Ok(Some(..))` reports rejected spans.
pub(crate) async fn accept(
    ingest: &IngestHandle,
    request: OtlpExportRequest,
) -> Result<Option<OtlpPartialSuccess>, AcceptError> {
    let num_spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    let converted = translate(num_spans, request, otlp::convert).await?;
    Ok(submit(ingest, converted)
        .await?
        .map(|(rejected, error_message)| OtlpPartialSuccess {
            rejected_spans: rejected as i64,
            error_message,
        }))
}
