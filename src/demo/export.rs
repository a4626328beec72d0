//! Sends generated requests to an OTLP endpoint: gRPC through tonic's generated
//! `TraceService` client, or HTTP with a protobuf body, as the SDK exporters do.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest as OtlpExportRequest,
    ExportTraceServiceResponse as OtlpExportResponse,
};
use prost::Message as _;
use tonic::transport::{Channel, Endpoint};

use super::{DemoError, DemoProtocol};

/// How long one export may take before it counts as failed.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(super) enum Exporter {
    Grpc(TraceServiceClient<Channel>),
    Http {
        client: reqwest::Client,
        url: String,
    },
}

/// Why one export failed; the demo logs it and goes on.
#[derive(Debug, thiserror::Error)]
pub(super) enum ExportError {
    #[error("gRPC export failed: {0}")]
    Grpc(#[from] tonic::Status),
    #[error("HTTP export failed")]
    Http(#[from] reqwest::Error),
    #[error("HTTP export answered {status}: {body}")]
    HttpStatus { status: u16, body: String },
}

impl Exporter {
    /// Connects lazily: the server may come up after the demo (as in compose).
    pub(super) fn new(protocol: DemoProtocol, endpoint: &str) -> Result<Exporter, DemoError> {
        let invalid = |reason: String| DemoError::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason,
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(invalid("must start with http:// or https://".to_owned()));
        }
        match protocol {
            DemoProtocol::Grpc => {
                let channel = Endpoint::from_shared(endpoint.to_owned())
                    .map_err(|error| invalid(error.to_string()))?
                    .timeout(EXPORT_TIMEOUT)
                    .connect_lazy();
                Ok(Exporter::Grpc(TraceServiceClient::new(channel)))
            }
            DemoProtocol::Http => {
                let base = endpoint.trim_end_matches('/');
                let url = if base.ends_with("/v1/traces") {
                    base.to_owned()
                } else {
                    format!("{base}/v1/traces")
                };
                let client = reqwest::Client::builder()
                    .timeout(EXPORT_TIMEOUT)
                    .build()
                    .map_err(|error| invalid(error.to_string()))?;
                Ok(Exporter::Http { client, url })
            }
        }
    }

    /// Exports one request; returns how many spans the server rejected.
    pub(super) async fn export(&mut self, request: OtlpExportRequest) -> Result<i64, ExportError> {
        let response = match self {
            Exporter::Grpc(client) => client.export(request).await?.into_inner(),
            Exporter::Http { client, url } => {
                let response = client
                    .post(url.as_str())
                    .header("content-type", "application/x-protobuf")
                    .body(request.encode_to_vec())
                    .send()
                    .await?;
                let status = response.status();
                let body = response.bytes().await?;
                if !status.is_success() {
                    return Err(ExportError::HttpStatus {
                        status: status.as_u16(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                }
                OtlpExportResponse::decode(body.as_ref()).unwrap_or_default()
            }
        };
        Ok(response
            .partial_success
            .map_or(0, |partial| partial.rejected_spans))
    }
}
