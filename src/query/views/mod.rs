//! Views of traces beyond the waterfall, all built on [`super::tree`]: merged call
//! frames (flamegraph, compare), per-operation statistics, and "Why slow?" over
//! many traces. Pure code: no I/O, no serde, no HTTP.

pub(crate) mod compare;
pub(crate) mod dependency_layout;
pub(crate) mod flame;
pub(crate) mod frames;
pub(crate) mod stats;
pub(crate) mod why_slow;

#[cfg(test)]
pub(crate) mod test_spans;
