//! OTLP/HTTP: `POST /v1/traces` with `application/x-protobuf` or `application/json`,
//! optionally gzip-compressed, chunked or not. Responses are encoded like the request,
//! as the OTLP specification requires.

use crate::net::auth::Tokens;
use crate::net::Listener;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest as OtlpExportRequest,
    ExportTraceServiceResponse as OtlpExportResponse,
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::decompression::RequestDecompressionLayer;

use super::plain_http::is_length_limit;
use super::AcceptError;
use crate::config::ReceiverConfig;
use crate::ingest::{IngestError, IngestHandle};
use crate::metrics::{outcome, protocol};
use crate::protocol::otlp::{json as otlp_json, DecodeError};

/// Seconds a client is told to wait before retrying a refused export.
const RETRY_AFTER_SECS: &str = "1";
/// gRPC status codes used in OTLP `Status` bodies.
const GRPC_INVALID_ARGUMENT: i32 = 3;
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
const GRPC_UNAVAILABLE: i32 = 14;

#[derive(Debug, Clone)]
struct HttpState {
    ingest: IngestHandle,
    max_body_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// `google.rpc.Status`, the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

pub(crate) fn router(ingest: IngestHandle, config: &ReceiverConfig) -> Router {
    let allow_origin = match &config.cors_origins {
        None => AllowOrigin::any(),
        Some(origins) => AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
    };
    let cors = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::CONTENT_ENCODING])
        .max_age(std::time::Duration::from_secs(3600));
    Router::new()
        .route("/v1/traces", post(export))
        .with_state(HttpState {
            ingest,
            max_body_bytes: config.max_message_bytes,
        })
        // Decompression is outside the size check, so the limit bounds the inflated body.
        .layer(RequestDecompressionLayer::new())
        .layer(cors)
}

pub(crate) async fn serve(
    listener: Listener,
    ingest: IngestHandle,
    config: &ReceiverConfig,
    tokens: Option<Tokens>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    crate::net::serve_http(listener, router(ingest, config), tokens, shutdown).await
}

async fn export(State(state): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    let started = std::time::Instant::now();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let encoding = match content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        other => {
            let message = format!(
                "unsupported content type `{other}`; send application/x-protobuf or application/json"
            );
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, message).into_response();
        }
    };
    let protocol = match encoding {
        Encoding::Protobuf => protocol::OTLP_HTTP_PROTOBUF,
        Encoding::Json => protocol::OTLP_HTTP_JSON,
    };
    let refused = || {
        state
            .ingest
            .metrics()
            .export_finished(protocol, outcome::INVALID, started.elapsed());
    };
    let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) if is_length_limit(&error) => {
            refused();
            let message = format!(
                "request body exceeds the limit of {} bytes",
                state.max_body_bytes
            );
            return status_response(
                encoding,
                StatusCode::PAYLOAD_TOO_LARGE,
                GRPC_RESOURCE_EXHAUSTED,
                &message,
                false,
            );
        }
        Err(error) => {
            refused();
            let message = format!("failed to read request body: {error}");
            return status_response(
                encoding,
                StatusCode::BAD_REQUEST,
                GRPC_INVALID_ARGUMENT,
                &message,
                false,
            );
        }
    };
    let request = match decode(encoding, &bytes) {
        Ok(request) => request,
        Err(error) => {
            tracing::debug!(%error, "rejected malformed export");
            refused();
            return status_response(
                encoding,
                StatusCode::BAD_REQUEST,
                GRPC_INVALID_ARGUMENT,
                &error.to_string(),
                false,
            );
        }
    };
    match super::accept(&state.ingest, protocol, request).await {
        Ok(partial_success) => {
            let response = OtlpExportResponse { partial_success };
            let body = match encoding {
                Encoding::Protobuf => response.encode_to_vec(),
                Encoding::Json => otlp_json::encode_export_response(&response),
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type_of(encoding))],
                body,
            )
                .into_response()
        }
        Err(AcceptError::Invalid(message)) => status_response(
            encoding,
            StatusCode::BAD_REQUEST,
            GRPC_INVALID_ARGUMENT,
            &message,
            false,
        ),
        Err(AcceptError::Ingest(error)) => {
            let status = match error {
                IngestError::QueueFull => StatusCode::TOO_MANY_REQUESTS,
                IngestError::ShuttingDown | IngestError::Store(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            status_response(encoding, status, GRPC_UNAVAILABLE, &error.to_string(), true)
        }
    }
}

fn decode(encoding: Encoding, bytes: &Bytes) -> Result<OtlpExportRequest, DecodeError> {
    match encoding {
        Encoding::Protobuf => Ok(OtlpExportRequest::decode(bytes.as_ref())?),
        Encoding::Json => otlp_json::decode_export_request(bytes),
    }
}

fn status_response(
    encoding: Encoding,
    status: StatusCode,
    grpc_code: i32,
    message: &str,
    retry: bool,
) -> Response {
    let body = match encoding {
        Encoding::Protobuf => RpcStatus {
            code: grpc_code,
            message: message.to_owned(),
        }
        .encode_to_vec(),
        Encoding::Json => otlp_json::encode_status(grpc_code, message),
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, content_type_of(encoding))],
        body,
    )
        .into_response();
    if retry {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    response
}

fn content_type_of(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;
    use crate::ingest::tests::stalled_handle;
    use crate::protocol::otlp as from_otlp;

    fn export_body(num_spans: usize) -> Vec<u8> {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let spans = (0..num_spans)
            .map(|index| Span {
                trace_id: vec![1; 16],
                span_id: vec![index as u8 + 1; 8],
                name: "op".into(),
                ..Default::default()
            })
            .collect();
        let request = OtlpExportRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(from_otlp::convert(request.clone()).num_rejected, 0);
        request.encode_to_vec()
    }

    #[tokio::test]
    async fn a_full_queue_answers_429_with_retry_after() {
        let (ingest, _batcher, _dir) = stalled_handle(2, std::time::Duration::from_millis(10));
        let config = ReceiverConfig {
            max_message_bytes: 1 << 20,
            cors_origins: None,
        };
        let router = router(ingest, &config);
        let post = |body: Vec<u8>| {
            Request::post("/v1/traces")
                .header("content-type", "application/x-protobuf")
                .body(Body::from(body))
                .unwrap()
        };
        let accepted = router.clone().oneshot(post(export_body(2))).await.unwrap();
        assert_eq!(accepted.status(), StatusCode::OK);
        let refused = router.oneshot(post(export_body(1))).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 20)
            .await
            .unwrap();
        let status = RpcStatus::decode(body).unwrap();
        assert_eq!(status.code, GRPC_UNAVAILABLE);
        assert_eq!(status.message, "ingest queue is full; retry later");
    }
}
