//! The RED metrics' costs and query latency (issue 15), on a temporary store:
//!
//! - write cost: `Store::write_spans` of the same 8192-span blocks with RED metrics
//!   on and off (`StoreConfig::red_metrics`), best of several rounds;
//! - storage: cells and bytes per cell in sled after a checkpoint, once the hours
//!   that are over have been sealed (one value per resolution, cell id and hour);
//! - query: `QueryService::red_series` as `/api/metrics/latencies` asks it (one
//!   service, server spans, 24 h lookback, 60 s step) and the p95 of every point,
//!   per service and grouped by operation, over 24 h of cells of 50 services × 20
//!   operations. Without HTTP and the JSON reply.
//!
//! Run with `cargo bench --bench red_metrics`; it prints its figures. sled's cache is
//! the server's default (`--cache-mib`); `RED_BENCH_CACHE_MIB` sets another.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracery::config::StoreConfig;
use tracery::model::{Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId};
use tracery::query::metrics::MetricsQuery;
use tracery::query::QueryService;
use tracery::store::Store;

const NUM_SERVICES: u64 = 50;
const OPERATIONS_PER_SERVICE: u64 = 20;
/// Spans per operation per minute of the 24 h fill: every 10 s cell gets one.
const SPANS_PER_OPERATION_MINUTE: u64 = 6;
const BLOCK_SPANS: usize = 8192;

/// sled's cache for the bench's stores, in MiB.
fn cache_mib() -> u64 {
    std::env::var("RED_BENCH_CACHE_MIB")
        .ok()
        .and_then(|mib| mib.parse().ok())
        .unwrap_or(tracery::config::DEFAULT_CACHE_MIB)
}

fn store(dir: &tempfile::TempDir, red_metrics: bool) -> Store {
    Store::open(&StoreConfig {
        data_dir: dir.path().to_path_buf(),
        cache_capacity_bytes: cache_mib() << 20,
        max_block_spans: NonZeroUsize::new(BLOCK_SPANS).expect("non-zero"),
        zstd_level: 3,
        flush_every_ms: 500,
        max_disk_bytes: None,
        retention: None,
        red_metrics,
    })
    .expect("open a temporary store")
}

struct Spans {
    resources: Vec<Arc<Resource>>,
    scope: Arc<Scope>,
    counter: u64,
}

impl Spans {
    fn new() -> Spans {
        Spans {
            resources: (0..NUM_SERVICES)
                .map(|service| {
                    Arc::new(Resource {
                        service_name: format!("service-{service:02}"),
                        attributes: Vec::new(),
                    })
                })
                .collect(),
            scope: Arc::new(Scope::default()),
            counter: 0,
        }
    }

    /// A server span of `operation` of `service`, starting at `start_nanos`, with a
    /// pseudo-random duration of 1–500 ms and one failure in fifty.
    fn span(&mut self, service: u64, operation: u64, start_nanos: u64) -> Span {
        self.counter += 1;
        let mix = self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let duration = 1_000_000 + (mix >> 11) % 500_000_000;
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&mix.to_be_bytes());
        trace_id[8..].copy_from_slice(&self.counter.to_be_bytes());
        Span {
            trace_id: TraceId(trace_id),
            span_id: SpanId(self.counter.to_be_bytes()),
            parent_span_id: None,
            trace_state: String::new(),
            flags: 0,
            name: format!("operation-{operation:02}"),
            kind: SpanKind::Server,
            start_unix_nanos: start_nanos,
            end_unix_nanos: start_nanos + duration,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status_code: if mix.is_multiple_of(50) {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            status_message: String::new(),
            resource: self.resources[service as usize].clone(),
            scope: self.scope.clone(),
        }
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
}

/// Seconds to write `blocks` without and with RED metrics, best of `rounds` each;
/// the two alternate so that load from elsewhere hits both alike.
fn write_seconds(blocks: &[Vec<Span>], rounds: usize) -> (f64, f64) {
    let mut best = [f64::INFINITY; 2];
    for _ in 0..rounds {
        for (red_metrics, best) in [false, true].into_iter().zip(best.iter_mut()) {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = store(&dir, red_metrics);
            let started = Instant::now();
            for block in blocks {
                let refs: Vec<&Span> = block.iter().collect();
                store.write_spans(&refs).expect("write");
            }
            *best = best.min(started.elapsed().as_secs_f64());
        }
    }
    (best[0], best[1])
}

/// CPU time of every thread of this process so far (Linux `schedstat`, in ns):
/// a query's CPU time stays meaningful when other builds load the machine and
/// stretch its wall time.
fn process_cpu_nanos() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    sorted[((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, as a smoke test of the same code paths, so it fills 1 h instead of 24 h and
    // asks fewer queries (a debug build would take many minutes over 24 h).
    let full = std::env::args().any(|arg| arg == "--bench");
    // RED_BENCH_HOURS shortens or lengthens the fill, e.g. to profile the query path.
    let hours: u64 = std::env::var("RED_BENCH_HOURS")
        .ok()
        .and_then(|hours| hours.parse().ok())
        .unwrap_or(if full { 24 } else { 1 });
    let num_samples: u64 = if full { 200 } else { 20 };

    // Write cost: 40 blocks of live-looking spans across all 1000 operations.
    let mut spans = Spans::new();
    let now = now_nanos();
    let blocks: Vec<Vec<Span>> = (0..40)
        .map(|block| {
            (0..BLOCK_SPANS as u64)
                .map(|i| {
                    let n = block * BLOCK_SPANS as u64 + i;
                    let start = now - 60_000_000_000 + (n % 60_000) * 1_000_000;
                    spans.span(
                        n % NUM_SERVICES,
                        (n / NUM_SERVICES) % OPERATIONS_PER_SERVICE,
                        start,
                    )
                })
                .collect()
        })
        .collect();
    let num_spans = (blocks.len() * BLOCK_SPANS) as f64;
    // RED_BENCH_WRITE_ROUNDS=0 skips this part.
    let rounds: usize = std::env::var("RED_BENCH_WRITE_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(if full { 7 } else { 1 });
    let (off, on) = write_seconds(&blocks, rounds);
    if rounds > 0 {
        println!(
        "write_spans: {:.0} spans/s without RED metrics, {:.0} spans/s with; RED adds {:.1}% to the store's write path ({:.0} ns per span)",
        num_spans / off,
        num_spans / on,
        100.0 * (on - off) / off,
        (on - off) * 1e9 / num_spans
    );
    }

    // `hours` of cells (24 h in a real run): 50 services × 20 operations, a span every 10 s each.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir, true);
    let minute = 60_000_000_000u64;
    let end = now / minute * minute;
    let start = end - hours * 60 * minute;
    let started = Instant::now();
    let mut batch: Vec<Span> = Vec::with_capacity(BLOCK_SPANS);
    let mut num_filled = 0u64;
    for minute_index in 0..hours * 60 {
        let minute_start = start + minute_index * minute;
        for service in 0..NUM_SERVICES {
            for operation in 0..OPERATIONS_PER_SERVICE {
                for i in 0..SPANS_PER_OPERATION_MINUTE {
                    let offset = i * minute / SPANS_PER_OPERATION_MINUTE;
                    batch.push(spans.span(service, operation, minute_start + offset));
                }
            }
        }
        let refs: Vec<&Span> = batch.iter().collect();
        store.write_spans(&refs).expect("write");
        num_filled += batch.len() as u64;
        batch.clear();
        if minute_index % 10 == 9 {
            store.checkpoint_red().expect("checkpoint");
        }
    }
    store.sync().expect("sync");
    let fill_secs = started.elapsed().as_secs_f64();
    // A checkpoint seals at most a few hours; the last ones of the fill are still open.
    let started = Instant::now();
    for _ in 0..hours.div_ceil(4) + 1 {
        store.checkpoint_red().expect("checkpoint");
    }
    let seal_secs = started.elapsed().as_secs_f64();
    let size = store.red_size().expect("size");
    println!(
        "sled cache {} MiB; filled {hours} h ({num_filled} spans, {} operations) in {fill_secs:.0} s, last checkpoints and sealing {seal_secs:.1} s; \
         {} cells (10 s, 1 min and 10 min) in {} sled items ({} sealed values), {:.0} bytes per cell with keys, {:.1} MiB ({:.1} MiB sealed); \
         process RSS {:.0} MiB",
        cache_mib(),
        NUM_SERVICES * OPERATIONS_PER_SERVICE,
        size.num_cells,
        size.num_items,
        size.num_sealed_values,
        size.num_bytes as f64 / size.num_cells as f64,
        size.num_bytes as f64 / (1024.0 * 1024.0),
        size.num_sealed_bytes as f64 / (1024.0 * 1024.0),
        rss_mib(),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let query = QueryService::new(
        std::sync::Arc::new(store.clone()),
        &tracery::config::QueryConfig::default(),
    );
    for group_by_operation in [false, true] {
        let (mut latencies, mut cpu_times) = (Vec::new(), Vec::new());
        for sample in 0..num_samples {
            let metrics_query = MetricsQuery {
                services: vec![format!("service-{:02}", sample % NUM_SERVICES)],
                span_kinds: vec![SpanKind::Server],
                operation: None,
                group_by_operation,
                end_unix_millis: end / 1_000_000,
                lookback_millis: hours * 3_600_000,
                step_millis: 60_000,
            };
            let cpu_before = process_cpu_nanos();
            let started = Instant::now();
            let (_, series) = runtime
                .block_on(query.red_series(metrics_query))
                .expect("query");
            // The p95 of every point, as `/api/metrics/latencies` computes them.
            let values = series
                .iter()
                .flat_map(|series| &series.points)
                .filter_map(|cell| tracery::query::metrics::latency_millis(cell, 0.95))
                .count();
            latencies.push(started.elapsed());
            cpu_times.push(Duration::from_nanos(process_cpu_nanos() - cpu_before));
            let expected = if group_by_operation {
                OPERATIONS_PER_SERVICE
            } else {
                1
            };
            assert_eq!(series.len() as u64, expected);
            assert!(values > 0, "the points have latencies");
        }
        latencies.sort();
        cpu_times.sort();
        println!(
            "latencies over {hours} h, step 60 s, {}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; CPU time p50 {:.1} ms, p99 {:.1} ms ({num_samples} queries)",
            if group_by_operation { "grouped by operation" } else { "per service" },
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies[latencies.len() - 1].as_secs_f64() * 1e3,
            percentile(&cpu_times, 0.5).as_secs_f64() * 1e3,
            percentile(&cpu_times, 0.99).as_secs_f64() * 1e3,
        );
    }
    println!("process RSS after the queries {:.0} MiB", rss_mib());
}

/// The process's resident memory (VmRSS), in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}
