//! Tracery's own metrics, in Prometheus conventions, served on the admin port.
//!
//! One `Metrics` per server (no globals, so servers embedded side by side, as in
//! the tests, count separately). Receivers record through the handle their
//! `IngestHandle` carries:
//!
//! ```ignore
//! let started = Instant::now();
//! metrics.spans_received(protocol::OTLP_GRPC, num_spans);
//! metrics.spans_rejected(protocol::OTLP_GRPC, reason::INVALID, num_invalid);
//! metrics.spans_accepted(protocol::OTLP_GRPC, num_valid);
//! metrics.export_finished(protocol::OTLP_GRPC, outcome::SUCCESS, started.elapsed());
//! ```
//!
//! Gauges that mirror state (queue depth, bytes on disk, process figures) are read
//! at scrape time by the collectors in `scrape.rs` and `process.rs`.

mod allocator;
mod process;
mod scrape;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::WeakStore;

pub use allocator::{set_allocator_stats, AllocatorStats, AllocatorStatsReader};

/// Values of the `protocol` label: the wire format a span arrived in.
pub mod protocol {
    pub const OTLP_GRPC: &str = "otlp_grpc";
    pub const OTLP_HTTP_PROTOBUF: &str = "otlp_http_protobuf";
    pub const OTLP_HTTP_JSON: &str = "otlp_http_json";
    pub const JAEGER_GRPC: &str = "jaeger_grpc";
    pub const JAEGER_THRIFT_HTTP: &str = "jaeger_thrift_http";
    pub const JAEGER_UDP_COMPACT: &str = "jaeger_udp_compact";
    pub const JAEGER_UDP_BINARY: &str = "jaeger_udp_binary";
    pub const ZIPKIN: &str = "zipkin";
}

/// Values of the `reason` label of rejected spans.
pub mod reason {
    /// Malformed (bad IDs, undecodable body); the client must not retry.
    pub const INVALID: &str = "invalid";
    pub const QUEUE_FULL: &str = "queue_full";
    pub const SHUTTING_DOWN: &str = "shutting_down";
    pub const STORE_ERROR: &str = "store_error";
}

/// Values of the `outcome` label of export requests.
pub mod outcome {
    pub const SUCCESS: &str = "success";
    /// Some spans were rejected (`partial_success`).
    pub const PARTIAL: &str = "partial";
    /// Malformed, too large or of the wrong content type: a 4xx / `INVALID_ARGUMENT`.
    pub const INVALID: &str = "invalid";
    /// Queue full, shutting down or a failing store: the client retries.
    pub const RETRYABLE: &str = "retryable";
}

/// The `Content-Type` of `Metrics::encode`'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Cheap to clone; every clone records into the same registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    sources: Arc<scrape::Sources>,
    spans_received: Family<ProtocolLabels, Counter>,
    spans_accepted: Family<ProtocolLabels, Counter>,
    spans_rejected: Family<RejectedLabels, Counter>,
    export_requests: Family<ExportLabels, Counter>,
    export_duration: Family<ProtocolLabels, Histogram, fn() -> Histogram>,
    batch_spans: Histogram,
    block_write_duration: Histogram,
    fsync_duration: Histogram,
    blocks_written: Counter,
    blocks_compacted: Counter,
    retention_expired_hours: Counter,
    query_requests: Family<QueryLabels, Counter>,
    query_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectedLabels {
    protocol: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExportLabels {
    protocol: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueryLabels {
    route: String,
    status: QueryStatus,
}

/// How a query-port request ended: an HTTP status (`404`), or for the gRPC query
/// API the call's gRPC code by name (`NOT_FOUND`), as gRPC's own metrics name them.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
enum QueryStatus {
    Http(u16),
    Grpc(&'static str),
}

impl EncodeLabelValue for QueryStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write as _;
        match self {
            QueryStatus::Http(status) => write!(encoder, "{status}"),
            QueryStatus::Grpc(code) => encoder.write_str(code),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// 0.5 ms to about 8 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut root = Registry::default();
        let sources = Arc::new(scrape::Sources::default());
        root.register_collector(Box::new(process::ProcessCollector));
        let registry = root.sub_registry_with_prefix("tracery");
        registry.register_collector(Box::new(scrape::StateCollector(sources.clone())));
        registry.register_collector(Box::new(allocator::AllocatorCollector));

        let spans_received = Family::default();
        registry.register(
            "spans_received",
            "Spans in export requests that could be decoded, by protocol",
            spans_received.clone(),
        );
        let spans_accepted = Family::default();
        registry.register(
            "spans_accepted",
            "Spans queued for storage, by protocol",
            spans_accepted.clone(),
        );
        let spans_rejected = Family::default();
        registry.register(
            "spans_rejected",
            "Spans refused, by protocol and reason (invalid, queue_full, shutting_down, store_error)",
            spans_rejected.clone(),
        );
        let export_requests = Family::default();
        registry.register(
            "export_requests",
            "Export requests, by protocol and outcome (success, partial, invalid, retryable)",
            export_requests.clone(),
        );
        let export_duration: Family<ProtocolLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "export_duration_seconds",
            "Time from a decoded export request to its answer (includes the durable ack's fsync)",
            export_duration.clone(),
        );
        let batch_spans = Histogram::new(exponential_buckets(1.0, 4.0, 8));
        registry.register(
            "batch_spans",
            "Spans per batch the batcher writes",
            batch_spans.clone(),
        );
        let block_write_duration = latency_histogram();
        registry.register(
            "block_write_duration_seconds",
            "Time to encode, compress and append one batch's blocks",
            block_write_duration.clone(),
        );
        let fsync_duration = latency_histogram();
        registry.register(
            "fsync_duration_seconds",
            "Time to fsync block files and record their metadata",
            fsync_duration.clone(),
        );
        let blocks_written = Counter::default();
        registry.register(
            "blocks_written",
            "Blocks written by the batcher",
            blocks_written.clone(),
        );
        let blocks_compacted = Counter::default();
        registry.register(
            "blocks_compacted",
            "Small blocks merged into larger ones by compaction",
            blocks_compacted.clone(),
        );
        let retention_expired_hours = Counter::default();
        registry.register(
            "retention_expired_hours",
            "Hour partitions deleted by retention",
            retention_expired_hours.clone(),
        );
        let query_requests = Family::default();
        registry.register(
            "query_requests",
            "Requests to the query ports (HTTP and gRPC), by route or gRPC method and status",
            query_requests.clone(),
        );
        let query_duration: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "query_duration_seconds",
            "Time to answer a request on the query ports, by route or gRPC method",
            query_duration.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry: root,
                sources,
                spans_received,
                spans_accepted,
                spans_rejected,
                export_requests,
                export_duration,
                batch_spans,
                block_write_duration,
                fsync_duration,
                blocks_written,
                blocks_compacted,
                retention_expired_hours,
                query_requests,
                query_duration,
            }),
        }
    }

    /// The registry in the OpenMetrics text format (`CONTENT_TYPE`).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; a collector error would leave a partial page.
        if let Err(error) =
            prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
        {
            tracing::warn!(%error, "failed to encode metrics");
        }
        text
    }

    pub fn spans_received(&self, protocol: &'static str, num_spans: usize) {
        self.inner
            .spans_received
            .get_or_create(&ProtocolLabels { protocol })
            .inc_by(num_spans as u64);
    }

    pub fn spans_accepted(&self, protocol: &'static str, num_spans: usize) {
        self.inner
            .spans_accepted
            .get_or_create(&ProtocolLabels { protocol })
            .inc_by(num_spans as u64);
    }

    pub fn spans_rejected(&self, protocol: &'static str, reason: &'static str, num_spans: usize) {
        if num_spans == 0 {
            return;
        }
        self.inner
            .spans_rejected
            .get_or_create(&RejectedLabels { protocol, reason })
            .inc_by(num_spans as u64);
    }

    /// One export request answered, with its `outcome` and how long it took.
    pub fn export_finished(
        &self,
        protocol: &'static str,
        outcome: &'static str,
        elapsed: Duration,
    ) {
        self.inner
            .export_requests
            .get_or_create(&ExportLabels { protocol, outcome })
            .inc();
        self.inner
            .export_duration
            .get_or_create(&ProtocolLabels { protocol })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn batch_written(&self, num_spans: usize, num_blocks: usize, elapsed: Duration) {
        self.inner.batch_spans.observe(num_spans as f64);
        self.inner.blocks_written.inc_by(num_blocks as u64);
        self.inner
            .block_write_duration
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn synced(&self, elapsed: Duration) {
        self.inner.fsync_duration.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn blocks_compacted(&self, num_blocks: usize) {
        self.inner.blocks_compacted.inc_by(num_blocks as u64);
    }

    pub(crate) fn hours_expired(&self, num_hours: usize) {
        self.inner.retention_expired_hours.inc_by(num_hours as u64);
    }

    pub(crate) fn query_finished(&self, route: &str, status: u16, elapsed: Duration) {
        self.query_counted(route, QueryStatus::Http(status), elapsed);
    }

    /// A call on the gRPC query port: `method` is its path
    /// (`/jaeger.api_v2.QueryService/GetTrace`), `code` the gRPC code's name.
    pub(crate) fn grpc_query_finished(
        &self,
        method: &'static str,
        code: &'static str,
        elapsed: Duration,
    ) {
        self.query_counted(method, QueryStatus::Grpc(code), elapsed);
    }

    fn query_counted(&self, route: &str, status: QueryStatus, elapsed: Duration) {
        self.inner
            .query_requests
            .get_or_create(&QueryLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.inner
            .query_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Reports the ingest queue's depth at scrape time.
    pub(crate) fn watch_queue(
        &self,
        depth: impl Fn() -> scrape::QueueDepth + Send + Sync + 'static,
    ) {
        let _ = self.inner.sources.queue.set(Box::new(depth));
    }

    /// Reports the store's bytes on disk at scrape time, while it is open.
    pub(crate) fn watch_store(&self, store: WeakStore) {
        let _ = self.inner.sources.store.set(store);
    }
}

pub(crate) use scrape::QueueDepth;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_labels_and_process_metrics_are_present() {
        let metrics = Metrics::new();
        metrics.spans_received(protocol::OTLP_GRPC, 3);
        metrics.spans_rejected(protocol::OTLP_GRPC, reason::INVALID, 1);
        metrics.spans_accepted(protocol::OTLP_GRPC, 2);
        metrics.export_finished(
            protocol::OTLP_GRPC,
            outcome::PARTIAL,
            Duration::from_millis(3),
        );
        let text = metrics.encode();
        for line in [
            "tracery_spans_received_total{protocol=\"otlp_grpc\"} 3",
            "tracery_spans_accepted_total{protocol=\"otlp_grpc\"} 2",
            "tracery_spans_rejected_total{protocol=\"otlp_grpc\",reason=\"invalid\"} 1",
            "tracery_export_requests_total{protocol=\"otlp_grpc\",outcome=\"partial\"} 1",
            "tracery_export_duration_seconds_count{protocol=\"otlp_grpc\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        if cfg!(target_os = "linux") {
            assert!(text.contains("process_resident_memory_bytes "), "{text}");
            assert!(text.contains("process_cpu_seconds_total "), "{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
