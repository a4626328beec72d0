//! Gauges read at scrape time: the ingest queue and the store's bytes on disk.

use std::sync::OnceLock;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

use crate::store::WeakStore;

/// Spans queued or being written, and the queue's bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueDepth {
    pub(crate) queued_spans: usize,
    pub(crate) capacity_spans: usize,
    /// `Span::approx_bytes` of the queued spans, to the KiB.
    pub(crate) queued_bytes: usize,
    pub(crate) capacity_bytes: usize,
}

type QueueSource = Box<dyn Fn() -> QueueDepth + Send + Sync>;

/// Set once when the server wires its parts together.
#[derive(Default)]
pub(super) struct Sources {
    pub(super) queue: OnceLock<QueueSource>,
    pub(super) store: OnceLock<WeakStore>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("queue", &self.queue.get().is_some())
            .field("store", &self.store)
            .finish()
    }
}

#[derive(Debug)]
pub(super) struct StateCollector(pub(super) std::sync::Arc<Sources>);

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(depth) = self.0.queue.get().map(|depth| depth()) {
            gauge(
                &mut encoder,
                "ingest_queue_spans",
                "Spans queued or being written",
                depth.queued_spans as i64,
            )?;
            gauge(
                &mut encoder,
                "ingest_queue_capacity_spans",
                "Spans the ingest queue holds before exports are refused (--max-queued-spans)",
                depth.capacity_spans as i64,
            )?;
            gauge(
                &mut encoder,
                "ingest_queue_bytes",
                "Bytes of spans (as held in memory) queued or being written",
                depth.queued_bytes as i64,
            )?;
            gauge(
                &mut encoder,
                "ingest_queue_capacity_bytes",
                "Bytes of spans the ingest queue holds before exports are refused (--max-queued-mib)",
                depth.capacity_bytes as i64,
            )?;
        }
        let Some(store) = self.0.store.get().and_then(WeakStore::upgrade) else {
            return Ok(());
        };
        let usage = store.disk_usage();
        let blocks_total: u64 = usage.blocks_by_hour.iter().map(|(_, bytes)| bytes).sum();
        gauge(
            &mut encoder,
            "store_disk_bytes",
            "Bytes on disk: block files and the index",
            (blocks_total + usage.index_bytes) as i64,
        )?;
        gauge(
            &mut encoder,
            "store_index_bytes",
            "Bytes on disk of the sled index",
            usage.index_bytes as i64,
        )?;
        gauge(
            &mut encoder,
            "store_blocks",
            "Blocks indexed",
            usage.num_blocks as i64,
        )?;
        gauge(
            &mut encoder,
            "store_spans",
            "Spans in the indexed blocks",
            usage.num_spans as i64,
        )?;
        gauge(
            &mut encoder,
            "store_block_meta_memory_bytes",
            "Bytes the indexed blocks' metadata takes in memory",
            usage.meta_memory_bytes as i64,
        )?;
        let mut family = encoder.encode_descriptor(
            "store_hour_bytes",
            "Bytes of each ingest hour's block file; the hour label is its start (UTC)",
            None,
            ConstGauge::new(0i64).metric_type(),
        )?;
        for (hour, bytes) in usage.blocks_by_hour {
            let labels = [("hour", hour_label(hour))];
            ConstGauge::new(bytes as i64).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// `2026-12-06T02:00:00Z` for the hour starting then.
fn hour_label(unix_hour: u32) -> String {
    chrono::DateTime::from_timestamp(i64::from(unix_hour) * 3600, 0).map_or_else(
        || unix_hour.to_string(),
        |time| time.format("%Y-%m-%dT%H:00:00Z").to_string(),
    )
}
