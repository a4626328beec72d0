//! The one place where query failures become HTTP responses, in the two error
//! shapes Jaeger uses: the v1 envelope and api_v3's `{"error": …}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::dto;
use crate::query::QueryError;
use crate::storage::StorageError;

#[derive(Debug)]
pub(crate) enum ApiError {
    BadRequest(String),
    NotFound(String),
    NotImplemented(String),
    PayloadTooLarge(String),
    Unavailable(String),
    Query(QueryError),
}

/// An `ApiError` answered in the v1 envelope.
#[derive(Debug)]
pub(crate) struct V1Error(pub(crate) ApiError);

/// An `ApiError` answered in api_v3's shape.
#[derive(Debug)]
pub(crate) struct V3Error(pub(crate) ApiError);

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        match error {
            QueryError::TraceNotFound(_) => ApiError::NotFound("trace not found".to_owned()),
            QueryError::BadMetricsQuery(error) => ApiError::BadRequest(error.to_string()),
            QueryError::Storage(error @ StorageError::Unavailable(_)) => {
                ApiError::Unavailable(error.to_string())
            }
            QueryError::Storage(error @ StorageError::Unsupported(_)) => {
                ApiError::NotImplemented(error.to_string())
            }
            other => ApiError::Query(other),
        }
    }
}

impl<E: Into<ApiError>> From<E> for V1Error {
    fn from(error: E) -> V1Error {
        V1Error(error.into())
    }
}

impl From<ApiError> for V3Error {
    fn from(error: ApiError) -> V3Error {
        V3Error(error)
    }
}

impl From<QueryError> for V3Error {
    fn from(error: QueryError) -> V3Error {
        V3Error(error.into())
    }
}

impl ApiError {
    fn status_and_message(self) -> (StatusCode, String) {
        match self {
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, message),
            ApiError::NotImplemented(message) => (StatusCode::NOT_IMPLEMENTED, message),
            ApiError::PayloadTooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, message),
            ApiError::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, message),
            ApiError::Query(error) => {
                let chain = anyhow::Error::from(error);
                tracing::error!(error = format!("{chain:#}"), "query failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        }
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let (status, message) = self.0.status_and_message();
        (status, Json(dto::Envelope::error(status.as_u16(), message))).into_response()
    }
}

impl IntoResponse for V3Error {
    fn into_response(self) -> Response {
        let (status, message) = self.0.status_and_message();
        (status, Json(dto::v3_error(status.as_u16(), &message))).into_response()
    }
}
