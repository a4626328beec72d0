//! The Markdown report: setup, the targets with PASS/MISS (`targets`), then the
//! detail tables each verdict comes from.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::generate::PoolStats;
use crate::load::Protocol;
use crate::measure::PhaseResult;
use crate::query::{Freshness, LatencyStats, QueryLatencies, UserTagSearches, Verification};

pub(crate) const MIB: u64 = 1024 * 1024;

/// Disk figures of the sled store after a clean shutdown.
#[derive(Debug, Clone)]
pub(crate) struct StoreFigures {
    pub(crate) spans: u64,
    pub(crate) apparent_bytes: u64,
    pub(crate) allocated_bytes: u64,
    pub(crate) shutdown: Duration,
}

impl StoreFigures {
    /// Allocated size (what `du` shows: blocks in use, so holes punched by compaction
    /// don't count and preallocation does) per span.
    pub(crate) fn bytes_per_span(&self) -> f64 {
        self.allocated_bytes as f64 / self.spans.max(1) as f64
    }
}

/// The store's bytes by part: block bodies, summary frames (with each block's
/// 5-byte prefix), term filters (all three as the reopened server logs them, in
/// bytes written) and sled's directory (allocated).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DiskParts {
    pub(crate) spans: u64,
    pub(crate) bodies: u64,
    pub(crate) summaries: u64,
    pub(crate) filters: u64,
    pub(crate) sled: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Reopen {
    pub(crate) time: Duration,
    /// Blocks the reopened store reported in its log, if it did.
    pub(crate) num_blocks: Option<u64>,
    /// Where the bytes are, from the same log line and `du` of sled's directory.
    pub(crate) disk_parts: Option<DiskParts>,
    pub(crate) idle_rss: u64,
    pub(crate) spot_check_traces: u64,
    pub(crate) spot_check_missing: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Report {
    command: String,
    commit: String,
    machine: String,
    /// 1-minute load average at the start; other tenants of a shared machine show here.
    load_at_start: String,
    pub(crate) load_at_end: String,
    date: String,
    pub(crate) settings: String,
    pub(crate) pool: Option<PoolStats>,
    pub(crate) rotel: Vec<PhaseResult>,
    pub(crate) discard: Vec<PhaseResult>,
    pub(crate) sled: Vec<PhaseResult>,
    /// Pairs of sled phases on fresh stores: (default flags, `compared_flags`).
    pub(crate) compared: Vec<(PhaseResult, PhaseResult)>,
    pub(crate) compared_flags: String,
    /// The store of the sled phases with few exporters, on a data directory of its own.
    pub(crate) few_exporters_store: Option<StoreFigures>,
    /// Needle and common-value searches once the store was filled further.
    pub(crate) big_store_tags: Option<UserTagSearches>,
    pub(crate) freshness: Option<Freshness>,
    pub(crate) ingest_rss_hwm: u64,
    pub(crate) queries: Option<QueryLatencies>,
    /// Spans in the store while queries were measured.
    pub(crate) queried_spans: u64,
    pub(crate) verification: Option<Verification>,
    pub(crate) store: Option<StoreFigures>,
    pub(crate) reopen: Option<Reopen>,
    pub(crate) total: Duration,
}

impl Report {
    pub(crate) fn new(
        args: &[String],
        tracery: &Path,
        out: Option<&Path>,
    ) -> anyhow::Result<Report> {
        // bench/run.sh names itself so the report quotes the command a reader would type.
        let command = match std::env::var("TRACERY_BENCH_COMMAND") {
            Ok(command) if !command.trim().is_empty() => command,
            _ => shell_words(args),
        };
        let version = Command::new(tracery)
            .arg("--version")
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_default();
        Ok(Report {
            command,
            commit: format!("{} ({version})", git_commit(out)),
            machine: machine(),
            load_at_start: load_average(),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            ..Report::default()
        })
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "# Tracery benchmark\n")?;
        writeln!(
            out,
            "Produced by `bench/run.sh` (the `tracery-bench` binary) on {}. The load generator \
             shares the machine with the server, so compare figures within this run rather \
             than with other machines; spans per server CPU-second is the figure that \
             travels best.\n",
            self.date
        )?;
        writeln!(out, "| | |\n|---|---|")?;
        writeln!(out, "| command | `{}` |", self.command)?;
        writeln!(out, "| tracery commit | {} |", self.commit)?;
        writeln!(out, "| machine | {} |", self.machine)?;
        writeln!(
            out,
            "| load average (1 min) | {} at start, {} at end (other work on the machine competes with the run) |",
            self.load_at_start, self.load_at_end
        )?;
        writeln!(out, "| settings | {} |", self.settings)?;
        if let Some(pool) = &self.pool {
            writeln!(
                out,
                "| workload | {} distinct requests of {} spans in traces of 5–30 spans ({:.1} on average) across 6 services; {:.0} B/span as an OTLP protobuf request ({:.0} B per span message){}; {:.1} span attributes, {:.1} resource attributes; 2% of spans are HTTP 500 |",
                pool.num_requests,
                pool.num_spans / pool.num_requests.max(1) as u64,
                pool.num_spans as f64 / pool.num_traces.max(1) as f64,
                pool.proto_bytes_per_span,
                pool.span_message_bytes,
                [
                    (pool.json_bytes_per_span, "OTLP/JSON"),
                    (pool.zipkin_bytes_per_span, "Zipkin v2 JSON"),
                    (pool.jaeger_bytes_per_span, "Jaeger Thrift"),
                ]
                .iter()
                .filter_map(|(bytes, label)| bytes.map(|bytes| format!(", {bytes:.0} B/span as {label}")))
                .collect::<String>(),
                pool.span_attributes,
                pool.resource_attributes,
            )?;
        }
        writeln!(out, "| run time | {:.0?} |\n", self.total)?;

        writeln!(out, "## Targets (issues 3, 10, 12, 15 and 16)\n")?;
        writeln!(
            out,
            "For the sled store with durable acknowledgements (the default), same workload, one run. \
             Where issue 10 tightened an issue-3 target, the tighter one is shown.\n"
        )?;
        writeln!(
            out,
            "| metric | target | measured | result |\n|---|---|---|---|"
        )?;
        for row in self.target_rows() {
            let verdict = match row.pass {
                Some(true) => "PASS",
                Some(false) => "**MISS**",
                None => "n/a",
            };
            writeln!(
                out,
                "| {} | {} | {} | {verdict} |",
                row.metric, row.target, row.measured
            )?;
        }
        writeln!(out)?;
        self.render_ingest(out)?;
        self.render_queries(out)?;
        self.render_store(out)?;
        self.render_method(out)?;
        Ok(())
    }

    pub(crate) fn phase(
        &self,
        storage: crate::server::Storage,
        protocol: Protocol,
        exporters: usize,
    ) -> Option<&PhaseResult> {
        let list = match storage {
            crate::server::Storage::Rotel => &self.rotel,
            crate::server::Storage::Discard => &self.discard,
            crate::server::Storage::Sled => &self.sled,
        };
        list.iter()
            .find(|phase| phase.protocol == protocol && phase.concurrency == exporters)
    }

    fn render_ingest(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "## Ingest\n")?;
        writeln!(
            out,
            "Closed loop: each worker sends a request and waits for its acknowledgement. \
             \"cores\" is CPU-seconds per second of the timed window; the client is the load \
             generator itself, and \"others\" is what the rest of the machine (other tenants of \
             a shared host) used meanwhile, so a phase that got less CPU shows it. The first \
             sled phase fills the store, so its figure is the average over the whole fill (the \
             first window of the same length is shown too); the other protocols run after the \
             queries, on top of the filled store.\n"
        )?;
        writeln!(
            out,
            "| server | protocol | workers | window | spans/s | server cores | spans per server CPU-s | client cores | others' cores | export p50 / p99 | RSS peak / steady | retries | failed | rejected |"
        )?;
        writeln!(
            out,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        )?;
        for phase in self.rotel.iter().chain(&self.discard).chain(&self.sled) {
            let window = phase.window.as_secs_f64();
            let rate =
                if (phase.first_duration_spans_per_second - phase.spans_per_second).abs() > 1.0 {
                    format!(
                        "{} (first window {})",
                        thousands(phase.spans_per_second),
                        thousands(phase.first_duration_spans_per_second)
                    )
                } else {
                    thousands(phase.spans_per_second)
                };
            writeln!(
                out,
                "| {} | {} | {} | {:.0} s | {rate} | {:.2} | {} | {:.2} | {:.2} | {} / {} | {} / {} MiB | {} | {} | {} |",
                phase.storage.flag(),
                phase.protocol.label(),
                phase.concurrency,
                window,
                phase.server_cpu_seconds / window,
                thousands(phase.spans_per_server_cpu_second()),
                phase.client_cpu_seconds / window,
                (phase.machine_cpu_seconds - phase.server_cpu_seconds - phase.client_cpu_seconds).max(0.0)
                    / window,
                millis(phase.export_p50),
                millis(phase.export_p99),
                phase.rss_peak / MIB,
                phase.rss_steady / MIB,
                phase.retries,
                phase.failed_requests,
                phase.rejected_spans,
            )?;
        }
        if !self.compared.is_empty() {
            writeln!(
                out,
                "\nDefault flags against `{flags}`: two fresh sled stores, durable acks, taking \
                 turns phase by phase (default first).\n",
                flags = self.compared_flags
            )?;
            writeln!(
                out,
                "| protocol | workers | default: spans/s | `{}`: spans/s | ratio | default: spans per server CPU-s | `{}`: spans per server CPU-s | ratio | export p99 default / flagged |",
                self.compared_flags, self.compared_flags
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
            for (default, flagged) in &self.compared {
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.2}× | {} | {} | {:.2}× | {} / {} |",
                    default.protocol.label(),
                    default.concurrency,
                    thousands(default.spans_per_second),
                    thousands(flagged.spans_per_second),
                    default.spans_per_second / flagged.spans_per_second.max(1.0),
                    thousands(default.spans_per_server_cpu_second()),
                    thousands(flagged.spans_per_server_cpu_second()),
                    default.spans_per_server_cpu_second()
                        / flagged.spans_per_server_cpu_second().max(1.0),
                    millis(default.export_p99),
                    millis(flagged.export_p99),
                )?;
            }
        }
        let errors: Vec<String> = self
            .rotel
            .iter()
            .chain(&self.discard)
            .chain(&self.sled)
            .flat_map(|phase| {
                phase.error_samples.iter().map(move |error| {
                    format!(
                        "{} {}: {error}",
                        phase.storage.flag(),
                        phase.protocol.label()
                    )
                })
            })
            .collect();
        if !errors.is_empty() {
            writeln!(out, "\nFirst errors seen:\n")?;
            for error in errors.iter().take(10) {
                writeln!(out, "- `{error}`")?;
            }
        }
        writeln!(out)?;
        Ok(())
    }

    fn render_queries(&self, out: &mut String) -> std::fmt::Result {
        let Some(queries) = &self.queries else {
            return Ok(());
        };
        writeln!(out, "## Queries\n")?;
        writeln!(
            out,
            "Over the filled store ({} spans), one request at a time, timed to the last byte of \
             the body (gzip, as a browser asks). find-traces asks for {} traces; the operation search \
             uses a random {:.0} s window within the stored data, the tag search \
             (`tags={{\"http.response.status_code\":\"500\"}}`) and the same condition as a \
             filter expression (`filter=http.response.status_code=500`, and as a range, \
             `filter=http.response.status_code>=500`, the same spans) the whole time range of one service.\n",
            thousands(self.queried_spans as f64),
            20,
            queries.search_window.as_secs_f64()
        )?;
        writeln!(
            out,
            "| query | samples | p50 | p99 | max | items per answer | failures |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|")?;
        for (name, stats) in [
            ("`GET /api/traces/{id}`", &queries.get_trace),
            (
                "`GET /api/traces?service&operation&start&end&limit`",
                &queries.find_traces,
            ),
            (
                "`GET /api/traces?service&tags&start&end&limit`",
                &queries.find_traces_tag,
            ),
            (
                "`GET /api/traces?service&filter=k=v&start&end&limit`",
                &queries.find_traces_filter,
            ),
            (
                "`GET /api/traces?service&filter=k>=n&start&end&limit`",
                &queries.find_traces_filter_range,
            ),
            (
                "needle: `service=frontend&tags={\"user.id\":\"u-…\"}` (one trace)",
                &queries.user_tags.needle,
            ),
            (
                "common value: `service=frontend&tags={\"user.id\":\"anonymous\"}`",
                &queries.user_tags.common,
            ),
            ("`GET /api/services`", &queries.services),
            ("`GET /api/services/{s}/operations`", &queries.operations),
        ] {
            writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {:.1} | {} |",
                stats.samples,
                millis(stats.p50),
                millis(stats.p99),
                millis(stats.max),
                stats.mean_items,
                stats.failures
            )?;
        }
        if let Some(big) = &self.big_store_tags {
            writeln!(
                out,
                "\nThe same `user.id` searches after filling the store to {} spans:\n",
                thousands(big.stored_spans as f64)
            )?;
            writeln!(
                out,
                "| query | samples | p50 | p99 | max | items per answer | failures |"
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|")?;
            for (name, stats) in [("needle", &big.needle), ("common value", &big.common)] {
                writeln!(
                    out,
                    "| {name} | {} | {} | {} | {} | {:.1} | {} |",
                    stats.samples,
                    millis(stats.p50),
                    millis(stats.p99),
                    millis(stats.max),
                    stats.mean_items,
                    stats.failures
                )?;
            }
        }
        writeln!(out)?;
        Ok(())
    }

    fn render_store(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "## Store\n")?;
        writeln!(out, "| figure | value |\n|---|---|")?;
        if let Some(store) = &self.store {
            writeln!(out, "| spans stored | {} |", thousands(store.spans as f64))?;
            writeln!(
                out,
                "| data directory after SIGTERM | {:.1} MiB apparent, {:.1} MiB allocated |",
                store.apparent_bytes as f64 / MIB as f64,
                store.allocated_bytes as f64 / MIB as f64
            )?;
            writeln!(
                out,
                "| bytes per span (allocated) | {:.1} |",
                store.bytes_per_span()
            )?;
            writeln!(
                out,
                "| graceful shutdown (SIGTERM → exit) | {:.2} s |",
                store.shutdown.as_secs_f64()
            )?;
        }
        if let Some(few) = &self.few_exporters_store {
            writeln!(
                out,
                "| store of the 1- and 8-exporter phases (own data directory) | {} spans, {:.1} MiB allocated, {:.1} B/span |",
                thousands(few.spans as f64),
                few.allocated_bytes as f64 / MIB as f64,
                few.bytes_per_span()
            )?;
        }
        if self.ingest_rss_hwm > 0 {
            writeln!(
                out,
                "| RSS high-water mark after ingest (VmHWM) | {} MiB |",
                self.ingest_rss_hwm / MIB
            )?;
        }
        if let Some(reopen) = &self.reopen {
            writeln!(
                out,
                "| reopen (spawn → `/api/services` answers) | {:.2} s |",
                reopen.time.as_secs_f64()
            )?;
            writeln!(
                out,
                "| idle RSS 2 s after reopening | {} MiB |",
                reopen.idle_rss / MIB
            )?;
            if let (Some(blocks), Some(store)) = (reopen.num_blocks, &self.store) {
                writeln!(
                    out,
                    "| blocks in the store (from its log) | {} ({:.0} spans per block) |",
                    thousands(blocks as f64),
                    store.spans as f64 / blocks.max(1) as f64
                )?;
            }
            if let Some(parts) = reopen.disk_parts {
                let per_span = |bytes: u64| bytes as f64 / parts.spans.max(1) as f64;
                writeln!(
                    out,
                    "| bytes per span by part (from its log; sled allocated) | bodies {:.1}, summaries {:.1}, term filters {:.1}, sled {:.1} |",
                    per_span(parts.bodies),
                    per_span(parts.summaries),
                    per_span(parts.filters),
                    per_span(parts.sled)
                )?;
            }
            writeln!(
                out,
                "| traces of a random sample missing after reopen | {} of {} |",
                reopen.spot_check_missing, reopen.spot_check_traces
            )?;
        }
        if let Some(verification) = &self.verification {
            writeln!(
                out,
                "| count-back | {} traces / {} spans expected, {} / {} found, {} spans missing, {} extra, in {:.1} s |",
                thousands(verification.traces_expected as f64),
                thousands(verification.spans_expected as f64),
                thousands(verification.traces_found as f64),
                thousands(verification.spans_found as f64),
                verification.missing_spans,
                verification.extra_spans,
                verification.duration.as_secs_f64()
            )?;
            if verification.skipped_partial_sends > 0 {
                writeln!(
                    out,
                    "| sends with partial success (not counted back) | {} |",
                    verification.skipped_partial_sends
                )?;
            }
            for example in &verification.examples {
                writeln!(out, "| count-back example | {example} |")?;
            }
        }
        writeln!(out)?;
        Ok(())
    }

    fn render_method(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "## Method\n")?;
        for line in [
            "The requests are generated before any timed phase and replayed round-robin; each send gets fresh trace IDs (a run-wide counter through a bijective mix), span IDs XORed with a per-send mask and timestamps moved to the present, so no two sends carry the same trace and no storage block sees the same request twice.",
            "The Tracery servers are the same `tracery` binary on free loopback ports with their own data directories; `--storage discard` decodes, converts and drops. rotel (PyPI `rotel`, a Rust OTLP collector) runs with `--exporter blackhole`, its null sink, as the reference for OTLP intake; every server is driven by the same clients at 1, 8 and 64 concurrent exporters. CPU is utime+stime from `/proc/<pid>/stat`; memory is VmRSS sampled every 250 ms and VmHWM from `/proc/<pid>/status`.",
            "Zipkin v2 JSON (`POST /api/v2/spans`) and Jaeger Thrift binary (`POST /api/traces` on the collector's HTTP port) carry the same generated spans as the OTLP requests: Zipkin with the service as `localEndpoint` and no other resource attributes (Zipkin has nowhere for them), Jaeger as one `Batch` per service with the resource attributes as process tags, the batches of one request posted at once as each service's own client would, the request acknowledged when all are. Both are sent at the most exporters only, to Tracery only (rotel takes OTLP).",
            "Retryable refusals (gRPC UNAVAILABLE / RESOURCE_EXHAUSTED, HTTP 429 / 502 / 503 / 504) are retried with exponential backoff from 10 ms to 1 s and counted; anything else counts as a failed request and its spans are not expected back.",
            "Every trace's root span has a `user.id`: for a fifth of them `anonymous` (the common value), for the rest a value of its own, patched in per send (the needles). The needle search asks for a random stored trace's value over the whole time range of the frontend service and must return exactly that trace.",
            "ack → queryable: while the store fills, one request per interval goes over a separate gRPC connection; after its acknowledgement `GET /api/traces/{id}` is polled every millisecond until the trace is complete.",
            "Disk is the allocated size of the data directory (blocks in use, as `du` counts them) after a clean shutdown (SIGTERM), divided by the spans stored; the phases with 1 and 8 exporters write to a data directory of their own, measured the same way. Reopen is the time from spawning the binary on that directory until `/api/services` answers.",
            "The count-back fetches every acknowledged trace by ID (`/api/traces?traceID=…`, 100 per request, in send order) and compares distinct span IDs per trace with what was sent.",
        ] {
            writeln!(out, "- {line}")?;
        }
        Ok(())
    }
}

pub(crate) fn failures_note(stats: &LatencyStats) -> String {
    if stats.failures > 0 {
        format!(", {} of {} failed or empty", stats.failures, stats.samples)
    } else {
        String::new()
    }
}

pub(crate) fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

pub(crate) fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|arg| {
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c))
            {
                format!("'{}'", arg.replace('\'', r"'\''"))
            } else {
                arg.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The commit the benchmark runs from, marked when tracked files differ from it. The
/// report file itself (`out`) doesn't count: each run overwrites the previous one.
fn git_commit(out: Option<&Path>) -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let exclude = out.map(|out| format!(":(exclude){}", out.display()));
            let mut args = vec!["status", "--porcelain", "--untracked-files=no", "--", "."];
            if let Some(exclude) = &exclude {
                args.push(exclude);
            }
            let dirty = run(&args).is_some_and(|status| !status.is_empty());
            if dirty {
                format!("{commit} + uncommitted changes")
            } else {
                commit
            }
        }
        None => "unknown".to_owned(),
    }
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map_or("unknown CPU".to_owned(), |model| model.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| {
            let line = meminfo
                .lines()
                .find(|line| line.starts_with("MemTotal:"))?
                .to_owned();
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB RAM", kib as f64 / 1024.0 / 1024.0))
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| format!("Linux {}", release.trim()))
        .unwrap_or_default();
    format!("{cores} × {model}, {memory}, {kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_for_people() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(millis(Duration::from_micros(1500)), "1.50 ms");
        assert_eq!(millis(Duration::from_millis(123)), "123 ms");
        assert_eq!(shell_words(&["a".into(), "b c".into()]), "a 'b c'");
    }
}
