//! Merging small blocks. Under light load a durable batch holds whatever arrived
//! during the previous write and fsync, often a few spans: such blocks compress poorly, and each costs
//! a meta in memory and a read per search. Compaction rewrites runs of small blocks
//! of one hour as one block in the same hour's segment file. It runs in the
//! background, so it compresses harder than the write path (`COMPACTED_ZSTD_LEVEL`),
//! and it holds the write lock only to append and to swap the metadata: the encoding
//! and the fsync happen while ingest writes on.
//!
//! Crash safety follows the write path: the merged block is fsynced before one sled
//! batch adds its meta and removes the old ones, so after a crash either the old
//! blocks or the merged one are indexed, never both. The old blocks' bytes are freed
//! (a hole punched into the segment file) one round later, once the sled batch that
//! removed their metas is flushed and queries that planned with them are done.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use foldhash::HashSet;

use super::{block_meta, codec, keys, lock, BlockMeta, BlockPlace, Store, StoreError};
use crate::model::Span;

/// Blocks with fewer spans than this fraction of a full block are merged (at 64
/// exporters group commit writes blocks of about a third of a full one).
const SMALL_FRACTION: usize = 2;
/// The least zstd level of merged blocks. On the benchmark's spans, blocks of 8192
/// spans at levels 3, 6, 9 and 19 took 32.7, 31.8, 31.6 and 30.0 body bytes per
/// span (`benches/store_size.rs`); 6 gets most of the gain for little CPU, 19 costs
/// several times level 3's.
const COMPACTED_ZSTD_LEVEL: i32 = 6;

impl Store {
    /// Merges runs of small, synced blocks within each hour. Returns how many blocks
    /// were replaced.
    pub fn compact_small_blocks(&self) -> Result<usize, StoreError> {
        self.free_replaced()?;
        let max_spans = self.inner.config.max_block_spans.get();
        let mut replaced = 0;
        let groups = small_block_groups(
            &self.blocks(),
            &self.unsynced_seqs(),
            (max_spans / SMALL_FRACTION) as u32,
            max_spans as u32,
        );
        if !groups.is_empty() {
            tracing::debug!(num_groups = groups.len(), "merging small blocks");
        }
        for group in groups {
            if self.merge(&group)? {
                replaced += group.len();
            }
        }
        if replaced > 0 {
            tracing::debug!(replaced, "merged small blocks");
        }
        Ok(replaced)
    }

    /// Punches holes where the blocks replaced in the previous round were (also
    /// called once at shutdown, so their space is not held until the next open).
    pub fn free_replaced(&self) -> Result<(), StoreError> {
        let mut ranges = std::mem::take(&mut *lock(&self.inner.replaced));
        if ranges.is_empty() {
            return Ok(());
        }
        tracing::debug!(num_ranges = ranges.len(), "freeing replaced blocks");
        self.punch_dead(&mut ranges)
    }

    /// Flushes sled (the metas' removal must be on disk before the bytes go), then
    /// punches holes where `ranges` are, adjacent ones as one.
    pub(super) fn punch_dead(&self, ranges: &mut [DeadRange]) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        self.test_pause();
        ranges.sort_unstable();
        let mut merged: Vec<DeadRange> = Vec::with_capacity(ranges.len());
        for &range in ranges.iter() {
            match merged.last_mut() {
                Some(last) if last.hour == range.hour && last.offset + last.len == range.offset => {
                    last.len += range.len;
                }
                _ => merged.push(range),
            }
        }
        for range in merged {
            if let Some(segment) = self.inner.segments.get(range.hour) {
                segment.punch_hole(range.offset, range.len)?;
            }
        }
        Ok(())
    }

    pub(super) fn unsynced_seqs(&self) -> HashSet<u64> {
        lock(&self.inner.unsynced)
            .iter()
            .map(|meta| meta.seq)
            .collect()
    }

    /// Writes the group's spans as one block and swaps the metadata. `false` when
    /// retention dropped the hour meanwhile.
    fn merge(&self, group: &[Arc<BlockMeta>]) -> Result<bool, StoreError> {
        let hour = group[0].partition;
        let mut spans: Vec<Span> = Vec::new();
        for meta in group {
            let Some(bytes) = self.read_block(meta)? else {
                return Ok(false);
            };
            spans.extend(codec::decode_block(&bytes, |_| true)?);
        }
        let refs: Vec<&Span> = spans.iter().collect();
        let inner = &self.inner;
        // The spans were written before, so their catalog ids exist: this only looks them up.
        let (operation_ids, service_ids) = self.catalog_ids(&refs)?;
        let zstd_level = inner.config.zstd_level.max(COMPACTED_ZSTD_LEVEL);
        let encoded = codec::encode_block(&refs, &operation_ids, zstd_level)?;
        let (segment, offset) = {
            // Appends to a segment are serialised with ingest's.
            let _writer = lock(&inner.write_lock);
            let Some(segment) = inner.segments.get(hour) else {
                return Ok(false);
            };
            let offset = segment.append(&encoded.bytes)?;
            (segment, offset)
        };
        self.test_pause();
        segment.sync()?;
        self.test_pause();
        // Retention may have dropped the hour while the lock was free, and the disk
        // cap some of the group's blocks: writing their spans back would undo it.
        let _writer = lock(&inner.write_lock);
        if inner.segments.get(hour).is_none() {
            return Ok(false);
        }
        let live: HashSet<u64> = self.blocks().iter().map(|meta| meta.seq).collect();
        if group.iter().any(|meta| !live.contains(&meta.seq)) {
            tracing::debug!(
                hour,
                "a block to merge was dropped meanwhile; merge abandoned"
            );
            lock(&inner.replaced).push(DeadRange {
                hour,
                offset,
                len: encoded.bytes.len() as u64,
            });
            return Ok(false);
        }
        let place = BlockPlace {
            seq: inner.next_seq.fetch_add(1, Ordering::SeqCst),
            partition: hour,
            offset,
            checksum: crc32fast::hash(&encoded.bytes),
        };
        let merged = Arc::new(block_meta(
            place,
            &refs,
            &operation_ids,
            &service_ids,
            merged_edges(group),
            &encoded,
        ));
        let mut batch = sled::Batch::default();
        batch.insert(&keys::block_key(keys::META, merged.seq), merged.encode());
        for meta in group {
            batch.remove(&keys::block_key(keys::META, meta.seq));
        }
        self.partition(hour)?.apply_batch(batch)?;
        self.test_pause();
        let old: HashSet<u64> = group.iter().map(|meta| meta.seq).collect();
        let mut blocks = inner
            .blocks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        blocks.retain(|meta| !old.contains(&meta.seq));
        blocks.push(merged);
        lock(&inner.replaced).extend(group.iter().map(|meta| DeadRange {
            hour,
            offset: meta.offset,
            len: u64::from(meta.num_bytes),
        }));
        Ok(true)
    }
}

/// The old blocks' edges, summed: they already count the links within and across
/// those blocks, so recomputing them from the merged spans would count some twice.
fn merged_edges(group: &[Arc<BlockMeta>]) -> Vec<(u32, u32, u32)> {
    let mut calls: foldhash::HashMap<(u32, u32), u32> = foldhash::HashMap::default();
    for (parent, child, count) in group.iter().flat_map(|meta| meta.edges.iter()) {
        *calls.entry((*parent, *child)).or_default() += count;
    }
    let mut edges: Vec<(u32, u32, u32)> = calls
        .into_iter()
        .map(|((parent, child), count)| (parent, child, count))
        .collect();
    edges.sort_unstable();
    edges
}

/// Bytes of a segment file that no meta refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct DeadRange {
    pub(super) hour: u32,
    pub(super) offset: u64,
    pub(super) len: u64,
}

/// Runs of at least two small blocks of one hour, each run at most `max_spans` spans,
/// skipping blocks whose metadata isn't in sled yet.
fn small_block_groups(
    blocks: &[Arc<BlockMeta>],
    unsynced: &HashSet<u64>,
    small: u32,
    max_spans: u32,
) -> Vec<Vec<Arc<BlockMeta>>> {
    let mut groups = Vec::new();
    let mut current: Vec<Arc<BlockMeta>> = Vec::new();
    let mut current_spans = 0;
    let candidates = blocks
        .iter()
        .filter(|meta| meta.num_spans < small && !unsynced.contains(&meta.seq));
    for meta in candidates {
        let fits = current
            .first()
            .is_some_and(|first| first.partition == meta.partition)
            && current_spans + meta.num_spans <= max_spans;
        if !fits {
            if current.len() >= 2 {
                groups.push(std::mem::take(&mut current));
            }
            current.clear();
            current_spans = 0;
        }
        current_spans += meta.num_spans;
        current.push(meta.clone());
    }
    if current.len() >= 2 {
        groups.push(current);
    }
    groups
}
