//! One timed ingest phase: a load against one server over one protocol, with the
//! server's CPU and memory read from `/proc` around and during the timed window.
//!
//! A phase warms up first (connections, allocator, sled cache), then measures a
//! window that ends after `duration` and, when filling a store, once enough spans are
//! acknowledged. Only acknowledgements inside the window count towards the rate;
//! requests in flight when it closes are still waited for and recorded, because the
//! final count-back must include every acknowledged span.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{Exporter, Load, Protocol, Sent, Source};
use crate::server::{machine_busy_seconds, own_cpu_seconds, Server, Storage};

/// How often server memory is sampled.
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub(crate) struct PhaseSpec {
    pub(crate) protocol: Protocol,
    pub(crate) concurrency: usize,
    pub(crate) grpc_connections: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// Keep going until the server holds at least this many acknowledged spans.
    pub(crate) fill_to_spans: Option<u64>,
    /// Spans the server already held when the phase started.
    pub(crate) spans_before: u64,
}

/// Everything a phase measured.
#[derive(Debug, Clone)]
pub(crate) struct PhaseResult {
    pub(crate) protocol: Protocol,
    pub(crate) storage: Storage,
    pub(crate) concurrency: usize,
    /// Length of the timed window.
    pub(crate) window: Duration,
    pub(crate) window_spans: u64,
    pub(crate) spans_per_second: f64,
    pub(crate) server_cpu_seconds: f64,
    pub(crate) client_cpu_seconds: f64,
    /// Busy CPU-seconds of the whole machine during the window.
    pub(crate) machine_cpu_seconds: f64,
    /// Acknowledged spans in the first `duration` of the window (for a fill, the
    /// figure comparable with phases that ran for `duration` only).
    pub(crate) first_duration_spans_per_second: f64,
    pub(crate) rss_peak: u64,
    /// Median of the samples in the second half of the window.
    pub(crate) rss_steady: u64,
    pub(crate) rss_hwm: u64,
    pub(crate) export_p50: Duration,
    pub(crate) export_p99: Duration,
    pub(crate) retries: u64,
    pub(crate) failed_requests: u64,
    pub(crate) rejected_spans: u64,
    pub(crate) error_samples: Vec<String>,
    /// Every acknowledged span of the phase, warm-up and drain included.
    pub(crate) acked_spans: u64,
    pub(crate) sent: Vec<Sent>,
}

impl PhaseResult {
    pub(crate) fn spans_per_server_cpu_second(&self) -> f64 {
        self.window_spans as f64 / self.server_cpu_seconds.max(1e-9)
    }
}

pub(crate) async fn ingest_phase(
    server: &Server,
    storage: Storage,
    source: &Arc<Source>,
    spec: &PhaseSpec,
) -> anyhow::Result<PhaseResult> {
    let exporter = Exporter::connect(
        spec.protocol,
        server,
        spec.grpc_connections,
        spec.concurrency,
    )
    .await?;
    let load = Load::start(
        source,
        &exporter,
        spec.protocol.encoding(),
        spec.concurrency,
    );
    let mut rss_peak = 0;
    let warmup_end = Instant::now() + spec.warmup;
    while Instant::now() < warmup_end {
        rss_peak = rss_peak.max(server.memory()?.rss);
        tokio::time::sleep(MEMORY_SAMPLE_INTERVAL.min(warmup_end - Instant::now())).await;
    }

    let window_start = Instant::now();
    let (server_cpu_start, client_cpu_start, machine_cpu_start) = (
        server.cpu_seconds()?,
        own_cpu_seconds()?,
        machine_busy_seconds()?,
    );
    let acked_start = load.counters.acked_spans.load(Ordering::Relaxed);
    let mut acked_at_duration = None;
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    loop {
        let rss = server.memory()?.rss;
        rss_peak = rss_peak.max(rss);
        samples.push((Instant::now(), rss));
        let elapsed = window_start.elapsed();
        let acked = load.counters.acked_spans.load(Ordering::Relaxed);
        if elapsed >= spec.duration && acked_at_duration.is_none() {
            acked_at_duration = Some((acked - acked_start, elapsed));
        }
        let filled = spec
            .fill_to_spans
            .is_none_or(|target| spec.spans_before + acked >= target);
        if elapsed >= spec.duration && filled {
            break;
        }
        if load.counters.failed_requests.load(Ordering::Relaxed) > 1000 {
            break; // the server is refusing everything; the report will say so
        }
        tokio::time::sleep(MEMORY_SAMPLE_INTERVAL).await;
    }
    let window = window_start.elapsed();
    let window_spans = load.counters.acked_spans.load(Ordering::Relaxed) - acked_start;
    let server_cpu_seconds = server.cpu_seconds()? - server_cpu_start;
    let client_cpu_seconds = own_cpu_seconds()? - client_cpu_start;
    let machine_cpu_seconds = machine_busy_seconds()? - machine_cpu_start;
    let window_end = Instant::now();
    let counters = Arc::clone(&load.counters);
    let finished = load.finish().await?;
    let rss_hwm = server.memory()?.peak_rss;

    let half = window_start + window / 2;
    let mut steady: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at >= half)
        .map(|(_, rss)| *rss)
        .collect();
    steady.sort_unstable();
    let mut latencies: Vec<Duration> = finished
        .latencies
        .iter()
        .filter(|(done, _)| *done >= window_start && *done <= window_end)
        .map(|(_, latency)| *latency)
        .collect();
    latencies.sort_unstable();
    let (first_spans, first_elapsed) = acked_at_duration.unwrap_or((window_spans, window));
    Ok(PhaseResult {
        protocol: spec.protocol,
        storage,
        concurrency: spec.concurrency,
        window,
        window_spans,
        spans_per_second: window_spans as f64 / window.as_secs_f64(),
        server_cpu_seconds,
        client_cpu_seconds,
        machine_cpu_seconds,
        first_duration_spans_per_second: first_spans as f64 / first_elapsed.as_secs_f64(),
        rss_peak,
        rss_steady: steady.get(steady.len() / 2).copied().unwrap_or(rss_peak),
        rss_hwm,
        export_p50: percentile(&latencies, 0.50),
        export_p99: percentile(&latencies, 0.99),
        retries: counters.retries.load(Ordering::Relaxed),
        failed_requests: counters.failed_requests.load(Ordering::Relaxed),
        rejected_spans: counters.rejected_spans.load(Ordering::Relaxed),
        error_samples: finished.error_samples,
        acked_spans: counters.acked_spans.load(Ordering::Relaxed),
        sent: finished.sent,
    })
}

/// The `q` quantile of sorted samples (nearest rank); zero when there are none.
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
