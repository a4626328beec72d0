//! Append-only segment files, one per ingest hour, that hold the compressed blocks.
//!
//! `<data_dir>/blocks/<unix hour, 10 digits>.seg` is the blocks of that hour, back to
//! back; a block's `BlockMeta` (in sled) records its offset, length and CRC-32. Reads
//! are positioned reads, so blocks never sit in the process's memory longer than one
//! query needs them (sled keeps the values it writes in its page cache, which made
//! RSS grow with the store). Expiring an hour deletes its file.
//!
//! Crash safety comes from ordering, not from the file: a block's meta reaches sled
//! only after the segment has been fsynced (`Store::sync`), so every meta on disk
//! points at bytes on disk. Bytes past the last meta (blocks written but never
//! synced) are cut off when the store opens.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

const EXTENSION: &str = "seg";

#[derive(Debug)]
pub(super) struct Segment {
    path: PathBuf,
    file: File,
    /// Bytes written so far; the next block goes here.
    len: AtomicU64,
}

impl Segment {
    /// Appends `bytes` and returns their offset. Callers serialise appends.
    pub(super) fn append(&self, bytes: &[u8]) -> io::Result<u64> {
        let offset = self.len.load(Ordering::Acquire);
        self.file.write_all_at(bytes, offset)?;
        self.len
            .store(offset + bytes.len() as u64, Ordering::Release);
        Ok(offset)
    }

    pub(super) fn read(&self, offset: u64, len: u32) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; len as usize];
        self.file.read_exact_at(&mut bytes, offset)?;
        Ok(bytes)
    }

    /// Frees the disk space of a byte range that no meta refers to any more; the
    /// file keeps its length. A file system without hole punching keeps the bytes.
    pub(super) fn punch_hole(&self, offset: u64, len: u64) -> io::Result<()> {
        use rustix::fs::FallocateFlags;
        let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        match rustix::fs::fallocate(&self.file, flags, offset, len) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::OPNOTSUPP) => Ok(()),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Punches out every byte range before `len()` that none of `live` (offset,
    /// length) covers but that still holds data: blocks that compaction replaced
    /// in its last round before a shutdown or crash, or a merge that was written
    /// but never recorded. Returns the bytes of the ranges freed.
    pub(super) fn free_gaps(&self, live: &mut [(u64, u64)]) -> io::Result<u64> {
        use rustix::fs::SeekFrom;
        live.sort_unstable();
        let mut freed = 0;
        let mut gap_start = 0;
        let ends = live
            .iter()
            .map(|&(offset, len)| (offset, offset + len))
            .chain(std::iter::once((self.len(), self.len())));
        for (offset, end) in ends {
            if offset > gap_start {
                // ENXIO: no data from there to the end of the file.
                let data = match rustix::fs::seek(&self.file, SeekFrom::Data(gap_start)) {
                    Ok(data) => data,
                    Err(rustix::io::Errno::NXIO) => u64::MAX,
                    Err(errno) => return Err(errno.into()),
                };
                if data < offset {
                    self.punch_hole(gap_start, offset - gap_start)?;
                    freed += offset - gap_start;
                }
            }
            gap_start = gap_start.max(end);
        }
        Ok(freed)
    }

    pub(super) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    pub(super) fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }
}

/// The segment files of every live hour.
#[derive(Debug)]
pub(super) struct Segments {
    dir: PathBuf,
    by_hour: RwLock<BTreeMap<u32, Arc<Segment>>>,
}

impl Segments {
    /// Opens every segment file in `dir` (created if missing). `valid_len` says how
    /// many bytes of an hour's file the metadata covers; the rest is cut off, and a
    /// file with nothing valid is deleted.
    pub(super) fn open(dir: &Path, valid_len: impl Fn(u32) -> u64) -> io::Result<Segments> {
        std::fs::create_dir_all(dir)?;
        let mut by_hour = BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(hour) = parse_file_name(&path) else {
                continue;
            };
            let valid = valid_len(hour);
            if valid == 0 {
                std::fs::remove_file(&path)?;
                continue;
            }
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let len = file.metadata()?.len();
            if len > valid {
                tracing::warn!(path = %path.display(), len, valid, "cutting off blocks that were written but never synced");
                file.set_len(valid)?;
                file.sync_all()?;
            }
            by_hour.insert(
                hour,
                Arc::new(Segment {
                    path,
                    file,
                    len: AtomicU64::new(len.min(valid)),
                }),
            );
        }
        Ok(Segments {
            dir: dir.to_owned(),
            by_hour: RwLock::new(by_hour),
        })
    }

    pub(super) fn get(&self, hour: u32) -> Option<Arc<Segment>> {
        self.read_map().get(&hour).cloned()
    }

    /// The segment of `hour`, created (and its directory entry made durable) if new.
    pub(super) fn get_or_create(&self, hour: u32) -> io::Result<Arc<Segment>> {
        if let Some(segment) = self.get(hour) {
            return Ok(segment);
        }
        let mut map = self
            .by_hour
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(segment) = map.get(&hour) {
            return Ok(segment.clone());
        }
        let path = self.dir.join(file_name(hour));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        File::open(&self.dir)?.sync_all()?;
        tracing::info!(hour, "new block file for the hour");
        let segment = Arc::new(Segment {
            path,
            file,
            len: AtomicU64::new(0),
        });
        map.insert(hour, segment.clone());
        Ok(segment)
    }

    /// Forgets the hour and deletes its file. Readers that already hold the segment
    /// finish their reads (the open file outlives its name).
    pub(super) fn remove(&self, hour: u32) -> io::Result<()> {
        let removed = self
            .by_hour
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&hour);
        match removed {
            Some(segment) => std::fs::remove_file(&segment.path),
            None => Ok(()),
        }
    }

    /// Hours with a segment that ended before `hour`.
    pub(super) fn hours_before(&self, hour: u32) -> Vec<u32> {
        self.read_map()
            .range(..hour)
            .map(|(hour, _)| *hour)
            .collect()
    }

    /// Each hour's file length, oldest first.
    pub(super) fn len_by_hour(&self) -> Vec<(u32, u64)> {
        self.read_map()
            .iter()
            .map(|(hour, segment)| (*hour, segment.len()))
            .collect()
    }

    /// Each hour's bytes as allocated on disk (holes punched by compaction don't
    /// count), oldest first.
    pub(super) fn allocated_by_hour(&self) -> Vec<(u32, u64)> {
        use std::os::unix::fs::MetadataExt as _;
        self.read_map()
            .iter()
            .map(|(hour, segment)| {
                let allocated = segment
                    .file
                    .metadata()
                    .map_or(segment.len(), |metadata| metadata.blocks() * 512);
                (*hour, allocated)
            })
            .collect()
    }

    pub(super) fn total_len(&self) -> u64 {
        self.read_map().values().map(|segment| segment.len()).sum()
    }

    fn read_map(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u32, Arc<Segment>>> {
        self.by_hour
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn file_name(hour: u32) -> String {
    format!("{hour:010}.{EXTENSION}")
}

fn parse_file_name(path: &Path) -> Option<u32> {
    if path.extension()? != EXTENSION {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_cuts_unsynced_tails_and_deletes_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        {
            let segments = Segments::open(dir.path(), |_| 0).unwrap();
            let kept = segments.get_or_create(10).unwrap();
            assert_eq!(kept.append(b"hello").unwrap(), 0);
            assert_eq!(kept.append(b"world").unwrap(), 5);
            segments.get_or_create(11).unwrap().append(b"lost").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not a segment").unwrap();
        let segments = Segments::open(dir.path(), |hour| if hour == 10 { 5 } else { 0 }).unwrap();
        let kept = segments.get(10).unwrap();
        assert_eq!(kept.len(), 5);
        assert_eq!(kept.read(0, 5).unwrap(), b"hello");
        assert!(kept.read(5, 5).is_err(), "the unsynced tail is gone");
        assert_eq!(kept.append(b"again").unwrap(), 5);
        assert!(segments.get(11).is_none());
        assert!(!dir.path().join(file_name(11)).exists());
        assert!(dir.path().join("notes.txt").exists());
        segments.remove(10).unwrap();
        assert!(!dir.path().join(file_name(10)).exists());
        assert_eq!(segments.total_len(), 0);
    }
}
