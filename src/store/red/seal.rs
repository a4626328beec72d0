//! Sealing: once an hour is over (plus `SEAL_GRACE_SECS` for late spans), a
//! checkpoint rewrites its per-bucket cells as one value per resolution and cell
//! id, in the hour's own tree:
//!
//! ```text
//!   'S' resolution_secs[2] cell_id[4] → cell_codec's sealed value (all the hour's buckets)
//! ```
//!
//! A grouped query over 24 h then reads 24 values per operation instead of 1,440
//! items. Each (resolution, id) is rewritten with one sled batch (insert the sealed
//! value, remove its per-bucket items) while holding `checkpoint_lock`, so a query
//! sees every cell once. Late spans for a sealed hour are checkpointed as
//! per-bucket items again; reads merge both, and the next checkpoint seals them
//! into the sealed value. Retention drops the tree with everything in it.

use std::collections::BTreeMap;

use super::{cell_codec, hour_of, lock, read_lock, write_lock, RedStore, Resolution};
use crate::storage::red::RedCell;
use crate::store::StoreError;

/// How long after its end an hour is sealed.
pub(crate) const SEAL_GRACE_SECS: u64 = 600;
/// Most hours with something to seal that one checkpoint seals (a store written
/// before sealing existed catches up over several checkpoints).
const MAX_HOURS_PER_CHECKPOINT: usize = 6;
/// Sealed values' keys start with it; per-bucket keys start with a resolution's
/// seconds as a big-endian u16 (at most 0x0258), so they all sort before.
pub(super) const SEALED_PREFIX: u8 = b'S';

/// The key of the sealed value of `cell_id`'s buckets of `resolution`.
pub(super) fn sealed_key(resolution: Resolution, cell_id: u32) -> [u8; 7] {
    let mut key = [0u8; 7];
    key[0] = SEALED_PREFIX;
    key[1..3].copy_from_slice(&(resolution.secs() as u16).to_be_bytes());
    key[3..].copy_from_slice(&cell_id.to_be_bytes());
    key
}

/// The per-bucket items of one (resolution, cell id) of an hour, on their way into
/// its sealed value.
struct Group {
    /// `resolution_secs[2] cell_id[4]`, the per-bucket keys' common prefix.
    prefix: [u8; 6],
    /// By the bucket's offset in the hour in seconds.
    cells: BTreeMap<u64, RedCell>,
    removed: Vec<sled::IVec>,
}

impl RedStore {
    /// Seals hours that ended at least `SEAL_GRACE_SECS` before `now_secs` and still
    /// have per-bucket items; returns how many hours had some. The caller holds
    /// `checkpointing` (nothing else writes the trees meanwhile) but not
    /// `checkpoint_lock`, which is taken per batch so queries wait only briefly.
    pub(super) fn seal_due(&self, now_secs: u64) -> Result<usize, StoreError> {
        let due_before = hour_of(now_secs.saturating_sub(SEAL_GRACE_SECS));
        let candidates: Vec<(u32, sled::Tree)> = {
            let sealed = lock(&self.sealed);
            read_lock(&self.trees)
                .range(..due_before)
                .filter(|(hour, _)| !sealed.contains(hour))
                .map(|(hour, tree)| (*hour, tree.clone()))
                .collect()
        };
        let mut num_hours = 0;
        for (hour, tree) in candidates {
            if num_hours == MAX_HOURS_PER_CHECKPOINT {
                break;
            }
            let num_values = self.seal_hour(hour, &tree)?;
            if num_values > 0 {
                num_hours += 1;
                tracing::debug!(hour, num_values, "sealed an hour of RED cells");
            }
        }
        Ok(num_hours)
    }

    /// Moves every per-bucket item of `hour` into sealed values; returns how many
    /// sealed values it wrote.
    fn seal_hour(&self, hour: u32, tree: &sled::Tree) -> Result<usize, StoreError> {
        let hour_start = u64::from(hour) * 3600;
        let mut group: Option<Group> = None;
        let mut num_values = 0;
        let mut stray = sled::Batch::default();
        for entry in tree.range(..[SEALED_PREFIX]) {
            let (key, value) = entry?;
            let parsed = <[u8; 14]>::try_from(key.as_ref()).ok().and_then(|key| {
                let prefix: [u8; 6] = key[..6].try_into().expect("6 of 14 bytes");
                let bucket = u64::from_be_bytes(key[6..].try_into().expect("8 of 14 bytes"));
                let offset = bucket
                    .checked_sub(hour_start)
                    .filter(|offset| *offset < 3600);
                Some((prefix, offset?))
            });
            let Some((prefix, offset)) = parsed else {
                tracing::warn!(hour, key = ?key, "removing a RED item whose key is not of its hour");
                stray.remove(key);
                continue;
            };
            if group.as_ref().is_some_and(|group| group.prefix != prefix) {
                self.write_sealed(hour, tree, group.take().expect("checked"))?;
                num_values += 1;
            }
            let group = group.get_or_insert_with(|| Group {
                prefix,
                cells: BTreeMap::new(),
                removed: Vec::new(),
            });
            match cell_codec::decode(&value) {
                Ok(cell) => group.cells.entry(offset).or_default().merge(&cell),
                Err(error) => tracing::warn!(hour, %error, "dropping a damaged RED cell"),
            }
            group.removed.push(key);
        }
        if let Some(group) = group {
            self.write_sealed(hour, tree, group)?;
            num_values += 1;
        }
        let _writing = write_lock(&self.checkpoint_lock);
        tree.apply_batch(stray)?;
        lock(&self.sealed).insert(hour);
        Ok(num_values)
    }

    /// Merges `group` into its sealed value and removes its per-bucket items, as one
    /// batch under `checkpoint_lock`.
    fn write_sealed(&self, hour: u32, tree: &sled::Tree, group: Group) -> Result<(), StoreError> {
        let mut key = [SEALED_PREFIX; 7];
        key[1..].copy_from_slice(&group.prefix);
        let mut cells = group.cells;
        if let Some(existing) = tree.get(key)? {
            let decoded = cell_codec::decode_sealed(&existing, 0..u64::MAX, |offset, cell| {
                cells.entry(offset).or_default().merge(&cell);
            });
            if let Err(error) = decoded {
                tracing::warn!(hour, %error, "a sealed RED value is damaged: keeping what could be read");
            }
        }
        let fine_prefix = (Resolution::FINEST.secs() as u16).to_be_bytes();
        if group.prefix[..2] != fine_prefix {
            for cell in cells.values_mut() {
                cell.keep_slowest(1);
            }
        }
        let value = cell_codec::encode_sealed(
            cells.len(),
            cells.iter().map(|(offset, cell)| (*offset, cell)),
        );
        let mut batch = sled::Batch::default();
        batch.insert(&key, value);
        for removed in group.removed {
            batch.remove(removed);
        }
        let _writing = write_lock(&self.checkpoint_lock);
        tree.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
