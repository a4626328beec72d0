//! What the Jaeger Thrift and Zipkin HTTP listeners share: reading a (gzip-inflated)
//! body under the size limit, and the one mapping from outcomes to HTTP statuses
//! with plain-text bodies: 202 accepted, 400 malformed, 413 too large, 415 wrong
//! content type, 429/503 with `Retry-After` when the queue is full or closing.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AcceptError;
use crate::ingest::IngestError;

/// Seconds a client is told to wait before retrying a refused request.
const RETRY_AFTER_SECS: &str = "1";

/// The request's media type, lower-cased, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn unsupported_media_type(got: &str, expected: &str) -> Response {
    (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("unsupported content type `{got}`; send {expected}"),
    )
        .into_response()
}

pub(crate) fn bad_request(message: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, message.to_string()).into_response()
}

/// Reads the whole body, or answers 413/400.
pub(crate) async fn read_body(body: Body, max_bytes: usize) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, max_bytes)
        .await
        .map_err(|error| {
            if is_length_limit(&error) {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body exceeds the limit of {max_bytes} bytes"),
                )
                    .into_response()
            } else {
                bad_request(format!("failed to read request body: {error}"))
            }
        })
}

/// 202 with no body when accepted (spans rejected beside accepted ones are only
/// logged: neither Jaeger nor Zipkin has a partial-success reply), else the error.
pub(crate) fn outcome(result: Result<Option<(u64, String)>, AcceptError>) -> Response {
    match result {
        Ok(None) => StatusCode::ACCEPTED.into_response(),
        Ok(Some((rejected, first_error))) => {
            tracing::debug!(rejected, first_error, "dropped malformed spans");
            StatusCode::ACCEPTED.into_response()
        }
        Err(AcceptError::Invalid(message)) => bad_request(message),
        Err(AcceptError::Ingest(error)) => {
            let status = match error {
                IngestError::QueueFull => StatusCode::TOO_MANY_REQUESTS,
                IngestError::ShuttingDown | IngestError::Store(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            let mut response = (status, error.to_string()).into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
            response
        }
    }
}

pub(crate) fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = cause.source();
    }
    false
}
