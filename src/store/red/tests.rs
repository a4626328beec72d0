use super::*;
use crate::model::{Span, TraceId};

fn span(trace: u8, start_secs: u64, duration_nanos: u64) -> Span {
    let mut span = crate::store::tests::span(trace, 1, "svc", None);
    span.trace_id = TraceId([trace; 16]);
    span.start_unix_nanos = start_secs * 1_000_000_000;
    span.end_unix_nanos = span.start_unix_nanos + duration_nanos;
    span
}

#[test]
fn cells_are_the_same_before_and_after_a_checkpoint_at_every_resolution() {
    let db = sled::Config::new().temporary(true).open().expect("sled");
    let red = RedStore::open(&db, 0).expect("open");
    let base = 1_800_000_000; // a multiple of 600 s
    let spans: Vec<Span> = (0..120u64)
        .map(|i| span(i as u8, base + i, 1_000 * (i + 1)))
        .collect();
    let refs: Vec<&Span> = spans.iter().collect();
    let operation_ids: Vec<u32> = (0..120u32).map(|i| i % 2).collect();
    red.add_block(&refs, (&operation_ids, &vec![3; refs.len()]), base);

    let read = |resolution| {
        red.read(&[0, 1], resolution, base, base + 600)
            .expect("read")
            .into_iter()
            .map(|row| (row.operation_id, row.bucket_start_secs, row.cell.num_calls))
            .collect::<Vec<_>>()
    };
    let before: Vec<_> = Resolution::ALL.iter().map(|r| read(*r)).collect();
    assert_eq!(before[0].len(), 2 * 12);
    assert_eq!(
        before[1],
        [
            (0, base, 30),
            (0, base + 60, 30),
            (1, base, 30),
            (1, base + 60, 30)
        ]
    );
    assert_eq!(before[2], [(0, base, 60), (1, base, 60)]);

    // Service 3's cell adds up the pending operation cells before a checkpoint too.
    let pending_service_cell = red
        .service_cell_id(3, spans[0].kind, base)
        .expect("a new store has them");
    let service_calls = |red: &RedStore| -> Vec<u64> {
        red.read(
            &[pending_service_cell],
            Resolution::Minute,
            base,
            base + 600,
        )
        .expect("read")
        .iter()
        .map(|row| row.cell.num_calls)
        .collect()
    };
    assert_eq!(service_calls(&red), [60, 60]);

    // Operations 0 and 1, and service 3's cells: 12 + 2 + 1 more.
    assert_eq!(
        red.checkpoint(&db, base).expect("checkpoint"),
        24 + 4 + 2 + 15
    );
    let kind = spans[0].kind;
    let service_cell = red
        .service_cell_id(3, kind, base)
        .expect("a new store has them");
    assert_eq!(
        red.read(&[service_cell], Resolution::TenMinutes, base, base + 600)
            .expect("read")[0]
            .cell
            .num_calls,
        120
    );
    let after: Vec<_> = Resolution::ALL.iter().map(|r| read(*r)).collect();
    assert_eq!(before, after);
    assert_eq!(service_calls(&red), [60, 60]);

    // A second checkpoint merges with what is stored.
    red.add_block(&refs[..1], (&operation_ids[..1], &[3]), base);
    red.checkpoint(&db, base).expect("checkpoint");
    assert_eq!(read(Resolution::TenMinutes), [(0, base, 61), (1, base, 60)]);

    // Reopening finds the trees; retention drops them.
    drop(red);
    let red = RedStore::open(&db, 0).expect("reopen");
    assert_eq!(
        red.read(&[1], Resolution::TenMinutes, base, base + 600)
            .expect("read")
            .len(),
        1
    );
    red.expire_before(&db, hour_of(base) + 1).expect("expire");
    assert!(red
        .read(&[1], Resolution::TenMinutes, base, base + 600)
        .expect("read")
        .is_empty());
}

#[test]
fn resolution_for_a_step_tiles_it() {
    let now = 1_800_000_000;
    let recent = now - 3600;
    assert_eq!(Resolution::for_step(5, recent, now), Resolution::TenSeconds);
    assert_eq!(
        Resolution::for_step(30, recent, now),
        Resolution::TenSeconds
    );
    assert_eq!(Resolution::for_step(60, recent, now), Resolution::Minute);
    assert_eq!(
        Resolution::for_step(3600, recent, now),
        Resolution::TenMinutes
    );
    assert_eq!(
        Resolution::for_step(90, recent, now),
        Resolution::TenSeconds
    );
    // 10 s cells are gone past the horizon: 1 min cells answer instead.
    let old = now - FINE_HORIZON_SECS - 1;
    assert_eq!(Resolution::for_step(30, old, now), Resolution::Minute);
    assert_eq!(Resolution::for_step(600, old, now), Resolution::TenMinutes);
}

#[test]
fn fine_cells_past_the_horizon_are_deleted_and_rollups_stay() {
    let db = sled::Config::new().temporary(true).open().expect("sled");
    let red = RedStore::open(&db, 0).expect("open");
    let base = 1_800_000_000;
    let spans: Vec<Span> = (0..60u64)
        .map(|i| span(i as u8, base + i * 10, 1_000 * (i + 1)))
        .collect();
    let refs: Vec<&Span> = spans.iter().collect();
    let ids = vec![7u32; refs.len()];
    red.add_block(&refs, (&ids, &vec![3; refs.len()]), base);
    red.checkpoint(&db, base + 600).expect("checkpoint");
    let count = |resolution| {
        red.read(&[7], resolution, base, base + 3600)
            .expect("read")
            .len()
    };
    assert_eq!(count(Resolution::TenSeconds), 60);
    // Rolled-up cells keep one slowest exemplar; 10 s cells keep theirs.
    let minutes = red
        .read(&[7], Resolution::Minute, base, base + 3600)
        .expect("read");
    assert_eq!(minutes.len(), 10);
    assert!(minutes.iter().all(|row| row.cell.slowest.len() == 1));
    assert_eq!(minutes[0].cell.slowest[0].duration_nanos, 6_000);

    // Hours later the 10 s cells are deleted; 1 min and 10 min cells remain whole.
    let later = base + FINE_HORIZON_SECS + 2 * 3600;
    red.checkpoint(&db, later).expect("checkpoint");
    assert_eq!(count(Resolution::TenSeconds), 0);
    assert_eq!(count(Resolution::Minute), 10);
    let calls: u64 = red
        .read(&[7], Resolution::TenMinutes, base, base + 3600)
        .expect("read")
        .iter()
        .map(|row| row.cell.num_calls)
        .sum();
    assert_eq!(calls, 60);

    // A late span for that hour updates the rollups and leaves no 10 s cell.
    red.add_block(&refs[..1], (&ids[..1], &[3]), later);
    red.checkpoint(&db, later).expect("checkpoint");
    assert_eq!(count(Resolution::TenSeconds), 0);
    let first_minute = red
        .read(&[7], Resolution::Minute, base, base + 60)
        .expect("read");
    assert_eq!(first_minute[0].cell.num_calls, 7);
}

#[test]
fn stores_from_before_service_cells_use_them_only_after_they_began() {
    let db = sled::Config::new().temporary(true).open().expect("sled");
    let base = 1_800_000_000;
    db.open_tree(tree_name(hour_of(base)))
        .expect("an old RED tree");
    let red = RedStore::open(&db, base + 5).expect("open");
    assert_eq!(red.service_cell_id(3, SpanKind::Server, base), None);
    assert!(red
        .service_cell_id(3, SpanKind::Server, base + 600)
        .is_some());
    drop(red);
    // The start is kept across restarts.
    let red = RedStore::open(&db, base + 7200).expect("reopen");
    assert_eq!(red.service_cell_id(3, SpanKind::Server, base + 599), None);
    assert!(red
        .service_cell_id(3, SpanKind::Server, base + 600)
        .is_some());
    assert_eq!(
        red.service_cell_id(1 << 27, SpanKind::Server, base + 600),
        None
    );
}
