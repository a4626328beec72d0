//! `tracery demo`: continuous, realistic traffic of a small shop over OTLP, so a
//! fresh Tracery has something to show (as Jaeger's HotROD, without an app).
//!
//! `shop` generates the traces (pure and deterministic per `--seed`), `export`
//! sends them, and `run` paces them at `--rate` until `--duration`, `--requests`
//! or a signal stops it.

mod export;
mod services;
mod shop;
mod trace;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as OtlpExportRequest;
use tokio_util::sync::CancellationToken;

pub use shop::{Generated, Shop};

/// The demo shop's service names.
pub const SERVICES: [&str; 7] = [
    "frontend",
    "api-gateway",
    "auth",
    "cart",
    "orders",
    "payment",
    "notifications",
];

/// User requests per second unless `--rate` says otherwise.
pub const DEFAULT_RATE: f64 = 5.0;
/// Requests that fall due are sent together at most this often.
const MAX_SEND_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoProtocol {
    /// OTLP/gRPC (default endpoint http://localhost:4317)
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default endpoint http://localhost:4318)
    Http,
}

/// The flags of `tracery demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where to send: http://host:4317 for grpc, http://host:4318 for http [default: localhost]
    #[arg(long)]
    pub endpoint: Option<String>,
    /// OTLP transport
    #[arg(long, value_enum, default_value_t = DemoProtocol::Grpc)]
    pub protocol: DemoProtocol,
    /// User requests per second (a checkout also yields a notification trace)
    #[arg(long, default_value_t = DEFAULT_RATE)]
    pub rate: f64,
    /// Stop after this long (`90s`, `5m`, `1h`); without it, run until interrupted
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many user requests
    #[arg(long)]
    pub requests: Option<u64>,
    /// Seed of the generator: the same seed sends the same traces (IDs, shapes,
    /// timings relative to each request's start) [default: from the clock]
    #[arg(long)]
    pub seed: Option<u64>,
}

impl DemoArgs {
    /// Defaults, sending to `endpoint`.
    pub fn new(protocol: DemoProtocol, endpoint: &str) -> DemoArgs {
        DemoArgs {
            endpoint: Some(endpoint.to_owned()),
            protocol,
            rate: DEFAULT_RATE,
            duration: None,
            requests: None,
            seed: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("invalid endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("--rate must be a positive number of requests per second, not {0}")]
    InvalidRate(f64),
}

/// What a demo run sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoStats {
    pub num_requests: u64,
    pub num_traces: u64,
    pub num_spans: u64,
    pub num_failed_exports: u64,
}

/// Sends traffic until `--duration` or `--requests` is reached or `shutdown` is
/// cancelled. Failed exports are logged and skipped (the server may not be up yet).
pub async fn run(args: DemoArgs, shutdown: CancellationToken) -> Result<DemoStats, DemoError> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        return Err(DemoError::InvalidRate(args.rate));
    }
    let endpoint = args.endpoint.clone().unwrap_or_else(|| {
        match args.protocol {
            DemoProtocol::Grpc => "http://localhost:4317",
            DemoProtocol::Http => "http://localhost:4318",
        }
        .to_owned()
    });
    let mut exporter = export::Exporter::new(args.protocol, &endpoint)?;
    let seed = args
        .seed
        .unwrap_or_else(|| unix_nanos() ^ u64::from(std::process::id()));
    tracing::info!(%endpoint, protocol = ?args.protocol, rate = args.rate, seed, "demo sending");
    let mut shop = Shop::new(seed);
    let mut stats = DemoStats::default();
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / args.rate).min(MAX_SEND_INTERVAL);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_report = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let elapsed = started.elapsed();
        if args.duration.is_some_and(|duration| elapsed >= duration) {
            break;
        }
        let due = (args.rate * elapsed.as_secs_f64()).floor() as u64 + 1;
        let due = args.requests.map_or(due, |limit| due.min(limit));
        if due <= stats.num_requests {
            if args
                .requests
                .is_some_and(|limit| stats.num_requests >= limit)
            {
                break;
            }
            continue;
        }
        let mut request = OtlpExportRequest::default();
        let now = unix_nanos();
        for offset in 0..due - stats.num_requests {
            let generated = shop.next(now + offset * 1000);
            stats.num_traces += generated.num_traces as u64;
            stats.num_spans += generated.num_spans as u64;
            request.resource_spans.extend(generated.resource_spans);
        }
        stats.num_requests = due;
        match exporter.export(request).await {
            Ok(0) => {}
            Ok(rejected) => tracing::warn!(rejected, "server rejected demo spans"),
            Err(error) => {
                stats.num_failed_exports += 1;
                // Every failure while the server starts would flood the log.
                if stats.num_failed_exports.is_power_of_two() {
                    tracing::warn!(
                        error = format!("{:#}", anyhow_chain(&error)),
                        failed_exports = stats.num_failed_exports,
                        "demo export failed; going on"
                    );
                }
            }
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            tracing::info!(
                requests = stats.num_requests,
                traces = stats.num_traces,
                spans = stats.num_spans,
                failed_exports = stats.num_failed_exports,
                "demo progress"
            );
        }
    }
    tracing::info!(
        requests = stats.num_requests,
        traces = stats.num_traces,
        spans = stats.num_spans,
        failed_exports = stats.num_failed_exports,
        "demo finished"
    );
    Ok(stats)
}

/// `error: cause: cause` on one line.
fn anyhow_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

/// `500ms`, `90s`, `5m`, `1h`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 5m or 1h"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`; use ms, s, m or h"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("`{text}`: {error}"))
}

#[cfg(test)]
mod tests;
