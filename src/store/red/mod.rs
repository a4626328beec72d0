//! RED metrics (rate, errors, duration) kept while spans are written: per operation
//! (the catalog id names service, span kind and name) and 10 s bucket of start
//! time, a call count, an error count, a latency sketch and exemplar traces.
//!
//! Writers add every block's spans to an in-memory map; `checkpoint` (every
//! `CHECKPOINT_INTERVAL` from `app.rs`, and on shutdown) rolls the map up to 1 min
//! and 10 min and merges it into sled, one tree per hour of bucket start:
//!
//! ```text
//!   red-<unix hour, 10 digits>:
//!     resolution_secs[2] operation_id[4] bucket_start_secs[8] → storage::red::RedCell
//! ```
//!
//! So a query reads at most one value per operation and bucket, and a 7-day query
//! reads 10-minute cells. Retention drops whole trees, as it does for blocks. A
//! crash (not a clean stop) loses the cells of at most one checkpoint interval;
//! the spans themselves are still searchable.
//!
//! Each span also counts in its service's cell for its span kind (`service_cell_id`,
//! ids with the top bit set; added up from the pending operation cells at checkpoint
//! and query time, not per span), so a per-service query reads one cell per bucket
//! instead of one per operation: 24 h at 1 min steps is 1,440 cells, not 1,440 per
//! operation. Stores that predate them record when service cells began
//! (`SERVICE_CELLS_SINCE_KEY`); windows reaching further back add up operations.
//!
//! 10 s cells are six in seven of all cells, and only steps under a minute read
//! them, so they are kept for `FINE_HORIZON_SECS`: checkpoints delete them from
//! hours that have passed it, and a query with a finer step that reaches further
//! back reads 1 min cells instead. Rolled-up cells keep one slowest exemplar, not
//! `storage::red::NUM_SLOWEST`: a window holds many of them anyway.

pub(crate) mod cell_codec;

use std::collections::BTreeMap;
use std::sync::{Mutex, RwLock};

use foldhash::{HashMap, HashSet};

use super::StoreError;
use crate::model::{Span, SpanKind};
use crate::storage::red::RedCell;

/// How often the in-memory cells are merged into sled.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
const TREE_PREFIX: &str = "red-";
/// Ids at or above this name a service's cell for one span kind, not an operation's.
const SERVICE_CELLS: u32 = 1 << 31;
/// Where the store records the first second its service cells cover (big-endian u64).
const SERVICE_CELLS_SINCE_KEY: &[u8] = b"red-service-cells-since";
/// How long 10 s cells are kept; see the module's documentation.
pub(crate) const FINE_HORIZON_SECS: u64 = 6 * 3600;
/// Spans claiming to start further in the future than this are left out of the
/// metrics (a broken clock would otherwise create buckets retention never reaches).
const MAX_FUTURE_SECS: u64 = 3600;

/// The bucket sizes cells are kept at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Resolution {
    TenSeconds,
    Minute,
    TenMinutes,
}

impl Resolution {
    pub(crate) const FINEST: Resolution = Resolution::TenSeconds;
    const ALL: [Resolution; 3] = [
        Resolution::TenSeconds,
        Resolution::Minute,
        Resolution::TenMinutes,
    ];

    pub(crate) fn secs(self) -> u64 {
        match self {
            Resolution::TenSeconds => 10,
            Resolution::Minute => 60,
            Resolution::TenMinutes => 600,
        }
    }

    /// The coarsest resolution whose buckets tile steps of `step_secs` exactly,
    /// among those still kept at `start_secs` (10 s cells only for the last
    /// `FINE_HORIZON_SECS` before `now_secs`).
    pub(crate) fn for_step(step_secs: u64, start_secs: u64, now_secs: u64) -> Resolution {
        let tiling = Resolution::ALL
            .into_iter()
            .rev()
            .find(|resolution| step_secs.is_multiple_of(resolution.secs()))
            .unwrap_or(Resolution::FINEST);
        if tiling == Resolution::TenSeconds && !fine_kept(start_secs, now_secs) {
            Resolution::Minute
        } else {
            tiling
        }
    }
}

/// One cell as queries see it.
#[derive(Debug, Clone)]
pub(crate) struct RedRow {
    pub(crate) operation_id: u32,
    pub(crate) bucket_start_secs: u64,
    pub(crate) cell: RedCell,
}

/// Cells by (operation id, bucket start in unix seconds) at the finest resolution.
type RedMap = HashMap<(u32, u64), PendingCell>;

/// An operation's cell not yet in sled, with the id of its service's cell for the
/// span kind. Service cells are added up from these at checkpoint and query time,
/// once per cell rather than once per span: that halves the write path's work.
#[derive(Debug, Clone, Default)]
struct PendingCell {
    cell: RedCell,
    service_cell: Option<u32>,
}

#[derive(Debug, Default)]
pub(super) struct RedStore {
    /// Cells not yet merged into sled.
    pending: Mutex<RedMap>,
    /// The `red-<hour>` trees by hour.
    trees: RwLock<BTreeMap<u32, sled::Tree>>,
    /// Service cells cover buckets from this second on.
    service_cells_since: u64,
    /// Hours before this one have had their 10 s cells deleted (this run).
    fine_pruned_before: Mutex<u32>,
    /// Queries hold it shared while they read sled and then `pending`; a checkpoint
    /// holds it exclusively while it moves cells from one to the other, so a query
    /// sees every cell exactly once.
    checkpoint_lock: RwLock<()>,
}

impl RedStore {
    pub(super) fn open(db: &sled::Db, now_secs: u64) -> Result<RedStore, StoreError> {
        let mut trees = BTreeMap::new();
        for name in db.tree_names() {
            if let Some(hour) = parse_tree_name(&name) {
                trees.insert(hour, db.open_tree(&name)?);
            }
        }
        let service_cells_since = match db.get(SERVICE_CELLS_SINCE_KEY)? {
            Some(bytes) => bytes
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt("RED service cells start"))?,
            None => {
                // A new store covers everything; an older one from the next bucket on.
                let since = if trees.is_empty() {
                    0
                } else {
                    now_secs - now_secs % Resolution::TenMinutes.secs()
                        + Resolution::TenMinutes.secs()
                };
                db.insert(SERVICE_CELLS_SINCE_KEY, &since.to_be_bytes())?;
                since
            }
        };
        Ok(RedStore {
            trees: RwLock::new(trees),
            service_cells_since,
            ..RedStore::default()
        })
    }

    /// The cell id of `service_id`'s spans of `kind`, if service cells cover
    /// `start_secs` onwards (`None`: add up its operations instead).
    pub(super) fn service_cell_id(
        &self,
        service_id: u32,
        kind: SpanKind,
        start_secs: u64,
    ) -> Option<u32> {
        (start_secs >= self.service_cells_since)
            .then(|| service_cell_id(service_id, kind))
            .flatten()
    }

    /// Counts a block's spans; `operation_ids` and `service_ids` are their catalog ids.
    pub(super) fn add_block(
        &self,
        spans: &[&Span],
        (operation_ids, service_ids): (&[u32], &[u32]),
        now_secs: u64,
    ) {
        let mut pending = lock(&self.pending);
        let finest = Resolution::FINEST.secs();
        for ((span, &operation_id), &service_id) in spans.iter().zip(operation_ids).zip(service_ids)
        {
            let start_secs = span.start_unix_nanos / 1_000_000_000;
            if start_secs > now_secs + MAX_FUTURE_SECS {
                continue;
            }
            let bucket = start_secs - start_secs % finest;
            pending
                .entry((operation_id, bucket))
                .or_insert_with(|| PendingCell {
                    cell: RedCell::default(),
                    service_cell: service_cell_id(service_id, span.kind),
                })
                .cell
                .add(span.trace_id, span.duration_nanos(), span.is_error());
        }
    }

    /// Cells of `operation_ids` with bucket starts in `[start_secs, end_secs)`, one
    /// per operation and bucket of `resolution`.
    pub(super) fn read(
        &self,
        operation_ids: &[u32],
        resolution: Resolution,
        start_secs: u64,
        end_secs: u64,
    ) -> Result<Vec<RedRow>, StoreError> {
        let size = resolution.secs();
        let start_secs = start_secs - start_secs % size;
        let mut found: BTreeMap<(u32, u64), RedCell> = BTreeMap::new();
        let _reading = self
            .checkpoint_lock
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let trees: Vec<sled::Tree> = self
            .trees
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .range(hour_of(start_secs)..=hour_of(end_secs))
            .map(|(_, tree)| tree.clone())
            .collect();
        for tree in trees {
            for &operation_id in operation_ids {
                let from = cell_key(resolution, operation_id, start_secs);
                let to = cell_key(resolution, operation_id, end_secs);
                for entry in tree.range(from..to) {
                    let (key, value) = entry?;
                    let bucket = key_bucket(&key)?;
                    let cell = cell_codec::decode(&value)?;
                    merge_into(&mut found, (operation_id, bucket), cell);
                }
            }
        }
        let wanted: HashSet<u32> = operation_ids.iter().copied().collect();
        for ((operation_id, bucket), pending) in lock(&self.pending).iter() {
            if !(start_secs..end_secs).contains(bucket) {
                continue;
            }
            let ids = std::iter::once(*operation_id).chain(pending.service_cell);
            for id in ids.filter(|id| wanted.contains(id)) {
                merge_into(
                    &mut found,
                    (id, bucket - bucket % size),
                    pending.cell.clone(),
                );
            }
        }
        Ok(found
            .into_iter()
            .map(|((operation_id, bucket_start_secs), cell)| RedRow {
                operation_id,
                bucket_start_secs,
                cell,
            })
            .collect())
    }

    /// Merges the pending cells, at every resolution, into sled and flushes it.
    /// On failure they stay pending for the next attempt.
    pub(super) fn checkpoint(&self, db: &sled::Db, now_secs: u64) -> Result<usize, StoreError> {
        let _writing = self
            .checkpoint_lock
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.prune_fine(now_secs)?;
        let pending = std::mem::take(&mut *lock(&self.pending));
        if pending.is_empty() {
            return Ok(0);
        }
        let written = self.write_cells(db, &pending, now_secs);
        if written.is_err() {
            let mut now_pending = lock(&self.pending);
            for (key, cell) in pending {
                let kept = now_pending.entry(key).or_default();
                kept.cell.merge(&cell.cell);
                kept.service_cell = cell.service_cell;
            }
        }
        written
    }

    fn write_cells(
        &self,
        db: &sled::Db,
        pending: &RedMap,
        now_secs: u64,
    ) -> Result<usize, StoreError> {
        let mut rolled: BTreeMap<(Resolution, u32, u64), RedCell> = BTreeMap::new();
        for ((operation_id, bucket), pending) in pending {
            let ids = std::iter::once(*operation_id).chain(pending.service_cell);
            for id in ids {
                for resolution in Resolution::ALL {
                    if resolution == Resolution::TenSeconds && !fine_kept(*bucket, now_secs) {
                        // A late span: its hour's 10 s cells are already gone.
                        continue;
                    }
                    let start = bucket - bucket % resolution.secs();
                    rolled
                        .entry((resolution, id, start))
                        .or_default()
                        .merge(&pending.cell);
                }
            }
        }
        let mut batches: BTreeMap<u32, sled::Batch> = BTreeMap::new();
        for (&(resolution, operation_id, start), cell) in &rolled {
            let mut cell = cell.clone();
            let hour = hour_of(start);
            let tree = self.tree(db, hour)?;
            let key = cell_key(resolution, operation_id, start);
            if let Some(existing) = tree.get(key)? {
                cell.merge(&cell_codec::decode(&existing)?);
            }
            if resolution != Resolution::FINEST {
                cell.keep_slowest(1);
            }
            batches
                .entry(hour)
                .or_default()
                .insert(&key, cell_codec::encode(&cell));
        }
        for (hour, batch) in batches {
            self.tree(db, hour)?.apply_batch(batch)?;
        }
        db.flush()?;
        Ok(rolled.len())
    }

    /// Deletes the 10 s cells of hours wholly past `FINE_HORIZON_SECS`, once per
    /// hour per run; the caller holds the checkpoint lock.
    fn prune_fine(&self, now_secs: u64) -> Result<(), StoreError> {
        let before_hour = hour_of(now_secs.saturating_sub(FINE_HORIZON_SECS));
        let mut pruned_before = lock(&self.fine_pruned_before);
        if *pruned_before >= before_hour {
            return Ok(());
        }
        let trees: Vec<(u32, sled::Tree)> = self
            .trees
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .range(*pruned_before..before_hour)
            .map(|(hour, tree)| (*hour, tree.clone()))
            .collect();
        let prefix = (Resolution::FINEST.secs() as u16).to_be_bytes();
        for (hour, tree) in trees {
            let mut batch = sled::Batch::default();
            let mut deleted = 0usize;
            for key in tree.scan_prefix(prefix).keys() {
                batch.remove(key?);
                deleted += 1;
            }
            if deleted > 0 {
                tree.apply_batch(batch)?;
                tracing::debug!(hour, deleted, "deleted 10 s RED cells past their horizon");
            }
        }
        *pruned_before = before_hour;
        Ok(())
    }

    /// `(cells, bytes of keys and values)` stored in sled, at every resolution.
    pub(super) fn size(&self) -> Result<(u64, u64), StoreError> {
        let trees: Vec<sled::Tree> = self
            .trees
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect();
        let (mut cells, mut bytes) = (0, 0);
        for tree in trees {
            for entry in tree.iter() {
                let (key, value) = entry?;
                cells += 1;
                bytes += (key.len() + value.len()) as u64;
            }
        }
        Ok((cells, bytes))
    }

    /// Drops the trees of hours before `cutoff_hour`; returns how many.
    pub(super) fn expire_before(
        &self,
        db: &sled::Db,
        cutoff_hour: u32,
    ) -> Result<usize, StoreError> {
        let _writing = self
            .checkpoint_lock
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut trees = self
            .trees
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let expired: Vec<u32> = trees.range(..cutoff_hour).map(|(hour, _)| *hour).collect();
        for hour in &expired {
            trees.remove(hour);
            db.drop_tree(tree_name(*hour))?;
        }
        lock(&self.pending).retain(|(_, bucket), _| hour_of(*bucket) >= cutoff_hour);
        Ok(expired.len())
    }

    fn tree(&self, db: &sled::Db, hour: u32) -> Result<sled::Tree, StoreError> {
        if let Some(tree) = self
            .trees
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&hour)
        {
            return Ok(tree.clone());
        }
        let tree = db.open_tree(tree_name(hour))?;
        self.trees
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(hour, tree.clone());
        Ok(tree)
    }
}

fn merge_into(found: &mut BTreeMap<(u32, u64), RedCell>, key: (u32, u64), cell: RedCell) {
    match found.entry(key) {
        std::collections::btree_map::Entry::Occupied(mut existing) => {
            existing.get_mut().merge(&cell)
        }
        std::collections::btree_map::Entry::Vacant(slot) => {
            slot.insert(cell);
        }
    }
}

/// The id of a service's cell for one span kind; `None` for catalog ids too large
/// to fit under `SERVICE_CELLS` (such a service is added up from its operations).
fn service_cell_id(service_id: u32, kind: SpanKind) -> Option<u32> {
    (service_id < (1 << 27)).then_some(SERVICE_CELLS | service_id << 3 | kind as u32)
}

/// Whether 10 s cells are still kept for buckets starting at `start_secs`.
fn fine_kept(start_secs: u64, now_secs: u64) -> bool {
    start_secs + FINE_HORIZON_SECS >= now_secs
}

fn cell_key(resolution: Resolution, operation_id: u32, bucket_start_secs: u64) -> [u8; 14] {
    let mut key = [0u8; 14];
    key[..2].copy_from_slice(&(resolution.secs() as u16).to_be_bytes());
    key[2..6].copy_from_slice(&operation_id.to_be_bytes());
    key[6..].copy_from_slice(&bucket_start_secs.to_be_bytes());
    key
}

fn key_bucket(key: &[u8]) -> Result<u64, StoreError> {
    key.get(6..14)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or(StoreError::Corrupt("metrics key"))
}

fn hour_of(unix_secs: u64) -> u32 {
    (unix_secs / 3600).min(u64::from(u32::MAX)) as u32
}

fn tree_name(hour: u32) -> String {
    format!("{TREE_PREFIX}{hour:010}")
}

fn parse_tree_name(name: &[u8]) -> Option<u32> {
    std::str::from_utf8(name)
        .ok()?
        .strip_prefix(TREE_PREFIX)?
        .parse()
        .ok()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
