//! The disk cap under constant load (issue #14): the real `tracery` binary with a
//! small `--max-disk-gib`, fed by durable exporters without a pause, must keep its
//! data dir flat, dropping the oldest hours and saying so in its log.
//!
//! The cap drops whole hours and never the one being written, so the directory can
//! only stay flat once hours turn. A soak of minutes would never see that under the
//! wall clock, so the store's clock runs faster (`TRACERY_TEST_CLOCK_SPEED`; an hour
//! lasts 3600 / speed seconds) and the cap is set well below what the load writes
//! in one such hour. The spans carry 256 random hex characters each, so they don't
//! compress to nothing.
//!
//! Every `TRACERY_DISK_CAP_SAMPLE_SECS` the data dir's allocated size (`du -sk`) is
//! sampled. Checks: at least two hours are dropped, each logged; the highest sample
//! of the second half is at most 50% + 16 MiB over the highest of the first half.
//!
//! Knobs (defaults are CI-sized: 20 s, 5-second hours, 1 MiB cap):
//! `TRACERY_DISK_CAP_SECS`, `TRACERY_DISK_CAP_SPEED`, `TRACERY_DISK_CAP_GIB`.
//! `tests/soak/disk-cap.sh` runs 15 minutes and prints the figures line.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

use crate::support::binary::{log_field, Tracery};
use crate::support::fixtures::{kv, TraceBuilder};

const SPANS_PER_TRACE: usize = 50;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The data dir's allocated size in KiB, as `du -sk` says.
fn du_kib(path: &std::path::Path) -> u64 {
    let output = std::process::Command::new("du")
        .arg("-sk")
        .arg(path)
        .output()
        .expect("run du");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .and_then(|kib| kib.parse().ok())
        .expect("du prints a size")
}

fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(rand::random_range(0..16), 16).unwrap())
        .collect()
}

/// What one run of `load_against_the_cap` saw.
struct Run {
    /// `du -sk` samples of the data dir, in KiB.
    samples: Vec<u64>,
    /// (hour, freed bytes) of every "dropped the oldest hour" line.
    hours_dropped: Vec<(u32, u64)>,
    /// How many "dropped the oldest blocks" lines.
    block_drops: usize,
    acked_spans: usize,
}

/// Starts the binary with `--max-disk-gib cap_gib` and the store's clock `speed`
/// times as fast, and feeds it from four durable exporters for `secs` seconds, each
/// pausing `pause` between requests; samples the data dir every `sample_every`.
async fn load_against_the_cap(
    secs: u64,
    speed: u32,
    cap_gib: f64,
    pause: Duration,
    sample_every: Duration,
) -> Run {
    let data_dir = tempfile::tempdir().unwrap();
    let args = ["--max-disk-gib".to_owned(), cap_gib.to_string()];
    let envs = [("TRACERY_TEST_CLOCK_SPEED", speed.to_string())];
    let mut server = Tracery::start(data_dir.path(), &args, &envs).await;

    let started = Instant::now();
    let load = Duration::from_secs(secs);
    let mut exporters = tokio::task::JoinSet::new();
    for exporter in 0..4 {
        let url = format!("http://{}", server.otlp_grpc);
        exporters.spawn(async move {
            let mut client = TraceServiceClient::connect(url).await.unwrap();
            let mut acked_spans = 0usize;
            while started.elapsed() < load {
                let mut builder = TraceBuilder::new(&format!("disk-cap-{exporter}"))
                    .span("root", 0..100)
                    .attr(kv("payload", random_hex(256).as_str()));
                for span in 1..SPANS_PER_TRACE {
                    builder = builder
                        .child(&format!("child-{}", span % 10), 1..99)
                        .attr(kv("payload", random_hex(256).as_str()));
                }
                let request = builder.build().to_export_request();
                if client.export(request).await.is_ok() {
                    acked_spans += SPANS_PER_TRACE;
                }
                tokio::time::sleep(pause).await;
            }
            acked_spans
        });
    }
    let mut samples: Vec<u64> = Vec::new();
    let mut tick = tokio::time::interval(sample_every);
    while started.elapsed() < load {
        tick.tick().await;
        samples.push(du_kib(data_dir.path()));
    }
    let mut acked_spans = 0;
    while let Some(acked) = exporters.join_next().await {
        acked_spans += acked.unwrap();
    }
    let log = server.drain_lines();
    server.kill().await;
    let hours_dropped = log
        .iter()
        .filter(|line| line.contains("dropped the oldest hour of spans"))
        .filter_map(|line| {
            let hour = log_field(line, "hour")?.parse().ok()?;
            let freed = log_field(line, "freed_bytes")?.parse().ok()?;
            Some((hour, freed))
        })
        .collect();
    let block_drops = log
        .iter()
        .filter(|line| line.contains("dropped the oldest blocks of spans"))
        .count();
    Run {
        samples,
        hours_dropped,
        block_drops,
        acked_spans,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn du_series(samples: &[u64]) -> String {
    let series: Vec<String> = samples
        .iter()
        .map(|kib| format!("{:.0}", mib(*kib)))
        .collect();
    series.join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_cap_keeps_the_data_dir_flat_under_constant_load() {
    let secs: u64 = env_or("TRACERY_DISK_CAP_SECS", 20);
    let speed: u32 = env_or("TRACERY_DISK_CAP_SPEED", 720);
    let cap_gib: f64 = env_or("TRACERY_DISK_CAP_GIB", 0.001);
    let sample_every = Duration::from_secs(env_or("TRACERY_DISK_CAP_SAMPLE_SECS", 1));
    let Run {
        samples,
        hours_dropped: dropped,
        block_drops,
        acked_spans,
    } = load_against_the_cap(secs, speed, cap_gib, Duration::ZERO, sample_every).await;
    let half = samples.len() / 2;
    let first_max = samples[..half].iter().max().copied().unwrap_or(0);
    let second_max = samples[half..].iter().max().copied().unwrap_or(0);
    let max = first_max.max(second_max);
    let growth = *samples.last().unwrap() as i64 - samples[half] as i64;
    let largest_hour = dropped.iter().map(|(_, freed)| *freed).max().unwrap_or(0);
    println!(
        "disk-cap figures: {secs} s of load, {acked_spans} spans acknowledged ({:.0}/s), cap {cap_gib} GiB ({:.1} MiB), clock x{speed} ({} s hours); du MiB max {:.1}, max first half {:.1} vs second half {:.1}, growth over the second half {:+.1}; {} hours dropped (largest {:.1} MiB of blocks): {:?}; {block_drops} rounds dropped blocks of the hour being written ({} samples every {sample_every:?})",
        acked_spans as f64 / secs as f64,
        cap_gib * 1024.0,
        3600 / speed,
        mib(max),
        mib(first_max),
        mib(second_max),
        growth as f64 / 1024.0,
        dropped.len(),
        largest_hour as f64 / (1 << 20) as f64,
        dropped.iter().map(|(hour, _)| *hour).collect::<Vec<_>>(),
        samples.len(),
    );
    println!("disk-cap du samples (MiB): {}", du_series(&samples));
    assert!(
        dropped.len() >= 2,
        "the log names fewer than two dropped hours: {dropped:?}"
    );
    assert!(
        second_max as f64 <= first_max as f64 * 1.5 + 16.0 * 1024.0,
        "the data dir grew: highest {:.1} MiB in the first half, {:.1} MiB in the second",
        mib(first_max),
        mib(second_max)
    );
}

/// The real clock and a cap far below what an hour of the load writes: no hour
/// turns, so only dropping the oldest blocks of the hour being written can hold the
/// cap. After the first quarter of the run, every sample must stay within the cap
/// plus what the load writes in two seconds (the cap is checked every second; the
/// rate is the largest growth between two samples) plus 1 MiB.
///
/// Knobs: `TRACERY_DISK_CAP_REAL_SECS` (20), `TRACERY_DISK_CAP_REAL_GIB` (0.003),
/// `TRACERY_DISK_CAP_REAL_PAUSE_MS` (10, per exporter between requests);
/// `tests/soak/disk-cap-real-clock.sh` runs an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_below_one_hour_of_data_holds_with_the_real_clock() {
    let secs: u64 = env_or("TRACERY_DISK_CAP_REAL_SECS", 20);
    let cap_gib: f64 = env_or("TRACERY_DISK_CAP_REAL_GIB", 0.003);
    let pause = Duration::from_millis(env_or("TRACERY_DISK_CAP_REAL_PAUSE_MS", 10));
    let sample_every = Duration::from_secs(env_or("TRACERY_DISK_CAP_SAMPLE_SECS", 1));
    let run = load_against_the_cap(secs, 1, cap_gib, pause, sample_every).await;
    let cap_kib = (cap_gib * 1024.0 * 1024.0) as u64;
    let filled = run.samples.len() / 4;
    let max = run.samples[filled..].iter().max().copied().unwrap_or(0);
    let largest = run.samples.iter().max().copied().unwrap_or(0);
    // The most the load wrote between two samples, per second.
    let per_sec_kib = run
        .samples
        .windows(2)
        .map(|pair| pair[1].saturating_sub(pair[0]))
        .max()
        .unwrap_or(0) as f64
        / sample_every.as_secs_f64();
    let per_round_kib = (per_sec_kib * 2.0) as u64;
    let allowed = cap_kib + per_round_kib + 1024;
    println!(
        "disk-cap real-clock figures: {secs} s of load, {} spans acknowledged ({:.0}/s), cap {cap_gib} GiB ({:.1} MiB); two seconds of writes ~{:.1} MiB; du MiB max after the first quarter {:.1} (allowed {:.1}), largest {:.1}; {} rounds dropped blocks, {} hours dropped; du samples (MiB): {}",
        run.acked_spans,
        run.acked_spans as f64 / secs as f64,
        mib(cap_kib),
        mib(per_round_kib),
        mib(max),
        mib(allowed),
        mib(largest),
        run.block_drops,
        run.hours_dropped.len(),
        du_series(&run.samples),
    );
    assert!(
        run.block_drops >= 2,
        "the log names fewer than two rounds of dropped blocks"
    );
    assert!(
        max <= allowed,
        "the data dir reached {:.1} MiB, over the {:.1} MiB cap plus two seconds of writes ({:.1} MiB) and 1 MiB",
        mib(max),
        mib(cap_kib),
        mib(per_round_kib)
    );
}
