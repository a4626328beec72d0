//! The embedded store: compressed span blocks in per-hour segment files, their
//! metadata and the catalog in sled, partitioned by ingest hour.
//!
//! Owns every `sled` type and every file; nothing outside this module sees one. The
//! layout is documented in `keys` and `segment`, the value formats in `codec`. Writes come from one batcher
//! at a time; reads may run concurrently from any thread. Every call here blocks,
//! so async callers use `spawn_blocking`.

mod backend;
pub(crate) mod catalog;
pub(crate) mod codec;
mod compact;
mod disk_cap;
mod edges;
mod id_set;
mod keys;
pub(crate) mod red;
pub(crate) mod sampling;
mod search;
mod segment;
pub(crate) mod varint;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use foldhash::{HashMap, HashSet};

use catalog::Catalog;
pub(crate) use codec::{BlockMeta, Summary};
pub use disk_cap::DiskCapDrops;
pub use red::RedSize;
pub use red::CHECKPOINT_INTERVAL as RED_CHECKPOINT_INTERVAL;
pub(crate) use red::{RedRow, Resolution};
use segment::Segments;

use crate::config::{StoreConfig, TestHooks};
use crate::model::{Span, SpanKind, TraceId};
use crate::storage::Operation;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open store at {path}")]
    Open { path: String, source: sled::Error },
    #[error("storage engine error")]
    Sled(#[from] sled::Error),
    #[error("block file I/O failed")]
    Io(#[from] std::io::Error),
    #[error("stored data is unreadable")]
    Codec(#[from] CodecError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("the store writer panicked")]
    WriterPanicked,
    #[error("the data dir's file system is nearly full ({available} bytes free); writes wait until space is freed")]
    DiskFull { available: u64 },
}

/// Free bytes a write leaves on the data dir's file system. sled turns its first
/// I/O error (ENOSPC included) into an error every later call returns until the
/// process restarts, so writes stop short of a full disk instead: exporters get a
/// retryable error, and ingest resumes by itself once space is freed.
pub const MIN_FREE_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("value ends early")]
    Truncated,
    #[error("value is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    #[error("zstd failed")]
    Compression(#[source] std::io::Error),
}

/// How many bytes at the end of the newest segment file `Store::open` checks block
/// by block: the region a torn or half-flushed write could have touched. Reading it
/// costs a few milliseconds, so opening stays fast however big the store is.
const CHECKED_TAIL_BYTES: u64 = 8 << 20;

/// A block meta read back from sled, checked against its key and tree.
pub(crate) fn decode_meta(hour: u32, key: &[u8], value: &[u8]) -> Result<BlockMeta, String> {
    let meta = BlockMeta::decode(value).map_err(|error| error.to_string())?;
    if key != keys::block_key(keys::META, meta.seq) || meta.partition != hour {
        return Err(format!(
            "value names block {} of hour {}, not its key's",
            meta.seq, meta.partition
        ));
    }
    if meta.num_bytes < meta.filter_len.saturating_add(meta.summary_len) {
        return Err("block lengths are inconsistent".to_owned());
    }
    // `Store::open` computes the block's end and the next sequence number from it.
    if meta.offset.checked_add(u64::from(meta.num_bytes)).is_none() || meta.seq == u64::MAX {
        return Err("block offset or sequence number out of range".to_owned());
    }
    Ok(meta)
}

/// Frees the bytes of each hour's file that no block refers to (see
/// `Segment::free_gaps`), so space left by the last compaction round before a
/// shutdown or crash is not held until the hour expires.
fn free_unreferenced(
    segments: &segment::Segments,
    blocks: &[Arc<BlockMeta>],
) -> Result<(), StoreError> {
    let mut live: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
    for meta in blocks {
        live.entry(meta.partition)
            .or_default()
            .push((meta.offset, u64::from(meta.num_bytes)));
    }
    for (hour, mut ranges) in live {
        let Some(segment) = segments.get(hour) else {
            continue;
        };
        let freed = segment.free_gaps(&mut ranges)?;
        if freed > 0 {
            tracing::info!(
                hour,
                freed_bytes = freed,
                "freed block bytes no metadata refers to"
            );
        }
    }
    Ok(())
}

/// Splits `blocks` (in sequence order) into the good ones and those near the end
/// of the newest segment whose bytes fail their checksum (or can't be read).
fn check_newest_blocks(
    segments: &segment::Segments,
    blocks: Vec<Arc<BlockMeta>>,
) -> (Vec<Arc<BlockMeta>>, Vec<Arc<BlockMeta>>) {
    let Some(newest) = blocks.iter().map(|meta| meta.partition).max() else {
        return (blocks, Vec::new());
    };
    let Some(segment) = segments.get(newest) else {
        return (blocks, Vec::new());
    };
    let checked_from = segment.len().saturating_sub(CHECKED_TAIL_BYTES);
    blocks.into_iter().partition(|meta| {
        meta.partition != newest
            || meta.end() <= checked_from
            || segment
                .read(meta.offset, meta.num_bytes)
                .is_ok_and(|bytes| crc32fast::hash(&bytes) == meta.checksum)
    })
}

/// Cheap to clone; every clone shares one database.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: sled::Db,
    catalog_tree: sled::Tree,
    catalog: RwLock<Catalog>,
    /// The sled tree of block metadata of each hour.
    partitions: RwLock<BTreeMap<u32, sled::Tree>>,
    /// The block files of each hour.
    segments: Segments,
    /// Metadata of every live block, in sequence order.
    blocks: RwLock<Vec<Arc<BlockMeta>>>,
    /// Blocks written since the last `sync`: their metadata goes to sled only once
    /// their bytes are on disk.
    unsynced: Mutex<Vec<Arc<BlockMeta>>>,
    /// Resolves parent links across blocks for the dependencies API.
    edges: Mutex<edges::EdgeResolver>,
    /// Byte ranges of blocks that compaction replaced, freed one round later.
    replaced: Mutex<Vec<compact::DeadRange>>,
    /// RED metrics counted at write time.
    red: red::RedStore,
    next_seq: AtomicU64,
    /// Serialises writers so catalog ids and sequence numbers are assigned in order.
    write_lock: Mutex<()>,
    config: StoreConfig,
    /// Off outside crash trials and soaks (`config::TestHooks`).
    hooks: TestHooks,
    /// Unix seconds when the hooks were set: a sped-up clock runs from here.
    clock_origin_secs: f64,
}

/// Counters the benchmark and logs report.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    pub num_blocks: u64,
    pub num_spans: u64,
    pub block_bytes: u64,
    /// Of `block_bytes`: version bytes and summary frames (`codec::summary`) ...
    pub summary_bytes: u64,
    /// ... and term filters (`codec::filter`); the rest is the blocks' bodies.
    pub filter_bytes: u64,
    pub size_on_disk: u64,
}

/// What `Store::disk_usage` reports.
#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    /// (unix hour, bytes of that hour's block file), oldest first.
    pub blocks_by_hour: Vec<(u32, u64)>,
    pub index_bytes: u64,
    /// Blocks indexed, the spans they hold, and the bytes their metas take in memory.
    pub num_blocks: u64,
    pub num_spans: u64,
    pub meta_memory_bytes: u64,
}

/// A `Store` that may have closed; see `Store::downgrade`.
#[derive(Debug, Clone)]
pub struct WeakStore {
    inner: std::sync::Weak<Inner>,
}

impl WeakStore {
    pub fn upgrade(&self) -> Option<Store> {
        self.inner.upgrade().map(|inner| Store { inner })
    }
}

impl Store {
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let started = std::time::Instant::now();
        let path = config.data_dir.join("sled");
        let db = open_sled(config, &path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let catalog_tree = db.open_tree(keys::CATALOG_TREE)?;
        let catalog = Catalog::load(&catalog_tree)?;
        let mut partitions = BTreeMap::new();
        let mut blocks = Vec::new();
        for name in db.tree_names() {
            let Some(hour) = keys::parse_partition_tree_name(&name) else {
                continue;
            };
            let tree = db.open_tree(&name)?;
            for entry in tree.scan_prefix([keys::META]) {
                let (key, value) = entry?;
                match decode_meta(hour, &key, &value) {
                    Ok(meta) => blocks.push(Arc::new(meta)),
                    Err(reason) => {
                        // A damaged value must not keep the store from opening: the
                        // block is lost, every other one stays readable.
                        tracing::warn!(hour, key = %hex::encode(&key), reason, "dropping unreadable block metadata");
                        tree.remove(&key)?;
                    }
                }
            }
            partitions.insert(hour, tree);
        }
        blocks.sort_by_key(|meta| meta.seq);
        let next_seq = blocks.last().map_or(0, |meta| meta.seq + 1);
        let mut valid_len: HashMap<u32, u64> = HashMap::default();
        for meta in &blocks {
            let end = valid_len.entry(meta.partition).or_default();
            *end = (*end).max(meta.end());
        }
        let segments = Segments::open(&config.data_dir.join("blocks"), |hour| {
            valid_len.get(&hour).copied().unwrap_or(0)
        })?;
        // Metadata is written after its block is synced, so this only finds blocks whose
        // file was damaged or removed behind the store's back.
        let (blocks, missing): (Vec<_>, Vec<_>) = blocks.into_iter().partition(|meta| {
            segments
                .get(meta.partition)
                .is_some_and(|segment| meta.end() <= segment.len())
        });
        let (blocks, damaged) = check_newest_blocks(&segments, blocks);
        for (meta, what) in missing
            .iter()
            .map(|meta| (meta, "its file is missing or short"))
            .chain(
                damaged
                    .iter()
                    .map(|meta| (meta, "its bytes fail their checksum")),
            )
        {
            tracing::warn!(
                seq = meta.seq,
                hour = meta.partition,
                offset = meta.offset,
                num_spans = meta.num_spans,
                "dropping a block: {what}"
            );
            if let Some(tree) = partitions.get(&meta.partition) {
                tree.remove(keys::block_key(keys::META, meta.seq))?;
            }
        }
        if !missing.is_empty() || !damaged.is_empty() {
            // Their metas must stay gone before their bytes can be freed.
            db.flush()?;
        }
        free_unreferenced(&segments, &blocks)?;
        let red = red::RedStore::open(&db, unix_secs_now())?;
        let num_spans: u64 = blocks.iter().map(|meta| u64::from(meta.num_spans)).sum();
        let sum = |part: fn(&BlockMeta) -> u64| blocks.iter().map(|meta| part(meta)).sum::<u64>();
        let block_bytes = sum(|meta| u64::from(meta.num_bytes));
        let summary_bytes =
            sum(|meta| codec::BLOCK_PREFIX_LEN as u64 + u64::from(meta.summary_len));
        let filter_bytes = sum(|meta| u64::from(meta.filter_len));
        // The benchmark reads these fields from the log for its disk breakdown.
        let open_ms = started.elapsed().as_millis() as u64;
        tracing::info!(path = %path.display(), num_blocks = blocks.len(), num_partitions = partitions.len(), open_ms, num_spans, block_bytes, summary_bytes, filter_bytes, "store opened");
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                catalog_tree,
                catalog: RwLock::new(catalog),
                partitions: RwLock::new(partitions),
                segments,
                blocks: RwLock::new(blocks),
                unsynced: Mutex::new(Vec::new()),
                replaced: Mutex::new(Vec::new()),
                edges: Mutex::new(edges::EdgeResolver::default()),
                red,
                next_seq: AtomicU64::new(next_seq),
                write_lock: Mutex::new(()),
                config: config.clone(),
                hooks: TestHooks::default(),
                clock_origin_secs: 0.0,
            }),
        })
    }

    /// Turns on the crash trials' hooks; call right after `open`, before the store
    /// is shared.
    pub fn with_test_hooks(mut self, hooks: TestHooks) -> Store {
        if hooks == TestHooks::default() {
            return self;
        }
        tracing::warn!(?hooks, "test hooks are on");
        let inner =
            Arc::get_mut(&mut self.inner).expect("test hooks are set before the store is shared");
        inner.hooks = hooks;
        inner.clock_origin_secs = unix_secs_f64_now();
        self
    }

    /// Unix seconds by the clock that files spans by hour and that retention and the
    /// disk cap measure against: the wall clock unless a test hook shifts or speeds it.
    pub fn clock_secs(&self) -> u64 {
        let TestHooks {
            clock_offset_secs,
            clock_speed,
            ..
        } = self.inner.hooks;
        if clock_speed == 1 {
            return unix_secs_now().saturating_add_signed(clock_offset_secs);
        }
        let origin = self.inner.clock_origin_secs;
        let elapsed = (unix_secs_f64_now() - origin) * f64::from(clock_speed);
        ((origin + elapsed) as u64).saturating_add_signed(clock_offset_secs)
    }

    fn hour_now(&self) -> u32 {
        (self.clock_secs() / 3600) as u32
    }

    /// The pause hook: widens the window between two steps a crash trial kills in.
    fn test_pause(&self) {
        if let Some(pause) = self.inner.hooks.pause {
            std::thread::sleep(pause);
        }
    }

    /// Writes spans as one or more blocks, queryable at once, and returns how many
    /// blocks. Call `sync` to make them durable; until then a crash may lose them, but
    /// never half of a block.
    pub fn write_spans(&self, spans: &[&Span]) -> Result<usize, StoreError> {
        self.write_spans_in_hour(spans, self.hour_now())
    }

    /// `write_spans` into the partition of `hour` (tests write into past hours).
    fn write_spans_in_hour(&self, spans: &[&Span], hour: u32) -> Result<usize, StoreError> {
        let inner = &self.inner;
        self.check_free_space()?;
        let _writer = inner
            .write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let segment = inner.segments.get_or_create(hour)?;
        let mut num_blocks = 0;
        for refs in spans.chunks(inner.config.max_block_spans.get()) {
            num_blocks += 1;
            let (operation_ids, service_ids) = self.catalog_ids(refs)?;
            if inner.config.red_metrics {
                let ids = (operation_ids.as_slice(), service_ids.as_slice());
                inner.red.add_block(refs, ids, unix_secs_now());
            }
            let encoded = codec::encode_block(refs, &operation_ids, inner.config.zstd_level)?;
            let offset = segment.append(&encoded.bytes)?;
            let seq = inner.next_seq.fetch_add(1, Ordering::SeqCst);
            let place = BlockPlace {
                seq,
                partition: hour,
                offset,
                checksum: crc32fast::hash(&encoded.bytes),
            };
            let edges = lock(&inner.edges).block_edges(refs, &service_ids, unix_secs_now());
            let meta = Arc::new(block_meta(
                place,
                refs,
                &operation_ids,
                &service_ids,
                edges,
                &encoded,
            ));
            lock(&inner.unsynced).push(meta.clone());
            inner
                .blocks
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(meta);
        }
        Ok(num_blocks)
    }

    /// Refuses a write that would bring the data dir's file system below
    /// `MIN_FREE_BYTES` (a file system that can't say is assumed to have room).
    fn check_free_space(&self) -> Result<(), StoreError> {
        let Ok(stats) = rustix::fs::statvfs(&self.inner.config.data_dir) else {
            return Ok(());
        };
        let available = stats.f_bavail.saturating_mul(stats.f_frsize);
        if available < MIN_FREE_BYTES {
            return Err(StoreError::DiskFull { available });
        }
        Ok(())
    }

    /// Makes everything written so far durable: fsyncs the segment files, then records
    /// the new blocks' metadata in sled and flushes it. May run while `write_spans`
    /// writes more.
    pub fn sync(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let unsynced = std::mem::take(&mut *lock(&inner.unsynced));
        let synced = self.persist_metas(&unsynced);
        if synced.is_err() {
            // Keep them for the next attempt, ahead of anything written meanwhile.
            let mut pending = lock(&inner.unsynced);
            let newer = std::mem::replace(&mut *pending, unsynced);
            pending.extend(newer);
        }
        synced
    }

    fn persist_metas(&self, metas: &[Arc<BlockMeta>]) -> Result<(), StoreError> {
        let mut batches: BTreeMap<u32, sled::Batch> = BTreeMap::new();
        for meta in metas {
            batches
                .entry(meta.partition)
                .or_default()
                .insert(&keys::block_key(keys::META, meta.seq), meta.encode());
        }
        for (hour, batch) in batches {
            // Retention may have dropped the hour meanwhile; don't bring its tree back.
            let Some(segment) = self.inner.segments.get(hour) else {
                continue;
            };
            segment.sync()?;
            self.partition(hour)?.apply_batch(batch)?;
        }
        self.inner.db.flush()?;
        Ok(())
    }

    /// Every stored span of each trace, in no particular order; unknown traces are
    /// absent from the map. Each block is decompressed once however many of the
    /// traces it holds.
    pub fn read_traces(
        &self,
        trace_ids: &[TraceId],
    ) -> Result<HashMap<TraceId, Vec<Span>>, StoreError> {
        let wanted: HashSet<TraceId> = trace_ids.iter().copied().collect();
        let candidates: Vec<Arc<BlockMeta>> = self
            .blocks()
            .into_iter()
            .filter(|meta| wanted.iter().any(|trace_id| meta.may_hold(trace_id)))
            .collect();
        let mut found: HashMap<TraceId, Vec<Span>> = HashMap::default();
        for meta in candidates {
            // A block can vanish between planning and reading when retention drops its hour.
            if let Some(block) = self.read_block(&meta)? {
                for span in codec::decode_block(&block, |trace_id| wanted.contains(trace_id))? {
                    found.entry(span.trace_id).or_default().push(span);
                }
            }
        }
        Ok(found)
    }

    /// Merges the RED metrics counted since the last call into sled, rolled up to
    /// every resolution, and flushes; returns how many cells were written.
    pub fn checkpoint_red(&self) -> Result<usize, StoreError> {
        self.inner.red.checkpoint(&self.inner.db, unix_secs_now())
    }

    /// What the RED metrics take in sled, for the benchmark. Reads every item.
    pub fn red_size(&self) -> Result<RedSize, StoreError> {
        self.inner.red.size()
    }

    /// RED cells of `operation_ids` whose buckets of `resolution` start in
    /// `[start_secs, end_secs)`, written or still in memory.
    pub(crate) fn red_cells_by_id(
        &self,
        operation_ids: &[u32],
        resolution: Resolution,
        start_secs: u64,
        end_secs: u64,
    ) -> Result<Vec<RedRow>, StoreError> {
        self.inner
            .red
            .read(operation_ids, resolution, start_secs, end_secs)
    }

    /// Every operation of `service` with its catalog id.
    /// The id of the RED cells that count all of `service_id`'s spans of `kind`, if
    /// they cover buckets from `start_secs` on.
    pub(crate) fn red_service_cell(
        &self,
        service_id: u32,
        kind: SpanKind,
        start_secs: u64,
    ) -> Option<u32> {
        self.inner.red.service_cell_id(service_id, kind, start_secs)
    }

    pub(crate) fn operation_entries(&self, service_id: u32) -> Vec<(u32, SpanKind, String)> {
        self.read_catalog().operation_entries(service_id)
    }

    /// Metadata of every live block, oldest first.
    pub(crate) fn blocks(&self) -> Vec<Arc<BlockMeta>> {
        self.inner
            .blocks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Calls `visit` with every span of one block's traces that have a span whose
    /// summary `may_match` lets through, as borrowed views; does nothing if retention
    /// dropped the block meanwhile.
    pub(crate) fn scan_block(
        &self,
        meta: &BlockMeta,
        may_match: impl Fn(&codec::SpanSummary) -> bool,
        visit: impl FnMut(&codec::SpanView<'_>),
    ) -> Result<(), StoreError> {
        if let Some(block) = self.read_block(meta)? {
            codec::scan_block(&block, may_match, visit)?;
        }
        Ok(())
    }

    /// The summary of one block (trace directory, operation, start and duration of
    /// every span), reading only its summary frame; `None` once retention dropped it.
    pub(crate) fn read_summary(&self, meta: &BlockMeta) -> Result<Option<Summary>, StoreError> {
        let Some(segment) = self.inner.segments.get(meta.partition) else {
            return Ok(None);
        };
        let len = codec::BLOCK_PREFIX_LEN as u32 + meta.summary_len;
        let bytes = segment.read(meta.offset, len.min(meta.num_bytes))?;
        Ok(Some(codec::read_summary(&bytes)?))
    }

    /// The block's two frames (without the term filter), checked against the block's
    /// checksum; `None` once retention dropped it.
    fn read_block(&self, meta: &BlockMeta) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(segment) = self.inner.segments.get(meta.partition) else {
            return Ok(None);
        };
        let mut bytes = segment.read(meta.offset, meta.num_bytes)?;
        if crc32fast::hash(&bytes) != meta.checksum {
            // The disk cap may have dropped the block (and punched its bytes out)
            // since the caller planned with it: then it's gone, not damaged.
            if !self.is_live(meta.seq) {
                return Ok(None);
            }
            return Err(StoreError::Corrupt("block checksum mismatch"));
        }
        bytes.truncate((meta.num_bytes - meta.filter_len) as usize);
        Ok(Some(bytes))
    }

    /// Whether the block may hold a span with, for every group of `required`, at
    /// least one of its search terms (`model::search_terms`), reading only the block's
    /// term filter. `true` for blocks without one; `false` once retention dropped it.
    pub(crate) fn may_contain_terms(
        &self,
        meta: &BlockMeta,
        required: &[Vec<u64>],
    ) -> Result<bool, StoreError> {
        if meta.filter_len == 0 || required.is_empty() {
            return Ok(true);
        }
        let Some(segment) = self.inner.segments.get(meta.partition) else {
            return Ok(false);
        };
        let start = meta.end() - u64::from(meta.filter_len);
        let bytes = segment.read(start, meta.filter_len)?;
        match codec::filter::may_contain_all(&bytes, required) {
            Ok(found) => Ok(found),
            // Dropped by the disk cap meanwhile (see `read_block`).
            Err(_) if !self.is_live(meta.seq) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Whether block `seq` is still indexed.
    fn is_live(&self, seq: u64) -> bool {
        self.inner
            .blocks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|meta| meta.seq == seq)
    }

    /// Service names, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut services = self.read_catalog().services().to_vec();
        services.sort();
        services
    }

    /// Operations of a service, sorted by name then kind; `kind` filters when given.
    pub fn operations(&self, service: &str, kind: Option<SpanKind>) -> Vec<Operation> {
        let catalog = self.read_catalog();
        let Some(service_id) = catalog.service_id(service) else {
            return Vec::new();
        };
        let mut operations: Vec<Operation> = catalog
            .operations_of(service_id)
            .filter(|(op_kind, _)| kind.is_none_or(|kind| kind == *op_kind))
            .map(|(kind, name)| Operation {
                name: name.to_owned(),
                kind,
            })
            .collect();
        operations.sort();
        operations
    }

    pub(crate) fn service_id(&self, service: &str) -> Option<u32> {
        self.read_catalog().service_id(service)
    }

    pub(crate) fn operation_ids_named(&self, service_id: u32, name: &str) -> Vec<u32> {
        self.read_catalog().operation_ids_named(service_id, name)
    }

    /// Ids of every operation of `service`, in any kind.
    pub(crate) fn operation_ids_of(&self, service_id: u32) -> Vec<u32> {
        self.read_catalog().operation_ids_of(service_id)
    }

    /// Resolves catalog ids in block metadata back to service names.
    pub(crate) fn service_name(&self, service_id: u32) -> Option<String> {
        self.read_catalog()
            .service_name(service_id)
            .map(str::to_owned)
    }

    /// Drops every partition whose hour ended before `cutoff_unix_secs`. Returns how many.
    pub fn expire_before(&self, cutoff_unix_secs: u64) -> Result<usize, StoreError> {
        let cutoff_hour = (cutoff_unix_secs / 3600) as u32;
        // Serialised with writers and compaction, which append to segments.
        let _writer = lock(&self.inner.write_lock);
        let mut expired: Vec<u32> = self
            .read_partitions()
            .range(..cutoff_hour)
            .map(|(hour, _)| *hour)
            .chain(self.inner.segments.hours_before(cutoff_hour))
            .collect();
        expired.sort_unstable();
        expired.dedup();
        for hour in &expired {
            self.drop_hour(*hour)?;
            tracing::info!(hour, "expired partition");
        }
        self.inner.red.expire_before(&self.inner.db, cutoff_hour)?;
        Ok(expired.len())
    }

    /// Forgets an hour's blocks and deletes its metadata tree and block file. The
    /// caller holds the write lock.
    pub(super) fn drop_hour(&self, hour: u32) -> Result<(), StoreError> {
        tracing::debug!(hour, "dropping an hour of spans");
        // Forget the blocks first so searches stop planning reads of them.
        self.inner
            .blocks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|meta| meta.partition != hour);
        lock(&self.inner.unsynced).retain(|meta| meta.partition != hour);
        self.inner
            .partitions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&hour);
        // Metadata first: a crash in between leaves a file without metadata, which
        // the next open deletes.
        self.inner.db.drop_tree(keys::partition_tree_name(hour))?;
        self.test_pause();
        self.inner.segments.remove(hour)?;
        Ok(())
    }

    pub fn stats(&self) -> StoreStats {
        let blocks = self.blocks();
        StoreStats {
            num_blocks: blocks.len() as u64,
            num_spans: blocks.iter().map(|meta| u64::from(meta.num_spans)).sum(),
            block_bytes: blocks.iter().map(|meta| u64::from(meta.num_bytes)).sum(),
            summary_bytes: blocks
                .iter()
                .map(|meta| codec::BLOCK_PREFIX_LEN as u64 + u64::from(meta.summary_len))
                .sum(),
            filter_bytes: blocks.iter().map(|meta| u64::from(meta.filter_len)).sum(),
            size_on_disk: self.inner.db.size_on_disk().unwrap_or(0)
                + self.inner.segments.total_len(),
        }
    }

    /// Bytes on disk: each hour's block file, and the sled index.
    pub fn disk_usage(&self) -> DiskUsage {
        let blocks = self.blocks();
        DiskUsage {
            blocks_by_hour: self.inner.segments.len_by_hour(),
            index_bytes: self.inner.db.size_on_disk().unwrap_or(0),
            num_blocks: blocks.len() as u64,
            num_spans: blocks.iter().map(|meta| u64::from(meta.num_spans)).sum(),
            meta_memory_bytes: blocks.iter().map(|meta| meta.heap_bytes() as u64).sum(),
        }
    }

    /// A handle that doesn't keep the store open (for metrics read at scrape time).
    pub fn downgrade(&self) -> WeakStore {
        WeakStore {
            inner: Arc::downgrade(&self.inner),
        }
    }

    fn partition(&self, hour: u32) -> Result<sled::Tree, StoreError> {
        if let Some(tree) = self.read_partitions().get(&hour) {
            return Ok(tree.clone());
        }
        let tree = self.inner.db.open_tree(keys::partition_tree_name(hour))?;
        self.inner
            .partitions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(hour, tree.clone());
        Ok(tree)
    }

    fn read_partitions(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u32, sled::Tree>> {
        self.inner
            .partitions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.inner
            .catalog
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Catalog ids for each span (operation, service), adding and persisting new names
    /// before the block that refers to them is written.
    fn catalog_ids(&self, spans: &[&Span]) -> Result<(Vec<u32>, Vec<u32>), StoreError> {
        let mut catalog = self
            .inner
            .catalog
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut batch: Option<sled::Batch> = None;
        let mut operation_ids = Vec::with_capacity(spans.len());
        let mut service_ids = Vec::with_capacity(spans.len());
        for span in spans {
            let service_id = match catalog.service_id(span.service_name()) {
                Some(id) => id,
                None => {
                    let (id, key, value) = catalog.add_service(span.service_name());
                    batch
                        .get_or_insert_with(sled::Batch::default)
                        .insert(key, &value);
                    id
                }
            };
            let operation_id = match catalog.operation_id(service_id, span.kind, &span.name) {
                Some(id) => id,
                None => {
                    let (id, key, value) = catalog.add_operation(service_id, span.kind, &span.name);
                    batch
                        .get_or_insert_with(sled::Batch::default)
                        .insert(key, &value);
                    id
                }
            };
            operation_ids.push(operation_id);
            service_ids.push(service_id);
        }
        if let Some(batch) = batch {
            self.inner.catalog_tree.apply_batch(batch)?;
        }
        Ok((operation_ids, service_ids))
    }
}

/// Where a block was written.
#[derive(Clone, Copy)]
struct BlockPlace {
    seq: u64,
    partition: u32,
    offset: u64,
    checksum: u32,
}

fn block_meta(
    place: BlockPlace,
    spans: &[&Span],
    operation_ids: &[u32],
    service_ids: &[u32],
    edges: Vec<(u32, u32, u32)>,
    encoded: &codec::EncodedBlock,
) -> BlockMeta {
    let mut trace_prefixes: Vec<u64> = encoded.trace_ids.iter().map(codec::trace_prefix).collect();
    trace_prefixes.dedup(); // trace_ids are sorted, so equal prefixes are adjacent
    let sorted_unique = |ids: &[u32]| {
        let mut ids: Vec<u32> = ids
            .iter()
            .copied()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        ids.sort_unstable();
        ids
    };
    BlockMeta {
        seq: place.seq,
        partition: place.partition,
        min_start_unix_nanos: spans
            .iter()
            .map(|span| span.start_unix_nanos)
            .min()
            .unwrap_or(0),
        max_start_unix_nanos: spans
            .iter()
            .map(|span| span.start_unix_nanos)
            .max()
            .unwrap_or(0),
        max_duration_nanos: spans
            .iter()
            .map(|span| span.duration_nanos())
            .max()
            .unwrap_or(0),
        num_spans: spans.len() as u32,
        offset: place.offset,
        num_bytes: encoded.bytes.len() as u32,
        checksum: place.checksum,
        summary_len: encoded.summary_len,
        filter_len: encoded.filter_len,
        operations: id_set::IdSet::new(operation_ids.to_vec()),
        services: sorted_unique(service_ids),
        edges,
        trace_prefixes,
    }
}

/// Opens sled, waiting up to `LOCK_WAIT` for its file lock: sled's background
/// threads release it shortly after the previous `Db` in this process is dropped
/// (a reopen in tests, or an embedding that restarts the store).
fn open_sled(config: &StoreConfig, path: &std::path::Path) -> Result<sled::Db, sled::Error> {
    const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
    let started = std::time::Instant::now();
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(config.cache_capacity_bytes)
            .flush_every_ms(Some(config.flush_every_ms))
            .mode(sled::Mode::HighThroughput)
            .open();
        match opened {
            Err(sled::Error::Io(error))
                if error.to_string().starts_with("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            opened => return opened,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unix_secs_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn unix_secs_f64_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests;
