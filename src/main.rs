//! The `tracery` binary: flags → config → listeners → `tracery::run`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracery::config::{Config, RawConfig};

/// Tracery: a Jaeger-compatible trace backend. Receives OTLP on 4317 (gRPC) and 4318
/// (HTTP), stores spans under --data-dir, and serves Jaeger's query API and a web UI
/// on 16686. Every flag can also be set through the environment variable shown.
#[derive(Debug, Parser)]
#[command(name = "tracery", version)]
struct Cli {
    /// Read settings from this TOML file (keys as the flag names with `_`); flags and
    /// environment variables win over it
    #[arg(long, env = "TRACERY_CONFIG")]
    config: Option<PathBuf>,
    /// Serve the web UI from this directory instead of the embedded copy (development)
    #[arg(long)]
    ui_dir: Option<PathBuf>,
    #[command(flatten)]
    raw: RawConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracery::telemetry::init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let file = match &cli.config {
        Some(path) => RawConfig::from_toml_file(path)?,
        None => RawConfig::default(),
    };
    let mut config = Config::from_raw(cli.raw.or(file))?;
    config.ui.ui_dir = cli.ui_dir;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listeners = tracery::Listeners::bind(&config).await?;
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        tracery::run(config, listeners, shutdown).await
    })
}

/// SIGINT or SIGTERM starts a graceful shutdown that flushes every acknowledged span.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown signal received; draining");
    shutdown.cancel();
}
