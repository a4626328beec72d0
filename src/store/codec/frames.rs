//! The zstd frames of a block: compressing and decompressing them with contexts
//! that are kept for the next block rather than made afresh for each frame.
//!
//! A compression context at level 6 is several MiB of match tables, and a fresh one
//! per frame (two per block, every flush and merge) cost both the setup and large,
//! short-lived allocations that the allocator keeps between uses (a suspect for the
//! RSS creep under overload, though a same-run soak pair showed no measurable
//! difference: docs/reliability.md, "Overload soak figures"). Queries that read
//! many blocks paid a decompression context per frame the same way.
//!
//! Contexts wait in small pools. A thread takes one, uses it and puts it back, so
//! there are never more than the frames being worked on at once, and at most
//! `MAX_IDLE` wait idle.

use std::io::Cursor;
use std::sync::Mutex;

use super::CodecError;

/// The most a block's frame may say it holds: far above any block the writer makes
/// (its batches are bounded by the queue's bytes), low enough that damaged bytes on
/// disk cannot ask for an allocation that takes the server down.
const MAX_FRAME_CONTENT: u64 = 1 << 30;

/// Idle contexts kept per pool: the writer, compaction and a few queries at once.
const MAX_IDLE: usize = 4;

static COMPRESSORS: Mutex<Vec<zstd::bulk::Compressor<'static>>> = Mutex::new(Vec::new());
static DECOMPRESSORS: Mutex<Vec<zstd::bulk::Decompressor<'static>>> = Mutex::new(Vec::new());

fn take<T>(pool: &Mutex<Vec<T>>) -> Option<T> {
    pool.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .pop()
}

fn give_back<T>(pool: &Mutex<Vec<T>>, context: T) {
    let mut idle = pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if idle.len() < MAX_IDLE {
        idle.push(context);
    }
}

/// Appends `raw` to `out` as one zstd frame with its content size and checksum.
pub(super) fn compress(
    mut out: Vec<u8>,
    raw: &[u8],
    zstd_level: i32,
) -> Result<Vec<u8>, CodecError> {
    let mut compressor = match take(&COMPRESSORS) {
        Some(compressor) => compressor,
        None => {
            let mut compressor =
                zstd::bulk::Compressor::new(zstd_level).map_err(CodecError::Compression)?;
            compressor
                .include_checksum(true)
                .map_err(CodecError::Compression)?;
            compressor
        }
    };
    // The level is a parameter of the context, so one context serves every level;
    // one-shot compression knows the raw size, so it goes into the frame header and
    // `decompress` allocates the content once.
    compressor
        .set_compression_level(zstd_level)
        .map_err(CodecError::Compression)?;
    let start = out.len();
    out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
    let mut cursor = Cursor::new(&mut out);
    cursor.set_position(start as u64);
    let result = compressor.compress_to_buffer(raw, &mut cursor);
    // A failed frame is abandoned by `compress_to_buffer`, so the context is fit
    // for the next one either way.
    give_back(&COMPRESSORS, compressor);
    result.map_err(CodecError::Compression)?;
    Ok(out)
}

/// One frame's content. Frames written since the raw size went into their header are
/// decompressed into one allocation of that size; older ones are streamed.
pub(super) fn decompress(frame: &[u8]) -> Result<Vec<u8>, CodecError> {
    match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) if size > MAX_FRAME_CONTENT => {
            Err(CodecError::Corrupt("block frame says it holds over 1 GiB"))
        }
        Ok(Some(size)) => {
            let mut decompressor = match take(&DECOMPRESSORS) {
                Some(decompressor) => decompressor,
                None => zstd::bulk::Decompressor::new().map_err(CodecError::Compression)?,
            };
            let mut out = Vec::with_capacity(size as usize);
            let result = decompressor.decompress_to_buffer(frame, &mut out);
            give_back(&DECOMPRESSORS, decompressor);
            result.map_err(CodecError::Compression)?;
            Ok(out)
        }
        _ => zstd::stream::decode_all(frame).map_err(CodecError::Compression),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_contexts_survive_bad_frames_and_switch_levels() {
        let raw: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for round in 0..3 {
            // A frame that fails to decode must not spoil the context it ran on.
            let mut garbage = compress(Vec::new(), &raw, 3).unwrap();
            let middle = garbage.len() / 2;
            garbage[middle] ^= 0xff;
            assert!(decompress(&garbage).is_err(), "round {round}");

            for level in [1, 6, 3] {
                let prefix = b"prefix".to_vec();
                let framed = compress(prefix.clone(), &raw, level).unwrap();
                assert_eq!(&framed[..prefix.len()], prefix, "level {level}");
                let frame = &framed[prefix.len()..];
                assert_eq!(
                    zstd::zstd_safe::get_frame_content_size(frame).unwrap(),
                    Some(raw.len() as u64)
                );
                assert_eq!(decompress(frame).unwrap(), raw, "level {level}");
            }
        }
    }
}
