//! The bytes of one RED cell as sled holds it.

use super::super::varint::{self, Reader};
use super::super::CodecError;
use crate::model::TraceId;
use crate::storage::red::{Exemplar, LatencySketch, RedCell, NUM_SLOWEST};

const CELL_VERSION: u8 = 1;
/// More calls than one cell can count (a million spans a second for eight years):
/// larger counts are damage, and the bound keeps a query's sum over up to 65,536
/// cells within a `u64`.
const MAX_CALLS: u64 = 1 << 48;
/// The sketch bucket of the longest duration, `u64::MAX` nanoseconds (`ln(2^64) /
/// ln(γ)`, rounded up); shorter ones have smaller indexes, down to 0 for 1 ns. A
/// heatmap has a row per bucket between the smallest and the largest index.
const MAX_BUCKET_INDEX: i32 = 2219;

pub(crate) fn encode(cell: &RedCell) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + cell.latency.buckets.len() * 3);
    out.push(CELL_VERSION);
    varint::put_u64(&mut out, cell.num_calls);
    varint::put_u64(&mut out, cell.num_errors);
    varint::put_u64(&mut out, cell.latency.num_zero);
    varint::put_u64(&mut out, cell.latency.buckets.len() as u64);
    let mut previous = 0i64;
    for &(index, count) in &cell.latency.buckets {
        varint::put_i64(&mut out, i64::from(index) - previous);
        varint::put_u64(&mut out, count);
        previous = i64::from(index);
    }
    varint::put_u64(&mut out, cell.slowest.len() as u64);
    for exemplar in cell.slowest.iter().chain(&cell.error) {
        out.extend_from_slice(&exemplar.trace_id.0);
        varint::put_u64(&mut out, exemplar.duration_nanos);
    }
    out
}

pub(crate) fn decode(bytes: &[u8]) -> Result<RedCell, CodecError> {
    let mut reader = Reader::new(bytes);
    match reader.u8()? {
        CELL_VERSION => {}
        other => return Err(CodecError::UnknownVersion(other)),
    }
    let num_calls = reader.u64()?;
    let num_errors = reader.u64()?;
    let num_zero = reader.u64()?;
    if num_calls > MAX_CALLS || num_errors > num_calls {
        return Err(CodecError::Corrupt("cell call counts"));
    }
    let num_buckets = reader.count()?;
    let mut buckets: Vec<(i32, u64)> = Vec::with_capacity(num_buckets);
    let mut index = 0i64;
    // The sketch's counts add up to the calls (every call lands in one bucket), and
    // its buckets are sorted: merging and quantiles rely on both.
    let mut num_counted = num_zero;
    for _ in 0..num_buckets {
        index = index
            .checked_add(reader.i64()?)
            .ok_or(CodecError::Corrupt("sketch bucket index"))?;
        let index = i32::try_from(index).map_err(|_| CodecError::Corrupt("sketch bucket index"))?;
        if !(0..=MAX_BUCKET_INDEX).contains(&index) {
            return Err(CodecError::Corrupt("sketch bucket index"));
        }
        if buckets
            .last()
            .is_some_and(|(previous, _)| *previous >= index)
        {
            return Err(CodecError::Corrupt("sketch buckets out of order"));
        }
        let count = reader.u64()?;
        num_counted = num_counted
            .checked_add(count)
            .filter(|counted| *counted <= num_calls)
            .ok_or(CodecError::Corrupt("sketch counts exceed the calls"))?;
        buckets.push((index, count));
    }
    if num_counted != num_calls {
        return Err(CodecError::Corrupt("sketch counts differ from the calls"));
    }
    let num_slowest = reader.count()?;
    let read_exemplar = |reader: &mut Reader<'_>| -> Result<Exemplar, CodecError> {
        Ok(Exemplar {
            trace_id: TraceId(reader.array()?),
            duration_nanos: reader.u64()?,
        })
    };
    let mut slowest = Vec::with_capacity(num_slowest.min(NUM_SLOWEST));
    for _ in 0..num_slowest {
        slowest.push(read_exemplar(&mut reader)?);
    }
    let error = if reader.position() < bytes.len() {
        Some(read_exemplar(&mut reader)?)
    } else {
        None
    };
    Ok(RedCell {
        num_calls,
        num_errors,
        latency: LatencySketch { num_zero, buckets },
        slowest,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip() {
        let mut cell = RedCell::default();
        for (i, duration) in [5_000u64, 0, 90_000, 12, 90_000, 700_000_000]
            .iter()
            .enumerate()
        {
            cell.add(TraceId([i as u8; 16]), *duration, i % 2 == 1);
        }
        assert_eq!(decode(&encode(&cell)).expect("decodes"), cell);
        let mut extremes = RedCell::default();
        extremes.add(TraceId([1; 16]), 1, false);
        extremes.add(TraceId([2; 16]), u64::MAX, true);
        assert_eq!(decode(&encode(&extremes)).expect("decodes"), extremes);
        let empty = RedCell::default();
        assert_eq!(decode(&encode(&empty)).expect("decodes"), empty);
        assert!(decode(&encode(&cell)[..10]).is_err());
        // Two bucket deltas whose sum overflows i64 (found by fuzzing).
        let mut bad = vec![1, 1, 0, 0, 2];
        varint::put_i64(&mut bad, 1);
        varint::put_u64(&mut bad, 1);
        varint::put_i64(&mut bad, i64::MAX);
        varint::put_u64(&mut bad, 1);
        assert!(decode(&bad).is_err());
    }
}
