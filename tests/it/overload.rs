//! Overload (issue #14): the real `tracery` binary, made slow (`--zstd-level 19`, a
//! 4,000-span queue, 50 ms queue wait), gets twice the span rate it can write.
//!
//! First the test measures that rate: 8 exporters send 600-span traces back to back
//! for a few seconds, and the acknowledged spans per second are the write rate.
//! Then it offers twice that, open loop (a new export every 600 / 2×rate seconds,
//! three of four over OTLP/gRPC, one over OTLP/HTTP), for the load's length, while
//! it samples the server's RSS (VmRSS) every few seconds. Checks:
//! - every export is acknowledged or refused with a retryable status
//!   (`UNAVAILABLE` + RetryInfo, 429 + `Retry-After`), and some are refused;
//! - once the load stops, a fresh export is accepted within 10 s;
//! - every acknowledged trace reads back whole (0 acknowledged spans lost);
//! - `tracery_spans_rejected_total{reason="queue_full"}` equals the refused spans;
//! - RSS is flat: the highest sample of the second half is at most 25% + 32 MiB over
//!   the highest of the first half.
//!
//! `TRACERY_OVERLOAD_SECS` sets the load's measured length (default 20), and
//! `TRACERY_OVERLOAD_WARMUP_SECS` (default 0) a warm-up at the same 2× before it,
//! whose RSS samples are reported but left out of the checks: a fresh server's
//! memory rises while its caches and allocator arenas fill. `tests/soak/overload.sh`
//! runs 600 s after a 1200 s warm-up and prints the figures line. Runs of 120 s
//! or more also print a timeline, a line a minute: RSS, jemalloc's counts, and the
//! store's blocks, spans, block-meta memory and sled size, from the admin port's
//! /metrics.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::binary::Tracery;
use crate::support::fixtures::{big_trace, now_nanos, Trace};

const SPANS_PER_TRACE: usize = 600;

#[derive(Default)]
struct Outcomes {
    acked: Vec<String>,
    refused_exports: usize,
    /// Answers that are neither an ack nor a retryable refusal.
    wrong: Vec<String>,
}

/// Sends one trace (over gRPC, or HTTP when `http` is given) and records the outcome.
async fn export(
    trace: Trace,
    grpc: &mut TraceServiceClient<Channel>,
    http: Option<(&reqwest::Client, &str)>,
    outcomes: &Mutex<Outcomes>,
) {
    let id = trace.id_hex();
    let outcome: Result<(), Option<String>> = match http {
        None => match grpc.export(trace.to_export_request()).await {
            Ok(_) => Ok(()),
            Err(status)
                if status.code() == Code::Unavailable
                    && status.get_details_retry_info().is_some() =>
            {
                Err(None)
            }
            Err(status) => Err(Some(format!("gRPC {status:?}"))),
        },
        Some((client, url)) => {
            let response = client
                .post(url)
                .header("content-type", "application/x-protobuf")
                .body(trace.to_export_request().encode_to_vec())
                .send()
                .await;
            match response {
                Ok(response) if response.status() == 200 => Ok(()),
                Ok(response)
                    if response.status() == 429
                        && response.headers().contains_key("retry-after") =>
                {
                    Err(None)
                }
                Ok(response) => Err(Some(format!("HTTP {}", response.status()))),
                Err(error) => Err(Some(format!("HTTP {error}"))),
            }
        }
    };
    let mut outcomes = outcomes.lock().unwrap();
    match outcome {
        Ok(()) => outcomes.acked.push(id),
        Err(None) => outcomes.refused_exports += 1,
        Err(Some(wrong)) => outcomes.wrong.push(wrong),
    }
}

/// One line of the timeline: RSS (and its anonymous and file-backed parts), what
/// jemalloc counts (live allocations, the pages holding them, all it keeps resident),
/// and the store's blocks, spans and index memory.
async fn timeline_row(admin: &str, pid: u32, elapsed: Duration) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |field: &str| status_kib(&status, field).map_or(f64::NAN, |kib| kib as f64);
    let text = match reqwest::get(format!("http://{admin}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let gauge = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let allocator =
        |state: &str| gauge(&format!("tracery_allocator_bytes{{state=\"{state}\"}}")) / 1048576.0;
    format!(
        "{:>5.0} s: RSS {:.0} MiB (anonymous {:.0}, file {:.0}; jemalloc allocated {:.0}, active {:.0}, resident {:.0}), {} blocks, {:.1}M spans stored, block metas {:.1} MiB, sled {:.1} MiB on disk, {} blocks merged so far",
        elapsed.as_secs_f64(),
        kib("VmRSS:") / 1024.0,
        kib("RssAnon:") / 1024.0,
        kib("RssFile:") / 1024.0,
        allocator("allocated"),
        allocator("active"),
        allocator("resident"),
        gauge("tracery_store_blocks"),
        gauge("tracery_store_spans") / 1e6,
        gauge("tracery_store_block_meta_memory_bytes") / 1048576.0,
        gauge("tracery_store_index_bytes") / 1048576.0,
        gauge("tracery_blocks_compacted_total"),
    )
}

/// Sum of a Prometheus counter's series whose labels contain `label`.
async fn counter(admin: &str, name: &str, label: &str) -> u64 {
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A `/proc/PID/status` field given in kB, such as `VmRSS:`.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Seconds since the load began, and VmRSS in KiB.
type RssSample = (f64, u64);

/// Least-squares slope of RSS samples (seconds, KiB), in MiB per minute.
fn trend_mib_per_min(samples: &[RssSample]) -> f64 {
    let n = samples.len() as f64;
    let mean_t = samples.iter().map(|(t, _)| t).sum::<f64>() / n;
    let mean_k = samples.iter().map(|(_, k)| *k as f64).sum::<f64>() / n;
    let covariance: f64 = samples
        .iter()
        .map(|(t, k)| (t - mean_t) * (*k as f64 - mean_k))
        .sum();
    let variance: f64 = samples.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    covariance / variance.max(f64::EPSILON) * 60.0 / 1024.0
}

fn median(sorted: &[u64]) -> u64 {
    sorted[sorted.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twice_the_write_rate_is_refused_retryably_with_flat_rss() {
    let secs: u64 = std::env::var("TRACERY_OVERLOAD_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20);
    let warmup_secs: u64 = std::env::var("TRACERY_OVERLOAD_WARMUP_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let sample_every = Duration::from_secs(if secs >= 120 { 5 } else { 1 });
    let data_dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "--zstd-level",
        "19",
        "--max-queued-spans",
        "4000",
        "--queue-wait-ms",
        "50",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut server = Tracery::start(data_dir.path(), &args, &[]).await;
    let channel = Channel::from_shared(format!("http://{}", server.otlp_grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let grpc = TraceServiceClient::new(channel);
    let http = reqwest::Client::new();
    let http_url = format!("http://{}/v1/traces", server.otlp_http);
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));

    // The write rate: closed-loop exporters, as fast as acks come back.
    let calibrate = Duration::from_secs((secs / 10).clamp(5, 30));
    let started = Instant::now();
    let mut exporters = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (mut grpc, outcomes) = (grpc.clone(), outcomes.clone());
        exporters.spawn(async move {
            while started.elapsed() < calibrate {
                export(
                    big_trace(now_nanos(), SPANS_PER_TRACE),
                    &mut grpc,
                    None,
                    &outcomes,
                )
                .await;
            }
        });
    }
    while exporters.join_next().await.is_some() {}
    let acked_in_calibration = outcomes.lock().unwrap().acked.len();
    let write_rate =
        (acked_in_calibration * SPANS_PER_TRACE) as f64 / started.elapsed().as_secs_f64();
    assert!(
        write_rate > 0.0,
        "nothing was acknowledged while measuring the write rate"
    );

    // Twice that, open loop, with RSS sampled alongside.
    let offered_rate = 2.0 * write_rate;
    let interval = Duration::from_secs_f64(SPANS_PER_TRACE as f64 / offered_rate);
    let load = Duration::from_secs(warmup_secs + secs);
    let rss: Arc<Mutex<Vec<RssSample>>> = Arc::default();
    // Once a minute on long runs: what the store holds, printed as a timeline.
    let sampling = {
        let (rss, pid) = (rss.clone(), server.pid);
        let admin = server.admin.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(sample_every);
            let mut next_scrape = Duration::ZERO;
            loop {
                tick.tick().await;
                if secs >= 120 && started.elapsed() >= next_scrape {
                    next_scrape += Duration::from_secs(60);
                    // Printed as it comes, so a long run that is stopped early keeps it.
                    let row = timeline_row(&admin, pid, started.elapsed()).await;
                    println!("overload timeline: {row}");
                }
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                if let Some(kib) = status_kib(&status, "VmRSS:") {
                    rss.lock()
                        .unwrap()
                        .push((started.elapsed().as_secs_f64(), kib));
                }
            }
        })
    };
    let in_flight = Arc::new(tokio::sync::Semaphore::new(512));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut num_offered = 0usize;
    let mut exports = tokio::task::JoinSet::new();
    while started.elapsed() < load {
        tick.tick().await;
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        let trace = big_trace(now_nanos(), SPANS_PER_TRACE);
        let (mut grpc, outcomes) = (grpc.clone(), outcomes.clone());
        let via_http = (num_offered % 4 == 3).then(|| (http.clone(), http_url.clone()));
        exports.spawn(async move {
            let http = via_http
                .as_ref()
                .map(|(client, url)| (client, url.as_str()));
            export(trace, &mut grpc, http, &outcomes).await;
            drop(permit);
        });
        num_offered += 1;
        // Reap finished exports so the set stays small over a long soak.
        while exports.try_join_next().is_some() {}
    }
    let offered_for = started.elapsed();
    while exports.join_next().await.is_some() {}
    sampling.abort();

    // Recovery: once the load is gone, an export is accepted again.
    let recovery_started = Instant::now();
    loop {
        let trace = big_trace(now_nanos(), SPANS_PER_TRACE);
        let before = outcomes.lock().unwrap().acked.len();
        export(trace, &mut grpc.clone(), None, &outcomes).await;
        if outcomes.lock().unwrap().acked.len() > before {
            break;
        }
        assert!(
            recovery_started.elapsed() < Duration::from_secs(10),
            "ingest did not recover within 10 s of the load stopping"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered_in = recovery_started.elapsed();

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    assert!(
        outcomes.wrong.is_empty(),
        "{} exports were answered neither with an ack nor a retryable refusal: {:?}",
        outcomes.wrong.len(),
        &outcomes.wrong[..outcomes.wrong.len().min(5)]
    );
    assert!(
        outcomes.refused_exports > 0,
        "the server was never overloaded"
    );
    let refused_spans = outcomes.refused_exports * SPANS_PER_TRACE;
    let counted = counter(
        &server.admin,
        "tracery_spans_rejected_total",
        "reason=\"queue_full\"",
    )
    .await;
    assert_eq!(
        counted, refused_spans as u64,
        "tracery_spans_rejected_total{{reason=\"queue_full\"}} counts every refused span"
    );

    // Every acknowledged trace reads back whole.
    let query = server.query.clone();
    let lost: Vec<String> = futures_util::stream::iter(outcomes.acked.iter().cloned())
        .map(|id| {
            let (http, query) = (http.clone(), query.clone());
            async move {
                let response = http
                    .get(format!("http://{query}/api/traces/{id}"))
                    .send()
                    .await
                    .unwrap();
                let spans = if response.status() == 200 {
                    let body: serde_json::Value = response.json().await.unwrap();
                    body["data"][0]["spans"].as_array().map_or(0, Vec::len)
                } else {
                    0
                };
                (spans != SPANS_PER_TRACE).then(|| format!("{id}: {spans} spans"))
            }
        })
        .buffer_unordered(8)
        .filter_map(|lost| async move { lost })
        .collect()
        .await;
    assert!(
        lost.is_empty(),
        "{} acknowledged traces are missing or not whole: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );

    let all_rss = std::mem::take(&mut *rss.lock().unwrap());
    let (warmup_rss, rss): (Vec<RssSample>, Vec<RssSample>) = all_rss
        .into_iter()
        .partition(|(t, _)| *t < warmup_secs as f64);
    assert!(rss.len() >= 4, "too few RSS samples: {}", rss.len());
    let half = rss.len() / 2;
    let max_of = |samples: &[RssSample]| samples.iter().map(|(_, kib)| *kib).max().unwrap();
    let (first_max, second_max) = (max_of(&rss[..half]), max_of(&rss[half..]));
    let mut sorted: Vec<u64> = rss.iter().map(|(_, kib)| *kib).collect();
    sorted.sort_unstable();
    let slope_mib_per_min = trend_mib_per_min(&rss[half..]);
    let whole_slope = trend_mib_per_min(&rss);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let warmup = match (warmup_rss.first(), warmup_rss.last()) {
        (Some(first), Some(last)) => format!(
            "; {warmup_secs} s of warm-up before, RSS {:.0} -> {:.0} MiB",
            mib(first.1),
            mib(last.1)
        ),
        _ => String::new(),
    };
    println!(
        "overload figures: {secs} s at {:.0} spans/s offered (2 x {write_rate:.0}/s measured write rate; {num_offered} exports of {SPANS_PER_TRACE} spans in {:.0} s), {} acknowledged and read back whole ({} spans; {acked_in_calibration} of those exports while measuring the rate), {} refused retryably ({refused_spans} spans, /metrics queue_full {counted}), 0 lost, 0 other answers; recovered in {:.1} s; RSS MiB min {:.0} / median {:.0} / max {:.0}, max first half {:.0} vs second half {:.0}, trend {whole_slope:+.2} MiB/min, second-half trend {slope_mib_per_min:+.2} MiB/min ({} samples every {:?}){warmup}",
        num_offered as f64 * SPANS_PER_TRACE as f64 / offered_for.as_secs_f64(),
        offered_for.as_secs_f64(),
        outcomes.acked.len(),
        outcomes.acked.len() * SPANS_PER_TRACE,
        outcomes.refused_exports,
        recovered_in.as_secs_f64(),
        mib(sorted[0]),
        mib(median(&sorted)),
        mib(*sorted.last().unwrap()),
        mib(first_max),
        mib(second_max),
        rss.len(),
        sample_every,
    );
    assert!(
        second_max as f64 <= first_max as f64 * 1.25 + 32.0 * 1024.0,
        "RSS grew: highest {} MiB in the first half, {} MiB in the second",
        mib(first_max),
        mib(second_max)
    );
    let status = server.terminate().await;
    assert!(status.success(), "tracery exited with {status}");
}
