//! The allocator's own counts (`tracery_allocator_bytes{state=…}`), read at scrape
//! time. RSS alone cannot tell live data from memory the allocator keeps between
//! allocations; these can. The binary picks the allocator (`main.rs`), so it also
//! hands in the reader (`set_allocator_stats`); without one the series are left out.

use std::sync::OnceLock;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

/// Bytes as the allocator counts them (jemalloc's `stats.*` names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocatorStats {
    /// Held by live allocations.
    pub allocated: u64,
    /// In pages with at least one live allocation (`allocated` plus their free slots).
    pub active: u64,
    /// The allocator's own bookkeeping.
    pub metadata: u64,
    /// Physically resident pages the allocator maps: active, metadata, and freed
    /// pages not yet returned to the kernel (what is over `active + metadata`).
    pub resident: u64,
    /// Address space mapped in extents that hold data (at least `active`).
    pub mapped: u64,
    /// Address space kept for reuse without memory behind it.
    pub retained: u64,
}

/// Reads the counts, or `None` when they cannot be had.
pub type AllocatorStatsReader = fn() -> Option<AllocatorStats>;

static READER: OnceLock<AllocatorStatsReader> = OnceLock::new();

/// Sets where `/metrics` reads the allocator's counts; later calls are ignored.
pub fn set_allocator_stats(reader: AllocatorStatsReader) {
    let _ = READER.set(reader);
}

#[derive(Debug)]
pub(super) struct AllocatorCollector;

impl Collector for AllocatorCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(stats) = READER.get().and_then(|read| read()) else {
            return Ok(());
        };
        let family = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        for (state, bytes) in [
            ("allocated", stats.allocated),
            ("active", stats.active),
            ("metadata", stats.metadata),
            ("resident", stats.resident),
            ("mapped", stats.mapped),
            ("retained", stats.retained),
        ] {
            family
                .get_or_create(&[("state", state)])
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        family.encode(encoder.encode_descriptor(
            "allocator_bytes",
            "Memory as the allocator counts it: allocated (live allocations), active (pages holding them), metadata, resident (all its pages in RAM, freed ones not yet returned to the kernel included), mapped (address space of its data extents), retained (address space kept without memory)",
            None,
            family.metric_type(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counts_are_exported_once_a_reader_is_set() {
        fn reader() -> Option<AllocatorStats> {
            Some(AllocatorStats {
                allocated: 1,
                active: 2,
                metadata: 3,
                resident: 4,
                mapped: 5,
                retained: 6,
            })
        }
        let mut registry = prometheus_client::registry::Registry::default();
        registry
            .sub_registry_with_prefix("tracery")
            .register_collector(Box::new(AllocatorCollector));
        let encode = |registry: &prometheus_client::registry::Registry| {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
            text
        };
        if READER.get().is_none() {
            assert!(!encode(&registry).contains("allocator_bytes{"));
        }
        set_allocator_stats(reader);
        let text = encode(&registry);
        for line in [
            "tracery_allocator_bytes{state=\"allocated\"} 1",
            "tracery_allocator_bytes{state=\"resident\"} 4",
            "tracery_allocator_bytes{state=\"mapped\"} 5",
            "tracery_allocator_bytes{state=\"retained\"} 6",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
