//! Two traces as one merged tree: call frames matched by (service, operation,
//! path from the root), each marked as only in A, only in B or in both, with the
//! difference in calls and time.

use std::collections::HashMap;

use super::frames::{Frame, Frames};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    OnlyA,
    OnlyB,
    Both,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompareNode<'a> {
    pub(crate) depth: u32,
    pub(crate) service: &'a str,
    pub(crate) operation: &'a str,
    pub(crate) presence: Presence,
    /// Rows in this node's subtree, itself included (for collapsing).
    pub(crate) subtree_size: u32,
    pub(crate) a: Option<&'a Frame>,
    pub(crate) b: Option<&'a Frame>,
}

impl CompareNode<'_> {
    pub(crate) fn num_spans(&self) -> (u64, u64) {
        (
            self.a.map_or(0, |frame| frame.num_spans),
            self.b.map_or(0, |frame| frame.num_spans),
        )
    }

    pub(crate) fn duration_us(&self) -> (u64, u64) {
        (
            self.a.map_or(0, |frame| frame.duration_us),
            self.b.map_or(0, |frame| frame.duration_us),
        )
    }

    pub(crate) fn self_us(&self) -> (u64, u64) {
        (
            self.a.map_or(0, |frame| frame.self_us),
            self.b.map_or(0, |frame| frame.self_us),
        )
    }
}

/// A pair still to visit: (frame in A, frame in B, depth, parent node).
type Pending = (Option<usize>, Option<usize>, u32, Option<usize>);

/// The merged tree in preorder: A's order first, then what only B has.
pub(crate) fn merge<'a>(a: &'a Frames, b: &'a Frames) -> Vec<CompareNode<'a>> {
    let (a_children, b_children) = (a.children(), b.children());
    let mut nodes: Vec<CompareNode<'a>> = Vec::new();
    let mut stack: Vec<Pending> = Vec::new();
    push_pairs(&mut stack, a, &a.roots(), b, &b.roots(), 0, None);
    let mut parent_of: Vec<Option<usize>> = Vec::new();
    while let Some((in_a, in_b, depth, parent)) = stack.pop() {
        let frame_a = in_a.map(|index| &a.frames[index]);
        let frame_b = in_b.map(|index| &b.frames[index]);
        let Some(named) = frame_a.or(frame_b) else {
            continue;
        };
        let node = nodes.len();
        nodes.push(CompareNode {
            depth,
            service: &named.service,
            operation: &named.operation,
            presence: match (frame_a, frame_b) {
                (Some(_), Some(_)) => Presence::Both,
                (Some(_), None) => Presence::OnlyA,
                _ => Presence::OnlyB,
            },
            subtree_size: 1,
            a: frame_a,
            b: frame_b,
        });
        parent_of.push(parent);
        let empty = Vec::new();
        let children_a = in_a.map_or(&empty, |index| &a_children[index]);
        let children_b = in_b.map_or(&empty, |index| &b_children[index]);
        push_pairs(
            &mut stack,
            a,
            children_a,
            b,
            children_b,
            depth + 1,
            Some(node),
        );
    }
    for index in (0..nodes.len()).rev() {
        if let Some(parent) = parent_of[index] {
            nodes[parent].subtree_size += nodes[index].subtree_size;
        }
    }
    nodes
}

/// Pairs up two sibling lists by (service, operation) and pushes them so that
/// they pop in order: A's siblings in A's order, then B's unmatched ones.
fn push_pairs(
    stack: &mut Vec<Pending>,
    a: &Frames,
    siblings_a: &[usize],
    b: &Frames,
    siblings_b: &[usize],
    depth: u32,
    parent: Option<usize>,
) {
    let key = |frame: &Frame| (frame.service.clone(), frame.operation.clone());
    let mut b_by_key: HashMap<(String, String), usize> = siblings_b
        .iter()
        .map(|&index| (key(&b.frames[index]), index))
        .collect();
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = siblings_a
        .iter()
        .map(|&index| (Some(index), b_by_key.remove(&key(&a.frames[index]))))
        .collect();
    pairs.extend(
        siblings_b
            .iter()
            .filter(|&&index| b_by_key.contains_key(&key(&b.frames[index])))
            .map(|&index| (None, Some(index))),
    );
    for (in_a, in_b) in pairs.into_iter().rev() {
        stack.push((in_a, in_b, depth, parent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::tree;
    use crate::query::views::frames;
    use crate::query::views::test_spans::TraceSpec;

    #[test]
    fn merged_tree_marks_presence_and_differences() {
        let fast = TraceSpec::with_id(1)
            .span(0, None, "front", "GET", 0, 100)
            .span(1, Some(0), "db", "SELECT", 10, 30)
            .span(2, Some(0), "cache", "hit", 40, 45)
            .build();
        let slow = TraceSpec::with_id(2)
            .span(0, None, "front", "GET", 0, 400)
            .span(1, Some(0), "db", "SELECT", 10, 30)
            .span(2, Some(0), "db", "SELECT", 40, 80)
            .span(3, Some(0), "cache", "miss", 90, 300)
            .span(4, Some(3), "db", "SELECT", 100, 290)
            .build();
        let (tree_a, tree_b) = (tree::build(&fast), tree::build(&slow));
        let (frames_a, frames_b) = (frames::build(&tree_a, &fast), frames::build(&tree_b, &slow));
        let merged = merge(&frames_a, &frames_b);
        type Shape<'a> = (u32, &'a str, Presence, (u64, u64), (u64, u64), u32);
        let shape: Vec<Shape<'_>> = merged
            .iter()
            .map(|node| {
                (
                    node.depth,
                    node.operation,
                    node.presence,
                    node.num_spans(),
                    node.duration_us(),
                    node.subtree_size,
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (0, "GET", Presence::Both, (1, 1), (100_000, 400_000), 5),
                (1, "SELECT", Presence::Both, (1, 2), (20_000, 60_000), 1),
                (1, "hit", Presence::OnlyA, (1, 0), (5_000, 0), 1),
                (1, "miss", Presence::OnlyB, (0, 1), (0, 210_000), 2),
                (2, "SELECT", Presence::OnlyB, (0, 1), (0, 190_000), 1),
            ]
        );
    }
}
