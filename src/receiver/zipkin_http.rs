//! Zipkin's collector HTTP endpoint (9411): `POST /api/v2/spans` as JSON or proto3
//! `ListOfSpans`, and `POST /api/v1/spans` as JSON, gzip or not. 202 on success, as
//! Zipkin answers.

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
use crate::protocol::zipkin::{self, ZipkinError, ZipkinSpan};

#[derive(Debug, Clone)]
struct ZipkinState {
    ingest: IngestHandle,
    max_body_bytes: usize,
}

pub(crate) fn router(ingest: IngestHandle, config: &ReceiverConfig) -> Router {
    Router::new()
        .route("/api/v2/spans", post(post_v2))
        .route("/api/v1/spans", post(post_v1))
        .with_state(ZipkinState {
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

type Decoder = fn(&[u8]) -> Result<Vec<ZipkinSpan>, ZipkinError>;

async fn post_v2(State(state): State<ZipkinState>, headers: HeaderMap, body: Body) -> Response {
    let decoder: Decoder = match media_type(&headers).as_str() {
        // Zipkin treats a missing content type as JSON; so do its clients' collectors.
        "application/json" | "" => zipkin::decode_json_v2,
        "application/x-protobuf" | "application/protobuf" => zipkin::decode_proto,
        other => {
            return unsupported_media_type(other, "application/json or application/x-protobuf")
        }
    };
    accept(state, body, decoder).await
}

async fn post_v1(State(state): State<ZipkinState>, headers: HeaderMap, body: Body) -> Response {
    match media_type(&headers).as_str() {
        "application/json" | "" => accept(state, body, zipkin::decode_json_v1).await,
        other => unsupported_media_type(other, "application/json (v1 Thrift is not supported)"),
    }
}

async fn accept(state: ZipkinState, body: Body, decoder: Decoder) -> Response {
    let bytes = match read_body(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let spans = match decoder(&bytes) {
        Ok(spans) => spans,
        Err(error) => return bad_request(error),
    };
    let result = match super::translate(spans.len(), spans, zipkin::convert).await {
        Ok(converted) => {
            super::submit(&state.ingest, crate::metrics::protocol::ZIPKIN, converted).await
        }
        Err(error) => Err(error),
    };
    outcome(result)
}
