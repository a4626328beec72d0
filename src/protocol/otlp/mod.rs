//! OTLP traces: protobuf (prost types from `opentelemetry-proto`), OTLP/JSON
//! (`json`), the translation into the model (`convert`) and back into protobuf
//! for the gRPC api_v3 query (`encode`).
//!
//! **Invariant:** OTLP proto types appear only here and in the listeners that carry
//! them (`receiver::grpc`, `receiver::http`, `api::grpc::api_v3`).

mod convert;
pub mod encode;
pub(crate) mod json;

pub use convert::convert;

/// A request body that is not valid OTLP.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// serde_json's text says what is wrong and where (line and column).
    #[error("invalid OTLP/JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid OTLP protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

/// Decodes an OTLP/JSON `TracesData` document (what the OTLP file exporter writes)
/// into model spans, dropping malformed ones: the Jaeger UI's file upload sends these
/// to `/api/transform`.
pub fn decode_json_spans(body: &[u8]) -> Result<Vec<crate::model::Span>, DecodeError> {
    Ok(decode_json_converted(body)?.spans)
}

/// Like `decode_json_spans`, keeping the count and first reason of rejected spans.
pub fn decode_json_converted(body: &[u8]) -> Result<crate::protocol::Converted, DecodeError> {
    Ok(convert(json::decode_export_request(body)?))
}
