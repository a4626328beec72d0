//! The span tree of one trace, flattened into preorder rows for the web UI.
//!
//! Everything the waterfall needs that costs more than a lookup is computed here,
//! once, on the server: parent resolution, child order, depth, subtree sizes,
//! offsets from the trace start, the critical path and the warnings Jaeger shows
//! (orphans, clock skew, duplicate IDs). The UI then only slices rows.
//!
//! Spans come from the outside world, so no shape is trusted: parents may be
//! missing (orphans become roots), parent chains may loop (the loop is cut at its
//! earliest span), and span IDs may repeat (exact repeats from exporter retries are
//! dropped; distinct spans sharing an ID are all kept, the earliest owning the ID).
//! Every step is iterative, so a 50,000-deep chain cannot overflow the stack, and
//! the whole build is O(n log n), dominated by sorting.
//!
//! This module is pure: no I/O, no serde, no HTTP.

use std::collections::HashMap;
use std::fmt;

use crate::model::{Span, SpanId};

/// The flattened tree of one trace.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TraceTree {
    /// Every kept span exactly once, in preorder: a parent comes before its
    /// children, children are ordered by start time, and a subtree is contiguous.
    pub(crate) rows: Vec<TreeRow>,
    /// The earliest span start, which every offset is relative to.
    pub(crate) start_unix_nanos: u64,
    /// The latest span end.
    pub(crate) end_unix_nanos: u64,
    /// The deepest row's depth; a root alone is depth 0.
    pub(crate) max_depth: u32,
    /// Span and error counts per service, sorted by service name.
    pub(crate) services: Vec<ServiceCount>,
    /// Spans removed because they repeated another span exactly.
    pub(crate) num_duplicates_dropped: usize,
}

/// One span's place in the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TreeRow {
    /// Index into the slice given to [`build`].
    pub(crate) span_index: usize,
    /// Row index of the parent, `None` for roots (including orphans).
    pub(crate) parent_row: Option<usize>,
    pub(crate) depth: u32,
    /// Rows in this subtree, this row included: collapsing skips `subtree_size - 1` rows.
    pub(crate) subtree_size: u32,
    pub(crate) start_offset_us: u64,
    pub(crate) duration_us: u64,
    /// Parts of this span that lie on the critical path, as `[start, end)` offsets
    /// in µs from the trace start; empty when the span is not on it.
    pub(crate) critical_sections_us: Vec<(u64, u64)>,
    pub(crate) warnings: Vec<TreeWarning>,
}

impl TreeRow {
    pub(crate) fn on_critical_path(&self) -> bool {
        !self.critical_sections_us.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceCount {
    pub(crate) name: String,
    pub(crate) num_spans: usize,
    pub(crate) num_errors: usize,
}

/// Something odd about one span, shown in its detail panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TreeWarning {
    /// The parent span is not in the trace; the span is shown as a root.
    Orphan { missing_parent: SpanId },
    /// The parent chain loops back to this span; it is shown as a root instead.
    CycleBroken { parent: SpanId },
    /// Another span in the trace has the same ID; links to the ID go to the earliest.
    DuplicateSpanId,
    /// The span starts before its parent does, often a sign of clock skew.
    StartsBeforeParent { by_us: u64 },
    /// The span ends after its parent does: clock skew, or work the parent did not wait for.
    EndsAfterParent { by_us: u64 },
}

impl fmt::Display for TreeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeWarning::Orphan { missing_parent } => write!(
                f,
                "parent span {missing_parent} is not in this trace; shown as a root"
            ),
            TreeWarning::CycleBroken { parent } => write!(
                f,
                "parent span {parent} is its own descendant (a reference cycle); shown as a root"
            ),
            TreeWarning::DuplicateSpanId => {
                f.write_str("another span in this trace has the same span ID")
            }
            TreeWarning::StartsBeforeParent { by_us } => write!(
                f,
                "starts {by_us}µs before its parent; the clocks may be skewed"
            ),
            TreeWarning::EndsAfterParent { by_us } => write!(
                f,
                "ends {by_us}µs after its parent; the clocks may be skewed, or the parent did not wait for it"
            ),
        }
    }
}

/// Builds the tree of one trace's spans. The spans may come in any order.
pub(crate) fn build(spans: &[Span]) -> TraceTree {
    let start_unix_nanos = spans
        .iter()
        .map(|span| span.start_unix_nanos)
        .min()
        .unwrap_or(0);
    let end_unix_nanos = spans
        .iter()
        .map(|span| span.end_unix_nanos)
        .max()
        .unwrap_or(0);

    // Earliest first, ties by input position: this decides which of several spans
    // sharing an ID owns it, and gives roots and children their display order.
    let mut by_start: Vec<usize> = (0..spans.len()).collect();
    by_start.sort_by_key(|&index| (spans[index].start_unix_nanos, index));

    let mut warnings: Vec<Vec<TreeWarning>> = vec![Vec::new(); spans.len()];
    let mut kept = vec![true; spans.len()];
    let mut owner_of: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
    let mut num_duplicates_dropped = 0;
    for &index in &by_start {
        match owner_of.get(&spans[index].span_id) {
            None => {
                owner_of.insert(spans[index].span_id, index);
            }
            Some(&owner) if spans[owner] == spans[index] => {
                kept[index] = false;
                num_duplicates_dropped += 1;
            }
            Some(&owner) => {
                warnings[index].push(TreeWarning::DuplicateSpanId);
                if !warnings[owner].contains(&TreeWarning::DuplicateSpanId) {
                    warnings[owner].push(TreeWarning::DuplicateSpanId);
                }
            }
        }
    }

    let mut parent: Vec<Option<usize>> = vec![None; spans.len()];
    for &index in &by_start {
        if !kept[index] {
            continue;
        }
        let Some(parent_id) = spans[index].parent_span_id else {
            continue;
        };
        match owner_of.get(&parent_id) {
            Some(&parent_index) if parent_index != index => parent[index] = Some(parent_index),
            Some(_) => warnings[index].push(TreeWarning::CycleBroken { parent: parent_id }),
            None => warnings[index].push(TreeWarning::Orphan {
                missing_parent: parent_id,
            }),
        }
    }

    // Children lists in start order, built by walking spans in start order.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for &index in &by_start {
        if let (true, Some(parent_index)) = (kept[index], parent[index]) {
            children[parent_index].push(index);
        }
    }

    // Spans that never had a parent come first, then orphans, each in start order,
    // so the real root heads the waterfall even when an orphan started earlier.
    let mut roots: Vec<usize> = by_start
        .iter()
        .copied()
        .filter(|&index| kept[index] && parent[index].is_none())
        .collect();
    roots.sort_by_key(|&index| spans[index].parent_span_id.is_some());

    let mut order = Preorder::new(spans.len());
    for &root in &roots {
        order.walk(root, &children);
    }
    // Whatever is still unvisited hangs off a parent-pointer loop. Cut each loop
    // at its earliest span, which becomes a root, and walk from there.
    for &index in &by_start {
        if !kept[index] || order.row_of[index].is_some() {
            continue;
        }
        let cut = earliest_on_loop(index, &parent, spans);
        if let Some(parent_index) = parent[cut].take() {
            warnings[cut].push(TreeWarning::CycleBroken {
                parent: spans[parent_index].span_id,
            });
        }
        order.walk(cut, &children);
    }

    let mut rows: Vec<TreeRow> = order
        .visits
        .iter()
        .map(|visit| {
            let span = &spans[visit.span_index];
            TreeRow {
                span_index: visit.span_index,
                parent_row: visit.parent_row,
                depth: visit.depth,
                subtree_size: 1,
                start_offset_us: (span.start_unix_nanos - start_unix_nanos) / 1000,
                duration_us: span.duration_nanos() / 1000,
                critical_sections_us: Vec::new(),
                warnings: std::mem::take(&mut warnings[visit.span_index]),
            }
        })
        .collect();

    // Preorder puts every descendant after its ancestor, so one backwards pass
    // accumulates subtree sizes.
    for row_index in (0..rows.len()).rev() {
        if let Some(parent_row) = rows[row_index].parent_row {
            rows[parent_row].subtree_size += rows[row_index].subtree_size;
        }
    }

    add_clock_skew_warnings(&mut rows, spans);
    mark_critical_path(&mut rows, spans, start_unix_nanos);

    TraceTree {
        max_depth: rows.iter().map(|row| row.depth).max().unwrap_or(0),
        services: count_services(&rows, spans),
        rows,
        start_unix_nanos,
        end_unix_nanos,
        num_duplicates_dropped,
    }
}

struct Visit {
    span_index: usize,
    parent_row: Option<usize>,
    depth: u32,
}

/// An iterative preorder walk that never visits a span twice, so a loop in the
/// parent pointers cannot make it spin.
struct Preorder {
    visits: Vec<Visit>,
    row_of: Vec<Option<usize>>,
    stack: Vec<Visit>,
}

impl Preorder {
    fn new(num_spans: usize) -> Preorder {
        Preorder {
            visits: Vec::with_capacity(num_spans),
            row_of: vec![None; num_spans],
            stack: Vec::new(),
        }
    }

    fn walk(&mut self, root: usize, children: &[Vec<usize>]) {
        self.stack.push(Visit {
            span_index: root,
            parent_row: None,
            depth: 0,
        });
        while let Some(visit) = self.stack.pop() {
            if self.row_of[visit.span_index].is_some() {
                continue;
            }
            let row = self.visits.len();
            self.row_of[visit.span_index] = Some(row);
            // Reversed, so the earliest child is popped first.
            for &child in children[visit.span_index].iter().rev() {
                if self.row_of[child].is_none() {
                    self.stack.push(Visit {
                        span_index: child,
                        parent_row: Some(row),
                        depth: visit.depth + 1,
                    });
                }
            }
            self.visits.push(visit);
        }
    }
}

/// Follows parent pointers from `start`, which must lead into a loop, and returns
/// the loop's earliest-starting span.
fn earliest_on_loop(start: usize, parent: &[Option<usize>], spans: &[Span]) -> usize {
    // Floyd's tortoise and hare finds a span on the loop in O(length) without
    // allocating; the loop is then walked once to pick its earliest span.
    let step = |index: usize| parent[index].unwrap_or(index);
    let (mut slow, mut fast) = (step(start), step(step(start)));
    while slow != fast {
        slow = step(slow);
        fast = step(step(fast));
    }
    let mut earliest = slow;
    let mut current = step(slow);
    while current != slow {
        let key = |index: usize| (spans[index].start_unix_nanos, index);
        if key(current) < key(earliest) {
            earliest = current;
        }
        current = step(current);
    }
    earliest
}

fn add_clock_skew_warnings(rows: &mut [TreeRow], spans: &[Span]) {
    for row_index in 0..rows.len() {
        let Some(parent_row) = rows[row_index].parent_row else {
            continue;
        };
        let child = &spans[rows[row_index].span_index];
        let parent = &spans[rows[parent_row].span_index];
        if child.start_unix_nanos < parent.start_unix_nanos {
            let by_us = (parent.start_unix_nanos - child.start_unix_nanos).div_ceil(1000);
            rows[row_index]
                .warnings
                .push(TreeWarning::StartsBeforeParent { by_us });
        }
        if child.end_unix_nanos > parent.end_unix_nanos {
            let by_us = (child.end_unix_nanos - parent.end_unix_nanos).div_ceil(1000);
            rows[row_index]
                .warnings
                .push(TreeWarning::EndsAfterParent { by_us });
        }
    }
}

/// Marks the critical path of the first root, as Jaeger UI computes it: walking
/// back from the root's end, the path runs through the child that finished last,
/// recursively, then resumes in the parent before that child started.
///
/// As in Jaeger, children are first clamped to their parent's time span (and
/// dropped from consideration when they lie wholly outside it), so a skewed or
/// detached child cannot stretch the path beyond its parent.
fn mark_critical_path(rows: &mut [TreeRow], spans: &[Span], trace_start: u64) {
    if rows.is_empty() {
        return;
    }
    let root_size = rows[0].subtree_size as usize;
    // Clamped [start, end] in ns per row of the first root's subtree; `None` for
    // rows excluded because they (or an ancestor) lie outside their parent.
    let mut clamped: Vec<Option<(u64, u64)>> = vec![None; root_size];
    let root_span = &spans[rows[0].span_index];
    clamped[0] = Some((root_span.start_unix_nanos, root_span.end_unix_nanos));
    for row_index in 1..root_size {
        let span = &spans[rows[row_index].span_index];
        let parent_row = rows[row_index].parent_row.unwrap_or(0);
        clamped[row_index] = clamped[parent_row].and_then(|(parent_start, parent_end)| {
            let disjoint = span.start_unix_nanos > parent_end || span.end_unix_nanos < parent_start;
            (!disjoint).then(|| {
                (
                    span.start_unix_nanos.max(parent_start),
                    span.end_unix_nanos.min(parent_end),
                )
            })
        });
    }

    // Each span's considered children sorted by clamped end; a cursor per span
    // walks them from the latest end downwards, because the bound it searches
    // under only ever decreases while that span is being resolved.
    let mut children_by_end: Vec<Vec<usize>> = vec![Vec::new(); root_size];
    for row_index in 1..root_size {
        if clamped[row_index].is_some() {
            let parent_row = rows[row_index].parent_row.unwrap_or(0);
            children_by_end[parent_row].push(row_index);
        }
    }
    for list in &mut children_by_end {
        list.sort_by_key(|&row_index| clamped[row_index].map(|(_, end)| end));
    }
    let mut cursor: Vec<usize> = children_by_end.iter().map(Vec::len).collect();

    let to_us = |nanos: u64| (nanos - trace_start) / 1000;
    let mut sections: Vec<(usize, u64, u64)> = Vec::new();
    // (row, bound): resolve the row's path before `bound`; `None` means its end.
    let mut stack: Vec<(usize, Option<u64>)> = vec![(0, None)];
    while let Some((row_index, bound)) = stack.pop() {
        let Some((start, end)) = clamped[row_index] else {
            continue;
        };
        let bound_end = bound.unwrap_or(end);
        let list = &children_by_end[row_index];
        let mut last_finishing = None;
        while cursor[row_index] > 0 {
            let candidate = list[cursor[row_index] - 1];
            let (_, candidate_end) = clamped[candidate].unwrap_or((0, 0));
            cursor[row_index] -= 1;
            // Jaeger takes any child at first, then only children that ended
            // strictly before the previously chosen child started.
            if bound.is_none() || candidate_end < bound_end {
                last_finishing = Some(candidate);
                break;
            }
        }
        match last_finishing {
            Some(child) => {
                let (child_start, child_end) = clamped[child].unwrap_or((0, 0));
                if child_end != bound_end {
                    sections.push((row_index, child_end, bound_end));
                }
                stack.push((row_index, Some(child_start)));
                stack.push((child, None));
            }
            None => sections.push((row_index, start, bound_end)),
        }
    }

    for (row_index, start, end) in sections {
        rows[row_index]
            .critical_sections_us
            .push((to_us(start), to_us(end)));
    }
    for row in rows.iter_mut() {
        row.critical_sections_us.sort_unstable();
    }
}

fn count_services(rows: &[TreeRow], spans: &[Span]) -> Vec<ServiceCount> {
    let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
    for row in rows {
        let span = &spans[row.span_index];
        let entry = counts.entry(span.service_name()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(span.is_error());
    }
    let mut services: Vec<ServiceCount> = counts
        .into_iter()
        .map(|(name, (num_spans, num_errors))| ServiceCount {
            name: name.to_owned(),
            num_spans,
            num_errors,
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    services
}

#[cfg(test)]
mod tests;
