//! OTLP receivers: gRPC (`grpc`) and HTTP with protobuf or JSON bodies (`http`).
//!
//! Transport adapters only: decode, convert with `model::from_otlp`, hand the spans
//! to the ingester, and map the outcome to the transport's status codes. Malformed
//! data is never retried by clients; a full queue or a failing store is.

pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod otlp_json;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess as OtlpPartialSuccess, ExportTraceServiceRequest as OtlpExportRequest,
};

use crate::ingest::{IngestError, IngestHandle};
use crate::metrics::{outcome, reason};
use crate::model::from_otlp;

/// A request body that is not valid OTLP.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    /// serde_json's text says what is wrong and where (line and column).
    #[error("invalid OTLP/JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid OTLP protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

/// Why an export was not (fully) accepted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AcceptError {
    /// Every span was malformed: the client must not retry.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// Decodes an OTLP/JSON `TracesData` document (what the OTLP file exporter writes)
/// into model spans, dropping malformed ones: the Jaeger UI's file upload sends these
/// to `/api/transform`.
pub(crate) fn decode_json_spans(body: &[u8]) -> Result<Vec<crate::model::Span>, DecodeError> {
    Ok(from_otlp::convert(otlp_json::decode_export_request(body)?).spans)
}

/// Requests with more spans than this are converted on the blocking pool, so one big
/// export can't stall the async workers.
const INLINE_CONVERSION_MAX_SPANS: usize = 512;

/// Converts and submits one export request that arrived as `protocol` (a
/// `metrics::protocol` value), and records it. `Ok(Some(..))` reports rejected spans.
pub(crate) async fn accept(
    ingest: &IngestHandle,
    protocol: &'static str,
    request: OtlpExportRequest,
) -> Result<Option<OtlpPartialSuccess>, AcceptError> {
    let started = std::time::Instant::now();
    let metrics = ingest.metrics();
    let accepted = convert_and_submit(ingest, protocol, request).await;
    let outcome = match &accepted {
        Ok(None) => outcome::SUCCESS,
        Ok(Some(_)) => outcome::PARTIAL,
        Err(AcceptError::Invalid(_)) => outcome::INVALID,
        Err(AcceptError::Ingest(_)) => outcome::RETRYABLE,
    };
    metrics.export_finished(protocol, outcome, started.elapsed());
    accepted
}

async fn convert_and_submit(
    ingest: &IngestHandle,
    protocol: &'static str,
    request: OtlpExportRequest,
) -> Result<Option<OtlpPartialSuccess>, AcceptError> {
    let metrics = ingest.metrics();
    let num_spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    metrics.spans_received(protocol, num_spans);
    let converted = if num_spans > INLINE_CONVERSION_MAX_SPANS {
        tokio::task::spawn_blocking(move || from_otlp::convert(request))
            .await
            .map_err(|_| AcceptError::Invalid("request could not be converted".to_owned()))?
    } else {
        from_otlp::convert(request)
    };
    metrics.spans_rejected(protocol, reason::INVALID, converted.num_rejected as usize);
    if converted.spans.is_empty() && converted.num_rejected > 0 {
        return Err(AcceptError::Invalid(converted.first_error_message()));
    }
    let partial_success = (converted.num_rejected > 0).then(|| OtlpPartialSuccess {
        rejected_spans: converted.num_rejected as i64,
        error_message: converted.first_error_message(),
    });
    let num_valid = converted.spans.len();
    match ingest.submit(converted.spans).await {
        Ok(()) => metrics.spans_accepted(protocol, num_valid),
        Err(error) => {
            let reason = match &error {
                IngestError::QueueFull => reason::QUEUE_FULL,
                IngestError::ShuttingDown => reason::SHUTTING_DOWN,
                IngestError::Store(_) => reason::STORE_ERROR,
            };
            metrics.spans_rejected(protocol, reason, num_valid);
            return Err(error.into());
        }
    }
    Ok(partial_success)
}
