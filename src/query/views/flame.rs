//! The flamegraph of one trace: call frames (spans merged by service, operation
//! and path) laid out for two widths, switchable in the UI.
//!
//! - **Critical path:** a frame is as wide as the time its subtree spends on the
//!   trace's critical path. Widths add up to the critical path (the trace's
//!   duration for a single root), and a parallel sibling that never held up the
//!   trace has no width: overlapping siblings are not stacked as if sequential.
//! - **Self time:** a frame is as wide as the self time of its subtree. With
//!   parallel children this adds up to more than the wall-clock duration, and the
//!   total says so; nothing is clipped or counted twice.

use super::frames::{Frame, Frames};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FlameFrame<'a> {
    pub(crate) frame: &'a Frame,
    /// Critical-path µs of the subtree, and where it starts on that axis.
    pub(crate) critical_total_us: u64,
    pub(crate) critical_x_us: u64,
    /// Self-time µs of the subtree, and where it starts on that axis.
    pub(crate) self_total_us: u64,
    pub(crate) self_x_us: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Flamegraph<'a> {
    /// In preorder, as `Frames`.
    pub(crate) frames: Vec<FlameFrame<'a>>,
    pub(crate) critical_total_us: u64,
    pub(crate) self_total_us: u64,
}

pub(crate) fn layout(frames: &Frames) -> Flamegraph<'_> {
    let num = frames.frames.len();
    let mut critical_total = vec![0u64; num];
    let mut self_total = vec![0u64; num];
    // Preorder: one backwards pass sums subtrees.
    for index in (0..num).rev() {
        critical_total[index] += frames.frames[index].critical_us;
        self_total[index] += frames.frames[index].self_us;
        if let Some(parent) = frames.frames[index].parent {
            critical_total[parent] += critical_total[index];
            self_total[parent] += self_total[index];
        }
    }
    // Forwards: a frame starts where its previous sibling ended, or at its parent's start.
    let mut critical_x = vec![0u64; num];
    let mut self_x = vec![0u64; num];
    let mut next_critical = vec![0u64; num];
    let mut next_self = vec![0u64; num];
    let (mut root_critical, mut root_self) = (0u64, 0u64);
    for index in 0..num {
        match frames.frames[index].parent {
            Some(parent) => {
                critical_x[index] = critical_x[parent] + next_critical[parent];
                self_x[index] = self_x[parent] + next_self[parent];
                next_critical[parent] += critical_total[index];
                next_self[parent] += self_total[index];
            }
            None => {
                critical_x[index] = root_critical;
                self_x[index] = root_self;
                root_critical += critical_total[index];
                root_self += self_total[index];
            }
        }
    }
    Flamegraph {
        frames: frames
            .frames
            .iter()
            .enumerate()
            .map(|(index, frame)| FlameFrame {
                frame,
                critical_total_us: critical_total[index],
                critical_x_us: critical_x[index],
                self_total_us: self_total[index],
                self_x_us: self_x[index],
            })
            .collect(),
        critical_total_us: root_critical,
        self_total_us: root_self,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::tree;
    use crate::query::views::frames;
    use crate::query::views::test_spans::TraceSpec;

    #[test]
    fn parallel_siblings_are_not_stacked_on_the_critical_path() {
        // root 0..100; a 10..90 and b 20..60 run in parallel; c after both.
        let spans = TraceSpec::new()
            .span(0, None, "front", "GET", 0, 100)
            .span(1, Some(0), "svc", "a", 10, 90)
            .span(2, Some(0), "svc", "b", 20, 60)
            .span(3, Some(0), "svc", "c", 92, 98)
            .build();
        let tree = tree::build(&spans);
        let frames = frames::build(&tree, &spans);
        let flame = layout(&frames);
        let widths: Vec<(&str, u64, u64, u64, u64)> = flame
            .frames
            .iter()
            .map(|f| {
                (
                    f.frame.operation.as_str(),
                    f.critical_x_us,
                    f.critical_total_us,
                    f.self_x_us,
                    f.self_total_us,
                )
            })
            .collect();
        assert_eq!(
            widths,
            [
                ("GET", 0, 100_000, 0, 140_000),
                ("a", 0, 80_000, 0, 80_000),
                ("b", 80_000, 0, 80_000, 40_000),
                ("c", 80_000, 6_000, 120_000, 6_000),
            ]
        );
        assert_eq!(flame.critical_total_us, 100_000, "the trace's duration");
        assert_eq!(
            flame.self_total_us, 140_000,
            "more than the wall clock: parallel work"
        );
    }
}
