//! A latency histogram with bounded relative error: sparse logarithmic buckets, as
//! in DDSketch. Bucket `i` holds durations in `(γ^(i-1), γ^i]` nanoseconds with
//! `γ = (1 + α) / (1 - α)`, and reports `2γ^i / (γ + 1)`, which is within `α` of
//! every value in the bucket. Merging two sketches adds their buckets, so rollups
//! lose nothing.

/// The relative accuracy: 1%, half of the 2% the metrics API promises.
const RELATIVE_ACCURACY: f64 = 0.01;
const GAMMA: f64 = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);

/// Counts of durations per logarithmic bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySketch {
    /// Spans that took no time at all.
    pub(crate) num_zero: u64,
    /// `(bucket index, count)`, sorted by index, no zero counts.
    pub(crate) buckets: Vec<(i32, u64)>,
}

impl LatencySketch {
    /// One duration (the write path adds them in bulk: `add_sorted`).
    #[cfg(test)]
    pub(crate) fn add(&mut self, duration_nanos: u64) {
        if duration_nanos == 0 {
            self.num_zero += 1;
            return;
        }
        self.add_to_bucket(bucket_index(duration_nanos), 1);
    }

    pub(super) fn add_to_bucket(&mut self, index: i32, count: u64) {
        match self
            .buckets
            .binary_search_by_key(&index, |(bucket, _)| *bucket)
        {
            Ok(position) => self.buckets[position].1 += count,
            Err(position) => self.buckets.insert(position, (index, count)),
        }
    }

    /// Adds durations sorted ascending: one logarithm per bucket rather than per
    /// duration, and one pass over the buckets (the write path keeps durations raw
    /// and adds them here at checkpoints).
    pub(crate) fn add_sorted(&mut self, sorted: &[u64]) {
        debug_assert!(sorted.is_sorted());
        let num_zero = sorted.partition_point(|duration| *duration == 0);
        self.num_zero += num_zero as u64;
        let mut added: Vec<(i32, u64)> = Vec::new();
        let mut rest = &sorted[num_zero..];
        while let Some(&first) = rest.first() {
            let index = bucket_index(first);
            // Durations clearly below the bucket's upper bound are in it; those
            // within rounding of it go round again and get their own logarithm.
            let upper = GAMMA.powi(index) * (1.0 - 1e-9);
            let count = 1 + rest[1..].partition_point(|duration| *duration as f64 <= upper);
            match added.last_mut() {
                Some((last, last_count)) if *last == index => *last_count += count as u64,
                _ => added.push((index, count as u64)),
            }
            rest = &rest[count..];
        }
        if self.buckets.is_empty() {
            self.buckets = added;
            return;
        }
        self.buckets = merge_sorted(&self.buckets, &added);
    }

    pub(crate) fn merge(&mut self, other: &LatencySketch) {
        self.num_zero += other.num_zero;
        if self.buckets.is_empty() {
            self.buckets.clone_from(&other.buckets);
            return;
        }
        // A few buckets go in place; more are one linear merge of the two sorted
        // lists (inserting each would shift the tail once per bucket).
        if other.buckets.len() <= 2 {
            for &(index, count) in &other.buckets {
                self.add_to_bucket(index, count);
            }
            return;
        }
        self.buckets = merge_sorted(&self.buckets, &other.buckets);
    }

    pub(crate) fn count(&self) -> u64 {
        self.num_zero + self.buckets.iter().map(|(_, count)| count).sum::<u64>()
    }

    /// The nearest-rank `quantile` (0 < q ≤ 1) in nanoseconds, within 1% of the true
    /// value; `None` when empty.
    pub(crate) fn quantile_nanos(&self, quantile: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        // Nearest rank: the smallest value with at least q·n values at or below it.
        let rank = ((quantile * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = self.num_zero;
        if seen >= rank {
            return Some(0.0);
        }
        for &(index, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(bucket_value(index));
            }
        }
        self.buckets.last().map(|(index, _)| bucket_value(*index))
    }

    /// `(representative duration in nanoseconds, count)` per non-empty bucket,
    /// ascending, zero durations first; for heatmaps.
    pub(crate) fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let zero = (self.num_zero > 0).then_some((0.0, self.num_zero));
        zero.into_iter().chain(
            self.buckets
                .iter()
                .map(|&(index, count)| (bucket_value(index), count)),
        )
    }

    /// `(upper bound in nanoseconds, durations at or below it)` per non-empty
    /// bucket, ascending: the distribution, for percentile ranks in the browser.
    pub(crate) fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut seen = self.num_zero;
        let zero = (self.num_zero > 0).then_some((0.0, self.num_zero));
        zero.into_iter()
            .chain(self.buckets.iter().map(|&(index, count)| {
                seen += count;
                (GAMMA.powi(index), seen)
            }))
            .collect()
    }
}

/// Adds up many sketches in one pass over each one's buckets: counts in a dense
/// array indexed by bucket (a series' total over a day of cells, where merging
/// sorted lists one by one would copy the growing total every time).
#[derive(Debug, Default)]
pub(crate) struct SketchSum {
    num_zero: u64,
    counts: Vec<u64>,
}

impl SketchSum {
    pub(crate) fn add(&mut self, sketch: &LatencySketch) {
        self.num_zero += sketch.num_zero;
        for &(index, count) in &sketch.buckets {
            // Indexes are never negative: a duration of 1 ns is bucket 0.
            let index = usize::try_from(index).unwrap_or(0);
            if index >= self.counts.len() {
                self.counts.resize(index + 1, 0);
            }
            self.counts[index] += count;
        }
    }

    pub(crate) fn finish(self) -> LatencySketch {
        LatencySketch {
            num_zero: self.num_zero,
            buckets: self
                .counts
                .iter()
                .enumerate()
                .filter(|(_, count)| **count > 0)
                .map(|(index, count)| (index as i32, *count))
                .collect(),
        }
    }
}

/// The union of two bucket lists sorted by index, counts of equal indexes added.
fn merge_sorted(mine: &[(i32, u64)], theirs: &[(i32, u64)]) -> Vec<(i32, u64)> {
    let mut merged = Vec::with_capacity(mine.len() + theirs.len());
    let (mut mine, mut theirs) = (mine.iter().peekable(), theirs.iter().peekable());
    loop {
        let next = match (mine.peek(), theirs.peek()) {
            (Some(a), Some(b)) if a.0 == b.0 => {
                let sum = (a.0, a.1 + b.1);
                mine.next();
                theirs.next();
                sum
            }
            (Some(a), Some(b)) if a.0 < b.0 => *mine.next().expect("peeked"),
            (_, Some(_)) => *theirs.next().expect("peeked"),
            (Some(_), None) => *mine.next().expect("peeked"),
            (None, None) => break,
        };
        merged.push(next);
    }
    merged
}

/// `ln(γ)`: a duration's bucket is `ceil(ln(nanoseconds) / ln(γ))`, which a backend
/// that counts by SQL computes itself.
pub(crate) fn ln_gamma() -> f64 {
    GAMMA.ln()
}

fn bucket_index(duration_nanos: u64) -> i32 {
    ((duration_nanos as f64).ln() / GAMMA.ln()).ceil() as i32
}

fn bucket_value(index: i32) -> f64 {
    2.0 * GAMMA.powi(index) / (GAMMA + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_equals_merging_one_by_one() {
        let sketches: Vec<LatencySketch> = (0..50u64)
            .map(|seed| {
                let mut sketch = LatencySketch::default();
                for i in 0..(seed % 7) * 3 {
                    sketch.add((seed * 7_919 + i * 104_729) % 3_000_000_000);
                }
                sketch
            })
            .collect();
        let mut merged = LatencySketch::default();
        let mut sum = SketchSum::default();
        for sketch in &sketches {
            merged.merge(sketch);
            sum.add(sketch);
        }
        assert!(merged.count() > 100);
        assert_eq!(sum.finish(), merged);
    }

    #[test]
    fn quantiles_are_within_one_percent_of_nearest_rank() {
        let mut durations: Vec<u64> = (0..10_000u64)
            .map(|i| 1_000 + (i * i * 7919) % 5_000_000_000)
            .collect();
        let mut sketch = LatencySketch::default();
        for duration in &durations {
            sketch.add(*duration);
        }
        durations.sort_unstable();
        for quantile in [0.01, 0.5, 0.75, 0.95, 0.99, 1.0] {
            let rank = (quantile * durations.len() as f64).ceil() as usize;
            let exact = durations[rank - 1] as f64;
            let estimate = sketch.quantile_nanos(quantile).expect("not empty");
            assert!(
                (estimate - exact).abs() <= exact * RELATIVE_ACCURACY + 1e-9,
                "q{quantile}: {estimate} vs {exact}"
            );
        }
        assert_eq!(sketch.count(), 10_000);
        // In bulk: the same buckets, including durations at every bucket's bounds.
        let mut bulk = LatencySketch::default();
        bulk.add_sorted(&durations);
        assert_eq!(bulk, sketch);
        let mut edges: Vec<u64> = (1..2_000)
            .flat_map(|index| {
                let upper = GAMMA.powi(index);
                let below = upper.floor() as u64;
                [
                    below.saturating_sub(1),
                    below,
                    below + 1,
                    upper.ceil() as u64,
                ]
            })
            .filter(|duration| *duration < u64::MAX / 2)
            .collect();
        edges.sort_unstable();
        let (mut one_by_one, mut bulk) = (LatencySketch::default(), LatencySketch::default());
        for duration in &edges {
            one_by_one.add(*duration);
        }
        bulk.add_sorted(&edges);
        assert_eq!(bulk, one_by_one);
    }

    #[test]
    fn merging_equals_adding_everything_to_one() {
        let (mut left, mut right, mut both) = Default::default();
        for duration in [0, 1, 5, 1_000, 1_000, 70_000_000] {
            LatencySketch::add(&mut left, duration);
            LatencySketch::add(&mut both, duration);
        }
        for duration in [0, 3, 1_000, 9_000_000_000] {
            LatencySketch::add(&mut right, duration);
            LatencySketch::add(&mut both, duration);
        }
        left.merge(&right);
        assert_eq!(left, both);
        // Adding sorted durations in bulk gives the same buckets as one by one.
        let mut bulk = LatencySketch::default();
        bulk.add(1_000);
        let mut sorted: Vec<u64> = [0, 1, 5, 1_000, 1_000, 70_000_000, 0, 3, 9_000_000_000].into();
        sorted.sort_unstable();
        bulk.add_sorted(&sorted);
        assert_eq!(bulk, both);
        let cumulative = left.cumulative();
        assert_eq!(cumulative.first(), Some(&(0.0, 2)));
        assert_eq!(cumulative.last().map(|(_, count)| *count), Some(10));
        let at_1000 = cumulative
            .iter()
            .find(|(upper, _)| *upper >= 1_000.0)
            .expect("a bucket");
        assert_eq!(at_1000.1, 8);
        assert_eq!(LatencySketch::default().quantile_nanos(0.5), None);
    }
}
