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
//!
//! Hours that are over are sealed (`seal`): their cells become one value per
//! resolution and cell id, so a query reads one sled value per id and hour.

pub(crate) mod cell_codec;
mod seal;

use std::collections::{BTreeMap, BTreeSet};
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

/// What the RED metrics take in sled (`Store::red_size`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedSize {
    /// Cells, in per-bucket items and inside sealed values.
    pub num_cells: u64,
    /// Sled items: per-bucket cells and sealed values.
    pub num_items: u64,
    pub num_sealed_values: u64,
    /// Bytes of keys and values, all of them.
    pub num_bytes: u64,
    /// Bytes of the sealed values' keys and values.
    pub num_sealed_bytes: u64,
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
///
/// The write path counts a span and keeps its duration raw; durations go into the
/// sketch in bulk (`fold`: sorted, one logarithm per bucket instead of one per
/// span, no search and insert per span) at a checkpoint, when a query reads the
/// cell, or once `FOLD_AT` have piled up.
#[derive(Debug, Clone, Default)]
struct PendingCell {
    /// Counts, exemplars, and the sketch of the durations folded so far.
    cell: RedCell,
    durations: Vec<u64>,
    /// `cell.slowest_floor()`, kept here so most spans are turned away without
    /// reading the exemplars' heap memory.
    slowest_floor: Option<u64>,
    service_cell: Option<u32>,
}

/// Raw durations a pending cell holds at most (16 KiB) before folding them.
const FOLD_AT: usize = 2048;

impl PendingCell {
    fn add(&mut self, span: &Span) {
        let duration_nanos = span.duration_nanos();
        let is_error = span.is_error();
        if is_error
            || self
                .slowest_floor
                .is_none_or(|floor| duration_nanos > floor)
        {
            self.cell.count(span.trace_id, duration_nanos, is_error);
            self.slowest_floor = self.cell.slowest_floor();
        } else {
            self.cell.num_calls += 1;
        }
        self.durations.push(duration_nanos);
        if self.durations.len() >= FOLD_AT {
            self.fold();
        }
    }

    fn fold(&mut self) {
        self.durations.sort_unstable();
        self.cell.latency.add_sorted(&self.durations);
        self.durations.clear();
    }

    /// The cell with every duration in its sketch.
    fn to_cell(&self) -> RedCell {
        let mut cell = self.cell.clone();
        let mut sorted = self.durations.clone();
        sorted.sort_unstable();
        cell.latency.add_sorted(&sorted);
        cell
    }
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
    /// Hours whose trees hold sealed values only, as far as this run knows: reads
    /// skip looking for per-bucket items there.
    sealed: Mutex<BTreeSet<u32>>,
    /// Held through a checkpoint (and while retention drops trees), so sealing can
    /// read a tree without `checkpoint_lock` and nothing changes it meanwhile.
    checkpointing: Mutex<()>,
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
                    service_cell: service_cell_id(service_id, span.kind),
                    ..PendingCell::default()
                })
                .add(span);
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
        let _reading = read_lock(&self.checkpoint_lock);
        let trees: Vec<(u32, sled::Tree, bool)> = {
            let sealed = lock(&self.sealed);
            read_lock(&self.trees)
                .range(hour_of(start_secs)..=hour_of(end_secs))
                .map(|(hour, tree)| (*hour, tree.clone(), sealed.contains(hour)))
                .collect()
        };
        let mut rows = Vec::new();
        for &operation_id in operation_ids {
            for (hour, tree, only_sealed) in &trees {
                let hour_start = u64::from(*hour) * 3600;
                if let Some(value) = tree.get(seal::sealed_key(resolution, operation_id))? {
                    let offsets =
                        start_secs.saturating_sub(hour_start)..end_secs.saturating_sub(hour_start);
                    let decoded = cell_codec::decode_sealed(&value, offsets, |offset, cell| {
                        rows.push(RedRow {
                            operation_id,
                            bucket_start_secs: hour_start + offset,
                            cell,
                        });
                    });
                    if let Err(error) = decoded {
                        tracing::warn!(hour, operation_id, %error, "skipping a damaged sealed RED value");
                    }
                }
                let (from, to) = (start_secs.max(hour_start), end_secs.min(hour_start + 3600));
                if *only_sealed || from >= to {
                    continue;
                }
                let from = cell_key(resolution, operation_id, from);
                let to = cell_key(resolution, operation_id, to);
                for entry in tree.range(from..to) {
                    let (key, value) = entry?;
                    let decoded = key_bucket(&key)
                        .and_then(|bucket| Ok((bucket, cell_codec::decode(&value)?)));
                    match decoded {
                        Ok((bucket_start_secs, cell)) => rows.push(RedRow {
                            operation_id,
                            bucket_start_secs,
                            cell,
                        }),
                        Err(error) => {
                            tracing::warn!(hour, operation_id, %error, "skipping a damaged RED cell")
                        }
                    }
                }
            }
        }
        let wanted: HashSet<u32> = operation_ids.iter().copied().collect();
        for ((operation_id, bucket), pending) in lock(&self.pending).iter() {
            if !(start_secs..end_secs).contains(bucket) {
                continue;
            }
            let ids = std::iter::once(*operation_id).chain(pending.service_cell);
            let mut cell = None;
            for id in ids.filter(|id| wanted.contains(id)) {
                let cell: &RedCell = cell.get_or_insert_with(|| pending.to_cell());
                rows.push(RedRow {
                    operation_id: id,
                    bucket_start_secs: bucket - bucket % size,
                    cell: cell.clone(),
                });
            }
        }
        // Already in order unless pending cells were added (the sort finds the runs).
        rows.sort_by_key(|row| (row.operation_id, row.bucket_start_secs));
        rows.dedup_by(|later, earlier| {
            let same = (later.operation_id, later.bucket_start_secs)
                == (earlier.operation_id, earlier.bucket_start_secs);
            if same {
                earlier.cell.merge(&later.cell);
            }
            same
        });
        Ok(rows)
    }

    /// Merges the pending cells, at every resolution, into sled and flushes it.
    /// On failure they stay pending for the next attempt.
    /// Then seals the hours that are due (`seal`).
    pub(super) fn checkpoint(&self, db: &sled::Db, now_secs: u64) -> Result<usize, StoreError> {
        let _checkpointing = lock(&self.checkpointing);
        let written = {
            let _writing = write_lock(&self.checkpoint_lock);
            self.prune_fine(now_secs)?;
            let mut pending = std::mem::take(&mut *lock(&self.pending));
            for cell in pending.values_mut() {
                cell.fold();
            }
            if pending.is_empty() {
                0
            } else {
                let written = self.write_cells(db, &pending, now_secs);
                if written.is_err() {
                    let mut now_pending = lock(&self.pending);
                    for (key, cell) in pending {
                        let kept = now_pending.entry(key).or_default();
                        kept.cell.merge(&cell.cell);
                        kept.slowest_floor = kept.cell.slowest_floor();
                        kept.service_cell = cell.service_cell;
                    }
                }
                written?
            }
        };
        self.seal_due(now_secs)?;
        Ok(written)
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
                match cell_codec::decode(&existing) {
                    Ok(stored) => cell.merge(&stored),
                    Err(error) => {
                        tracing::warn!(hour, %error, "overwriting a damaged RED cell");
                    }
                }
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
            // Per-bucket items again (late spans): the hour needs sealing anew.
            lock(&self.sealed).remove(&hour);
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
        let sealed_prefix = [seal::SEALED_PREFIX, prefix[0], prefix[1]];
        for (hour, tree) in trees {
            let mut batch = sled::Batch::default();
            let mut deleted = 0usize;
            let keys = tree.scan_prefix(prefix).keys();
            for key in keys.chain(tree.scan_prefix(sealed_prefix).keys()) {
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

    /// What is stored in sled, at every resolution.
    pub(super) fn size(&self) -> Result<RedSize, StoreError> {
        let trees: Vec<sled::Tree> = self
            .trees
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect();
        let mut size = RedSize::default();
        for tree in trees {
            for entry in tree.iter() {
                let (key, value) = entry?;
                let bytes = (key.len() + value.len()) as u64;
                size.num_items += 1;
                size.num_bytes += bytes;
                if key.first() == Some(&seal::SEALED_PREFIX) {
                    size.num_sealed_values += 1;
                    size.num_sealed_bytes += bytes;
                    size.num_cells += cell_codec::sealed_len(&value)? as u64;
                } else {
                    size.num_cells += 1;
                }
            }
        }
        Ok(size)
    }

    /// Drops the trees of hours before `cutoff_hour`; returns how many.
    pub(super) fn expire_before(
        &self,
        db: &sled::Db,
        cutoff_hour: u32,
    ) -> Result<usize, StoreError> {
        let _checkpointing = lock(&self.checkpointing);
        let _writing = write_lock(&self.checkpoint_lock);
        let mut trees = self
            .trees
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let expired: Vec<u32> = trees.range(..cutoff_hour).map(|(hour, _)| *hour).collect();
        for hour in &expired {
            trees.remove(hour);
            lock(&self.sealed).remove(hour);
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

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
