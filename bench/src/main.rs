//! `tracery-bench`: the end-to-end benchmark of issues 3 and 10.
//!
//! In one invocation it drives rotel's null sink (a Rust OTLP collector, the
//! reference), the real `tracery` binary with `--storage discard` (decode and drop)
//! and with the sled store and durable acknowledgements, at 1, 8 and 64 concurrent
//! exporters over OTLP/gRPC and OTLP/HTTP protobuf (and OTLP/HTTP JSON at the most
//! exporters); fills the sled store to `--store-spans`, measures queries over it
//! (needle and common-value tag searches included), fills it further to
//! `--big-store-spans` and measures the tag searches again, counts every
//! acknowledged span back, stops and reopens the store, and writes a Markdown report
//! with the targets. `bench/run.sh` builds and runs it.
//!
//! # Layout
//! - `generate`: realistic spans, pre-encoded into a pool of patchable requests.
//! - `wire`: offsets of IDs and times in encoded requests; the OTLP/JSON writer.
//! - `load`: the closed-loop OTLP clients and their counters.
//! - `server`: the child process, its ports, and its `/proc` figures.
//! - `measure`: one timed ingest phase.
//! - `query`: ack → queryable, query latencies, and the count-back.
//! - `report`: the Markdown report; `targets`: its verdicts.
//!
//! The benchmark builds nothing and changes nothing outside `--work-dir`.

mod generate;
mod jaeger_thrift;
mod load;
mod measure;
mod query;
mod report;
mod server;
mod targets;
mod wire;
mod zipkin_json;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use tokio_util::sync::CancellationToken;

use crate::generate::{unix_nanos_now, Pool};
use crate::load::{Exporter, Protocol, Sent, Source};
use crate::measure::{ingest_phase, PhaseResult, PhaseSpec};
use crate::query::{DataRange, QueryPlan};
use crate::report::{DiskParts, Reopen, Report, StoreFigures};
use crate::server::{dir_size, Server, ServerSpec, Storage};

/// Runs Tracery under OTLP load and writes a Markdown report of throughput,
/// resources, query latencies, disk use and reopen time against issue 3's targets.
#[derive(Debug, Parser)]
#[command(name = "tracery-bench")]
struct Cli {
    /// The tracery binary to benchmark (a release build)
    #[arg(long)]
    tracery: PathBuf,
    /// Write the Markdown report here too (it is always printed)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Timed window per protocol and server, e.g. 30s or 2m
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured warm-up before each timed window
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    warmup: Duration,
    /// Concurrent exporters (closed-loop workers) of the ingest phases, in order; the
    /// largest also fills the store
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    exporters: Vec<usize>,
    /// rotel's binary (`rotel-agent` from PyPI `rotel`), run with its null sink as
    /// the reference; bench/run.sh installs it. Without it rotel is left out
    #[arg(long)]
    rotel: Option<PathBuf>,
    /// After the queries, fill the store further to this many spans and measure the
    /// needle and common-value tag searches again (0 skips it)
    #[arg(long, default_value = "50M", value_parser = parse_count)]
    big_store_spans: u64,
    /// HTTP/2 connections the gRPC workers share; 0 gives each worker its own, as
    /// OTLP/HTTP has; 1 is how an OpenTelemetry Collector exports (many streams, one connection)
    #[arg(long, default_value_t = 0)]
    grpc_connections: usize,
    /// Spans the sled store holds before queries are measured, e.g. 10M or 1M
    #[arg(long, default_value = "10M", value_parser = parse_count)]
    store_spans: u64,
    /// Spans per export request
    #[arg(long, default_value_t = 100)]
    spans_per_request: usize,
    /// Distinct requests generated before the timed phases
    #[arg(long, default_value_t = 512)]
    pool_requests: usize,
    /// Protocols to drive, in order; on the sled store the first one (gRPC by default)
    /// fills it to --store-spans before queries are measured
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "grpc,http-protobuf,http-json,zipkin-json,jaeger-thrift"
    )]
    protocols: Vec<Protocol>,
    /// Requests per query latency series
    #[arg(long, default_value_t = 500)]
    query_samples: usize,
    /// Time per query series after which it stops early (it still takes at least 100 samples)
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    query_budget: Duration,
    /// Length of the time window of find-traces by service + operation
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    search_window: Duration,
    /// Pause between ack → queryable probes while the store fills
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    freshness_interval: Duration,
    /// Servers to run: `rotel` (needs --rotel), `discard` and `sled` (the store);
    /// leaving one out is for quick experiments, the report then lacks its figures
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "rotel,discard,sled"
    )]
    servers: Vec<Storage>,
    /// Where data directories and server logs go
    #[arg(long, default_value = "target/tracery-bench")]
    work_dir: PathBuf,
    /// Keep the data directories afterwards
    #[arg(long)]
    keep_data: bool,
    /// Extra flag for both servers, repeatable (e.g. --server-arg=--max-batch-spans=4096)
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Flags to compare against the defaults, repeatable (e.g.
    /// --compare-server-arg=--red-metrics=false): two fresh sled stores, one with the
    /// defaults and one with these, take turns at OTLP/gRPC and OTLP/HTTP protobuf at
    /// every exporter level above 1, and the report gives the ratios
    #[arg(long = "compare-server-arg", allow_hyphen_values = true)]
    compare_server_args: Vec<String>,
    /// Seed of the generated pool (IDs are salted per run regardless)
    #[arg(long, default_value_t = 3)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    if cli.protocols.is_empty() {
        bail!("--protocols needs at least one protocol");
    }
    let Some(&most_exporters) = cli.exporters.iter().max() else {
        bail!("--exporters needs at least one count");
    };
    if cli.exporters.contains(&0) {
        bail!("--exporters counts must be at least 1");
    }
    if !cli.tracery.is_file() {
        bail!(
            "{} is not a file; build it with cargo build --release",
            cli.tracery.display()
        );
    }
    let mut report = Report::new(
        &std::env::args().collect::<Vec<_>>(),
        &cli.tracery,
        cli.out.as_deref(),
    )?;
    let run_dir = cli
        .work_dir
        .join(format!("run-{}", unix_nanos_now() / 1_000_000_000));
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("failed to create {}", run_dir.display()))?;
    progress(&format!("work directory {}", run_dir.display()));

    let encodings: Vec<_> = cli
        .protocols
        .iter()
        .map(|protocol| protocol.encoding())
        .collect();
    let generated = Instant::now();
    let (pool, pool_stats) = Pool::generate(
        cli.pool_requests,
        cli.spans_per_request,
        &encodings,
        cli.seed,
    )?;
    progress(&format!(
        "generated {} requests ({} spans, {:.0} B/span protobuf) in {:.1?}",
        pool_stats.num_requests,
        pool_stats.num_spans,
        pool_stats.proto_bytes_per_span,
        generated.elapsed()
    ));
    report.pool = Some(pool_stats);
    report.settings = format!(
        "duration {:?} per phase after {:?} warm-up, {:?} concurrent exporters, {} gRPC connections, {} spans/request, store filled to ≥ {} spans (then {} for the tag searches), up to {} samples or {:?} per query series",
        cli.duration,
        cli.warmup,
        cli.exporters,
        if cli.grpc_connections == 0 { "one per exporter".to_owned() } else { cli.grpc_connections.to_string() },
        cli.spans_per_request,
        cli.store_spans,
        cli.big_store_spans,
        cli.query_samples,
        cli.query_budget
    );
    let source = Arc::new(Source::new(pool));
    let query_http = reqwest::Client::builder().tcp_nodelay(true).build()?;
    // The count-back moves gigabytes of JSON; compressing it would only burn server CPU.
    let verify_http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .no_gzip()
        .build()?;

    let spec = |storage: Storage, name: &str| ServerSpec {
        binary: match (storage, &cli.rotel) {
            (Storage::Rotel, Some(rotel)) => rotel.clone(),
            _ => cli.tracery.clone(),
        },
        data_dir: run_dir.join(format!("{name}-data")),
        storage,
        extra_args: cli.server_args.clone(),
        log_path: run_dir.join(format!("{name}.log")),
    };
    let phase = |protocol, concurrency, fill_to_spans, spans_before| PhaseSpec {
        protocol,
        concurrency,
        grpc_connections: cli.grpc_connections,
        warmup: cli.warmup,
        duration: cli.duration,
        fill_to_spans,
        spans_before,
    };

    // 1. The references, level by level: rotel's null sink, then the same tracery
    // binary decoding and dropping. OTLP/gRPC and OTLP/HTTP protobuf at every level;
    // OTLP/JSON, Zipkin and Jaeger only at the most exporters; rotel takes only OTLP.
    let protocols_at = |exporters: usize, storage: Storage| -> Vec<Protocol> {
        cli.protocols
            .iter()
            .copied()
            .filter(|protocol| {
                matches!(protocol, Protocol::Grpc | Protocol::HttpProtobuf)
                    || exporters == most_exporters
            })
            .filter(|protocol| protocol.is_otlp() || storage != Storage::Rotel)
            .collect()
    };
    let mut references = Vec::new();
    if cli.servers.contains(&Storage::Rotel) {
        if cli.rotel.is_some() {
            references.push(Storage::Rotel);
        } else {
            progress("rotel left out: no --rotel binary given");
        }
    }
    if cli.servers.contains(&Storage::Discard) {
        references.push(Storage::Discard);
    }
    for &exporters in &cli.exporters {
        for &storage in &references {
            let name = format!("{}-{exporters}", storage.flag());
            let (server, _) = Server::start(&spec(storage, &name), &query_http).await?;
            for protocol in protocols_at(exporters, storage) {
                progress(&format!(
                    "{}: {} with {exporters} exporters for {:?}",
                    storage.flag(),
                    protocol.label(),
                    cli.duration
                ));
                let result = ingest_phase(
                    &server,
                    storage,
                    &source,
                    &phase(protocol, exporters, None, 0),
                )
                .await?;
                progress(&phase_line(&result));
                match storage {
                    Storage::Rotel => report.rotel.push(result),
                    _ => report.discard.push(result),
                }
            }
            server.stop().await?;
        }
    }

    if !cli.servers.contains(&Storage::Sled) {
        return finish(&cli, &mut report, started, &run_dir);
    }

    // 2. Few exporters against a sled store of their own, so its disk figure is
    // theirs. Everything they send is counted back like the rest.
    let mut sent: Vec<Sent> = Vec::new();
    let few_levels: Vec<usize> = cli
        .exporters
        .iter()
        .copied()
        .filter(|exporters| *exporters != most_exporters)
        .collect();
    if !few_levels.is_empty() {
        let few_spec = spec(Storage::Sled, "sled-few");
        let (server, _) = Server::start(&few_spec, &query_http).await?;
        let mut few_sent = Vec::new();
        let mut few_spans = 0;
        for &exporters in &few_levels {
            for protocol in protocols_at(exporters, Storage::Sled) {
                progress(&format!(
                    "sled: {} with {exporters} exporters for {:?}",
                    protocol.label(),
                    cli.duration
                ));
                let result = ingest_phase(
                    &server,
                    Storage::Sled,
                    &source,
                    &phase(protocol, exporters, None, few_spans),
                )
                .await?;
                progress(&phase_line(&result));
                few_spans += result.acked_spans;
                few_sent.extend_from_slice(&result.sent);
                report.sled.push(result);
            }
        }
        let verification = query::verify_all(
            &verify_http,
            &format!("http://{}", server.query),
            &source,
            &few_sent,
        )
        .await?;
        let shutdown = server.stop().await?;
        let (apparent, allocated) = dir_size(&few_spec.data_dir)?;
        report.few_exporters_store = Some(StoreFigures {
            spans: verification.spans_expected,
            apparent_bytes: apparent,
            allocated_bytes: allocated,
            shutdown,
        });
        if !verification.passed() {
            bail!(
                "acknowledged spans of the few-exporter phases are missing: {} missing, {} extra",
                verification.missing_spans,
                verification.extra_spans
            );
        }
        progress(&format!(
            "few-exporter store: {} spans counted back, {:.1} B/span allocated",
            verification.spans_found,
            allocated as f64 / verification.spans_expected.max(1) as f64
        ));
    }

    // 2b. Default flags against --compare-server-arg, on two fresh stores that take
    // turns phase by phase, so drift in the machine's load hits both alike.
    if !cli.compare_server_args.is_empty() {
        let default_spec = spec(Storage::Sled, "compare-default");
        let mut flagged_spec = spec(Storage::Sled, "compare-flagged");
        flagged_spec
            .extra_args
            .extend(cli.compare_server_args.iter().cloned());
        let (default_server, _) = Server::start(&default_spec, &query_http).await?;
        let (flagged_server, _) = Server::start(&flagged_spec, &query_http).await?;
        let mut spans_before = [0, 0];
        for &exporters in cli.exporters.iter().filter(|exporters| **exporters > 1) {
            for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
                let mut pair = Vec::new();
                for (index, server) in [&default_server, &flagged_server].into_iter().enumerate() {
                    progress(&format!(
                        "sled{}: {} with {exporters} exporters for {:?}",
                        if index == 0 {
                            String::new()
                        } else {
                            format!(" {}", cli.compare_server_args.join(" "))
                        },
                        protocol.label(),
                        cli.duration
                    ));
                    let result = ingest_phase(
                        server,
                        Storage::Sled,
                        &source,
                        &phase(protocol, exporters, None, spans_before[index]),
                    )
                    .await?;
                    progress(&phase_line(&result));
                    spans_before[index] += result.acked_spans;
                    pair.push(result);
                }
                let flagged = pair.pop().context("two phases")?;
                let default = pair.pop().context("two phases")?;
                report.compared.push((default, flagged));
            }
        }
        default_server.stop().await?;
        flagged_server.stop().await?;
        report.compared_flags = cli.compare_server_args.join(" ");
    }

    // 3. The sled store with durable acks. The first protocol fills it to
    // --store-spans; queries are measured over exactly that store, and only then do
    // the other protocols add their share (so a fast machine can't overshoot it).
    let sled_spec = spec(Storage::Sled, "sled");
    let (server, _) = Server::start(&sled_spec, &query_http).await?;
    let query_base = format!("http://{}", server.query);
    let data_start = unix_nanos_now().saturating_sub(1_000_000_000);
    let (fill_protocol, others) = cli.protocols.split_first().context("no protocols")?;
    progress(&format!(
        "sled: {} until the store holds {} spans, probing ack → queryable every {:?}",
        fill_protocol.label(),
        cli.store_spans,
        cli.freshness_interval
    ));
    let probe_stop = CancellationToken::new();
    let probe = tokio::spawn(query::freshness_probe(
        Exporter::connect(Protocol::Grpc, &server, 1, 1).await?,
        query_http.clone(),
        query_base.clone(),
        Arc::clone(&source),
        cli.freshness_interval,
        probe_stop.clone(),
    ));
    let fill = ingest_phase(
        &server,
        Storage::Sled,
        &source,
        &phase(*fill_protocol, most_exporters, Some(cli.store_spans), 0),
    )
    .await;
    probe_stop.cancel();
    let freshness = probe.await.context("freshness probe panicked")??;
    let fill = fill?;
    progress(&phase_line(&fill));
    let mut stored_spans = fill.acked_spans;
    sent.extend_from_slice(&fill.sent);
    report.sled.push(fill);
    for marker in &freshness.sent {
        stored_spans += source.pool.templates[marker.template as usize].num_spans;
    }
    sent.extend_from_slice(&freshness.sent);
    report.freshness = Some(freshness);
    let data_end = unix_nanos_now();

    // 4. Queries over the filled store.
    progress(&format!(
        "queries over {stored_spans} spans: up to {} samples or {:?} per endpoint",
        cli.query_samples, cli.query_budget
    ));
    let mut rng = StdRng::seed_from_u64(cli.seed ^ unix_nanos_now());
    let plan = |end_unix_nanos| QueryPlan {
        num_samples: cli.query_samples,
        budget: cli.query_budget,
        search_window: cli.search_window,
        range: DataRange {
            start_unix_nanos: data_start,
            end_unix_nanos,
        },
    };
    let mut latencies = query::query_latencies(
        &query_http,
        &query_base,
        &source,
        &sent,
        plan(data_end),
        &mut rng,
    )
    .await?;
    latencies.user_tags.stored_spans = stored_spans;
    report.queries = Some(latencies);
    report.queried_spans = stored_spans;

    // 5. The other protocols, on top of the filled store.
    for protocol in others {
        progress(&format!(
            "sled: {} for {:?}",
            protocol.label(),
            cli.duration
        ));
        let result = ingest_phase(
            &server,
            Storage::Sled,
            &source,
            &phase(*protocol, most_exporters, None, stored_spans),
        )
        .await?;
        progress(&phase_line(&result));
        stored_spans += result.acked_spans;
        sent.extend_from_slice(&result.sent);
        report.sled.push(result);
    }

    // 6. A bigger store: fill further, then the tag searches again. This fill is
    // not a timed phase of the report; its memory still counts.
    if cli.big_store_spans > stored_spans {
        progress(&format!(
            "sled: {} until the store holds {} spans",
            fill_protocol.label(),
            cli.big_store_spans
        ));
        let fill = ingest_phase(
            &server,
            Storage::Sled,
            &source,
            &phase(
                *fill_protocol,
                most_exporters,
                Some(cli.big_store_spans),
                stored_spans,
            ),
        )
        .await?;
        progress(&phase_line(&fill));
        stored_spans += fill.acked_spans;
        sent.extend_from_slice(&fill.sent);
        report.ingest_rss_hwm = report.ingest_rss_hwm.max(fill.rss_peak.max(fill.rss_hwm));
        progress(&format!("tag searches over {stored_spans} spans"));
        let mut big = query::user_tag_searches(
            &query_http,
            &query_base,
            &source,
            &sent,
            plan(unix_nanos_now()),
            &mut rng,
        )
        .await?;
        big.stored_spans = stored_spans;
        report.big_store_tags = Some(big);
    }
    report.ingest_rss_hwm = report.ingest_rss_hwm.max(server.memory()?.peak_rss);

    // 7. Every acknowledged span, counted back.
    progress(&format!("count-back of {stored_spans} acknowledged spans"));
    let verification = query::verify_all(&verify_http, &query_base, &source, &sent).await?;
    progress(&format!(
        "count-back: {} of {} spans found, {} missing, {} extra, in {:.1?}",
        verification.spans_found,
        verification.spans_expected,
        verification.missing_spans,
        verification.extra_spans,
        verification.duration
    ));
    report.verification = Some(verification.clone());

    // 8. Clean shutdown, disk use, and reopening the same data directory.
    let shutdown = server.stop().await?;
    let (apparent, allocated) = dir_size(&sled_spec.data_dir)?;
    report.store = Some(StoreFigures {
        spans: verification.spans_expected,
        apparent_bytes: apparent,
        allocated_bytes: allocated,
        shutdown,
    });
    progress("reopening the store");
    let (server, reopen_time) = Server::start(&sled_spec, &query_http).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = server.memory()?.rss;
    let spot_check = query::verify_all(
        &verify_http,
        &format!("http://{}", server.query),
        &source,
        &sample(&sent, 200, &mut rng),
    )
    .await?;
    server.stop().await?;
    let logged = |field| server::logged_store_figure(&sled_spec.log_path, field);
    let disk_parts = match (
        logged("block_bytes"),
        logged("summary_bytes"),
        logged("filter_bytes"),
        logged("num_spans"),
    ) {
        (Some(blocks), Some(summaries), Some(filters), Some(spans)) => Some(DiskParts {
            spans,
            bodies: blocks.saturating_sub(summaries + filters),
            summaries,
            filters,
            sled: dir_size(&sled_spec.data_dir.join("sled"))?.1,
        }),
        _ => None,
    };
    report.reopen = Some(Reopen {
        time: reopen_time,
        num_blocks: logged("num_blocks"),
        disk_parts,
        idle_rss,
        spot_check_traces: spot_check.traces_expected,
        spot_check_missing: spot_check.missing_traces,
    });

    finish(&cli, &mut report, started, &run_dir)?;
    if !verification.passed() || spot_check.missing_traces > 0 {
        bail!(
            "acknowledged spans are missing: {} missing, {} extra, {} of {} sampled traces missing after reopen",
            verification.missing_spans,
            verification.extra_spans,
            spot_check.missing_traces,
            spot_check.traces_expected
        );
    }
    Ok(())
}

/// Prints and writes the report and removes the data unless asked to keep it.
fn finish(
    cli: &Cli,
    report: &mut Report,
    started: Instant,
    run_dir: &std::path::Path,
) -> anyhow::Result<()> {
    report.total = started.elapsed();
    report.load_at_end = report::load_average();
    let markdown = report.render();
    println!("{markdown}");
    if let Some(out) = &cli.out {
        std::fs::write(out, &markdown)
            .with_context(|| format!("failed to write {}", out.display()))?;
        progress(&format!("report written to {}", out.display()));
    }
    if !cli.keep_data {
        std::fs::remove_dir_all(run_dir)
            .with_context(|| format!("failed to remove {}", run_dir.display()))?;
    }
    Ok(())
}

/// A random subset of sends, for the spot check after reopening.
fn sample(sent: &[Sent], count: usize, rng: &mut StdRng) -> Vec<Sent> {
    use rand::seq::IndexedRandom as _;
    sent.choose_multiple(rng, count).copied().collect()
}

fn phase_line(result: &PhaseResult) -> String {
    format!(
        "  {:.0} spans/s over {:.1?}; cores: server {:.2}, client {:.2}, others {:.2}; {:.0} spans per server CPU-second; RSS peak {} MiB; {} retries, {} failed",
        result.spans_per_second,
        result.window,
        result.server_cpu_seconds / result.window.as_secs_f64(),
        result.client_cpu_seconds / result.window.as_secs_f64(),
        (result.machine_cpu_seconds - result.server_cpu_seconds - result.client_cpu_seconds).max(0.0)
            / result.window.as_secs_f64(),
        result.spans_per_server_cpu_second(),
        result.rss_peak >> 20,
        result.retries,
        result.failed_requests
    )
}

/// Progress goes to stderr so stdout carries only the report.
fn progress(message: &str) {
    eprintln!("[tracery-bench] {message}");
}

/// `30s`, `2m`, `500ms`, `1h`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s or 2m"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("unknown unit in `{text}`; use ms, s, m or h")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// `10000000`, `10M`, `500k`, `1_000_000`.
fn parse_count(text: &str) -> Result<u64, String> {
    let cleaned = text.trim().replace('_', "");
    let (number, factor) = match cleaned.chars().last() {
        Some('k' | 'K') => (&cleaned[..cleaned.len() - 1], 1_000.0),
        Some('m' | 'M') => (&cleaned[..cleaned.len() - 1], 1_000_000.0),
        Some('g' | 'G') => (&cleaned[..cleaned.len() - 1], 1_000_000_000.0),
        _ => (cleaned.as_str(), 1.0),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a count like 10M or 500k"))?;
    Ok((number * factor) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_counts_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("7 parsecs").is_err());
        assert_eq!(parse_count("10M"), Ok(10_000_000));
        assert_eq!(parse_count("500k"), Ok(500_000));
        assert_eq!(parse_count("1_000"), Ok(1_000));
        assert!(parse_count("many").is_err());
    }
}
