//! The demo shop's services and the SDK each pretends to be written with.

use opentelemetry_proto::tonic::common::v1::KeyValue as OtlpKeyValue;

use super::trace::kv;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Service {
    Frontend,
    ApiGateway,
    Auth,
    Cart,
    Orders,
    Payment,
    Notifications,
}

impl Service {
    #[cfg(test)]
    pub(super) const ALL: [Service; 7] = [
        Service::Frontend,
        Service::ApiGateway,
        Service::Auth,
        Service::Cart,
        Service::Orders,
        Service::Payment,
        Service::Notifications,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Service::Frontend => "frontend",
            Service::ApiGateway => "api-gateway",
            Service::Auth => "auth",
            Service::Cart => "cart",
            Service::Orders => "orders",
            Service::Payment => "payment",
            Service::Notifications => "notifications",
        }
    }

    /// `telemetry.sdk.language`.
    pub(super) fn language(self) -> &'static str {
        match self {
            Service::Frontend | Service::Payment => "nodejs",
            Service::ApiGateway | Service::Auth => "go",
            Service::Cart | Service::Orders => "python",
            Service::Notifications => "elixir",
        }
    }

    fn sdk_version(self) -> &'static str {
        match self.language() {
            "nodejs" => "1.30.1",
            "go" => "1.35.0",
            "python" => "1.29.0",
            _ => "1.5.0",
        }
    }

    fn runtime(self) -> (&'static str, &'static str) {
        match self.language() {
            "nodejs" => ("nodejs", "22.12.0"),
            "go" => ("go", "go1.23.4"),
            "python" => ("cpython", "3.12.8"),
            _ => ("BEAM", "27.2"),
        }
    }

    /// The instrumentation scope, as that language's server instrumentation names it.
    pub(super) fn scope_name(self) -> &'static str {
        match self {
            Service::Frontend | Service::Payment => "@opentelemetry/instrumentation-http",
            Service::ApiGateway | Service::Auth => {
                "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
            }
            Service::Cart | Service::Orders => "opentelemetry.instrumentation.flask",
            Service::Notifications => "opentelemetry_broadway",
        }
    }

    pub(super) fn scope_version(self) -> &'static str {
        match self.language() {
            "nodejs" => "0.57.1",
            "go" => "0.58.0",
            "python" => "0.50b0",
            _ => "0.2.0",
        }
    }

    pub(super) fn resource_attributes(self) -> Vec<OtlpKeyValue> {
        let (runtime, runtime_version) = self.runtime();
        vec![
            kv("service.name", self.name()),
            kv("service.namespace", "shop"),
            kv("service.version", "2.4.1"),
            kv("deployment.environment.name", "demo"),
            kv("telemetry.sdk.name", "opentelemetry"),
            kv("telemetry.sdk.language", self.language()),
            kv("telemetry.sdk.version", self.sdk_version()),
            kv("process.runtime.name", runtime),
            kv("process.runtime.version", runtime_version),
            kv("host.name", format!("{}-7f9c4d", self.name())),
        ]
    }
}
