//! `jaeger.api_v2.QueryService`, as Jaeger's query serves it on 16685 (Kiali,
//! Tracetest and Jaeger's anonymizer call it).
//!
//! Traces stream as `SpansResponseChunk`s of at most 10 spans, one trace at a
//! time, each span carrying its process. `ArchiveTrace` keeps the generated
//! `Unimplemented` answer: Tracery has no archive storage.

use std::time::Duration;

use futures_util::stream;
use tonic::{Request, Response, Status};

use super::{duration, span_kind_filter, status_from, unix_nanos, ReplyStream};
use crate::api::dto;
use crate::model::{Span, TraceId};
use crate::protocol::jaeger::api_v2::query_service_server::QueryService as V2;
use crate::protocol::jaeger::api_v2::{
    DependencyLink, FindTracesRequest, GetDependenciesRequest, GetDependenciesResponse,
    GetOperationsRequest, GetOperationsResponse, GetServicesRequest, GetServicesResponse,
    GetTraceRequest, Operation, SpansResponseChunk,
};
use crate::query::{QueryService, TraceQuery};

/// Jaeger's `maxSpanCountInChunk`.
const MAX_SPANS_PER_CHUNK: usize = 10;
/// Traces returned when `search_depth` is 0 or missing, as api_v3 and the HTTP API do.
const DEFAULT_SEARCH_DEPTH: usize = 100;
const MAX_SEARCH_DEPTH: usize = 10_000;
/// The window searched when the query gives no start time bounds.
const DEFAULT_SEARCH_WINDOW: Duration = Duration::from_secs(48 * 3600);
const DEFAULT_DEPENDENCIES_LOOKBACK: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug)]
pub(super) struct QueryV2 {
    query: QueryService,
}

impl QueryV2 {
    pub(super) fn new(query: QueryService) -> QueryV2 {
        QueryV2 { query }
    }
}

#[tonic::async_trait]
impl V2 for QueryV2 {
    async fn get_trace(
        &self,
        request: Request<GetTraceRequest>,
    ) -> Result<Response<ReplyStream<SpansResponseChunk>>, Status> {
        let trace_id = trace_id(&request.get_ref().trace_id)?;
        let spans = self.query.trace(trace_id).await.map_err(status_from)?;
        Ok(Response::new(chunked(vec![spans])))
    }

    async fn find_traces(
        &self,
        request: Request<FindTracesRequest>,
    ) -> Result<Response<ReplyStream<SpansResponseChunk>>, Status> {
        let query = search_query(request.into_inner())?;
        let traces = self.query.find_traces(query).await.map_err(status_from)?;
        Ok(Response::new(chunked(traces)))
    }

    async fn get_services(
        &self,
        _request: Request<GetServicesRequest>,
    ) -> Result<Response<GetServicesResponse>, Status> {
        Ok(Response::new(GetServicesResponse {
            services: self.query.services().await.map_err(status_from)?,
        }))
    }

    async fn get_operations(
        &self,
        request: Request<GetOperationsRequest>,
    ) -> Result<Response<GetOperationsResponse>, Status> {
        let request = request.get_ref();
        let kind = span_kind_filter(&request.span_kind)?;
        let operations: Vec<Operation> = self
            .query
            .operations(&request.service, kind)
            .await
            .map_err(status_from)?
            .into_iter()
            .map(|operation| Operation {
                name: operation.name,
                span_kind: operation.kind.jaeger_name().to_owned(),
            })
            .collect();
        let mut operation_names: Vec<String> = operations
            .iter()
            .map(|operation| operation.name.clone())
            .collect();
        operation_names.dedup(); // sorted by name, so kinds of one name are adjacent
        Ok(Response::new(GetOperationsResponse {
            operation_names,
            operations,
        }))
    }

    async fn get_dependencies(
        &self,
        request: Request<GetDependenciesRequest>,
    ) -> Result<Response<GetDependenciesResponse>, Status> {
        let request = request.get_ref();
        let end = unix_nanos(request.end_time.as_ref()).unwrap_or_else(now_unix_nanos);
        let lookback = match unix_nanos(request.start_time.as_ref()) {
            Some(start) if start <= end => Duration::from_nanos(end - start),
            Some(_) => {
                return Err(Status::invalid_argument(
                    "start_time must not be after end_time",
                ))
            }
            None => DEFAULT_DEPENDENCIES_LOOKBACK,
        };
        let dependencies = self
            .query
            .dependencies(end, lookback)
            .await
            .map_err(status_from)?
            .into_iter()
            .map(|dependency| DependencyLink {
                parent: dependency.parent,
                child: dependency.child,
                call_count: dependency.call_count,
                source: String::new(),
            })
            .collect();
        Ok(Response::new(GetDependenciesResponse { dependencies }))
    }
}

/// A 16-byte trace ID, or an 8-byte one (64-bit Jaeger IDs); all zeros is refused
/// as Jaeger does.
fn trace_id(bytes: &[u8]) -> Result<TraceId, Status> {
    let trace_id = match bytes.len() {
        16 => TraceId::from_bytes(bytes),
        8 => {
            let mut padded = [0_u8; 16];
            padded[8..].copy_from_slice(bytes);
            Some(TraceId(padded))
        }
        0 => None,
        other => {
            return Err(Status::invalid_argument(format!(
                "trace_id must be 16 bytes, got {other}"
            )))
        }
    };
    match trace_id {
        Some(trace_id) if trace_id.0 != [0; 16] => Ok(trace_id),
        _ => Err(Status::invalid_argument("uninitialized TraceID")),
    }
}

fn search_query(request: FindTracesRequest) -> Result<TraceQuery, Status> {
    let query = request
        .query
        .ok_or_else(|| Status::invalid_argument("missing query"))?;
    let now = now_unix_nanos();
    let start_max = unix_nanos(query.start_time_max.as_ref()).unwrap_or(now);
    let start_min = unix_nanos(query.start_time_min.as_ref())
        .unwrap_or_else(|| start_max.saturating_sub(DEFAULT_SEARCH_WINDOW.as_nanos() as u64));
    if start_max < start_min {
        return Err(Status::invalid_argument(
            "start_time_max must not be before start_time_min",
        ));
    }
    let duration_min = duration(query.duration_min.as_ref())?;
    let duration_max = duration(query.duration_max.as_ref())?;
    if let (Some(min), Some(max)) = (duration_min, duration_max) {
        if max < min {
            return Err(Status::invalid_argument(
                "duration_max must not be less than duration_min",
            ));
        }
    }
    let limit = match usize::try_from(query.search_depth) {
        Ok(0) | Err(_) => DEFAULT_SEARCH_DEPTH,
        Ok(depth) => depth.min(MAX_SEARCH_DEPTH),
    };
    let mut tags: Vec<(String, String)> = query.tags.into_iter().collect();
    tags.sort();
    Ok(TraceQuery {
        service: (!query.service_name.is_empty()).then_some(query.service_name),
        operation: (!query.operation_name.is_empty()).then_some(query.operation_name),
        tags,
        filters: Vec::new(),
        n_plus_one: false,
        start_min_unix_nanos: start_min,
        start_max_unix_nanos: start_max,
        duration_min,
        duration_max,
        limit,
    })
}

/// The traces as a stream of chunks; each trace is rendered (adjusters and
/// translation, as `/api/traces`) only when the stream reaches it.
fn chunked(traces: Vec<Vec<Span>>) -> ReplyStream<SpansResponseChunk> {
    let chunks = traces.into_iter().flat_map(|spans| {
        let rendered = dto::jaeger_trace(&spans).to_proto_spans();
        let mut chunks = Vec::with_capacity(rendered.len().div_ceil(MAX_SPANS_PER_CHUNK));
        let mut rendered = rendered.into_iter().peekable();
        while rendered.peek().is_some() {
            chunks.push(Ok(SpansResponseChunk {
                spans: rendered.by_ref().take(MAX_SPANS_PER_CHUNK).collect(),
            }));
        }
        chunks
    });
    Box::pin(stream::iter(chunks))
}

fn now_unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}
