use std::num::NonZeroUsize;
use std::sync::Arc;

use super::*;
use crate::model::{Resource, Scope, SpanId, StatusCode};

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_owned(),
        cache_capacity_bytes: 8 << 20,
        max_block_spans: NonZeroUsize::new(3).unwrap(),
        zstd_level: 3,
        flush_every_ms: 500,
        max_disk_bytes: None,
        retention: None,
        red_metrics: true,
    }
}

pub(super) fn span(trace: u8, id: u8, service: &str, parent: Option<u8>) -> Span {
    Span {
        trace_id: TraceId([trace; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|parent| SpanId([parent; 8])),
        trace_state: String::new(),
        flags: 0,
        name: format!("op-{id}"),
        kind: SpanKind::Server,
        start_unix_nanos: 1_000 * u64::from(id),
        end_unix_nanos: 1_000 * u64::from(id) + 10,
        attributes: vec![],
        events: vec![],
        links: vec![],
        status_code: StatusCode::Unset,
        status_message: String::new(),
        resource: Arc::new(Resource {
            service_name: service.to_owned(),
            attributes: vec![],
        }),
        scope: Arc::new(Scope::default()),
    }
}

/// A segment file of the store (the tests write within one hour).
fn only_segment(data_dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(data_dir.join("blocks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn writes_survive_reopen_with_catalog_and_edges() {
    let dir = tempfile::tempdir().unwrap();
    let spans = [
        span(1, 1, "front", None),
        span(1, 2, "cart", Some(1)),
        span(2, 3, "front", None),
        span(1, 4, "db", Some(2)),
    ];
    {
        let store = Store::open(&config(dir.path())).unwrap();
        store
            .write_spans(&spans.iter().collect::<Vec<_>>())
            .unwrap();
        store.sync().unwrap();
        assert_eq!(
            store.blocks().len(),
            2,
            "max_block_spans = 3 splits four spans into two blocks"
        );
    }
    let store = Store::open(&config(dir.path())).unwrap();
    assert_eq!(store.services(), ["cart", "db", "front"]);
    assert_eq!(
        store.operations("cart", None),
        [Operation {
            name: "op-2".into(),
            kind: SpanKind::Server
        }]
    );
    let found = store
        .read_traces(&[TraceId([1; 16]), TraceId([9; 16])])
        .unwrap();
    let mut ids: Vec<u8> = found[&TraceId([1; 16])]
        .iter()
        .map(|span| span.span_id.0[0])
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [1, 2, 4],
        "spans of one trace come back from both blocks"
    );
    assert!(!found.contains_key(&TraceId([9; 16])));
    // Two traces that share their first 8 bytes: the in-memory index can't tell them
    // apart, decoding must.
    let mut twin = [1u8; 16];
    twin[15] = 2;
    assert!(store.read_traces(&[TraceId(twin)]).unwrap().is_empty());
    // front → cart resolves inside the first block, cart → db across blocks; both
    // were stored in the metas and survive the reopen.
    let edges: Vec<(u32, u32, u32)> = store
        .blocks()
        .iter()
        .flat_map(|meta| meta.edges.clone())
        .collect();
    let front = store.service_id("front").unwrap();
    let cart = store.service_id("cart").unwrap();
    let db = store.service_id("db").unwrap();
    assert_eq!(edges, [(front, cart, 1), (cart, db, 1)]);
    // New writes continue the sequence rather than overwrite block 0.
    store.write_spans(&[&span(3, 5, "front", None)]).unwrap();
    let seqs: Vec<u64> = store.blocks().iter().map(|meta| meta.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
}

#[test]
fn expiry_drops_whole_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&config(dir.path())).unwrap();
    store.write_spans(&[&span(1, 1, "front", None)]).unwrap();
    assert_eq!(
        store.expire_before(0).unwrap(),
        0,
        "nothing is older than the epoch"
    );
    let far_future = u64::from(u32::MAX) * 3600;
    assert_eq!(store.expire_before(far_future).unwrap(), 1);
    assert!(store.blocks().is_empty());
    assert_eq!(
        std::fs::read_dir(dir.path().join("blocks"))
            .unwrap()
            .count(),
        0,
        "the hour's segment file is deleted"
    );
    store.sync().unwrap();
    drop(store);
    let store = Store::open(&config(dir.path())).unwrap();
    assert!(store.blocks().is_empty(), "expired blocks stay gone");
    assert!(store.read_traces(&[TraceId([1; 16])]).unwrap().is_empty());
    assert_eq!(
        store.services(),
        ["front"],
        "the catalog outlives expired data"
    );
}

#[test]
fn only_synced_blocks_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&config(dir.path())).unwrap();
        store.write_spans(&[&span(1, 1, "front", None)]).unwrap();
        store.sync().unwrap();
        store.write_spans(&[&span(2, 2, "front", None)]).unwrap();
        assert_eq!(
            store.read_traces(&[TraceId([2; 16])]).unwrap().len(),
            1,
            "written blocks are queryable before they are synced"
        );
        // Dropped without a sync: the second block's metadata never reached sled.
    }
    let store = Store::open(&config(dir.path())).unwrap();
    assert_eq!(store.blocks().len(), 1);
    assert_eq!(store.read_traces(&[TraceId([1; 16])]).unwrap().len(), 1);
    assert!(store.read_traces(&[TraceId([2; 16])]).unwrap().is_empty());
    let synced_bytes = store.stats().block_bytes;
    let segment_bytes: u64 = std::fs::read_dir(dir.path().join("blocks"))
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(segment_bytes, synced_bytes, "the unsynced tail was cut off");
    // The next block goes where the lost one was, and is found after a reopen.
    store.write_spans(&[&span(3, 3, "front", None)]).unwrap();
    store.sync().unwrap();
    drop(store);
    let store = Store::open(&config(dir.path())).unwrap();
    assert_eq!(store.read_traces(&[TraceId([3; 16])]).unwrap().len(), 1);
}

#[test]
fn damaged_blocks_are_reported_not_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&config(dir.path())).unwrap();
    store.write_spans(&[&span(1, 1, "front", None)]).unwrap();
    store.sync().unwrap();
    let segment = only_segment(dir.path());
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    let error = store.read_traces(&[TraceId([1; 16])]).unwrap_err();
    assert!(
        matches!(error, StoreError::Corrupt("block checksum mismatch")),
        "{error:?}"
    );
}

#[test]
fn compaction_merges_small_synced_blocks_without_losing_or_duplicating_spans() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_block_spans = NonZeroUsize::new(8).unwrap(); // small = fewer than 4 spans
    let store = Store::open(&config).unwrap();
    for id in 1..=5u8 {
        store
            .write_spans(&[&span(id % 2, id, "front", None)])
            .unwrap();
        store.sync().unwrap();
    }
    store.write_spans(&[&span(9, 9, "front", None)]).unwrap(); // not synced: left alone
    let not_small: Vec<Span> = (10..14).map(|id| span(7, id, "front", None)).collect();
    store
        .write_spans(&not_small.iter().collect::<Vec<_>>())
        .unwrap();
    store.sync().unwrap();
    store.write_spans(&[&span(9, 12, "front", None)]).unwrap();
    assert_eq!(store.blocks().len(), 8);
    let before = store.stats().num_spans;

    let small: Vec<(u64, usize)> = store
        .blocks()
        .iter()
        .filter(|meta| meta.num_spans == 1 && meta.seq != 7)
        .map(|meta| (meta.offset, meta.num_bytes as usize))
        .collect();
    assert_eq!(store.compact_small_blocks().unwrap(), 6);
    let blocks = store.blocks();
    assert_eq!(blocks.len(), 3, "six 1-span blocks became one");
    assert_eq!(store.stats().num_spans, before);
    let count = |store: &Store, trace: u8| {
        store
            .read_traces(&[TraceId([trace; 16])])
            .unwrap()
            .get(&TraceId([trace; 16]))
            .map_or(0, Vec::len)
    };
    assert_eq!((count(&store, 0), count(&store, 1)), (2, 3));
    assert_eq!(count(&store, 9), 2);
    // The next round frees the replaced blocks' bytes (the file keeps its length).
    assert_eq!(store.compact_small_blocks().unwrap(), 0);
    let segment = only_segment(dir.path());
    let bytes = std::fs::read(segment).unwrap();
    for (offset, len) in small.iter().take(5) {
        assert!(
            bytes[*offset as usize..][..*len]
                .iter()
                .all(|byte| *byte == 0),
            "a hole was punched at {offset}"
        );
    }
    assert_eq!((count(&store, 0), count(&store, 1)), (2, 3));
    store.sync().unwrap();
    drop(store);
    let store = Store::open(&config).unwrap();
    assert_eq!(store.blocks().len(), 3);
    assert_eq!((count(&store, 0), count(&store, 1)), (2, 3));
    assert_eq!(count(&store, 9), 2);
}

/// Writes traces 1, 2 and 3 as three synced blocks and closes the store.
fn three_synced_blocks(dir: &std::path::Path) {
    let store = Store::open(&config(dir)).unwrap();
    for trace in 1..=3 {
        store
            .write_spans(&[&span(trace, trace, "front", None)])
            .unwrap();
        store.sync().unwrap();
    }
    assert_eq!(store.blocks().len(), 3);
}

#[track_caller]
fn check_readable(store: &Store, readable: &[u8], lost: &[u8]) {
    for &trace in readable {
        let found = store.read_traces(&[TraceId([trace; 16])]).unwrap();
        assert_eq!(
            found[&TraceId([trace; 16])].len(),
            1,
            "trace {trace} is whole"
        );
    }
    for &trace in lost {
        assert!(store
            .read_traces(&[TraceId([trace; 16])])
            .unwrap()
            .is_empty());
    }
}

#[test]
fn a_torn_segment_tail_loses_only_the_torn_block() {
    let dir = tempfile::tempdir().unwrap();
    three_synced_blocks(dir.path());
    let segment = only_segment(dir.path());
    let len = std::fs::metadata(&segment).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(len - 5).unwrap();
    drop(file);

    let store = Store::open(&config(dir.path())).unwrap();
    assert_eq!(store.blocks().len(), 2);
    check_readable(&store, &[1, 2], &[3]);
    // Writing goes on after the intact blocks, and survives another reopen.
    store.write_spans(&[&span(4, 4, "front", None)]).unwrap();
    store.sync().unwrap();
    drop(store);
    let store = Store::open(&config(dir.path())).unwrap();
    check_readable(&store, &[1, 2, 4], &[3]);
}

#[test]
fn a_corrupt_segment_tail_is_dropped_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    three_synced_blocks(dir.path());
    let segment = only_segment(dir.path());
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x5a;
    std::fs::write(&segment, &bytes).unwrap();

    let store = Store::open(&config(dir.path())).unwrap();
    assert_eq!(store.blocks().len(), 2);
    check_readable(&store, &[1, 2], &[3]);
    drop(store);
    // The damaged block's metadata is gone from sled, not only from memory.
    let store = Store::open(&config(dir.path())).unwrap();
    assert_eq!(store.blocks().len(), 2);
}

#[test]
fn corrupt_block_metadata_loses_only_its_block() {
    let dir = tempfile::tempdir().unwrap();
    three_synced_blocks(dir.path());
    {
        // Through `open_sled`, which waits for the dropped store's sled threads to let go
        // of the file lock (a bare `sled::open` failed on that race in CI).
        let db = open_sled(&config(dir.path()), &dir.path().join("sled")).unwrap();
        let name = db
            .tree_names()
            .into_iter()
            .find(|name| keys::parse_partition_tree_name(name).is_some())
            .unwrap();
        let tree = db.open_tree(name).unwrap();
        let metas: Vec<_> = tree
            .scan_prefix([keys::META])
            .map(|entry| entry.unwrap())
            .collect();
        assert_eq!(metas.len(), 3);
        // The first block's value cut short, the second's replaced by the third's
        // (well-formed, but for another key); the third stays intact.
        tree.insert(&metas[0].0, &metas[0].1[..metas[0].1.len() / 2])
            .unwrap();
        tree.insert(&metas[1].0, metas[2].1.clone()).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&config(dir.path())).unwrap();
    assert_eq!(store.blocks().len(), 1);
    check_readable(&store, &[3], &[1, 2]);
    store.write_spans(&[&span(5, 5, "front", None)]).unwrap();
    store.sync().unwrap();
    drop(store);
    let store = Store::open(&config(dir.path())).unwrap();
    check_readable(&store, &[3, 5], &[1, 2]);
}

/// A span of trace `trace` carrying `num_bytes` of incompressible text.
fn bulky_span(trace: u8, num_bytes: usize) -> Span {
    let mut state = u64::from(trace).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let noise: String = (0..num_bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let mut span = span(trace, trace, "front", None);
    span.attributes.push(crate::model::Attribute {
        key: "noise".into(),
        value: crate::model::AttrValue::Str(noise),
    });
    span
}

#[test]
fn the_disk_cap_drops_the_oldest_hours_then_the_oldest_synced_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&config(dir.path())).unwrap();
    for hour in 100..=103u32 {
        let trace = hour as u8;
        store
            .write_spans_in_hour(&[&bulky_span(trace, 256 << 10)], hour)
            .unwrap();
    }
    store.sync().unwrap();
    let by_hour = store.inner.segments.allocated_by_hour();
    assert_eq!(
        by_hour.iter().map(|(hour, _)| *hour).collect::<Vec<_>>(),
        [100, 101, 102, 103]
    );
    let bytes = |hour: u32| by_hour.iter().find(|(h, _)| *h == hour).unwrap().1;
    assert!(bytes(101) > 100 << 10, "incompressible: {}", bytes(101));
    let used = store.inner.db.size_on_disk().unwrap()
        + by_hour.iter().map(|(_, bytes)| bytes).sum::<u64>();

    // Under the cap: nothing to do.
    assert_eq!(
        store.enforce_disk_cap_at(used * 2, 103).unwrap(),
        DiskCapDrops::default()
    );
    // Dropping hour 100 is not enough; all of 101 must go too (the cap is a tenth of
    // it above what 102 and 103 hold), so it goes whole.
    let cap = used - bytes(100) - bytes(101) + bytes(101) / 10;
    assert_eq!(
        store.enforce_disk_cap_at(cap, 103).unwrap().hours,
        [100, 101]
    );
    check_readable(&store, &[102, 103], &[100, 101]);
    assert!(!dir.path().join("blocks/0000000100.seg").exists());
    // A cap below what the hour being written holds: everything older goes, then
    // that hour's oldest blocks, down to 90% of the cap; the block not synced yet stays.
    for trace in 104..=107u8 {
        store
            .write_spans_in_hour(&[&bulky_span(trace, 256 << 10)], 103)
            .unwrap();
        store.sync().unwrap();
    }
    store
        .write_spans_in_hour(&[&bulky_span(108, 256 << 10)], 103)
        .unwrap();
    let hour_103 = |store: &Store| {
        store
            .inner
            .segments
            .allocated_by_hour()
            .into_iter()
            .find(|(hour, _)| *hour == 103)
            .unwrap()
            .1
    };
    let before = hour_103(&store);
    // Room for about half of the six blocks of hour 103 (and sled's files).
    let cap = store.inner.db.size_on_disk().unwrap() + before / 2;
    let drops = store.enforce_disk_cap_at(cap, 103).unwrap();
    assert_eq!(drops.hours, [102]);
    let dropped = drops.num_blocks;
    assert!((1..=5).contains(&dropped), "dropped {dropped} blocks");
    let after = hour_103(&store);
    assert!(
        store.inner.db.size_on_disk().unwrap() + after <= cap,
        "under the cap after punching holes: {after} of {before} bytes left"
    );
    // Oldest first: a prefix of the synced blocks is gone, the rest whole.
    let synced = [103u8, 104, 105, 106, 107];
    check_readable(&store, &synced[dropped..], &synced[..dropped]);
    assert_eq!(
        store.read_traces(&[TraceId([108; 16])]).unwrap()[&TraceId([108; 16])].len(),
        1,
        "the block not synced yet stays"
    );
    // Nothing left to drop but what is being written: a cap of one byte stops there.
    store.enforce_disk_cap_at(1, 103).unwrap();
    check_readable(&store, &[], &[105, 106, 107]);
    store.sync().unwrap();
    drop(store);
    let store = Store::open(&config(dir.path())).unwrap();
    check_readable(&store, &[108], &[100, 101, 102, 103, 104, 105, 106, 107]);
}

#[test]
fn an_oldest_hour_holding_more_than_must_go_is_trimmed_not_dropped_whole() {
    // Right after an hour turns, the hour before holds most of the data: only its
    // oldest blocks should go, not all of it.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&config(dir.path())).unwrap();
    for trace in 1..=8u8 {
        store
            .write_spans_in_hour(&[&bulky_span(trace, 256 << 10)], 100)
            .unwrap();
        store.sync().unwrap();
    }
    store
        .write_spans_in_hour(&[&bulky_span(9, 256 << 10)], 101)
        .unwrap();
    store.sync().unwrap();
    let by_hour = store.inner.segments.allocated_by_hour();
    let sled_bytes = store.inner.db.size_on_disk().unwrap();
    let used = sled_bytes + by_hour.iter().map(|(_, bytes)| bytes).sum::<u64>();
    let block = by_hour[1].1; // hour 101: one block
                              // Half a block over the cap.
    let drops = store.enforce_disk_cap_at(used - block / 2, 101).unwrap();
    assert!(
        drops.hours.is_empty(),
        "hour 100 went whole: {drops:?} (sled {sled_bytes} B)"
    );
    assert!(
        (1..8).contains(&drops.num_blocks),
        "{drops:?} (sled {sled_bytes} B, block {block} B)"
    );
    let gone: Vec<u8> = (1..=drops.num_blocks as u8).collect();
    let kept: Vec<u8> = (drops.num_blocks as u8 + 1..=9).collect();
    check_readable(&store, &kept, &gone);
    assert!(dir.path().join("blocks/0000000100.seg").exists());
}

#[test]
fn a_merge_does_not_bring_back_blocks_the_disk_cap_dropped_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        max_block_spans: NonZeroUsize::new(16).unwrap(),
        ..config(dir.path())
    };
    let store = Store::open(&config).unwrap().with_test_hooks(TestHooks {
        pause: Some(std::time::Duration::from_millis(300)),
        ..TestHooks::default()
    });
    for trace in 1..=6u8 {
        store
            .write_spans_in_hour(&[&bulky_span(trace, 256 << 10)], 100)
            .unwrap();
        store.sync().unwrap();
    }
    let block = store.inner.segments.allocated_by_hour()[0].1 / 6;
    let written = store.inner.segments.len_by_hour()[0].1;
    // The merge reads and appends, then pauses; the cap trims the hour meanwhile.
    let compacting = {
        let store = store.clone();
        std::thread::spawn(move || store.compact_small_blocks().unwrap())
    };
    let waiting = std::time::Instant::now();
    while store.inner.segments.len_by_hour()[0].1 == written {
        assert!(waiting.elapsed().as_secs() < 20, "the merge never appended");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let used =
        store.inner.db.size_on_disk().unwrap() + store.inner.segments.allocated_by_hour()[0].1;
    let drops = store.enforce_disk_cap_at(used - block / 2, 100).unwrap();
    assert!((1..6).contains(&drops.num_blocks), "{drops:?}");
    assert_eq!(compacting.join().unwrap(), 0, "the merge went ahead");
    let gone: Vec<u8> = (1..=drops.num_blocks as u8).collect();
    let kept: Vec<u8> = (drops.num_blocks as u8 + 1..=6).collect();
    check_readable(&store, &kept, &gone);
    assert_eq!(store.blocks().len(), kept.len());
    // Reopened, the same: the abandoned merge left no meta behind.
    drop(store);
    let store = Store::open(&config).unwrap();
    check_readable(&store, &kept, &gone);
    // And the next round merges what is left.
    assert_eq!(store.compact_small_blocks().unwrap(), kept.len());
    check_readable(&store, &kept, &gone);
}

#[test]
fn the_test_clock_files_spans_under_its_own_hour() {
    let dir = tempfile::tempdir().unwrap();
    let real_hour = unix_secs_now() / 3600;
    let store = Store::open(&config(dir.path()))
        .unwrap()
        .with_test_hooks(TestHooks {
            clock_offset_secs: 2 * 3600,
            ..TestHooks::default()
        });
    assert!((store.clock_secs() / 3600).abs_diff(real_hour + 2) <= 1);
    store.write_spans(&[&span(1, 1, "svc", None)]).unwrap();
    store.sync().unwrap();
    let hours: Vec<u32> = store
        .inner
        .segments
        .len_by_hour()
        .iter()
        .map(|(hour, _)| *hour)
        .collect();
    assert_eq!(hours, [store.hour_now()], "filed under the shifted hour");
    assert!(u64::from(hours[0]) > real_hour);
    // Sped up 3600 times, an hour passes in a second.
    let fast_dir = tempfile::tempdir().unwrap();
    let fast = Store::open(&config(fast_dir.path()))
        .unwrap()
        .with_test_hooks(TestHooks {
            clock_speed: 3600,
            ..TestHooks::default()
        });
    let before = fast.clock_secs();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        fast.clock_secs() - before >= 300,
        "{}",
        fast.clock_secs() - before
    );
}

#[test]
fn the_disk_cap_drops_the_red_metrics_of_the_hours_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&config(dir.path())).unwrap();
    for hour in 100..=103u32 {
        let mut span = bulky_span(hour as u8, 256 << 10);
        span.start_unix_nanos = u64::from(hour) * 3_600_000_000_000 + 5_000_000_000;
        span.end_unix_nanos = span.start_unix_nanos + 1_000_000;
        store.write_spans_in_hour(&[&span], hour).unwrap();
    }
    store.sync().unwrap();
    store.checkpoint_red().unwrap();
    // Long past, so sealed: per hour, the operation's and the service's cells at
    // 1 min and 10 min (10 s cells are not kept that far back).
    let size = store.red_size().unwrap();
    assert_eq!((size.num_cells, size.num_sealed_values), (16, 16));
    let by_hour = store.inner.segments.allocated_by_hour();
    let bytes = |hour: u32| by_hour.iter().find(|(h, _)| *h == hour).unwrap().1;
    let used = store.inner.db.size_on_disk().unwrap()
        + by_hour.iter().map(|(_, bytes)| bytes).sum::<u64>();
    let cap = used - bytes(100) - bytes(101) + bytes(101) / 10;
    assert_eq!(
        store.enforce_disk_cap_at(cap, 103).unwrap().hours,
        [100, 101]
    );
    let size = store.red_size().unwrap();
    assert_eq!((size.num_cells, size.num_sealed_values), (8, 8));
}

#[test]
fn reopening_frees_blocks_replaced_by_the_last_compaction_round() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_block_spans = NonZeroUsize::new(8).unwrap();
    let store = Store::open(&config).unwrap();
    for id in 1..=4u8 {
        store
            .write_spans(&[&span(id % 2, id, "front", None)])
            .unwrap();
        store.sync().unwrap();
    }
    let small: Vec<(u64, usize)> = store
        .blocks()
        .iter()
        .map(|meta| (meta.offset, meta.num_bytes as usize))
        .collect();
    assert_eq!(store.compact_small_blocks().unwrap(), 4);
    // Shut down before the round that would free the replaced blocks.
    store.sync().unwrap();
    drop(store);
    let segment = only_segment(dir.path());
    let still_there = |offset: u64, len: usize| {
        std::fs::read(&segment).unwrap()[offset as usize..][..len]
            .iter()
            .any(|byte| *byte != 0)
    };
    assert!(small.iter().all(|&(offset, len)| still_there(offset, len)));

    let store = Store::open(&config).unwrap();
    for &(offset, len) in &small {
        assert!(!still_there(offset, len), "a hole was punched at {offset}");
    }
    let merged = store.blocks();
    assert_eq!(merged.len(), 1);
    assert!(still_there(merged[0].offset, merged[0].num_bytes as usize));
    let spans = store
        .read_traces(&[TraceId([0; 16]), TraceId([1; 16])])
        .unwrap();
    assert_eq!(spans.values().map(Vec::len).sum::<usize>(), 4);
    // A second open finds nothing more to free and changes nothing.
    drop(store);
    let store = Store::open(&config).unwrap();
    assert_eq!(store.stats().num_spans, 4);
}
