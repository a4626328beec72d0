//! `TestServer`: the real server in-process on ephemeral ports.

pub(crate) mod binary;
pub(crate) mod fixtures;

use std::net::SocketAddr;
use std::path::Path;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracery::config::Config;
use tracery::{LegacyListeners, Listeners};

pub(crate) struct TestServer {
    pub(crate) otlp_grpc: SocketAddr,
    pub(crate) otlp_http: SocketAddr,
    pub(crate) api: SocketAddr,
    /// Prometheus `/metrics` and health checks.
    pub(crate) admin: SocketAddr,
    shutdown: CancellationToken,
    /// Jaeger's gRPC port (PostSpans and OTLP).
    pub(crate) jaeger_grpc: SocketAddr,
    pub(crate) jaeger_thrift_http: SocketAddr,
    pub(crate) jaeger_udp_compact: SocketAddr,
    pub(crate) jaeger_udp_binary: SocketAddr,
    pub(crate) zipkin: SocketAddr,
    pub(crate) query_grpc: SocketAddr,
    pub(crate) sampling_http: SocketAddr,
    pub(crate) sampling_grpc: SocketAddr,
    cancel_on_drop: DropGuard,
    handle: JoinHandle<anyhow::Result<()>>,
    data_dir: TempDir,
    /// (URL, database) when the server keeps spans in ClickHouse.
    clickhouse: Option<(String, String)>,
    pub(crate) http: reqwest::Client,
}

/// Tracery settings for `--storage clickhouse` on `url`, creating the schema.
pub(crate) fn use_clickhouse_url(config: &mut Config, url: &str, database: &str) {
    config.ingest.storage = tracery::config::StorageMode::Clickhouse;
    config.clickhouse = tracery::config::ClickHouseConfig {
        url: url.to_owned(),
        database: database.to_owned(),
        user: "default".to_owned(),
        password: None,
        password_file: None,
        cluster: None,
        create_schema: true,
        startup_wait: std::time::Duration::ZERO,
    };
}

/// Set (by `clickhouse::search_suites_pass_on_clickhouse`) to run whole test
/// suites with every `TestServer` on this ClickHouse URL, one database per server.
pub(crate) const CLICKHOUSE_URL_ENV: &str = "TRACERY_TEST_CLICKHOUSE_URL";

impl TestServer {
    /// Durable acks and a 10 ms flush: an `Ok` from an export means queryable.
    pub(crate) async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_in(tempfile::tempdir().unwrap(), adjust).await
    }

    /// Starts on an existing data dir, e.g. the one a stopped server left behind.
    pub(crate) async fn start_in(
        data_dir: TempDir,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let clickhouse = std::env::var(CLICKHOUSE_URL_ENV).ok().map(|url| {
            let database = format!("t{}", hex::encode(rand::random::<[u8; 8]>()));
            (url, database)
        });
        Self::start_on(data_dir, clickhouse, adjust).await
    }

    async fn start_on(
        data_dir: TempDir,
        clickhouse: Option<(String, String)>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::for_data_dir(data_dir.path());
        if let Some((url, database)) = &clickhouse {
            use_clickhouse_url(&mut config, url, database);
        }
        adjust(&mut config);
        let bind = || async { TcpListener::bind("127.0.0.1:0").await.unwrap() };
        let bind_udp = || async { UdpSocket::bind("127.0.0.1:0").await.unwrap() };
        let listeners = Listeners {
            otlp_grpc: bind().await,
            otlp_http: bind().await,
            api: bind().await,
            admin: bind().await,
            legacy: LegacyListeners {
                jaeger_grpc: Some(bind().await),
                jaeger_thrift_http: Some(bind().await),
                jaeger_udp_compact: Some(bind_udp().await),
                jaeger_udp_binary: Some(bind_udp().await),
                zipkin: Some(bind().await),
            },
            query_grpc: Some(bind().await),
            sampling_http: Some(bind().await),
            sampling_grpc: Some(bind().await),
        };
        let legacy = &listeners.legacy;
        let local =
            |listener: &Option<TcpListener>| listener.as_ref().unwrap().local_addr().unwrap();
        let local_udp = |socket: &Option<UdpSocket>| socket.as_ref().unwrap().local_addr().unwrap();
        let jaeger_grpc = local(&legacy.jaeger_grpc);
        let jaeger_thrift_http = local(&legacy.jaeger_thrift_http);
        let jaeger_udp_compact = local_udp(&legacy.jaeger_udp_compact);
        let jaeger_udp_binary = local_udp(&legacy.jaeger_udp_binary);
        let zipkin = local(&legacy.zipkin);
        let otlp_grpc = listeners.otlp_grpc.local_addr().unwrap();
        let otlp_http = listeners.otlp_http.local_addr().unwrap();
        let api = listeners.api.local_addr().unwrap();
        let admin = listeners.admin.local_addr().unwrap();
        let query_grpc = listeners
            .query_grpc
            .as_ref()
            .map(|listener| listener.local_addr().unwrap())
            .unwrap();
        let local =
            |listener: &Option<TcpListener>| listener.as_ref().unwrap().local_addr().unwrap();
        let sampling_http = local(&listeners.sampling_http);
        let sampling_grpc = local(&listeners.sampling_grpc);
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(tracery::run(config, listeners, shutdown.clone()));
        TestServer {
            otlp_grpc,
            otlp_http,
            api,
            admin,
            shutdown: shutdown.clone(),
            jaeger_grpc,
            jaeger_thrift_http,
            jaeger_udp_compact,
            jaeger_udp_binary,
            zipkin,
            query_grpc,
            sampling_http,
            sampling_grpc,
            cancel_on_drop: shutdown.drop_guard(),
            handle,
            data_dir,
            clickhouse,
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server, asserts a clean exit, and hands back the data dir.
    pub(crate) async fn stop(self) -> TempDir {
        drop(self.cancel_on_drop);
        self.handle.await.unwrap().expect("clean shutdown");
        self.data_dir
    }

    /// Starts a graceful shutdown without waiting for it; `stop` then waits.
    #[allow(dead_code)]
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// GET on the admin port; returns the status and the body text.
    #[allow(dead_code)]
    pub(crate) async fn get_admin(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("http://{}{path}", self.admin))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    pub(crate) async fn restart(self) -> TestServer {
        let clickhouse = self.clickhouse.clone();
        let data_dir = self.stop().await;
        TestServer::start_on(data_dir, clickhouse, |_| {}).await
    }

    #[allow(dead_code)]
    pub(crate) fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub(crate) async fn grpc_client(&self) -> TraceServiceClient<tonic::transport::Channel> {
        TraceServiceClient::connect(format!("http://{}", self.otlp_grpc))
            .await
            .unwrap()
    }

    pub(crate) async fn export(&self, request: ExportTraceServiceRequest) {
        self.grpc_client()
            .await
            .export(request)
            .await
            .expect("export accepted");
    }

    pub(crate) fn api_url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.api)
    }

    /// GET on the query API; returns the status and the parsed JSON body.
    pub(crate) async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.api_url(path_and_query))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, body)
    }

    /// GET that must answer 200.
    pub(crate) async fn get_ok(&self, path_and_query: &str) -> Value {
        let (status, body) = self.get(path_and_query).await;
        assert_eq!(status, 200, "GET {path_and_query}: {body}");
        body
    }
}

/// Operation names of every span in a v1 `/api/traces…` reply, per trace.
pub(crate) fn v1_span_names(body: &Value) -> Vec<Vec<String>> {
    body["data"]
        .as_array()
        .expect("data is an array")
        .iter()
        .map(|trace| {
            trace["spans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|span| span["operationName"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// Trace IDs of a v1 reply, in order.
pub(crate) fn v1_trace_ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|trace| trace["traceID"].as_str().unwrap().to_owned())
        .collect()
}

/// Compares `actual` with `tests/it/golden/<name>.json`; `UPDATE_GOLDEN=1` rewrites it.
pub(crate) fn assert_golden(name: &str, actual: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(format!("{name}.json"));
    let rendered = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    pretty_assertions::assert_eq!(expected, rendered, "golden {name} differs");
}
