//! Counts calls on the gRPC query port in the query metrics, as `api::router`'s
//! middleware counts HTTP requests: by method (`/jaeger.api_v2.QueryService/GetTrace`)
//! and gRPC code (`OK`, `NOT_FOUND`), with the latency up to the call's last byte.
//!
//! A gRPC call's outcome is in its trailers (`grpc-status`), which come after a
//! streamed reply's last message, or in the headers of an immediate error. So the
//! layer wraps the reply's body and records when it sees either; a body dropped
//! before its trailers (the client went away) counts as `CANCELLED`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http;
use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

use crate::metrics::Metrics;

/// Every method served on the port. Anything else (an unknown method, answered
/// `UNIMPLEMENTED`) is counted as `OTHER_METHOD`, so labels stay bounded.
const METHODS: &[&str] = &[
    "/jaeger.api_v2.QueryService/GetTrace",
    "/jaeger.api_v2.QueryService/ArchiveTrace",
    "/jaeger.api_v2.QueryService/FindTraces",
    "/jaeger.api_v2.QueryService/GetServices",
    "/jaeger.api_v2.QueryService/GetOperations",
    "/jaeger.api_v2.QueryService/GetDependencies",
    "/jaeger.api_v3.QueryService/GetTrace",
    "/jaeger.api_v3.QueryService/FindTraces",
    "/jaeger.api_v3.QueryService/FindTraceSummaries",
    "/jaeger.api_v3.QueryService/GetServices",
    "/jaeger.api_v3.QueryService/GetOperations",
    "/jaeger.api_v3.QueryService/GetDependencies",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];
const OTHER_METHOD: &str = "grpc_other";

/// gRPC's status codes by number, named as in the gRPC specification.
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

#[derive(Debug, Clone)]
pub(super) struct MetricsLayer {
    metrics: Metrics,
}

impl MetricsLayer {
    pub(super) fn new(metrics: Metrics) -> MetricsLayer {
        MetricsLayer { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> MetricsService<S> {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, RequestBody, ReplyBody> Service<http::Request<RequestBody>> for MetricsService<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ReplyBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<MeteredBody<ReplyBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let mut call = Call {
            metrics: self.metrics.clone(),
            method: method_label(request.uri().path()),
            started: Instant::now(),
            recorded: false,
        };
        let reply = self.inner.call(request);
        Box::pin(async move {
            let reply = reply.await?;
            // An immediate error ("trailers-only") carries its code in the headers.
            if let Some(code) = code_of(reply.headers()) {
                call.record(code);
            }
            Ok(reply.map(|inner| MeteredBody { inner, call }))
        })
    }
}

/// A reply body that records its call when the trailers go by.
#[derive(Debug)]
pub(super) struct MeteredBody<B> {
    inner: B,
    call: Call,
}

impl<B: Body + Unpin> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.call.record(code_of(trailers).unwrap_or("UNKNOWN"));
                }
            }
            // The body failed while being sent; the client sees a reset stream.
            Poll::Ready(Some(Err(_))) => this.call.record("INTERNAL"),
            // Ended without trailers (or after them: `record` keeps the first).
            Poll::Ready(None) => this.call.record("UNKNOWN"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Debug)]
struct Call {
    metrics: Metrics,
    method: &'static str,
    started: Instant,
    recorded: bool,
}

impl Call {
    fn record(&mut self, code: &'static str) {
        if !self.recorded {
            self.recorded = true;
            self.metrics
                .grpc_query_finished(self.method, code, self.started.elapsed());
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // The reply never finished: the connection closed or the client cancelled.
        self.record("CANCELLED");
    }
}

fn method_label(path: &str) -> &'static str {
    METHODS
        .iter()
        .find(|method| **method == path)
        .copied()
        .unwrap_or(OTHER_METHOD)
}

fn code_of(headers: &http::HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    let code: usize = value.trim().parse().ok()?;
    Some(CODE_NAMES.get(code).copied().unwrap_or("UNKNOWN"))
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    /// `METHODS` holds exactly the methods of the services the port serves, as the
    /// descriptors built from `proto/` (and tonic-health's) declare them.
    #[test]
    fn methods_match_the_served_descriptors() {
        let mut declared = Vec::new();
        for (bytes, services) in [
            (
                crate::protocol::FILE_DESCRIPTOR_SET,
                &["jaeger.api_v2.QueryService", "jaeger.api_v3.QueryService"][..],
            ),
            (
                tonic_health::pb::FILE_DESCRIPTOR_SET,
                &["grpc.health.v1.Health"][..],
            ),
        ] {
            let set = prost_types::FileDescriptorSet::decode(bytes).expect("descriptor set");
            for file in &set.file {
                for service in &file.service {
                    let name = format!("{}.{}", file.package(), service.name());
                    if services.contains(&name.as_str()) {
                        for method in &service.method {
                            declared.push(format!("/{name}/{}", method.name()));
                        }
                    }
                }
            }
        }
        let mut listed: Vec<String> = METHODS
            .iter()
            .filter(|method| !method.starts_with("/grpc.reflection."))
            .map(|method| (*method).to_owned())
            .collect();
        declared.sort();
        listed.sort();
        assert_eq!(listed, declared);
    }

    #[test]
    fn codes_and_methods_are_named() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(code_of(&headers), None);
        for (value, name) in [
            ("0", "OK"),
            ("5", "NOT_FOUND"),
            ("16", "UNAUTHENTICATED"),
            ("99", "UNKNOWN"),
        ] {
            headers.insert("grpc-status", http::HeaderValue::from_static(value));
            assert_eq!(code_of(&headers), Some(name));
        }
        assert_eq!(
            method_label("/jaeger.api_v3.QueryService/GetTrace"),
            "/jaeger.api_v3.QueryService/GetTrace"
        );
        assert_eq!(
            method_label("/jaeger.api_v3.QueryService/Nope"),
            OTHER_METHOD
        );
    }
}
