//! Per-span self time and critical-path time, and the call frames of a trace:
//! spans merged by (service, operation, path from the root), the shape a
//! flamegraph draws and a comparison matches.

use std::collections::HashMap;

use crate::model::Span;
use crate::query::tree::TraceTree;

/// Time one span spent outside its children, in µs: its duration minus the union
/// of its children's intervals clipped to it. Overlapping (parallel) children are
/// counted once, so self time is never negative and never double-subtracted.
pub(crate) fn self_times_us(tree: &TraceTree, spans: &[Span]) -> Vec<u64> {
    let rows = &tree.rows;
    // Children per row, in preorder (so by start time).
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    for (index, row) in rows.iter().enumerate() {
        if let Some(parent) = row.parent_row {
            children[parent].push(index);
        }
    }
    rows.iter()
        .enumerate()
        .map(|(index, row)| {
            let span = &spans[row.span_index];
            let (start, end) = (
                span.start_unix_nanos,
                span.end_unix_nanos.max(span.start_unix_nanos),
            );
            let mut covered = 0u64;
            let mut reach = start;
            for &child in &children[index] {
                let child_span = &spans[rows[child].span_index];
                let child_start = child_span.start_unix_nanos.clamp(start, end).max(reach);
                let child_end = child_span.end_unix_nanos.clamp(start, end);
                if child_end > child_start {
                    covered += child_end - child_start;
                    reach = child_end;
                }
            }
            (end - start - covered) / 1000
        })
        .collect()
}

/// The µs of each row that lie on the critical path (its own sections, not its children's).
pub(crate) fn critical_times_us(tree: &TraceTree) -> Vec<u64> {
    tree.rows
        .iter()
        .map(|row| {
            row.critical_sections_us
                .iter()
                .map(|(start, end)| end.saturating_sub(*start))
                .sum()
        })
        .collect()
}

/// Spans of one trace merged by (service, operation) under the same parent frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) parent: Option<usize>,
    pub(crate) depth: u32,
    pub(crate) service: String,
    pub(crate) operation: String,
    pub(crate) num_spans: u64,
    pub(crate) num_errors: u64,
    /// Sum of the spans' durations.
    pub(crate) duration_us: u64,
    /// Sum of the spans' self times.
    pub(crate) self_us: u64,
    /// Sum of the spans' own time on the critical path.
    pub(crate) critical_us: u64,
}

/// Frames in preorder: a frame precedes its children, children in the order their
/// first span starts. `rows[i]`'s frame is `frame_of_row[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frames {
    pub(crate) frames: Vec<Frame>,
    pub(crate) frame_of_row: Vec<usize>,
}

impl Frames {
    /// Children of every frame, in order.
    pub(crate) fn children(&self) -> Vec<Vec<usize>> {
        let mut children = vec![Vec::new(); self.frames.len()];
        for (index, frame) in self.frames.iter().enumerate() {
            if let Some(parent) = frame.parent {
                children[parent].push(index);
            }
        }
        children
    }

    /// Roots, in order.
    pub(crate) fn roots(&self) -> Vec<usize> {
        (0..self.frames.len())
            .filter(|&index| self.frames[index].parent.is_none())
            .collect()
    }
}

pub(crate) fn build(tree: &TraceTree, spans: &[Span]) -> Frames {
    let self_us = self_times_us(tree, spans);
    let critical_us = critical_times_us(tree);
    // Frames in creation order first; a parent frame is always created before its
    // children, but a subtree is not contiguous until the preorder pass below.
    let mut created: Vec<Frame> = Vec::new();
    let mut by_key: HashMap<(Option<usize>, &str, &str), usize> = HashMap::new();
    let mut frame_of_row = Vec::with_capacity(tree.rows.len());
    for (index, row) in tree.rows.iter().enumerate() {
        let span = &spans[row.span_index];
        let parent = row.parent_row.map(|parent_row| frame_of_row[parent_row]);
        let key = (
            parent,
            span.resource.service_name.as_str(),
            span.name.as_str(),
        );
        let frame = *by_key.entry(key).or_insert_with(|| {
            created.push(Frame {
                parent,
                depth: row.depth,
                service: span.resource.service_name.clone(),
                operation: span.name.clone(),
                num_spans: 0,
                num_errors: 0,
                duration_us: 0,
                self_us: 0,
                critical_us: 0,
            });
            created.len() - 1
        });
        let entry = &mut created[frame];
        entry.num_spans += 1;
        entry.num_errors += u64::from(span.is_error());
        entry.duration_us += row.duration_us;
        entry.self_us += self_us[index];
        entry.critical_us += critical_us[index];
        frame_of_row.push(frame);
    }
    // Renumber into preorder, iteratively.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); created.len()];
    let mut roots = Vec::new();
    for (index, frame) in created.iter().enumerate() {
        match frame.parent {
            Some(parent) => children[parent].push(index),
            None => roots.push(index),
        }
    }
    let mut new_index = vec![usize::MAX; created.len()];
    let mut order = Vec::with_capacity(created.len());
    let mut stack: Vec<usize> = roots.into_iter().rev().collect();
    while let Some(frame) = stack.pop() {
        new_index[frame] = order.len();
        order.push(frame);
        stack.extend(children[frame].iter().rev());
    }
    let frames = order
        .iter()
        .map(|&old| {
            let mut frame = created[old].clone();
            frame.parent = frame.parent.map(|parent| new_index[parent]);
            frame
        })
        .collect();
    Frames {
        frames,
        frame_of_row: frame_of_row.into_iter().map(|old| new_index[old]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::tree;
    use crate::query::views::test_spans::TraceSpec;

    #[test]
    fn self_time_counts_overlapping_children_once() {
        // root 0..100 ms; two parallel children 10..60 and 40..90; a child that
        // runs past the root's end (skew) counts only inside the root.
        let spans = TraceSpec::new()
            .span(0, None, "front", "GET", 0, 100)
            .span(1, Some(0), "front", "a", 10, 60)
            .span(2, Some(0), "front", "b", 40, 90)
            .span(3, Some(1), "db", "q", 50, 120)
            .build();
        let tree = tree::build(&spans);
        let by_name: HashMap<&str, u64> = tree
            .rows
            .iter()
            .zip(self_times_us(&tree, &spans))
            .map(|(row, us)| (spans[row.span_index].name.as_str(), us))
            .collect();
        assert_eq!(by_name["GET"], 20_000, "100 − the union 10..90");
        assert_eq!(by_name["a"], 40_000, "50 − q clipped to 50..60");
        assert_eq!(by_name["b"], 50_000);
        assert_eq!(by_name["q"], 70_000);
    }

    #[test]
    fn frames_merge_siblings_by_service_and_operation_in_preorder() {
        let spans = TraceSpec::new()
            .span(0, None, "front", "GET", 0, 100)
            .span(1, Some(0), "cart", "load", 5, 20)
            .span(2, Some(1), "db", "SELECT", 6, 10)
            .span(3, Some(0), "pay", "charge", 25, 40)
            .span(4, Some(0), "cart", "load", 50, 70)
            .span(5, Some(4), "db", "SELECT", 51, 60)
            .span(6, Some(3), "db", "SELECT", 26, 30)
            .build();
        let tree = tree::build(&spans);
        let frames = build(&tree, &spans);
        let shape: Vec<(u32, &str, &str, u64, u64)> = frames
            .frames
            .iter()
            .map(|f| {
                (
                    f.depth,
                    f.service.as_str(),
                    f.operation.as_str(),
                    f.num_spans,
                    f.duration_us,
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (0, "front", "GET", 1, 100_000),
                (1, "cart", "load", 2, 35_000),
                (2, "db", "SELECT", 2, 13_000),
                (1, "pay", "charge", 1, 15_000),
                (2, "db", "SELECT", 1, 4_000),
            ]
        );
        assert_eq!(frames.frames[2].parent, Some(1));
        assert_eq!(frames.frames[4].parent, Some(3));
        assert_eq!(frames.frame_of_row.len(), spans.len());
    }
}
