//! Configuration: raw input (flags, `TRACERY_*` environment, TOML file) → validated `Config`.
//!
//! The only place that reads the environment (besides `RUST_LOG` in `telemetry`).
//! Every default is a named const here and is repeated in `--help`; a unit test keeps
//! the two in step.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub const DEFAULT_DATA_DIR: &str = "./tracery-data";
pub const DEFAULT_OTLP_GRPC_ADDR: &str = "0.0.0.0:4317";
pub const DEFAULT_OTLP_HTTP_ADDR: &str = "0.0.0.0:4318";
pub const DEFAULT_QUERY_ADDR: &str = "0.0.0.0:16686";
pub const DEFAULT_ADMIN_ADDR: &str = "0.0.0.0:14269";
pub const DEFAULT_JAEGER_GRPC_ADDR: &str = "0.0.0.0:14250";
pub const DEFAULT_JAEGER_THRIFT_HTTP_ADDR: &str = "0.0.0.0:14268";
pub const DEFAULT_JAEGER_UDP_COMPACT_ADDR: &str = "0.0.0.0:6831";
pub const DEFAULT_JAEGER_UDP_BINARY_ADDR: &str = "0.0.0.0:6832";
pub const DEFAULT_ZIPKIN_ADDR: &str = "0.0.0.0:9411";
pub const DEFAULT_QUERY_GRPC_ADDR: &str = "0.0.0.0:16685";
pub const DEFAULT_SAMPLING_HTTP_ADDR: &str = "0.0.0.0:5778";
pub const DEFAULT_SAMPLING_GRPC_ADDR: &str = "0.0.0.0:5779";
/// The URL prefix of the web UI and the query HTTP API: the root.
pub const DEFAULT_BASE_PATH: &str = "/";
pub const DEFAULT_SAMPLING_TARGET_TPS: f64 = 1.0;
pub const DEFAULT_SAMPLING_INTERVAL_MS: u64 = 60_000;
pub const DEFAULT_MAX_MESSAGE_MIB: usize = 16;
pub const DEFAULT_CORS_ORIGINS: &str = "*";
pub const DEFAULT_ACK: AckMode = AckMode::Durable;
pub const DEFAULT_MAX_BATCH_SPANS: usize = 8192;
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 200;
pub const DEFAULT_MAX_QUEUED_SPANS: usize = 65_536;
pub const DEFAULT_QUEUE_WAIT_MS: u64 = 500;
pub const DEFAULT_MAX_QUEUED_MIB: usize = 256;
pub const DEFAULT_CACHE_MIB: u64 = 4;
pub const DEFAULT_RETENTION_HOURS: u64 = 72;
/// No cap on the data dir's size.
pub const DEFAULT_MAX_DISK_GIB: f64 = 0.0;
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
pub const DEFAULT_RED_METRICS: bool = true;
/// N+1 detection: fewest repeated sibling spans that count as a finding.
pub const DEFAULT_N_PLUS_ONE_MIN_REPEATS: usize = 5;
/// N+1 detection: a run counts if its spans take this long in total…
pub const DEFAULT_N_PLUS_ONE_MIN_TOTAL_MS: u64 = 50;
/// …or at least this share of their parent's duration, in percent.
pub const DEFAULT_N_PLUS_ONE_MIN_PARENT_PERCENT: u32 = 20;
/// Connections each TCP listener serves at once; more wait to be accepted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// A connection must finish its TLS handshake, and send the first 24 bytes of a
/// request (the HTTP/2 preface; every HTTP/1.1 request is longer), within this.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// HTTP/1 request headers must arrive within this (also how long an idle
/// keep-alive connection waits for its next request).
pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 30_000;
/// A request, body included, must be answered within this.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 60_000;
/// A connection that sends and receives nothing for this long is closed; HTTP/2
/// peers are pinged at half of it, so a live gRPC client is never idle.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 120_000;
/// sled's background fsync interval for writes not already synced by a durable ack.
pub const DEFAULT_SLED_FLUSH_EVERY_MS: u64 = 500;
/// How often small blocks are merged (`store::compact`).
pub const DEFAULT_COMPACTION_INTERVAL_MS: u64 = 10_000;
/// `--storage clickhouse`: the server's HTTP interface.
pub const DEFAULT_CLICKHOUSE_URL: &str = "http://127.0.0.1:8123";
pub const DEFAULT_CLICKHOUSE_DATABASE: &str = "tracery";
pub const DEFAULT_CLICKHOUSE_USER: &str = "default";
/// `--storage clickhouse`: how long start-up keeps retrying a ClickHouse that is
/// unreachable or busy (a compose file starts both at once) before giving up.
pub const DEFAULT_CLICKHOUSE_STARTUP_WAIT_MS: u64 = 120_000;
/// One batch at a time: exports that arrive meanwhile make the next batch bigger,
/// and ClickHouse's cost is mostly per INSERT (a part per table), so on a server
/// without cores to spare more at once is slower (docs/scale-out.md: 4 gave ~0.7×
/// the spans/s of 1 on a 2-core machine).
pub const DEFAULT_CLICKHOUSE_CONCURRENT_INSERTS: usize = 1;

/// When an export is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AckMode {
    /// After the spans are written to the store and fsynced.
    Durable,
    /// As soon as the spans are queued; durable within flush interval + 500 ms.
    Enqueued,
}

/// What the ingester does with batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StorageMode {
    /// Store spans in sled under --data-dir.
    Sled,
    /// Decode, convert and drop every span: the benchmark's null sink.
    Discard,
    /// Store spans in ClickHouse (--clickhouse-*); no data dir is used.
    Clickhouse,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value for `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("failed to read config file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to parse config file {path}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
}

/// Every setting, as it arrives: all optional. Field names are the TOML keys.
#[derive(Debug, Default, Clone, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Where the sled store lives [default: ./tracery-data]
    #[arg(long, env = "TRACERY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// OTLP/gRPC listen address [default: 0.0.0.0:4317]
    #[arg(long, env = "TRACERY_OTLP_GRPC_ADDR")]
    pub otlp_grpc_addr: Option<String>,
    /// OTLP/HTTP listen address [default: 0.0.0.0:4318]
    #[arg(long, env = "TRACERY_OTLP_HTTP_ADDR")]
    pub otlp_http_addr: Option<String>,
    /// Jaeger gRPC (CollectorService/PostSpans, and OTLP TraceService) listen address; empty turns it off [default: 0.0.0.0:14250]
    #[arg(long, env = "TRACERY_JAEGER_GRPC_ADDR")]
    pub jaeger_grpc_addr: Option<String>,
    /// Jaeger Thrift over HTTP (POST /api/traces) listen address; empty turns it off [default: 0.0.0.0:14268]
    #[arg(long, env = "TRACERY_JAEGER_THRIFT_HTTP_ADDR")]
    pub jaeger_thrift_http_addr: Option<String>,
    /// Jaeger agent UDP, Thrift compact (emitBatch), listen address; empty turns it off [default: 0.0.0.0:6831]
    #[arg(long, env = "TRACERY_JAEGER_UDP_COMPACT_ADDR")]
    pub jaeger_udp_compact_addr: Option<String>,
    /// Jaeger agent UDP, Thrift binary (emitBatch), listen address; empty turns it off [default: 0.0.0.0:6832]
    #[arg(long, env = "TRACERY_JAEGER_UDP_BINARY_ADDR")]
    pub jaeger_udp_binary_addr: Option<String>,
    /// Zipkin HTTP (POST /api/v2/spans, /api/v1/spans) listen address; empty turns it off [default: 0.0.0.0:9411]
    #[arg(long, env = "TRACERY_ZIPKIN_ADDR")]
    pub zipkin_addr: Option<String>,
    /// Query API and web UI listen address [default: 0.0.0.0:16686]
    #[arg(long, env = "TRACERY_QUERY_ADDR")]
    pub query_addr: Option<String>,
    /// URL prefix for the web UI and the whole query HTTP API (`/jaeger` serves `/jaeger/api/traces`), for a reverse proxy [default: /]
    #[arg(long, env = "TRACERY_BASE_PATH")]
    pub base_path: Option<String>,
    /// Admin listen address: Prometheus /metrics and health checks [default: 0.0.0.0:14269]
    #[arg(long, env = "TRACERY_ADMIN_ADDR")]
    pub admin_addr: Option<String>,
    /// gRPC query API (jaeger.api_v2 and api_v3 QueryService) listen address; empty turns it off [default: 0.0.0.0:16685]
    #[arg(long, env = "TRACERY_QUERY_GRPC_ADDR")]
    pub query_grpc_addr: Option<String>,
    /// Remote sampling over HTTP (`/?service=`, `/sampling`, `/api/sampling`); empty turns it off [default: 0.0.0.0:5778]
    #[arg(long, env = "TRACERY_SAMPLING_HTTP_ADDR")]
    pub sampling_http_addr: Option<String>,
    /// Remote sampling over gRPC (jaeger.api_v2.SamplingManager); empty turns it off [default: 0.0.0.0:5779]
    #[arg(long, env = "TRACERY_SAMPLING_GRPC_ADDR")]
    pub sampling_grpc_addr: Option<String>,
    /// Jaeger sampling strategies file (JSON), reloaded when it changes; without it every service gets probabilistic 0.001
    #[arg(long, env = "TRACERY_SAMPLING_STRATEGIES")]
    pub sampling_strategies: Option<PathBuf>,
    /// Adaptive sampling: steer each operation's probability towards --sampling-target-tps [default: false]
    #[arg(long, env = "TRACERY_SAMPLING_ADAPTIVE", num_args = 0..=1, default_missing_value = "true")]
    pub sampling_adaptive: Option<bool>,
    /// Traces per second per operation that adaptive sampling aims at [default: 1]
    #[arg(long, env = "TRACERY_SAMPLING_TARGET_TPS")]
    pub sampling_target_tps: Option<f64>,
    /// How often adaptive sampling recomputes probabilities, in ms [default: 60000]
    #[arg(long, env = "TRACERY_SAMPLING_INTERVAL_MS")]
    pub sampling_interval_ms: Option<u64>,
    /// Largest accepted OTLP message (gRPC) or body after decompression (HTTP), in MiB [default: 16]
    #[arg(long, env = "TRACERY_MAX_MESSAGE_MIB")]
    pub max_message_mib: Option<usize>,
    /// Comma-separated origins allowed to POST /v1/traces from a browser, or `*` [default: *]
    #[arg(long, env = "TRACERY_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// When exports are acknowledged: after fsync (durable) or once queued (enqueued) [default: durable]
    #[arg(long, env = "TRACERY_ACK", value_enum)]
    pub ack: Option<AckMode>,
    /// Spans per stored block; larger compresses better [default: 8192]
    #[arg(long, env = "TRACERY_MAX_BATCH_SPANS")]
    pub max_batch_spans: Option<usize>,
    /// Longest a span waits in the queue before it is written, in ms [default: 200]
    #[arg(long, env = "TRACERY_FLUSH_INTERVAL_MS")]
    pub flush_interval_ms: Option<u64>,
    /// Spans the ingest queue holds before exports are refused with a retryable error [default: 65536]
    #[arg(long, env = "TRACERY_MAX_QUEUED_SPANS")]
    pub max_queued_spans: Option<usize>,
    /// MiB of spans (as held in memory) the ingest queue holds before exports are refused with a retryable error [default: 256]
    #[arg(long, env = "TRACERY_MAX_QUEUED_MIB")]
    pub max_queued_mib: Option<usize>,
    /// How long an export waits for queue space before it is refused, in ms [default: 500]
    #[arg(long, env = "TRACERY_QUEUE_WAIT_MS")]
    pub queue_wait_ms: Option<u64>,
    /// sled page cache size in MiB [default: 4]
    #[arg(long, env = "TRACERY_CACHE_MIB")]
    pub cache_mib: Option<u64>,
    /// Hours to keep spans; 0 keeps them forever [default: 72]
    #[arg(long, env = "TRACERY_RETENTION_HOURS")]
    pub retention_hours: Option<u64>,
    /// Largest size of the data dir in GiB (fractions allowed); over it, the oldest hours are dropped first. 0 means no cap [default: 0]
    #[arg(long, env = "TRACERY_MAX_DISK_GIB")]
    pub max_disk_gib: Option<f64>,
    /// zstd level for span blocks, 1 to 19 [default: 3]
    #[arg(long, env = "TRACERY_ZSTD_LEVEL")]
    pub zstd_level: Option<i32>,
    /// Keep RED metrics (rate, errors, duration histograms) while spans are written, for /monitor and /api/metrics [default: true]
    #[arg(long, env = "TRACERY_RED_METRICS")]
    pub red_metrics: Option<bool>,
    /// sled storage, clickhouse (--clickhouse-url), or discard (decode and drop; for benchmarks) [default: sled]
    #[arg(long, env = "TRACERY_STORAGE", value_enum)]
    pub storage: Option<StorageMode>,
    /// ClickHouse HTTP URL, with --storage clickhouse [default: http://127.0.0.1:8123]
    #[arg(long, env = "TRACERY_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,
    /// ClickHouse database that holds Tracery's tables [default: tracery]
    #[arg(long, env = "TRACERY_CLICKHOUSE_DATABASE")]
    pub clickhouse_database: Option<String>,
    /// ClickHouse user [default: default]
    #[arg(long, env = "TRACERY_CLICKHOUSE_USER")]
    pub clickhouse_user: Option<String>,
    /// File holding the ClickHouse password (TRACERY_CLICKHOUSE_PASSWORD wins over it); none by default
    #[arg(long, env = "TRACERY_CLICKHOUSE_PASSWORD_FILE")]
    pub clickhouse_password_file: Option<PathBuf>,
    /// ClickHouse cluster name: Replicated tables behind Distributed ones, created ON CLUSTER; empty for a single server [default: none]
    #[arg(long, env = "TRACERY_CLICKHOUSE_CLUSTER")]
    pub clickhouse_cluster: Option<String>,
    /// Create the ClickHouse database and tables that are missing, then start [default: false]
    #[arg(long, env = "TRACERY_CLICKHOUSE_CREATE_SCHEMA", num_args = 0..=1, default_missing_value = "true")]
    pub clickhouse_create_schema: Option<bool>,
    /// How long start-up retries an unreachable or busy ClickHouse before exiting, in ms; 0 tries once [default: 120000]
    #[arg(long, env = "TRACERY_CLICKHOUSE_STARTUP_WAIT_MS")]
    pub clickhouse_startup_wait_ms: Option<u64>,
    /// Batches the ingester has in flight to ClickHouse at once; each is acknowledged when its INSERTs are [default: 1]
    #[arg(long, env = "TRACERY_CLICKHOUSE_CONCURRENT_INSERTS")]
    pub clickhouse_concurrent_inserts: Option<usize>,
    /// N+1 detection: fewest repeated sibling spans (same query, route or name) that count [default: 5]
    #[arg(long, env = "TRACERY_N_PLUS_ONE_MIN_REPEATS")]
    pub n_plus_one_min_repeats: Option<usize>,
    /// N+1 detection: a run counts when its spans take this long in total, in ms… [default: 50]
    #[arg(long, env = "TRACERY_N_PLUS_ONE_MIN_TOTAL_MS")]
    pub n_plus_one_min_total_ms: Option<u64>,
    /// …or at least this share of their parent span's duration, in percent [default: 20]
    #[arg(long, env = "TRACERY_N_PLUS_ONE_MIN_PARENT_PERCENT")]
    pub n_plus_one_min_parent_percent: Option<u32>,
    /// PEM certificate chain: turns on TLS for every TCP listener (with --tls-key-file)
    #[arg(long, env = "TRACERY_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of --tls-cert-file
    #[arg(long, env = "TRACERY_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// File of bearer tokens (one per line) that ingest requires, on every OTLP, Jaeger and Zipkin TCP listener
    #[arg(long, env = "TRACERY_INGEST_TOKEN_FILE")]
    pub ingest_token_file: Option<PathBuf>,
    /// File of bearer tokens (one per line) that the query API, gRPC query API and UI data require
    #[arg(long, env = "TRACERY_QUERY_TOKEN_FILE")]
    pub query_token_file: Option<PathBuf>,
    /// Connections each TCP listener serves at once; further ones wait to be accepted [default: 4096]
    #[arg(long, env = "TRACERY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// A new connection must finish TLS and send its first 24 bytes within this, in ms [default: 10000]
    #[arg(long, env = "TRACERY_HANDSHAKE_TIMEOUT_MS")]
    pub handshake_timeout_ms: Option<u64>,
    /// HTTP/1 request headers (and an idle keep-alive connection's next request) must arrive within this, in ms [default: 30000]
    #[arg(long, env = "TRACERY_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// Longest an HTTP or gRPC request may take, body included, before it is answered 408 / CANCELLED, in ms [default: 60000]
    #[arg(long, env = "TRACERY_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,
    /// A connection with no bytes either way for this long is closed; HTTP/2 peers are pinged at half of it, in ms [default: 120000]
    #[arg(long, env = "TRACERY_IDLE_TIMEOUT_MS")]
    pub idle_timeout_ms: Option<u64>,
    /// How often small blocks are merged, in ms (advanced; the crash trials run it often) [default: 10000]
    #[arg(long, env = "TRACERY_COMPACTION_INTERVAL_MS", hide = true)]
    pub compaction_interval_ms: Option<u64>,
    /// Test hook (docs/reliability.md): seconds added to the clock that files spans by hour, retention and the disk cap use
    #[arg(
        long,
        env = "TRACERY_TEST_CLOCK_OFFSET_SECS",
        hide = true,
        allow_hyphen_values = true
    )]
    #[serde(skip)]
    pub test_clock_offset_secs: Option<i64>,
    /// Test hook: that clock runs this many times faster than the wall clock from the start on [default: 1]
    #[arg(long, env = "TRACERY_TEST_CLOCK_SPEED", hide = true)]
    #[serde(skip)]
    pub test_clock_speed: Option<u32>,
    /// Test hook: sleep this long between the steps of compaction and of dropping an hour, in ms
    #[arg(long, env = "TRACERY_TEST_PAUSE_MS", hide = true)]
    #[serde(skip)]
    pub test_pause_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub receiver: ReceiverConfig,
    pub ingest: IngestConfig,
    pub store: StoreConfig,
    /// Used with `--storage clickhouse`.
    pub clickhouse: ClickHouseConfig,
    pub query: QueryConfig,
    pub ui: UiConfig,
    pub otlp_grpc_addr: SocketAddr,
    pub otlp_http_addr: SocketAddr,
    pub query_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// `None`: the listener is off.
    pub jaeger_grpc_addr: Option<SocketAddr>,
    pub jaeger_thrift_http_addr: Option<SocketAddr>,
    pub jaeger_udp_compact_addr: Option<SocketAddr>,
    pub jaeger_udp_binary_addr: Option<SocketAddr>,
    pub zipkin_addr: Option<SocketAddr>,
    /// `None` when turned off with an empty value.
    pub query_grpc_addr: Option<SocketAddr>,
    pub sampling: SamplingConfig,
    pub access: AccessConfig,
    /// Per-connection limits of every TCP listener.
    pub limits: ConnectionLimits,
    /// How often small blocks are merged.
    pub compaction_interval: Duration,
    /// Off unless a crash trial or soak sets them.
    pub test_hooks: TestHooks,
}

/// Hooks for the crash trials and soaks (`TRACERY_TEST_*`, hidden flags): they let a
/// test put hour boundaries, retention and the disk cap where it wants them, and
/// widen the windows between the steps a kill should land in. All off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestHooks {
    /// Added to the wall clock the store files spans by hour with (and that
    /// retention and the disk cap measure against).
    pub clock_offset_secs: i64,
    /// That clock runs this many times faster than the wall clock, from when the
    /// store opens (1: real time).
    pub clock_speed: u32,
    /// Sleep between the steps of compaction and of dropping an hour.
    pub pause: Option<Duration>,
}

impl Default for TestHooks {
    fn default() -> TestHooks {
        TestHooks {
            clock_offset_secs: 0,
            clock_speed: 1,
            pause: None,
        }
    }
}

/// What one TCP listener allows each connection: slow, idle and too many
/// clients must not crowd out the others (see docs/reliability.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once per listener; more wait in the accept queue.
    pub max_connections: usize,
    /// TLS handshake, then the first 24 bytes of a request.
    pub handshake_timeout: Duration,
    /// HTTP/1 request headers, and the wait for a keep-alive connection's next request.
    pub header_timeout: Duration,
    /// A whole request, body included (HTTP: 408; gRPC: `CANCELLED`, as tonic does).
    pub request_timeout: Duration,
    /// No bytes read or written for this long closes the connection; HTTP/2 pings
    /// go out at half of it.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout: Duration::from_millis(DEFAULT_HANDSHAKE_TIMEOUT_MS),
            header_timeout: Duration::from_millis(DEFAULT_HEADER_TIMEOUT_MS),
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            idle_timeout: Duration::from_millis(DEFAULT_IDLE_TIMEOUT_MS),
        }
    }
}

/// TLS and bearer tokens; all off by default. Files are read when the server starts.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// Certificate chain and private key, both PEM.
    pub tls: Option<TlsFiles>,
    pub ingest_token_file: Option<PathBuf>,
    pub query_token_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct SamplingConfig {
    /// `None` when turned off with an empty value.
    pub http_addr: Option<SocketAddr>,
    pub grpc_addr: Option<SocketAddr>,
    pub strategies_file: Option<PathBuf>,
    pub adaptive: bool,
    pub target_tps: f64,
    pub interval: Duration,
}

#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub max_message_bytes: usize,
    /// `None` allows any origin.
    pub cors_origins: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub ack: AckMode,
    pub storage: StorageMode,
    pub max_batch_spans: NonZeroUsize,
    pub flush_interval: Duration,
    pub max_queued_spans: NonZeroUsize,
    /// Bytes of spans (`Span::approx_bytes`) the queue holds.
    pub max_queued_bytes: NonZeroUsize,
    pub queue_wait: Duration,
    /// Batches written at once; above 1 only for a backend whose writes are durable
    /// when they return (ClickHouse), as the embedded store pipelines its fsyncs.
    pub max_writes_in_flight: NonZeroUsize,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub cache_capacity_bytes: u64,
    pub max_block_spans: NonZeroUsize,
    pub zstd_level: i32,
    pub flush_every_ms: u64,
    /// `None` keeps data forever.
    pub retention: Option<Duration>,
    /// `None`: no cap on the data dir's size.
    pub max_disk_bytes: Option<u64>,
    /// Count RED metrics while writing (`store::red`).
    pub red_metrics: bool,
}

/// Where the ClickHouse backend (`crate::clickhouse`) keeps spans.
#[derive(Debug, Clone)]
pub struct ClickHouseConfig {
    /// `http://host:port` of the server's HTTP interface.
    pub url: String,
    pub database: String,
    pub user: String,
    /// From `TRACERY_CLICKHOUSE_PASSWORD`; wins over `password_file`.
    pub password: Option<Secret>,
    /// Read when the server starts.
    pub password_file: Option<PathBuf>,
    /// `None`: a single server.
    pub cluster: Option<String>,
    pub create_schema: bool,
    /// How long start-up retries transient failures (`ClickHouse::open`).
    pub startup_wait: Duration,
}

/// A credential: `Debug` doesn't show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, Default)]
pub struct QueryConfig {
    pub n_plus_one: NPlusOneConfig,
}

/// When repeated sibling spans are reported as an N+1 finding: at least
/// `min_repeats` of them, taking `min_total` or `min_parent_percent` of the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NPlusOneConfig {
    pub min_repeats: usize,
    pub min_total: Duration,
    pub min_parent_percent: u32,
}

impl Default for NPlusOneConfig {
    fn default() -> NPlusOneConfig {
        NPlusOneConfig {
            min_repeats: DEFAULT_N_PLUS_ONE_MIN_REPEATS,
            min_total: Duration::from_millis(DEFAULT_N_PLUS_ONE_MIN_TOTAL_MS),
            min_parent_percent: DEFAULT_N_PLUS_ONE_MIN_PARENT_PERCENT,
        }
    }
}

/// The query port's HTTP side: the web UI and where it and the API are mounted.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Serve ui/ from this directory instead of the embedded copy (development).
    pub ui_dir: Option<PathBuf>,
    /// `/`, or a prefix like `/jaeger` (no trailing slash) that the UI and the whole
    /// query HTTP API are served under; see `base_path_from_raw`.
    pub base_path: String,
}

impl Default for UiConfig {
    fn default() -> UiConfig {
        UiConfig {
            ui_dir: None,
            base_path: DEFAULT_BASE_PATH.to_owned(),
        }
    }
}

impl RawConfig {
    pub fn from_toml_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Fields set in `self` win over those in `lower`.
    pub fn or(self, lower: RawConfig) -> RawConfig {
        RawConfig {
            data_dir: self.data_dir.or(lower.data_dir),
            otlp_grpc_addr: self.otlp_grpc_addr.or(lower.otlp_grpc_addr),
            otlp_http_addr: self.otlp_http_addr.or(lower.otlp_http_addr),
            query_addr: self.query_addr.or(lower.query_addr),
            base_path: self.base_path.or(lower.base_path),
            admin_addr: self.admin_addr.or(lower.admin_addr),
            jaeger_grpc_addr: self.jaeger_grpc_addr.or(lower.jaeger_grpc_addr),
            jaeger_thrift_http_addr: self
                .jaeger_thrift_http_addr
                .or(lower.jaeger_thrift_http_addr),
            jaeger_udp_compact_addr: self
                .jaeger_udp_compact_addr
                .or(lower.jaeger_udp_compact_addr),
            jaeger_udp_binary_addr: self.jaeger_udp_binary_addr.or(lower.jaeger_udp_binary_addr),
            zipkin_addr: self.zipkin_addr.or(lower.zipkin_addr),
            query_grpc_addr: self.query_grpc_addr.or(lower.query_grpc_addr),
            sampling_http_addr: self.sampling_http_addr.or(lower.sampling_http_addr),
            sampling_grpc_addr: self.sampling_grpc_addr.or(lower.sampling_grpc_addr),
            sampling_strategies: self.sampling_strategies.or(lower.sampling_strategies),
            sampling_adaptive: self.sampling_adaptive.or(lower.sampling_adaptive),
            sampling_target_tps: self.sampling_target_tps.or(lower.sampling_target_tps),
            sampling_interval_ms: self.sampling_interval_ms.or(lower.sampling_interval_ms),
            max_message_mib: self.max_message_mib.or(lower.max_message_mib),
            cors_origins: self.cors_origins.or(lower.cors_origins),
            ack: self.ack.or(lower.ack),
            max_batch_spans: self.max_batch_spans.or(lower.max_batch_spans),
            flush_interval_ms: self.flush_interval_ms.or(lower.flush_interval_ms),
            max_queued_spans: self.max_queued_spans.or(lower.max_queued_spans),
            max_queued_mib: self.max_queued_mib.or(lower.max_queued_mib),
            queue_wait_ms: self.queue_wait_ms.or(lower.queue_wait_ms),
            cache_mib: self.cache_mib.or(lower.cache_mib),
            retention_hours: self.retention_hours.or(lower.retention_hours),
            max_disk_gib: self.max_disk_gib.or(lower.max_disk_gib),
            zstd_level: self.zstd_level.or(lower.zstd_level),
            red_metrics: self.red_metrics.or(lower.red_metrics),
            storage: self.storage.or(lower.storage),
            clickhouse_url: self.clickhouse_url.or(lower.clickhouse_url),
            clickhouse_database: self.clickhouse_database.or(lower.clickhouse_database),
            clickhouse_user: self.clickhouse_user.or(lower.clickhouse_user),
            clickhouse_password_file: self
                .clickhouse_password_file
                .or(lower.clickhouse_password_file),
            clickhouse_cluster: self.clickhouse_cluster.or(lower.clickhouse_cluster),
            clickhouse_create_schema: self
                .clickhouse_create_schema
                .or(lower.clickhouse_create_schema),
            clickhouse_startup_wait_ms: self
                .clickhouse_startup_wait_ms
                .or(lower.clickhouse_startup_wait_ms),
            clickhouse_concurrent_inserts: self
                .clickhouse_concurrent_inserts
                .or(lower.clickhouse_concurrent_inserts),
            n_plus_one_min_repeats: self.n_plus_one_min_repeats.or(lower.n_plus_one_min_repeats),
            n_plus_one_min_total_ms: self
                .n_plus_one_min_total_ms
                .or(lower.n_plus_one_min_total_ms),
            n_plus_one_min_parent_percent: self
                .n_plus_one_min_parent_percent
                .or(lower.n_plus_one_min_parent_percent),
            tls_cert_file: self.tls_cert_file.or(lower.tls_cert_file),
            tls_key_file: self.tls_key_file.or(lower.tls_key_file),
            ingest_token_file: self.ingest_token_file.or(lower.ingest_token_file),
            query_token_file: self.query_token_file.or(lower.query_token_file),
            max_connections: self.max_connections.or(lower.max_connections),
            handshake_timeout_ms: self.handshake_timeout_ms.or(lower.handshake_timeout_ms),
            header_timeout_ms: self.header_timeout_ms.or(lower.header_timeout_ms),
            request_timeout_ms: self.request_timeout_ms.or(lower.request_timeout_ms),
            idle_timeout_ms: self.idle_timeout_ms.or(lower.idle_timeout_ms),
            compaction_interval_ms: self.compaction_interval_ms.or(lower.compaction_interval_ms),
            test_clock_offset_secs: self.test_clock_offset_secs.or(lower.test_clock_offset_secs),
            test_clock_speed: self.test_clock_speed.or(lower.test_clock_speed),
            test_pause_ms: self.test_pause_ms.or(lower.test_pause_ms),
        }
    }
}

impl Config {
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let clickhouse = clickhouse_from_raw(&raw)?;
        let n_plus_one = n_plus_one_from_raw(&raw)?;
        let compaction_interval = Duration::from_millis(
            raw.compaction_interval_ms
                .unwrap_or(DEFAULT_COMPACTION_INTERVAL_MS),
        );
        if compaction_interval.is_zero() {
            return Err(invalid("compaction_interval_ms", "must be greater than 0"));
        }
        let test_hooks = TestHooks {
            clock_offset_secs: raw.test_clock_offset_secs.unwrap_or(0),
            clock_speed: match raw.test_clock_speed.unwrap_or(1) {
                0 => return Err(invalid("test_clock_speed", "must be greater than 0")),
                speed => speed,
            },
            pause: raw.test_pause_ms.map(Duration::from_millis),
        };
        let limits = limits_from_raw(&raw)?;
        let max_batch_spans = non_zero(
            "max_batch_spans",
            raw.max_batch_spans.unwrap_or(DEFAULT_MAX_BATCH_SPANS),
        )?;
        let flush_interval =
            Duration::from_millis(raw.flush_interval_ms.unwrap_or(DEFAULT_FLUSH_INTERVAL_MS));
        if flush_interval.is_zero() {
            return Err(invalid("flush_interval_ms", "must be greater than 0"));
        }
        let max_message_mib = raw.max_message_mib.unwrap_or(DEFAULT_MAX_MESSAGE_MIB);
        if max_message_mib == 0 || max_message_mib > 1024 {
            return Err(invalid("max_message_mib", "must be between 1 and 1024"));
        }
        let zstd_level = raw.zstd_level.unwrap_or(DEFAULT_ZSTD_LEVEL);
        if !(1..=19).contains(&zstd_level) {
            return Err(invalid("zstd_level", "must be between 1 and 19"));
        }
        let cors_origins = raw
            .cors_origins
            .unwrap_or_else(|| DEFAULT_CORS_ORIGINS.to_owned());
        let cors_origins = match cors_origins.trim() {
            "*" => None,
            list => Some(
                list.split(',')
                    .map(|origin| origin.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
            ),
        };
        let retention_hours = raw.retention_hours.unwrap_or(DEFAULT_RETENTION_HOURS);
        let max_disk_gib = raw.max_disk_gib.unwrap_or(DEFAULT_MAX_DISK_GIB);
        if !(max_disk_gib.is_finite() && max_disk_gib >= 0.0) {
            return Err(invalid(
                "max_disk_gib",
                "must be a number of GiB, 0 or more (0 means no cap)",
            ));
        }
        let target_tps = raw
            .sampling_target_tps
            .unwrap_or(DEFAULT_SAMPLING_TARGET_TPS);
        if !(target_tps.is_finite() && target_tps > 0.0) {
            return Err(invalid(
                "sampling_target_tps",
                "must be a positive number of traces per second",
            ));
        }
        let interval_ms = raw
            .sampling_interval_ms
            .unwrap_or(DEFAULT_SAMPLING_INTERVAL_MS);
        if interval_ms == 0 {
            return Err(invalid("sampling_interval_ms", "must be greater than 0"));
        }
        let sampling = SamplingConfig {
            http_addr: optional_addr(
                "sampling_http_addr",
                raw.sampling_http_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_SAMPLING_HTTP_ADDR),
            )?,
            grpc_addr: optional_addr(
                "sampling_grpc_addr",
                raw.sampling_grpc_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_SAMPLING_GRPC_ADDR),
            )?,
            strategies_file: raw
                .sampling_strategies
                .filter(|path| !path.as_os_str().is_empty()),
            adaptive: raw.sampling_adaptive.unwrap_or(false),
            target_tps,
            interval: Duration::from_millis(interval_ms),
        };
        Ok(Config {
            clickhouse,
            receiver: ReceiverConfig {
                max_message_bytes: max_message_mib * 1024 * 1024,
                cors_origins,
            },
            ingest: IngestConfig {
                ack: raw.ack.unwrap_or(DEFAULT_ACK),
                storage: raw.storage.unwrap_or(StorageMode::Sled),
                max_batch_spans,
                flush_interval,
                max_queued_spans: non_zero(
                    "max_queued_spans",
                    raw.max_queued_spans.unwrap_or(DEFAULT_MAX_QUEUED_SPANS),
                )?,
                max_queued_bytes: non_zero(
                    "max_queued_mib",
                    raw.max_queued_mib
                        .unwrap_or(DEFAULT_MAX_QUEUED_MIB)
                        .saturating_mul(1 << 20),
                )?,
                queue_wait: Duration::from_millis(
                    raw.queue_wait_ms.unwrap_or(DEFAULT_QUEUE_WAIT_MS),
                ),
                max_writes_in_flight: match raw.storage {
                    Some(StorageMode::Clickhouse) => non_zero(
                        "clickhouse_concurrent_inserts",
                        raw.clickhouse_concurrent_inserts
                            .unwrap_or(DEFAULT_CLICKHOUSE_CONCURRENT_INSERTS),
                    )?,
                    _ => NonZeroUsize::MIN,
                },
            },
            store: StoreConfig {
                data_dir: raw
                    .data_dir
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
                cache_capacity_bytes: raw.cache_mib.unwrap_or(DEFAULT_CACHE_MIB) * 1024 * 1024,
                max_block_spans: max_batch_spans,
                zstd_level,
                flush_every_ms: DEFAULT_SLED_FLUSH_EVERY_MS,
                retention: (retention_hours > 0)
                    .then(|| Duration::from_secs(retention_hours * 3600)),
                max_disk_bytes: (max_disk_gib > 0.0)
                    .then(|| (max_disk_gib * f64::from(1u32 << 30)).max(1.0) as u64),
                red_metrics: raw.red_metrics.unwrap_or(DEFAULT_RED_METRICS),
            },
            query: QueryConfig { n_plus_one },
            ui: UiConfig {
                ui_dir: None,
                base_path: base_path_from_raw(raw.base_path.as_deref())?,
            },
            otlp_grpc_addr: addr(
                "otlp_grpc_addr",
                raw.otlp_grpc_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_OTLP_GRPC_ADDR),
            )?,
            otlp_http_addr: addr(
                "otlp_http_addr",
                raw.otlp_http_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_OTLP_HTTP_ADDR),
            )?,
            query_addr: addr(
                "query_addr",
                raw.query_addr.as_deref().unwrap_or(DEFAULT_QUERY_ADDR),
            )?,
            admin_addr: addr(
                "admin_addr",
                raw.admin_addr.as_deref().unwrap_or(DEFAULT_ADMIN_ADDR),
            )?,
            jaeger_grpc_addr: optional_addr(
                "jaeger_grpc_addr",
                raw.jaeger_grpc_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_JAEGER_GRPC_ADDR),
            )?,
            jaeger_thrift_http_addr: optional_addr(
                "jaeger_thrift_http_addr",
                raw.jaeger_thrift_http_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_JAEGER_THRIFT_HTTP_ADDR),
            )?,
            jaeger_udp_compact_addr: optional_addr(
                "jaeger_udp_compact_addr",
                raw.jaeger_udp_compact_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_JAEGER_UDP_COMPACT_ADDR),
            )?,
            jaeger_udp_binary_addr: optional_addr(
                "jaeger_udp_binary_addr",
                raw.jaeger_udp_binary_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_JAEGER_UDP_BINARY_ADDR),
            )?,
            zipkin_addr: optional_addr(
                "zipkin_addr",
                raw.zipkin_addr.as_deref().unwrap_or(DEFAULT_ZIPKIN_ADDR),
            )?,
            query_grpc_addr: optional_addr(
                "query_grpc_addr",
                raw.query_grpc_addr
                    .as_deref()
                    .unwrap_or(DEFAULT_QUERY_GRPC_ADDR),
            )?,
            sampling,
            limits,
            compaction_interval,
            test_hooks,
            access: access_from_raw(
                raw.tls_cert_file,
                raw.tls_key_file,
                raw.ingest_token_file,
                raw.query_token_file,
            )?,
        })
    }

    /// Settings for tests and embedding: everything default under `data_dir`, durable
    /// acks and a short flush interval.
    pub fn for_data_dir(data_dir: &Path) -> Config {
        let raw = RawConfig {
            data_dir: Some(data_dir.to_owned()),
            flush_interval_ms: Some(10),
            ..RawConfig::default()
        };
        Config::from_raw(raw).expect("the defaults are valid")
    }
}

fn clickhouse_from_raw(raw: &RawConfig) -> Result<ClickHouseConfig, ConfigError> {
    let url = raw
        .clickhouse_url
        .clone()
        .unwrap_or_else(|| DEFAULT_CLICKHOUSE_URL.to_owned());
    if !url.starts_with("http://") {
        return Err(invalid(
            "clickhouse_url",
            "must be an http:// URL of the server's HTTP interface",
        ));
    }
    let identifier = |field: &'static str, name: &str| {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if valid {
            Ok(name.to_owned())
        } else {
            Err(invalid(field, "must be letters, digits, `_` or `-`"))
        }
    };
    let database = identifier(
        "clickhouse_database",
        raw.clickhouse_database
            .as_deref()
            .unwrap_or(DEFAULT_CLICKHOUSE_DATABASE),
    )?;
    let cluster = match raw.clickhouse_cluster.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => Some(identifier("clickhouse_cluster", name)?),
    };
    Ok(ClickHouseConfig {
        url,
        database,
        user: raw
            .clickhouse_user
            .clone()
            .unwrap_or_else(|| DEFAULT_CLICKHOUSE_USER.to_owned()),
        password: std::env::var("TRACERY_CLICKHOUSE_PASSWORD")
            .ok()
            .filter(|password| !password.is_empty())
            .map(Secret),
        password_file: raw
            .clickhouse_password_file
            .clone()
            .filter(|path| !path.as_os_str().is_empty()),
        cluster,
        create_schema: raw.clickhouse_create_schema.unwrap_or(false),
        startup_wait: Duration::from_millis(
            raw.clickhouse_startup_wait_ms
                .unwrap_or(DEFAULT_CLICKHOUSE_STARTUP_WAIT_MS),
        ),
    })
}

fn access_from_raw(
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    ingest_token_file: Option<PathBuf>,
    query_token_file: Option<PathBuf>,
) -> Result<AccessConfig, ConfigError> {
    let set = |path: Option<PathBuf>| path.filter(|path| !path.as_os_str().is_empty());
    let tls = match (set(cert_file), set(key_file)) {
        (Some(cert_file), Some(key_file)) => Some(TlsFiles {
            cert_file,
            key_file,
        }),
        (None, None) => None,
        (Some(_), None) => return Err(invalid("tls_key_file", "is required with tls_cert_file")),
        (None, Some(_)) => return Err(invalid("tls_cert_file", "is required with tls_key_file")),
    };
    Ok(AccessConfig {
        tls,
        ingest_token_file: set(ingest_token_file),
        query_token_file: set(query_token_file),
    })
}

fn limits_from_raw(raw: &RawConfig) -> Result<ConnectionLimits, ConfigError> {
    let max_connections = raw.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if !(1..=1_000_000).contains(&max_connections) {
        return Err(invalid("max_connections", "must be between 1 and 1000000"));
    }
    let millis =
        |field: &'static str, value: Option<u64>, default: u64| match value.unwrap_or(default) {
            0 => Err(invalid(field, "must be greater than 0")),
            ms => Ok(Duration::from_millis(ms)),
        };
    Ok(ConnectionLimits {
        max_connections,
        handshake_timeout: millis(
            "handshake_timeout_ms",
            raw.handshake_timeout_ms,
            DEFAULT_HANDSHAKE_TIMEOUT_MS,
        )?,
        header_timeout: millis(
            "header_timeout_ms",
            raw.header_timeout_ms,
            DEFAULT_HEADER_TIMEOUT_MS,
        )?,
        request_timeout: millis(
            "request_timeout_ms",
            raw.request_timeout_ms,
            DEFAULT_REQUEST_TIMEOUT_MS,
        )?,
        idle_timeout: millis(
            "idle_timeout_ms",
            raw.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT_MS,
        )?,
    })
}

fn n_plus_one_from_raw(raw: &RawConfig) -> Result<NPlusOneConfig, ConfigError> {
    let min_repeats = raw
        .n_plus_one_min_repeats
        .unwrap_or(DEFAULT_N_PLUS_ONE_MIN_REPEATS);
    if min_repeats < 2 {
        return Err(invalid("n_plus_one_min_repeats", "must be at least 2"));
    }
    let min_parent_percent = raw
        .n_plus_one_min_parent_percent
        .unwrap_or(DEFAULT_N_PLUS_ONE_MIN_PARENT_PERCENT);
    if min_parent_percent > 100 {
        return Err(invalid(
            "n_plus_one_min_parent_percent",
            "must be between 0 and 100",
        ));
    }
    Ok(NPlusOneConfig {
        min_repeats,
        min_total: Duration::from_millis(
            raw.n_plus_one_min_total_ms
                .unwrap_or(DEFAULT_N_PLUS_ONE_MIN_TOTAL_MS),
        ),
        min_parent_percent,
    })
}

/// `/` or `/seg/seg`: a leading slash, no trailing one, no empty, `.` or `..`
/// segment, and only unreserved URL characters, so the prefix can go into the UI's
/// `<base href>` and into routes as it is.
fn base_path_from_raw(raw: Option<&str>) -> Result<String, ConfigError> {
    let text = raw.map_or(DEFAULT_BASE_PATH, str::trim);
    if text.is_empty() || text == "/" {
        return Ok("/".to_owned());
    }
    let reject = |reason: &str| ConfigError::Invalid {
        field: "base_path",
        reason: format!("`{text}` {reason}"),
    };
    let Some(rest) = text.strip_prefix('/') else {
        return Err(reject("must start with `/` (like `/jaeger`)"));
    };
    if rest.ends_with('/') {
        return Err(reject(
            "must not end with `/` (write `/jaeger`, not `/jaeger/`)",
        ));
    }
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Err(reject("has an empty segment (`//`)"));
        }
        if segment == "." || segment == ".." {
            return Err(reject("must not contain `.` or `..` segments"));
        }
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
        if !segment.chars().all(plain) {
            return Err(reject(
                "may hold only letters, digits, `-`, `_`, `.`, `~` and `/`",
            ));
        }
    }
    Ok(format!("/{rest}"))
}

fn invalid(field: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

fn non_zero(field: &'static str, value: usize) -> Result<NonZeroUsize, ConfigError> {
    NonZeroUsize::new(value).ok_or_else(|| invalid(field, "must be greater than 0"))
}

fn addr(field: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|error| ConfigError::Invalid {
        field,
        reason: format!("`{text}` is not host:port ({error})"),
    })
}

/// An address, or `None` for an empty value (the listener is turned off).
fn optional_addr(field: &'static str, text: &str) -> Result<Option<SocketAddr>, ConfigError> {
    match text.trim() {
        "" => Ok(None),
        text => addr(field, text).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        raw: RawConfig,
    }

    #[test]
    fn help_shows_every_default() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for default in [
            DEFAULT_DATA_DIR.to_owned(),
            DEFAULT_OTLP_GRPC_ADDR.to_owned(),
            DEFAULT_OTLP_HTTP_ADDR.to_owned(),
            DEFAULT_QUERY_ADDR.to_owned(),
            DEFAULT_ADMIN_ADDR.to_owned(),
            DEFAULT_JAEGER_GRPC_ADDR.to_owned(),
            DEFAULT_JAEGER_THRIFT_HTTP_ADDR.to_owned(),
            DEFAULT_JAEGER_UDP_COMPACT_ADDR.to_owned(),
            DEFAULT_JAEGER_UDP_BINARY_ADDR.to_owned(),
            DEFAULT_ZIPKIN_ADDR.to_owned(),
            DEFAULT_QUERY_GRPC_ADDR.to_owned(),
            DEFAULT_SAMPLING_HTTP_ADDR.to_owned(),
            DEFAULT_SAMPLING_GRPC_ADDR.to_owned(),
            format!("[default: {DEFAULT_BASE_PATH}]"),
            format!("[default: {DEFAULT_SAMPLING_TARGET_TPS}]"),
            format!("[default: {DEFAULT_SAMPLING_INTERVAL_MS}]"),
            format!("[default: {DEFAULT_MAX_MESSAGE_MIB}]"),
            format!("[default: {DEFAULT_MAX_BATCH_SPANS}]"),
            format!("[default: {DEFAULT_FLUSH_INTERVAL_MS}]"),
            format!("[default: {DEFAULT_MAX_QUEUED_SPANS}]"),
            format!("[default: {DEFAULT_QUEUE_WAIT_MS}]"),
            format!("[default: {DEFAULT_MAX_QUEUED_MIB}]"),
            format!("[default: {DEFAULT_CACHE_MIB}]"),
            format!("[default: {DEFAULT_RETENTION_HOURS}]"),
            format!("[default: {DEFAULT_MAX_DISK_GIB}]"),
            format!("[default: {DEFAULT_ZSTD_LEVEL}]"),
            format!("[default: {DEFAULT_RED_METRICS}]"),
            format!("[default: {DEFAULT_N_PLUS_ONE_MIN_REPEATS}]"),
            format!("[default: {DEFAULT_N_PLUS_ONE_MIN_TOTAL_MS}]"),
            format!("[default: {DEFAULT_N_PLUS_ONE_MIN_PARENT_PERCENT}]"),
            format!("[default: {DEFAULT_MAX_CONNECTIONS}]"),
            format!("[default: {DEFAULT_HANDSHAKE_TIMEOUT_MS}]"),
            format!("[default: {DEFAULT_HEADER_TIMEOUT_MS}]"),
            format!("[default: {DEFAULT_REQUEST_TIMEOUT_MS}]"),
            format!("[default: {DEFAULT_IDLE_TIMEOUT_MS}]"),
            format!("[default: {DEFAULT_CLICKHOUSE_URL}]"),
            format!("[default: {DEFAULT_CLICKHOUSE_DATABASE}]"),
            format!("[default: {DEFAULT_CLICKHOUSE_USER}]"),
        ] {
            assert!(help.contains(&default), "--help lacks {default}");
        }
    }

    #[test]
    fn disk_cap_takes_fractions_of_a_gib() {
        let cli = Cli::parse_from(["tracery", "--max-disk-gib", "0.05"]).raw;
        let config = Config::from_raw(cli).unwrap();
        assert_eq!(config.store.max_disk_bytes, Some(53_687_091));
        let off = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(off.store.max_disk_bytes, None);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let error = Config::from_raw(RawConfig {
                max_disk_gib: Some(bad),
                ..Default::default()
            })
            .unwrap_err();
            assert!(error.to_string().contains("max_disk_gib"), "{error}");
        }
    }

    #[test]
    fn connection_limits_come_from_flags_and_are_checked() {
        let cli = Cli::parse_from([
            "tracery",
            "--max-connections",
            "10",
            "--idle-timeout-ms",
            "1500",
        ])
        .raw;
        let limits = Config::from_raw(cli).unwrap().limits;
        assert_eq!(limits.max_connections, 10);
        assert_eq!(limits.idle_timeout, Duration::from_millis(1500));
        assert_eq!(
            limits.header_timeout,
            Duration::from_millis(DEFAULT_HEADER_TIMEOUT_MS)
        );
        for raw in [
            RawConfig {
                max_connections: Some(0),
                ..Default::default()
            },
            RawConfig {
                request_timeout_ms: Some(0),
                ..Default::default()
            },
        ] {
            let error = Config::from_raw(raw).unwrap_err().to_string();
            assert!(
                error.contains("max_connections") || error.contains("request_timeout_ms"),
                "{error}"
            );
        }
    }

    #[test]
    fn concurrent_inserts_apply_to_clickhouse_only_and_zero_is_refused() {
        let clickhouse = |inserts: Option<usize>| RawConfig {
            storage: Some(StorageMode::Clickhouse),
            clickhouse_url: Some("http://127.0.0.1:8123".into()),
            clickhouse_concurrent_inserts: inserts,
            ..Default::default()
        };
        let config = Config::from_raw(clickhouse(None)).unwrap();
        assert_eq!(
            config.ingest.max_writes_in_flight.get(),
            DEFAULT_CLICKHOUSE_CONCURRENT_INSERTS
        );
        let config = Config::from_raw(clickhouse(Some(4))).unwrap();
        assert_eq!(config.ingest.max_writes_in_flight.get(), 4);
        let error = Config::from_raw(clickhouse(Some(0))).unwrap_err();
        assert!(
            error.to_string().contains("clickhouse_concurrent_inserts"),
            "{error}"
        );
        // The embedded store pipelines one write and its fsync, whatever is set.
        let sled = RawConfig {
            clickhouse_concurrent_inserts: Some(8),
            ..Default::default()
        };
        assert_eq!(
            Config::from_raw(sled)
                .unwrap()
                .ingest
                .max_writes_in_flight
                .get(),
            1
        );
    }

    #[test]
    fn example_config_file_holds_the_defaults() {
        let file: RawConfig = toml::from_str(include_str!("../docs/config.example.toml")).unwrap();
        let from_file = Config::from_raw(file).unwrap();
        let defaults = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn flags_win_over_file_and_validation_names_the_field() {
        let file: RawConfig =
            toml::from_str("query_addr = \"127.0.0.1:1\"\nzstd_level = 5").unwrap();
        let cli = Cli::parse_from(["tracery", "--query-addr", "127.0.0.1:2"]).raw;
        let config = Config::from_raw(cli.or(file)).unwrap();
        assert_eq!(config.query_addr.port(), 2);
        assert_eq!(config.store.zstd_level, 5);
        let error = Config::from_raw(RawConfig {
            zstd_level: Some(40),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid value for `zstd_level`: must be between 1 and 19"
        );
        let error = Config::from_raw(RawConfig {
            query_addr: Some("nope".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(error
            .to_string()
            .starts_with("invalid value for `query_addr`: `nope` is not host:port"));
        assert!(toml::from_str::<RawConfig>("bogus = 1").is_err());
    }

    #[track_caller]
    fn check_base_path(input: &str, expected: Result<&str, &str>) {
        let raw = RawConfig {
            base_path: Some(input.to_owned()),
            ..Default::default()
        };
        match (Config::from_raw(raw), expected) {
            (Ok(config), Ok(path)) => assert_eq!(config.ui.base_path, path, "{input:?}"),
            (Err(error), Err(reason)) => {
                let text = error.to_string();
                assert!(
                    text.starts_with("invalid value for `base_path`") && text.contains(reason),
                    "{input:?}: {text}"
                );
            }
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn base_path_is_validated() {
        check_base_path("/", Ok("/"));
        check_base_path("", Ok("/"));
        check_base_path("/jaeger", Ok("/jaeger"));
        check_base_path("/jaeger/", Err("must not end with `/`"));
        check_base_path("/tools/jaeger-ui.v2", Ok("/tools/jaeger-ui.v2"));
        check_base_path("jaeger", Err("must start with `/`"));
        check_base_path("/a//b", Err("empty segment"));
        check_base_path("/a/../b", Err("`..`"));
        check_base_path("/..", Err("`..`"));
        check_base_path("/a b", Err("may hold only"));
        check_base_path("/a\"b", Err("may hold only"));
        check_base_path("/a?x=1", Err("may hold only"));
        let cli = Cli::parse_from(["tracery", "--base-path", "/jaeger"]).raw;
        assert_eq!(Config::from_raw(cli).unwrap().ui.base_path, "/jaeger");
    }
}
