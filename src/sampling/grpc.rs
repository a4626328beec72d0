//! Remote sampling over gRPC: `jaeger.api_v2.SamplingManager/GetSamplingStrategy`,
//! on 5779 (and on 14250 beside the Jaeger collector service, via `service`).

use crate::net::Listener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::SamplingService;
use crate::protocol::jaeger::api_v2::sampling_manager_server::{
    SamplingManager, SamplingManagerServer,
};
use crate::protocol::jaeger::api_v2::{SamplingStrategyParameters, SamplingStrategyResponse};

#[derive(Debug)]
struct Manager {
    sampling: SamplingService,
}

#[tonic::async_trait]
impl SamplingManager for Manager {
    async fn get_sampling_strategy(
        &self,
        request: Request<SamplingStrategyParameters>,
    ) -> Result<Response<SamplingStrategyResponse>, Status> {
        let name = &request.get_ref().service_name;
        if name.is_empty() {
            return Err(Status::invalid_argument("serviceName is required"));
        }
        Ok(Response::new(self.sampling.strategy(name)))
    }
}

/// The tonic service, for adding to another server (14250).
pub fn service(sampling: SamplingService) -> SamplingManagerServer<impl SamplingManager> {
    SamplingManagerServer::new(Manager { sampling })
}

/// Serves until `shutdown` is cancelled.
pub async fn serve(
    listener: Listener,
    sampling: SamplingService,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    crate::net::grpc_server(&listener)
        .add_service(service(sampling))
        .serve_with_incoming_shutdown(listener.into_incoming(), shutdown.cancelled_owned())
        .await
}
