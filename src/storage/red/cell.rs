//! One histogram cell: the spans of one operation (service, kind and name are the
//! catalog's operation id) that started in one time bucket.

use super::sketch::SketchSum;
use super::LatencySketch;
use crate::model::TraceId;

/// How many of the slowest traces a cell remembers.
pub(crate) const NUM_SLOWEST: usize = 3;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedCell {
    pub(crate) num_calls: u64,
    pub(crate) num_errors: u64,
    pub(crate) latency: LatencySketch,
    /// The slowest spans' traces, slowest first, each trace once.
    pub(crate) slowest: Vec<Exemplar>,
    /// The slowest failed span's trace.
    pub(crate) error: Option<Exemplar>,
}

/// A trace behind a cell, with the duration of its span there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    pub(crate) trace_id: TraceId,
    pub(crate) duration_nanos: u64,
}

impl RedCell {
    #[cfg(test)]
    pub(crate) fn add(&mut self, trace_id: TraceId, duration_nanos: u64, is_error: bool) {
        self.latency.add(duration_nanos);
        self.count(trace_id, duration_nanos, is_error);
    }

    /// Counts a call and offers it as an exemplar; the caller adds its duration to
    /// the latency sketch (in bulk, `LatencySketch::add_sorted`).
    pub(crate) fn count(&mut self, trace_id: TraceId, duration_nanos: u64, is_error: bool) {
        self.num_calls += 1;
        let exemplar = Exemplar {
            trace_id,
            duration_nanos,
        };
        if is_error {
            self.num_errors += 1;
            if self
                .error
                .is_none_or(|error| error.duration_nanos < duration_nanos)
            {
                self.error = Some(exemplar);
            }
        }
        self.offer_slowest(exemplar);
    }

    /// Adds `calls` calls that fell in one latency bucket (`None`: zero duration),
    /// `errors` of them failed, with the slowest of them and the slowest failed one
    /// as exemplars: how a backend that counts by SQL fills a cell.
    pub(crate) fn add_bucket(
        &mut self,
        index: Option<i32>,
        (calls, errors): (u64, u64),
        slowest: Option<Exemplar>,
        error: Option<Exemplar>,
    ) {
        self.merge_all_but_latency(&RedCell {
            num_calls: calls,
            num_errors: errors,
            latency: LatencySketch::default(),
            slowest: slowest.into_iter().collect(),
            error,
        });
        match index {
            Some(index) => self.latency.add_to_bucket(index, calls),
            None => self.latency.num_zero += calls,
        }
    }

    pub(crate) fn merge(&mut self, other: &RedCell) {
        self.latency.merge(&other.latency);
        self.merge_all_but_latency(other);
    }

    /// Counts and exemplars of `merge`, without the sketch.
    fn merge_all_but_latency(&mut self, other: &RedCell) {
        self.num_calls += other.num_calls;
        self.num_errors += other.num_errors;
        for exemplar in &other.slowest {
            self.offer_slowest(*exemplar);
        }
        if let Some(error) = other.error {
            if self
                .error
                .is_none_or(|mine| mine.duration_nanos < error.duration_nanos)
            {
                self.error = Some(error);
            }
        }
    }

    /// The duration a call must exceed to become one of the slowest exemplars, once
    /// there are `NUM_SLOWEST` of them (`None` before).
    pub(crate) fn slowest_floor(&self) -> Option<u64> {
        (self.slowest.len() == NUM_SLOWEST).then(|| self.slowest[NUM_SLOWEST - 1].duration_nanos)
    }

    /// Keeps only the `count` slowest exemplars (rolled-up cells keep fewer).
    pub(crate) fn keep_slowest(&mut self, count: usize) {
        self.slowest.truncate(count);
    }

    fn offer_slowest(&mut self, exemplar: Exemplar) {
        // Cheap rejection first: this runs for every span written.
        if self.slowest.len() == NUM_SLOWEST
            && self.slowest[NUM_SLOWEST - 1].duration_nanos >= exemplar.duration_nanos
        {
            return;
        }
        if let Some(existing) = self
            .slowest
            .iter_mut()
            .find(|slow| slow.trace_id == exemplar.trace_id)
        {
            existing.duration_nanos = existing.duration_nanos.max(exemplar.duration_nanos);
        } else {
            self.slowest.push(exemplar);
        }
        self.slowest
            .sort_by_key(|slow| std::cmp::Reverse(slow.duration_nanos));
        self.slowest.truncate(NUM_SLOWEST);
    }
}

/// The sum of many cells, as `RedCell::merge` one by one would give, with the
/// sketch summed densely (`SketchSum`).
#[derive(Debug, Default)]
pub struct RedCellSum {
    /// Counts and exemplars; its sketch stays empty until `finish`.
    cell: RedCell,
    latency: SketchSum,
}

impl RedCellSum {
    pub fn add(&mut self, other: &RedCell) {
        self.cell.merge_all_but_latency(other);
        self.latency.add(&other.latency);
    }

    pub fn finish(self) -> RedCell {
        RedCell {
            latency: self.latency.finish(),
            ..self.cell
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_the_slowest_traces() {
        let mut cell = RedCell::default();
        for (i, duration) in [5_000u64, 0, 90_000, 12, 90_000, 700_000_000]
            .iter()
            .enumerate()
        {
            cell.add(TraceId([i as u8; 16]), *duration, i % 2 == 1);
        }
        assert_eq!((cell.num_calls, cell.num_errors), (6, 3));
        let slowest: Vec<u64> = cell.slowest.iter().map(|e| e.duration_nanos).collect();
        assert_eq!(slowest, [700_000_000, 90_000, 90_000]);
        assert_eq!(cell.error.map(|e| e.trace_id), Some(TraceId([5; 16])));
    }
}
