use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::model::{Resource, Scope, SpanKind, StatusCode, TraceId};

const BASE_NANOS: u64 = 1_700_000_000_000_000_000;

/// A span with ID `id`, times in µs after `BASE_NANOS`, service `svc`.
fn span(id: u64, parent: Option<u64>, start_us: u64, end_us: u64) -> Span {
    span_in("svc", id, parent, start_us, end_us)
}

fn span_in(service: &str, id: u64, parent: Option<u64>, start_us: u64, end_us: u64) -> Span {
    Span {
        trace_id: TraceId([7; 16]),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id),
        trace_state: String::new(),
        flags: 0,
        name: format!("op-{id}"),
        kind: SpanKind::Internal,
        start_unix_nanos: BASE_NANOS + start_us * 1000,
        end_unix_nanos: BASE_NANOS + end_us * 1000,
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        status_code: StatusCode::Unset,
        status_message: String::new(),
        resource: Arc::new(Resource {
            service_name: service.to_owned(),
            attributes: Vec::new(),
        }),
        scope: Arc::new(Scope::default()),
    }
}

fn span_id(id: u64) -> SpanId {
    SpanId(id.to_be_bytes())
}

fn id_of(spans: &[Span], row: &TreeRow) -> u64 {
    u64::from_be_bytes(spans[row.span_index].span_id.0)
}

/// The tree drawn as `id@depth/subtree_size` in preorder.
fn shape(spans: &[Span], tree: &TraceTree) -> Vec<String> {
    tree.rows
        .iter()
        .map(|row| format!("{}@{}/{}", id_of(spans, row), row.depth, row.subtree_size))
        .collect()
}

#[track_caller]
fn check_shape(spans: &[Span], expected: &[&str]) -> TraceTree {
    let tree = build(spans);
    assert_eq!(shape(spans, &tree), expected);
    check_invariants(spans, &tree);
    tree
}

fn warnings_of(spans: &[Span], tree: &TraceTree, id: u64) -> Vec<TreeWarning> {
    tree.rows
        .iter()
        .find(|row| id_of(spans, row) == id)
        .map(|row| row.warnings.clone())
        .unwrap_or_default()
}

/// Structural invariants every tree must satisfy, whatever the input.
#[track_caller]
fn check_invariants(spans: &[Span], tree: &TraceTree) {
    let mut seen = vec![false; spans.len()];
    for (index, row) in tree.rows.iter().enumerate() {
        assert!(
            !seen[row.span_index],
            "span {} appears twice",
            row.span_index
        );
        seen[row.span_index] = true;
        match row.parent_row {
            None => assert_eq!(row.depth, 0),
            Some(parent) => {
                assert!(parent < index, "parent row {parent} after child {index}");
                assert_eq!(row.depth, tree.rows[parent].depth + 1);
                let parent_end = parent + tree.rows[parent].subtree_size as usize;
                assert!(
                    index < parent_end,
                    "row {index} outside its parent's subtree"
                );
            }
        }
        let end = index + row.subtree_size as usize;
        assert!(end <= tree.rows.len());
        for inner in &tree.rows[index + 1..end] {
            assert!(
                inner.depth > row.depth,
                "subtree of row {index} not contiguous"
            );
        }
    }
    let num_rows = tree.rows.len() + tree.num_duplicates_dropped;
    assert_eq!(
        num_rows,
        spans.len(),
        "every span is a row or a dropped duplicate"
    );
}

#[test]
fn empty_trace_has_no_rows() {
    let tree = build(&[]);
    assert!(tree.rows.is_empty());
    assert_eq!(tree.max_depth, 0);
    assert!(tree.services.is_empty());
}

#[test]
fn children_are_ordered_by_start_whatever_the_input_order() {
    let spans = [
        span(3, Some(1), 50, 60),
        span(4, Some(2), 12, 18),
        span(1, None, 0, 100),
        span(2, Some(1), 10, 40),
        span(5, Some(1), 20, 30),
    ];
    let tree = check_shape(&spans, &["1@0/5", "2@1/2", "4@2/1", "5@1/1", "3@1/1"]);
    assert_eq!(tree.max_depth, 2);
    assert_eq!(tree.start_unix_nanos, BASE_NANOS);
    assert_eq!(tree.end_unix_nanos, BASE_NANOS + 100_000);
    let offsets: Vec<(u64, u64)> = tree
        .rows
        .iter()
        .map(|row| (row.start_offset_us, row.duration_us))
        .collect();
    assert_eq!(offsets, [(0, 100), (10, 30), (12, 6), (20, 10), (50, 10)]);
    assert!(tree.rows.iter().all(|row| row.warnings.is_empty()));
}

#[test]
fn offsets_truncate_sub_microsecond_times() {
    let mut only = span(1, None, 0, 0);
    only.end_unix_nanos += 999;
    let tree = build(&[only]);
    assert_eq!(tree.rows[0].duration_us, 0);
}

#[test]
fn orphans_become_roots_after_the_real_root() {
    let spans = [
        span(9, Some(77), 0, 5), // parent 77 was never received, and it started first
        span(1, None, 1, 100),
        span(2, Some(1), 10, 20),
        span(3, Some(9), 2, 4),
    ];
    let tree = check_shape(&spans, &["1@0/2", "2@1/1", "9@0/2", "3@1/1"]);
    assert_eq!(
        warnings_of(&spans, &tree, 9),
        [TreeWarning::Orphan {
            missing_parent: span_id(77)
        }]
    );
    assert!(warnings_of(&spans, &tree, 3).is_empty());
}

#[test]
fn a_trace_of_only_orphans_still_renders() {
    let spans = [span(2, Some(1), 10, 20), span(3, Some(1), 5, 8)];
    check_shape(&spans, &["3@0/1", "2@0/1"]);
}

#[test]
fn a_span_that_is_its_own_parent_becomes_a_root() {
    let spans = [span(1, None, 0, 10), span(2, Some(2), 1, 2)];
    let tree = check_shape(&spans, &["1@0/1", "2@0/1"]);
    assert_eq!(
        warnings_of(&spans, &tree, 2),
        [TreeWarning::CycleBroken { parent: span_id(2) }]
    );
}

#[test]
fn a_parent_loop_is_cut_at_its_earliest_span() {
    // 2 → 3 → 4 → 2 is a loop; 5 hangs off it; 1 is an unrelated real root.
    let spans = [
        span(1, None, 0, 100),
        span(3, Some(2), 20, 30),
        span(4, Some(3), 25, 28),
        span(2, Some(4), 10, 50),
        span(5, Some(3), 22, 23),
    ];
    let tree = check_shape(&spans, &["1@0/1", "2@0/4", "3@1/3", "5@2/1", "4@2/1"]);
    assert_eq!(
        warnings_of(&spans, &tree, 2),
        [TreeWarning::CycleBroken { parent: span_id(4) }]
    );
    assert!(warnings_of(&spans, &tree, 3).is_empty());
}

#[test]
fn two_separate_loops_are_both_cut() {
    let spans = [
        span(1, Some(2), 0, 10),
        span(2, Some(1), 5, 8),
        span(3, Some(4), 20, 30),
        span(4, Some(3), 21, 22),
    ];
    check_shape(&spans, &["1@0/2", "2@1/1", "3@0/2", "4@1/1"]);
}

#[test]
fn exact_duplicates_are_dropped() {
    let spans = [
        span(1, None, 0, 10),
        span(2, Some(1), 1, 2),
        span(2, Some(1), 1, 2),
    ];
    let tree = check_shape(&spans, &["1@0/2", "2@1/1"]);
    assert_eq!(tree.num_duplicates_dropped, 1);
    assert!(warnings_of(&spans, &tree, 2).is_empty());
}

#[test]
fn distinct_spans_sharing_an_id_are_kept_and_the_earliest_owns_the_id() {
    let spans = [
        span(1, None, 0, 100),
        span(2, Some(1), 50, 60), // later: a second span with ID 2
        span(2, Some(1), 10, 20),
        span(3, Some(2), 12, 15), // so this child hangs under the earlier one
    ];
    let tree = check_shape(&spans, &["1@0/4", "2@1/2", "3@2/1", "2@1/1"]);
    assert_eq!(tree.num_duplicates_dropped, 0);
    assert_eq!(tree.rows[1].span_index, 2);
    assert_eq!(tree.rows[1].warnings, [TreeWarning::DuplicateSpanId]);
    assert_eq!(tree.rows[3].warnings, [TreeWarning::DuplicateSpanId]);
}

#[test]
fn clock_skew_is_warned_about_in_both_directions() {
    let spans = [
        span(1, None, 10, 100),
        span(2, Some(1), 4, 50),   // starts 6µs early
        span(3, Some(1), 60, 103), // ends 3µs late
        span(4, Some(1), 20, 30),  // fine
    ];
    let tree = check_shape(&spans, &["1@0/4", "2@1/1", "4@1/1", "3@1/1"]);
    assert_eq!(
        warnings_of(&spans, &tree, 2),
        [TreeWarning::StartsBeforeParent { by_us: 6 }]
    );
    assert_eq!(
        warnings_of(&spans, &tree, 3),
        [TreeWarning::EndsAfterParent { by_us: 3 }]
    );
    assert!(warnings_of(&spans, &tree, 4).is_empty());
    assert_eq!(
        tree.rows[1].start_offset_us, 0,
        "offsets count from the earliest span"
    );
}

#[test]
fn warnings_read_as_sentences() {
    let text = TreeWarning::Orphan {
        missing_parent: span_id(0xab),
    }
    .to_string();
    assert_eq!(
        text,
        "parent span 00000000000000ab is not in this trace; shown as a root"
    );
    assert!(TreeWarning::StartsBeforeParent { by_us: 6 }
        .to_string()
        .starts_with("starts 6µs before its parent"));
}

/// Critical path sections per span ID, in µs.
fn critical_path(spans: &[Span]) -> Vec<(u64, Vec<(u64, u64)>)> {
    let tree = build(spans);
    check_invariants(spans, &tree);
    tree.rows
        .iter()
        .filter(|row| row.on_critical_path())
        .map(|row| (id_of(spans, row), row.critical_sections_us.clone()))
        .collect()
}

#[test]
fn critical_path_follows_the_last_finishing_child() {
    // B overlaps A and finishes last, so A is off the path.
    let spans = [
        span(1, None, 0, 100),
        span(2, Some(1), 10, 40),
        span(3, Some(1), 30, 90),
    ];
    assert_eq!(
        critical_path(&spans),
        [(1, vec![(0, 30), (90, 100)]), (3, vec![(30, 90)])]
    );
}

#[test]
fn critical_path_chains_sequential_children_and_descends() {
    let spans = [
        span(1, None, 0, 100),
        span(2, Some(1), 10, 40),
        span(3, Some(1), 50, 90),
        span(4, Some(3), 55, 70),
        span(5, Some(3), 60, 65), // inside 4's time but a sibling: off the path
    ];
    assert_eq!(
        critical_path(&spans),
        [
            (1, vec![(0, 10), (40, 50), (90, 100)]),
            (2, vec![(10, 40)]),
            (3, vec![(50, 55), (70, 90)]),
            (4, vec![(55, 70)]),
        ]
    );
}

#[test]
fn critical_path_clamps_children_to_their_parent() {
    let spans = [
        span(1, None, 0, 100),
        span(2, Some(1), 80, 150), // overruns the root: counts only up to 100
        span(3, Some(1), 120, 130), // wholly after the root: ignored
        span(4, Some(1), 10, 20),
    ];
    assert_eq!(
        critical_path(&spans),
        [
            (1, vec![(0, 10), (20, 80)]),
            (4, vec![(10, 20)]),
            (2, vec![(80, 100)])
        ]
    );
}

#[test]
fn critical_path_covers_only_the_first_root() {
    let spans = [span(1, None, 0, 10), span(2, Some(99), 20, 30)];
    assert_eq!(critical_path(&spans), [(1, vec![(0, 10)])]);
}

#[test]
fn services_are_counted_with_errors() {
    let mut failing = span_in("db", 3, Some(1), 2, 3);
    failing.status_code = StatusCode::Error;
    let spans = [
        span_in("web", 1, None, 0, 10),
        span_in("db", 2, Some(1), 1, 2),
        failing,
    ];
    let tree = build(&spans);
    assert_eq!(
        tree.services,
        [
            ServiceCount {
                name: "db".to_owned(),
                num_spans: 2,
                num_errors: 1
            },
            ServiceCount {
                name: "web".to_owned(),
                num_spans: 1,
                num_errors: 0
            },
        ]
    );
}

/// A small deterministic generator, so the messy-input test needs no extra crate.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn messy_random_traces_keep_every_invariant() {
    let mut random = Lcg(42);
    for _ in 0..200 {
        let num_spans = 1 + random.below(60);
        let spans: Vec<Span> = (0..num_spans)
            .map(|index| {
                // IDs from a small range force duplicates; parents from a wider
                // range force orphans, self-parents and loops.
                let id = 1 + random.below(num_spans);
                let parent = match random.below(10) {
                    0 => None,
                    _ => Some(1 + random.below(num_spans + 5)),
                };
                let start = random.below(1000);
                let _ = index;
                span(id, parent, start, start + random.below(500))
            })
            .collect();
        let tree = build(&spans);
        check_invariants(&spans, &tree);
        let first_root_critical = tree.rows.first().is_none_or(TreeRow::on_critical_path);
        assert!(
            first_root_critical,
            "the first root is always on its own critical path"
        );
    }
}

/// Generous enough for a loaded debug build, far below what O(n²) would take.
const BIG_TRACE_BUDGET: Duration = Duration::from_secs(5);

#[test]
fn a_50k_deep_chain_builds_without_recursion() {
    let spans: Vec<Span> = (1..=50_000)
        .map(|id| span(id, (id > 1).then(|| id - 1), id, 200_000 - id))
        .collect();
    let started = Instant::now();
    let tree = build(&spans);
    let elapsed = started.elapsed();
    assert_eq!(tree.max_depth, 49_999);
    assert_eq!(tree.rows[0].subtree_size, 50_000);
    assert!(tree.rows.iter().all(TreeRow::on_critical_path));
    assert!(elapsed < BIG_TRACE_BUDGET, "took {elapsed:?}");
}

#[test]
fn a_50k_wide_trace_builds_fast() {
    let mut spans = vec![span(1, None, 0, 100_000)];
    // Overlapping siblings with a descending end: the critical-path cursor must not rescan.
    spans.extend((2..=50_000).map(|id| span(id, Some(1), id, 100_000 - id)));
    let started = Instant::now();
    let tree = build(&spans);
    let elapsed = started.elapsed();
    check_invariants(&spans, &tree);
    assert_eq!(tree.max_depth, 1);
    assert_eq!(id_of(&spans, &tree.rows[1]), 2);
    assert!(elapsed < BIG_TRACE_BUDGET, "took {elapsed:?}");
}
