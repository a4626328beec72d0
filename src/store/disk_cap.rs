//! `--max-disk-gib`: keeping the data dir (block files as allocated on disk, plus
//! sled's files) at or under a cap while spans keep arriving.
//!
//! Whole hours go first, oldest first: one tree and one file each, and their RED
//! metrics with them, as long as the hour is all needed (the dir stays at or above
//! `TRIM_TO` of the cap without it). When that is not enough (the cap is below what
//! the hour being written holds), or the oldest hour holds more than must go (an
//! hour just turned), the oldest synced blocks are dropped one by one, oldest hour
//! first, down to `TRIM_TO` of the cap so that a steady load doesn't trim every
//! round: their metas leave sled in one batch, sled is flushed, then their bytes are
//! punched out of the segment file (as compaction frees replaced blocks). A crash in
//! between leaves the metas gone and the bytes still there, which the hour's
//! expiry frees. A query that planned with a dropped block finds it gone
//! (`Store::read_block` checks that a block whose checksum fails is still live).
//! Blocks whose metas aren't in sled yet (between a writer's append and its sync)
//! are never dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::compact::DeadRange;
use super::{keys, lock, BlockMeta, Store, StoreError};

/// Trimming blocks stops once the data dir is at this fraction of the cap.
const TRIM_TO: f64 = 0.9;

/// What one round of the cap dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DiskCapDrops {
    /// Whole hours, oldest first.
    pub hours: Vec<u32>,
    /// Blocks dropped from the hours that are left, and their spans.
    pub num_blocks: usize,
    pub num_spans: u64,
}

impl Store {
    /// Drops the oldest data until the data dir is at or under `max_bytes`.
    pub fn enforce_disk_cap(&self, max_bytes: u64) -> Result<DiskCapDrops, StoreError> {
        self.enforce_disk_cap_at(max_bytes, self.hour_now())
    }

    pub(super) fn enforce_disk_cap_at(
        &self,
        max_bytes: u64,
        current_hour: u32,
    ) -> Result<DiskCapDrops, StoreError> {
        let _writer = lock(&self.inner.write_lock);
        let by_hour = self.inner.segments.allocated_by_hour();
        let index_bytes = self.inner.db.size_on_disk().unwrap_or(0);
        let mut used = index_bytes + by_hour.iter().map(|(_, bytes)| bytes).sum::<u64>();
        let mut drops = DiskCapDrops::default();
        let target = (max_bytes as f64 * TRIM_TO) as u64;
        for (hour, bytes) in by_hour {
            // An hour that holds more than must go is trimmed below, block by block,
            // rather than lost whole.
            if used <= max_bytes || hour >= current_hour || used.saturating_sub(bytes) < target {
                break;
            }
            self.drop_hour(hour)?;
            // The RED metrics of that hour and before go too (sealed or not).
            self.inner.red.expire_before(&self.inner.db, hour + 1)?;
            used = used.saturating_sub(bytes);
            tracing::warn!(
                hour,
                freed_bytes = bytes,
                used_bytes = used,
                max_bytes,
                "dropped the oldest hour of spans: the data dir is over --max-disk-gib"
            );
            drops.hours.push(hour);
        }
        if used > max_bytes {
            let (num_blocks, num_spans, freed) = self.drop_oldest_blocks(used - target)?;
            used = used.saturating_sub(freed);
            if num_blocks > 0 {
                tracing::warn!(
                    num_blocks,
                    num_spans,
                    freed_bytes = freed,
                    used_bytes = used,
                    max_bytes,
                    "dropped the oldest blocks of spans: the data dir is over --max-disk-gib"
                );
            }
            (drops.num_blocks, drops.num_spans) = (num_blocks, num_spans);
        }
        if used > max_bytes {
            tracing::warn!(
                used_bytes = used,
                max_bytes,
                "the data dir is over --max-disk-gib, but only blocks being written are left"
            );
        }
        Ok(drops)
    }

    /// Drops the oldest synced blocks until at least `wanted` bytes are freed (or
    /// none is left); returns (blocks, spans, bytes). The caller holds the write lock.
    fn drop_oldest_blocks(&self, wanted: u64) -> Result<(usize, u64, u64), StoreError> {
        let unsynced = self.unsynced_seqs();
        let mut candidates: Vec<Arc<BlockMeta>> = self
            .blocks()
            .into_iter()
            .filter(|meta| !unsynced.contains(&meta.seq))
            .collect();
        candidates.sort_by_key(|meta| (meta.partition, meta.seq));
        let mut victims: Vec<Arc<BlockMeta>> = Vec::new();
        let mut freed = 0u64;
        for meta in candidates {
            if freed >= wanted {
                break;
            }
            freed += u64::from(meta.num_bytes);
            victims.push(meta);
        }
        if victims.is_empty() {
            return Ok((0, 0, 0));
        }
        let mut batches: BTreeMap<u32, sled::Batch> = BTreeMap::new();
        for meta in &victims {
            batches
                .entry(meta.partition)
                .or_default()
                .remove(&keys::block_key(keys::META, meta.seq));
        }
        for (hour, batch) in batches {
            self.partition(hour)?.apply_batch(batch)?;
        }
        let gone: foldhash::HashSet<u64> = victims.iter().map(|meta| meta.seq).collect();
        self.inner
            .blocks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|meta| !gone.contains(&meta.seq));
        let mut ranges: Vec<DeadRange> = victims
            .iter()
            .map(|meta| DeadRange {
                hour: meta.partition,
                offset: meta.offset,
                len: u64::from(meta.num_bytes),
            })
            .collect();
        self.punch_dead(&mut ranges)?;
        let num_spans = victims.iter().map(|meta| u64::from(meta.num_spans)).sum();
        Ok((victims.len(), num_spans, freed))
    }
}
