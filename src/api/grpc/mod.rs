//! The gRPC query API on 16685: `jaeger.api_v2.QueryService` and
//! `jaeger.api_v3.QueryService` over the same `QueryService` as the HTTP API, plus
//! `grpc.health.v1` and server reflection (so `grpcurl` works without protos).
//!
//! Like the HTTP handlers, the two services only turn requests into `query` calls
//! and render the answers through `dto`. This module is the one place in `api/`
//! that names `tonic::Status`: `status_from` maps query failures once.

mod api_v2;
mod api_v3;
mod metrics;

use std::pin::Pin;

use crate::net::{auth, Listener};
use futures_util::Stream;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::Status;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::HealthService;
use tonic_health::ServingStatus;

use crate::metrics::Metrics;
use crate::model::SpanKind;
use crate::protocol::jaeger::api_v2::query_service_server::QueryServiceServer as V2Server;
use crate::protocol::jaeger::api_v3::query_service_server::QueryServiceServer as V3Server;
use crate::protocol::FILE_DESCRIPTOR_SET;
use crate::query::{QueryError, QueryService};
use crate::storage::StorageError;

/// Largest reply message; a chunk holds at most 10 spans, but an api_v3 reply is a
/// whole trace.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum GrpcServeError {
    #[error("failed to build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC server failed")]
    Transport(#[from] tonic::transport::Error),
}

type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Serves until `shutdown` is cancelled, then finishes in-flight calls. Every call
/// is counted in `metrics`' query-request families, by method and gRPC code.
pub async fn serve(
    listener: Listener,
    query: QueryService,
    metrics: Metrics,
    tokens: Option<auth::Tokens>,
    shutdown: CancellationToken,
) -> Result<(), GrpcServeError> {
    // Health names exactly the query services added below (taken from their
    // types, so the two can't drift), plus "" for the server, as Jaeger's query
    // does. Jaeger's `jaeger.api_v2.metrics.MetricsQueryService` is not served
    // here (metrics are HTTP-only, `/api/metrics/*`), so health doesn't name it.
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    health.set_serving::<V2Server<api_v2::QueryV2>>().await;
    health.set_serving::<V3Server<api_v3::QueryV3>>().await;
    // Reflection lists the same services: the descriptor set also holds protos
    // served on other ports (CollectorService, SamplingManager), which `grpcurl
    // list` must not offer here.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(<V2Server<api_v2::QueryV2> as NamedService>::NAME)
            .with_service_name(<V3Server<api_v3::QueryV3> as NamedService>::NAME)
            .with_service_name(<HealthServer<HealthService> as NamedService>::NAME)
    };
    crate::net::grpc_server(&listener)
        // Outermost, so calls refused for want of a token count as UNAUTHENTICATED.
        .layer(metrics::MetricsLayer::new(metrics))
        .layer(tower::util::option_layer(tokens.map(auth::grpc_layer)))
        .add_service(
            V2Server::new(api_v2::QueryV2::new(query.clone()))
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            V3Server::new(api_v3::QueryV3::new(query)).max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .serve_with_incoming_shutdown(listener.into_incoming(), shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// The one mapping from query failures to gRPC statuses, with Jaeger's codes and
/// messages.
fn status_from(error: QueryError) -> Status {
    match error {
        QueryError::TraceNotFound(_) => Status::not_found("trace not found"),
        QueryError::Storage(error @ StorageError::Unavailable(_)) => {
            Status::unavailable(error.to_string())
        }
        QueryError::Storage(error @ StorageError::Unsupported(_)) => {
            Status::unimplemented(error.to_string())
        }
        other => {
            let chain = anyhow::Error::from(other);
            tracing::error!(error = format!("{chain:#}"), "gRPC query failed");
            Status::internal("internal error")
        }
    }
}

/// The span kind filter of `GetOperations` in both versions: Jaeger's lower-case
/// names, or empty for any kind.
fn span_kind_filter(name: &str) -> Result<Option<SpanKind>, Status> {
    match name {
        "" => Ok(None),
        name => SpanKind::from_jaeger_name(name).map(Some).ok_or_else(|| {
            Status::invalid_argument(format!(
                "unsupported span_kind `{name}`; use server, client, producer, consumer or internal"
            ))
        }),
    }
}

/// Unix nanoseconds of a protobuf timestamp; `None` when unset or before 1970.
fn unix_nanos(timestamp: Option<&prost_types::Timestamp>) -> Option<u64> {
    let timestamp = timestamp?;
    let seconds = u64::try_from(timestamp.seconds).ok()?;
    let nanos = u64::try_from(timestamp.nanos).ok()?;
    Some(seconds.saturating_mul(1_000_000_000).saturating_add(nanos))
}

/// A protobuf duration; `None` when unset or zero (proto3's "not given").
fn duration(
    duration: Option<&prost_types::Duration>,
) -> Result<Option<std::time::Duration>, Status> {
    let Some(duration) = duration else {
        return Ok(None);
    };
    if duration.seconds < 0 || duration.nanos < 0 {
        return Err(Status::invalid_argument("durations must not be negative"));
    }
    let value = std::time::Duration::new(duration.seconds as u64, duration.nanos as u32);
    Ok((!value.is_zero()).then_some(value))
}
