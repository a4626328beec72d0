//! Jaeger's collector HTTP endpoint: `POST /api/traces` with a Thrift binary `Batch`
//! (what jaeger-client libraries send when `JAEGER_ENDPOINT` is set), gzip or not.
//! 202 on success, as Jaeger answers.

use crate::net::auth::Tokens;
use crate::net::Listener;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use tokio_util::sync::CancellationToken;
use tower_http::decompression::RequestDecompressionLayer;

use super::plain_http::{bad_request, media_type, outcome, read_body, unsupported_media_type};
use crate::config::ReceiverConfig;
use crate::ingest::IngestHandle;
use crate::protocol::jaeger;

#[derive(Debug, Clone)]
struct ThriftHttpState {
    ingest: IngestHandle,
    max_body_bytes: usize,
}

pub(crate) fn router(ingest: IngestHandle, config: &ReceiverConfig) -> Router {
    Router::new()
        .route("/api/traces", post(post_traces))
        .with_state(ThriftHttpState {
            ingest,
            max_body_bytes: config.max_message_bytes,
        })
        .layer(RequestDecompressionLayer::new())
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

async fn post_traces(
    State(state): State<ThriftHttpState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media_type = media_type(&headers);
    if !matches!(
        media_type.as_str(),
        "application/x-thrift" | "application/vnd.apache.thrift.binary"
    ) {
        return unsupported_media_type(
            &media_type,
            "a Thrift binary Batch as application/x-thrift or application/vnd.apache.thrift.binary",
        );
    }
    let bytes = match read_body(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let batch = match jaeger::decode_binary_batch(&bytes) {
        Ok(batch) => batch,
        Err(error) => return bad_request(format!("invalid Thrift Batch: {error}")),
    };
    let num_spans = batch.spans.len();
    let result = match super::translate(num_spans, batch, jaeger::convert).await {
        Ok(converted) => {
            super::submit(
                &state.ingest,
                crate::metrics::protocol::JAEGER_THRIFT_HTTP,
                converted,
            )
            .await
        }
        Err(error) => Err(error),
    };
    outcome(result)
}
