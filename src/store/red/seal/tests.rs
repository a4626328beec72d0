use super::super::{cell_key, hour_of, tree_name, RedStore, Resolution, FINE_HORIZON_SECS};
use super::*;
use crate::model::{Span, TraceId};

/// A multiple of 3600 s.
const HOUR: u64 = 1_800_000_000;

fn span(trace: u8, start_secs: u64, duration_nanos: u64) -> Span {
    let mut span = crate::store::tests::span(trace, 1, "svc", None);
    span.trace_id = TraceId([trace; 16]);
    span.start_unix_nanos = start_secs * 1_000_000_000;
    span.end_unix_nanos = span.start_unix_nanos + duration_nanos;
    span
}

/// Operations 0 and 1 of service 3, a span every 20 s through the hour from `HOUR`.
fn fill(red: &RedStore, now_secs: u64) {
    let spans: Vec<Span> = (0..180u64)
        .map(|i| span(i as u8, HOUR + i * 20, 1_000 * (i + 1)))
        .collect();
    let refs: Vec<&Span> = spans.iter().collect();
    let ids: Vec<u32> = (0..180u32).map(|i| i % 2).collect();
    red.add_block(&refs, (&ids, &vec![3; refs.len()]), now_secs);
}

/// `(id, bucket start, calls, errors, p50)` of a cell.
type Summary = (u32, u64, u64, u64, u64);

/// The `Summary` of every cell of ids 0 and 1 in `window`.
fn cells(red: &RedStore, resolution: Resolution, window: (u64, u64)) -> Vec<Summary> {
    red.read(&[0, 1], resolution, window.0, window.1)
        .expect("read")
        .into_iter()
        .map(|row| {
            let p50 = row.cell.latency.quantile_nanos(0.5).unwrap_or(0.0) as u64;
            (
                row.operation_id,
                row.bucket_start_secs,
                row.cell.num_calls,
                row.cell.num_errors,
                p50,
            )
        })
        .collect()
}

fn every_resolution(red: &RedStore) -> Vec<Vec<Summary>> {
    let mut all = Vec::new();
    for resolution in Resolution::ALL {
        all.push(cells(red, resolution, (HOUR, HOUR + 3600)));
        // Windows that cut the hour take only their part of a sealed value.
        all.push(cells(red, resolution, (HOUR + 600, HOUR + 1800)));
    }
    all
}

fn per_bucket_items(db: &sled::Db) -> usize {
    let tree = db.open_tree(tree_name(hour_of(HOUR))).expect("tree");
    tree.range(..[SEALED_PREFIX]).count()
}

#[test]
fn sealing_an_hour_keeps_every_cell_and_leaves_one_value_per_id_and_resolution() {
    let db = sled::Config::new().temporary(true).open().expect("sled");
    let red = RedStore::open(&db, 0).expect("open");
    let during = HOUR + 3000;
    fill(&red, during);
    red.checkpoint(&db, during).expect("checkpoint");
    assert!(
        per_bucket_items(&db) > 0,
        "the hour is not over: nothing sealed"
    );
    let before = every_resolution(&red);
    let lens: Vec<usize> = before.iter().map(Vec::len).collect();
    assert_eq!(lens, [180, 60, 120, 40, 12, 4]);
    assert!(before[4].iter().all(|cell| cell.2 == 15));

    // Not yet: the grace period after the hour's end.
    red.checkpoint(&db, HOUR + 3600 + SEAL_GRACE_SECS - 1)
        .expect("checkpoint");
    assert!(per_bucket_items(&db) > 0);
    red.checkpoint(&db, HOUR + 3600 + SEAL_GRACE_SECS)
        .expect("checkpoint");
    assert_eq!(per_bucket_items(&db), 0);
    let size = red.size().expect("size");
    // Operations 0, 1 and service 3's cell, at 3 resolutions.
    assert_eq!(size.num_sealed_values, 9);
    assert_eq!(size.num_items, 9);
    // Each operation has a span every 40 s, the service every 20 s.
    assert_eq!(size.num_cells, 2 * (90 + 60 + 6) + (180 + 60 + 6));
    assert_eq!(every_resolution(&red), before);
    assert!(lock(&red.sealed).contains(&hour_of(HOUR)));

    // A restart finds the same, and learns at its first checkpoint that it is sealed.
    drop(red);
    let red = RedStore::open(&db, 0).expect("reopen");
    assert_eq!(every_resolution(&red), before);
    red.checkpoint(&db, HOUR + 7200).expect("checkpoint");
    assert!(lock(&red.sealed).contains(&hour_of(HOUR)));
    assert_eq!(every_resolution(&red), before);
}

#[test]
fn late_spans_for_a_sealed_hour_are_merged_into_it() {
    let db = sled::Config::new().temporary(true).open().expect("sled");
    let red = RedStore::open(&db, 0).expect("open");
    let after = HOUR + 3600 + SEAL_GRACE_SECS;
    fill(&red, after);
    red.checkpoint(&db, after).expect("checkpoint");
    assert_eq!(per_bucket_items(&db), 0);
    let minute = |red: &RedStore| cells(red, Resolution::Minute, (HOUR, HOUR + 60));

    // A late span: pending, then as per-bucket items beside the sealed value.
    let late = span(200, HOUR + 5, 7_000_000);
    red.add_block(&[&late], (&[0], &[3]), after);
    assert_eq!(minute(&red)[0].2, 2 + 1);
    {
        let _writing = write_lock(&red.checkpoint_lock);
        let mut pending = std::mem::take(&mut *lock(&red.pending));
        pending.values_mut().for_each(|cell| cell.fold());
        red.write_cells(&db, &pending, after).expect("write");
    }
    assert!(per_bucket_items(&db) > 0);
    assert!(!lock(&red.sealed).contains(&hour_of(HOUR)));
    assert_eq!(minute(&red)[0].2, 3);
    // After a restart too (the store does not know the hour is partly sealed).
    drop(red);
    let red = RedStore::open(&db, 0).expect("reopen");
    assert_eq!(minute(&red)[0].2, 3);

    // The next checkpoint seals them in.
    red.checkpoint(&db, after).expect("checkpoint");
    assert_eq!(per_bucket_items(&db), 0);
    let sealed = minute(&red);
    assert_eq!((sealed[0].2, sealed[1].2), (3, 1));
    let slowest = red
        .read(&[0], Resolution::Minute, HOUR, HOUR + 60)
        .expect("read")[0]
        .cell
        .slowest
        .clone();
    assert_eq!(slowest.len(), 1, "rolled-up cells keep one exemplar");
    assert_eq!(slowest[0].trace_id, TraceId([200; 16]));
    let ten_seconds = red
        .read(&[0], Resolution::TenSeconds, HOUR, HOUR + 10)
        .expect("read");
    assert_eq!(ten_seconds[0].cell.num_calls, 2);
    assert_eq!(ten_seconds[0].cell.slowest.len(), 2);
}

#[test]
fn expiry_and_the_fine_horizon_drop_sealed_values() {
    let db = sled::Config::new().temporary(true).open().expect("sled");
    let red = RedStore::open(&db, 0).expect("open");
    let after = HOUR + 3600 + SEAL_GRACE_SECS;
    fill(&red, after);
    red.checkpoint(&db, after).expect("checkpoint");
    assert_eq!(
        cells(&red, Resolution::TenSeconds, (HOUR, HOUR + 3600)).len(),
        180
    );

    // Past the fine horizon the sealed 10 s values go; the others stay.
    red.checkpoint(&db, HOUR + FINE_HORIZON_SECS + 2 * 3600)
        .expect("checkpoint");
    assert!(cells(&red, Resolution::TenSeconds, (HOUR, HOUR + 3600)).is_empty());
    assert_eq!(red.size().expect("size").num_sealed_values, 6);
    assert_eq!(
        cells(&red, Resolution::Minute, (HOUR, HOUR + 3600)).len(),
        120
    );

    red.expire_before(&db, hour_of(HOUR) + 1).expect("expire");
    assert!(cells(&red, Resolution::Minute, (HOUR, HOUR + 3600)).is_empty());
    assert_eq!(red.size().expect("size"), crate::store::RedSize::default());
    assert!(!lock(&red.sealed).contains(&hour_of(HOUR)));
}

#[test]
fn damaged_sealed_values_are_skipped_and_replaced() {
    let db = sled::Config::new().temporary(true).open().expect("sled");
    let red = RedStore::open(&db, 0).expect("open");
    let after = HOUR + 3600 + SEAL_GRACE_SECS;
    fill(&red, after);
    red.checkpoint(&db, after).expect("checkpoint");
    let tree = db.open_tree(tree_name(hour_of(HOUR))).expect("tree");
    let key = sealed_key(Resolution::Minute, 0);
    let value = tree.get(key).expect("get").expect("sealed");

    // Cut in half: the cells before the damage are read, the rest skipped.
    tree.insert(key, &value[..value.len() / 2]).expect("damage");
    let read = cells(&red, Resolution::Minute, (HOUR, HOUR + 3600));
    let of_zero = read.iter().filter(|cell| cell.0 == 0).count();
    assert!(0 < of_zero && of_zero < 60, "{of_zero}");
    assert_eq!(read.iter().filter(|cell| cell.0 == 1).count(), 60);

    // Garbage: nothing of it, and no error.
    tree.insert(key, &[0xff, 1, 2, 3][..]).expect("damage");
    let read = cells(&red, Resolution::Minute, (HOUR, HOUR + 3600));
    assert_eq!(read.iter().filter(|cell| cell.0 == 0).count(), 0);
    assert_eq!(read.len(), 60);

    // A damaged per-bucket cell is skipped too, and sealing replaces both.
    let late = cell_key(Resolution::Minute, 0, HOUR + 60);
    tree.insert(late, &[1, 0xff][..]).expect("damage");
    drop(red);
    let red = RedStore::open(&db, 0).expect("reopen");
    assert_eq!(
        cells(&red, Resolution::Minute, (HOUR, HOUR + 3600)).len(),
        60
    );
    red.checkpoint(&db, after).expect("checkpoint");
    assert_eq!(per_bucket_items(&db), 0);
    let decoded = cell_codec::decode_sealed(
        &tree.get(key).expect("get").expect("value"),
        0..3600,
        |_, _| {},
    );
    assert_eq!(decoded.expect("a sound value"), 0);
}
