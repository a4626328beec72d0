//! The bytes of one RED cell as sled holds it, and of a sealed value: all cells of
//! one (resolution, cell id, hour), each behind its length so that a read can skip
//! the buckets outside its window without decoding them.
//!
//! ```text
//!   sealed: version[1] num_cells{varint} (offset_secs{varint} len{varint} cell[len])*
//! ```
//!
//! `offset_secs` is the bucket's start minus the hour's, ascending; `cell` is the
//! one-cell encoding below.

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
const SEALED_VERSION: u8 = 1;

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

/// Encodes an hour's cells, `(offset of the bucket in the hour in seconds, cell)`
/// ascending by offset.
pub(crate) fn encode_sealed<'a>(
    num_cells: usize,
    cells: impl IntoIterator<Item = (u64, &'a RedCell)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + num_cells * 48);
    out.push(SEALED_VERSION);
    varint::put_u64(&mut out, num_cells as u64);
    for (offset_secs, cell) in cells {
        varint::put_u64(&mut out, offset_secs);
        varint::put_bytes(&mut out, &encode(cell));
    }
    out
}

/// Calls `found(offset_secs, cell)` for each cell of a sealed value whose offset is
/// in `offsets`, ascending; the others are skipped undecoded. Returns how many cells
/// the value holds. On corruption, the cells before it have been passed on.
pub(crate) fn decode_sealed(
    bytes: &[u8],
    offsets: std::ops::Range<u64>,
    mut found: impl FnMut(u64, RedCell),
) -> Result<usize, CodecError> {
    let mut reader = Reader::new(bytes);
    match reader.u8()? {
        SEALED_VERSION => {}
        other => return Err(CodecError::UnknownVersion(other)),
    }
    let num_cells = reader.count()?;
    for _ in 0..num_cells {
        let offset_secs = reader.u64()?;
        let cell = reader.bytes()?;
        if offset_secs >= offsets.end {
            break; // ascending: nothing further is wanted
        }
        if offset_secs >= offsets.start {
            found(offset_secs, decode(cell)?);
        }
    }
    Ok(num_cells)
}

/// How many cells a sealed value holds, read from its header.
pub(crate) fn sealed_len(bytes: &[u8]) -> Result<usize, CodecError> {
    let mut reader = Reader::new(bytes);
    match reader.u8()? {
        SEALED_VERSION => reader.count(),
        other => Err(CodecError::UnknownVersion(other)),
    }
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

    #[test]
    fn sealed_values_round_trip_and_skip_what_is_not_wanted() {
        let cells: Vec<(u64, RedCell)> = (0..6u64)
            .map(|i| {
                let mut cell = RedCell::default();
                for j in 0..=i {
                    cell.add(TraceId([j as u8; 16]), 1_000 * (j + 1), j == 2);
                }
                (i * 600, cell)
            })
            .collect();
        let bytes = encode_sealed(cells.len(), cells.iter().map(|(o, c)| (*o, c)));
        assert_eq!(sealed_len(&bytes).expect("header"), 6);
        let mut all = Vec::new();
        let count = decode_sealed(&bytes, 0..3600, |offset, cell| all.push((offset, cell)));
        assert_eq!(count.expect("decodes"), 6);
        assert_eq!(all, cells);
        let mut some = Vec::new();
        decode_sealed(&bytes, 600..1800, |offset, _| some.push(offset)).expect("decodes");
        assert_eq!(some, [600, 1200]);

        // Damage: truncation, a wrong version, a cell length past the end.
        for cut in [1, 5, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode_sealed(&bytes[..cut], 0..3600, |_, _| {}).is_err());
        }
        let mut wrong_version = bytes.clone();
        wrong_version[0] = 9;
        assert!(decode_sealed(&wrong_version, 0..3600, |_, _| {}).is_err());
        assert!(sealed_len(&wrong_version).is_err());
        let mut long_cell = vec![SEALED_VERSION, 1, 0];
        varint::put_u64(&mut long_cell, u64::MAX);
        assert!(decode_sealed(&long_cell, 0..3600, |_, _| {}).is_err());
    }
}
