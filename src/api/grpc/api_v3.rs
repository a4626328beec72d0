//! `jaeger.api_v3.QueryService`: traces as OTLP `TracesData`, streamed one
//! message per trace, with the same grouping and adjusters as `/api/v3/traces`.

use std::time::Duration;

use futures_util::stream;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use tonic::{Request, Response, Status};

use super::{duration, span_kind_filter, status_from, unix_nanos, ReplyStream};
use crate::api::dto;
use crate::model::{Span, SpanKind, TraceId};
use crate::protocol::jaeger::api_v3::query_service_server::QueryService as V3;
use crate::protocol::jaeger::api_v3::{
    DependenciesResponse, Dependency, FindTracesRequest, GetDependenciesRequest,
    GetOperationsRequest, GetOperationsResponse, GetServicesRequest, GetServicesResponse,
    GetTraceRequest, Operation,
};
use crate::protocol::otlp::encode;
use crate::query::{QueryService, TraceQuery};

/// Jaeger's api_v3 default for `search_depth`.
const DEFAULT_SEARCH_DEPTH: usize = 100;
const MAX_SEARCH_DEPTH: usize = 10_000;

#[derive(Debug)]
pub(super) struct QueryV3 {
    query: QueryService,
}

impl QueryV3 {
    pub(super) fn new(query: QueryService) -> QueryV3 {
        QueryV3 { query }
    }
}

#[tonic::async_trait]
impl V3 for QueryV3 {
    async fn get_trace(
        &self,
        request: Request<GetTraceRequest>,
    ) -> Result<Response<ReplyStream<TracesData>>, Status> {
        let raw = &request.get_ref().trace_id;
        let trace_id = TraceId::from_hex(raw)
            .map_err(|error| Status::invalid_argument(format!("malformed trace_id: {error}")))?;
        if trace_id.0 == [0; 16] {
            return Err(Status::invalid_argument("uninitialized TraceID"));
        }
        let spans = self.query.trace(trace_id).await.map_err(status_from)?;
        Ok(Response::new(one_message_per_trace(vec![spans])))
    }

    async fn find_traces(
        &self,
        request: Request<FindTracesRequest>,
    ) -> Result<Response<ReplyStream<TracesData>>, Status> {
        let query = search_query(request.into_inner())?;
        let traces = self.query.find_traces(query).await.map_err(status_from)?;
        if traces.is_empty() {
            return Err(Status::not_found("No traces found"));
        }
        Ok(Response::new(one_message_per_trace(traces)))
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
        let operations = self
            .query
            .operations(&request.service, kind)
            .await
            .map_err(status_from)?
            .into_iter()
            .map(|operation| Operation {
                name: operation.name,
                // api_v3 reports an unspecified kind as internal.
                span_kind: match operation.kind {
                    SpanKind::Unspecified => SpanKind::Internal.jaeger_name().to_owned(),
                    kind => kind.jaeger_name().to_owned(),
                },
            })
            .collect();
        Ok(Response::new(GetOperationsResponse { operations }))
    }

    async fn get_dependencies(
        &self,
        request: Request<GetDependenciesRequest>,
    ) -> Result<Response<DependenciesResponse>, Status> {
        let request = request.get_ref();
        let (Some(start), Some(end)) = (
            unix_nanos(request.start_time.as_ref()),
            unix_nanos(request.end_time.as_ref()),
        ) else {
            return Err(Status::invalid_argument(
                "start_time and end_time are required",
            ));
        };
        if end < start {
            return Err(Status::invalid_argument(
                "end_time must not be before start_time",
            ));
        }
        let dependencies = self
            .query
            .dependencies(end, Duration::from_nanos(end - start))
            .await
            .map_err(status_from)?
            .into_iter()
            .map(|dependency| Dependency {
                parent: dependency.parent,
                child: dependency.child,
                call_count: dependency.call_count,
            })
            .collect();
        Ok(Response::new(DependenciesResponse { dependencies }))
    }
}

fn search_query(request: FindTracesRequest) -> Result<TraceQuery, Status> {
    let query = request
        .query
        .ok_or_else(|| Status::invalid_argument("missing query"))?;
    let (Some(start_min), Some(start_max)) = (
        unix_nanos(query.start_time_min.as_ref()),
        unix_nanos(query.start_time_max.as_ref()),
    ) else {
        return Err(Status::invalid_argument(
            "start time min and max are required parameters",
        ));
    };
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
    let limit = match query.search_depth {
        0 => DEFAULT_SEARCH_DEPTH,
        depth if depth < 0 => {
            return Err(Status::invalid_argument(
                "search_depth must not be negative",
            ))
        }
        depth => (depth as usize).min(MAX_SEARCH_DEPTH),
    };
    let mut tags: Vec<(String, String)> = query.attributes.into_iter().collect();
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

fn one_message_per_trace(traces: Vec<Vec<Span>>) -> ReplyStream<TracesData> {
    Box::pin(stream::iter(traces.into_iter().map(|spans| {
        Ok(encode::traces_data(dto::by_resource_and_scope(&spans)))
    })))
}
