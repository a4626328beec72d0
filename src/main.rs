//! The `tracery` binary: flags → config → listeners → `tracery::run`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracery::config::{Config, RawConfig};

/// Tracery: a Jaeger-compatible trace backend. Receives OTLP on 4317 (gRPC) and 4318
/// (HTTP), stores spans under --data-dir, and serves Jaeger's query API and a web UI
/// on 16686. Every flag can also be set through the environment variable shown.
#[derive(Debug, Parser)]
#[command(name = "tracery", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Exit 0 if the server whose admin port is --admin-addr (or --url) is ready, 1 if
    /// not: a container health check that needs no curl
    Healthcheck {
        /// Probe this URL instead of http://<admin-addr>/health/ready
        #[arg(long)]
        url: Option<String>,
    },
    /// Send a demo shop's traces (frontend, api-gateway, auth, cart, orders, payment,
    /// notifications) to a Tracery or any OTLP endpoint until stopped
    Demo(tracery::demo::DemoArgs),
}

/// jemalloc rather than glibc's malloc: the blocking pool runs writes, fsyncs and
/// queries on many threads, and glibc gives each its own arena that keeps freed memory
/// (see the comment on the dependency in Cargo.toml for the measurements).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's counts for `/metrics` (`tracery_allocator_bytes`).
fn allocator_stats() -> Option<tracery::metrics::AllocatorStats> {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The counts are a snapshot taken when the epoch advances.
    epoch::advance().ok()?;
    Some(tracery::metrics::AllocatorStats {
        allocated: stats::allocated::read().ok()? as u64,
        active: stats::active::read().ok()? as u64,
        metadata: stats::metadata::read().ok()? as u64,
        resident: stats::resident::read().ok()? as u64,
        mapped: stats::mapped::read().ok()? as u64,
        retained: stats::retained::read().ok()? as u64,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracery::metrics::set_allocator_stats(allocator_stats);
    tracery::telemetry::init();
    let result = match cli.command {
        Some(Command::Healthcheck { ref url }) => healthcheck(&cli, url.clone()),
        Some(Command::Demo(ref args)) => demo(args.clone()),
        None => run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn config(cli: &Cli) -> anyhow::Result<Config> {
    let file = match &cli.config {
        Some(path) => RawConfig::from_toml_file(path)?,
        None => RawConfig::default(),
    };
    let mut config = Config::from_raw(cli.raw.clone().or(file))?;
    config.ui.ui_dir = cli.ui_dir.clone();
    Ok(config)
}

fn healthcheck(cli: &Cli, url: Option<String>) -> anyhow::Result<()> {
    let url = match url {
        Some(url) => url,
        None => {
            let config = config(cli)?;
            tracery::healthcheck::ready_url(config.admin_addr, config.access.tls.is_some())
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tracery::healthcheck::probe(
        &url,
        tracery::healthcheck::DEFAULT_TIMEOUT,
    ))?;
    println!("ready: {url}");
    Ok(())
}

fn demo(args: tracery::demo::DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        tracery::demo::run(args, shutdown).await?;
        Ok(())
    })
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = config(cli)?;
    let open_files = tracery::net::raise_open_files_limit();
    tracing::debug!(?open_files, "open-files limit");
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
