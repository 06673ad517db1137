//! The write-ahead log: an event is acknowledged once its record is here and fsync'd.
//!
//! The log is a directory of segment files named by the first log sequence number (LSN) they
//! hold. A record is `len: u32 | crc32: u32 | lsn: u64 | org_len: u16 | org | raw`, little
//! endian; the checksum covers everything after it, and LSNs rise strictly through the log.
//! The LSN of an event becomes its `ingest_seq`, and a table commit records the highest LSN it
//! contains as a Delta application transaction, so replay after a crash skips exactly what the
//! table already holds.
//!
//! Two rules keep acknowledged records readable. A write that fails is cut off before anything
//! else is written (or, when the segment cannot be cut, later records go to a new segment), so
//! no record ever follows a torn one. And when the log is opened, damaged bytes anywhere (a
//! torn write, a flipped bit) are copied to the quarantine directory and reported, and the
//! records after them are still replayed: damage never stops a start and never hides the
//! records it does not touch.

mod scan;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use scan::Damage;

use crate::error::{Error, Result};

const SEGMENT_SUFFIX: &str = ".wal";
/// A segment is closed once it holds this many bytes, even between table commits, so that the
/// memory needed to read one back at start-up stays bounded.
const SEGMENT_BYTES: u64 = 128 << 20;

/// One event read back from the log.
pub struct WalRecord<'a> {
    pub lsn: u64,
    /// The organization an ingest was bound to, or empty when the event names its own.
    pub org: &'a str,
    pub raw: &'a [u8],
}

/// Damage found in the log when it was opened, and where its bytes were kept.
#[derive(Debug, Clone)]
pub struct Recovered {
    pub segment: PathBuf,
    pub damage: Damage,
    /// The file that holds a copy of the damaged bytes.
    pub kept_in: PathBuf,
    /// LSNs whose records could not be read, as a range (empty when none are missing).
    pub unreadable: Range<u64>,
    /// How many of those the table does not hold.
    pub lost: u64,
}

struct Segment {
    first_lsn: u64,
    path: PathBuf,
}

/// An append-only, checksummed, fsync'd log of accepted events.
pub struct Wal {
    dir: PathBuf,
    /// Closed segments, oldest first; all their LSNs are below `current.first_lsn`.
    closed: Vec<Segment>,
    current: Segment,
    file: File,
    /// Bytes of the current segment that hold whole, synced records.
    current_len: u64,
    pending: Vec<u8>,
    next_lsn: u64,
    bytes: u64,
    /// The last write or fsync failed and may have left part of a record after `current_len`.
    torn: bool,
    recovered: Vec<Recovered>,
}

impl Wal {
    /// Opens the log in `dir` and returns it with the records above `committed_lsn` to replay.
    /// Damaged bytes are copied into `quarantine_dir` and reported; a torn write at the end of
    /// the newest segment (a crash mid-write, never acknowledged) is cut off after its copy.
    pub fn open(dir: &Path, committed_lsn: u64, quarantine_dir: &Path) -> Result<(Self, Replay)> {
        fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let segments = list_segments(dir)?;
        let mut kept = Vec::with_capacity(segments.len());
        let mut replay = VecDeque::new();
        let mut recovered = Vec::new();
        let mut last_lsn = committed_lsn;
        let mut bytes_total = 0;
        for (index, segment) in segments.iter().enumerate() {
            let next_first = segments.get(index + 1).map(|s| s.first_lsn);
            // The table holds every record below the next segment's first LSN: nothing to read.
            if next_first.is_some_and(|next| next <= committed_lsn.saturating_add(1)) {
                kept.push(Segment {
                    first_lsn: segment.first_lsn,
                    path: segment.path.clone(),
                });
                continue;
            }
            let bytes = fs::read(&segment.path)
                .map_err(|e| Error::io(format!("reading {}", segment.path.display()), e))?;
            let scan = scan::scan(&bytes, segment.first_lsn);
            let mut valid_len = bytes.len();
            for damage in &scan.damage {
                let range = damage.bytes.start as usize..damage.bytes.end as usize;
                let kept_in =
                    keep_damaged(quarantine_dir, segment, damage.bytes.start, &bytes[range])?;
                let next_lsn = damage.before_lsn.or(next_first);
                let torn_tail = next_lsn.is_none();
                let unreadable = match next_lsn {
                    Some(next) => damage.after_lsn + 1..next.max(damage.after_lsn + 1),
                    None => 0..0,
                };
                let lost =
                    unreadable.end - unreadable.start.max(committed_lsn + 1).min(unreadable.end);
                let found = Recovered {
                    segment: segment.path.clone(),
                    damage: damage.clone(),
                    kept_in,
                    unreadable,
                    lost,
                };
                report(&found, torn_tail);
                if torn_tail {
                    valid_len = damage.bytes.start as usize;
                    truncate(&segment.path, valid_len as u64)?;
                }
                recovered.push(found);
            }
            if valid_len == 0 {
                remove(&segment.path)?;
                continue;
            }
            bytes_total += valid_len as u64;
            if let Some(lsn) = scan.last_lsn {
                last_lsn = last_lsn.max(lsn);
                if lsn > committed_lsn {
                    replay.push_back((segment.path.clone(), scan.ranges));
                }
            }
            kept.push(Segment {
                first_lsn: segment.first_lsn,
                path: segment.path.clone(),
            });
        }
        // A segment that holds no readable record still owns its name (its first LSN).
        let next_lsn = kept
            .last()
            .map_or(last_lsn, |newest| last_lsn.max(newest.first_lsn))
            + 1;
        let (current, file) = create_segment(dir, next_lsn)?;
        let mut wal = Self {
            dir: dir.to_path_buf(),
            closed: kept,
            current,
            file,
            current_len: 0,
            pending: Vec::with_capacity(1 << 20),
            next_lsn,
            bytes: bytes_total,
            torn: false,
            recovered,
        };
        wal.release(committed_lsn)?;
        let replay = Replay {
            segments: replay,
            committed_lsn,
            bytes: Vec::new(),
            path: PathBuf::new(),
            ranges: VecDeque::new(),
            offset: 0,
        };
        Ok((wal, replay))
    }

    /// Buffers one record and returns its LSN; it is durable only after [`sync`](Self::sync).
    pub fn append(&mut self, org: &str, raw: &[u8]) -> u64 {
        let lsn = self.next_lsn;
        self.next_lsn += 1;
        let org = &org.as_bytes()[..org.len().min(usize::from(u16::MAX))];
        let body_len = 8 + 2 + org.len() + raw.len();
        let start = self.pending.len();
        self.pending
            .extend_from_slice(&((body_len - 8) as u32).to_le_bytes());
        self.pending.extend_from_slice(&[0; 4]);
        self.pending.extend_from_slice(&lsn.to_le_bytes());
        self.pending
            .extend_from_slice(&(org.len() as u16).to_le_bytes());
        self.pending.extend_from_slice(org);
        self.pending.extend_from_slice(raw);
        let crc = crc32fast::hash(&self.pending[start + 8..]);
        self.pending[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        lsn
    }

    /// Writes the buffered records and fsyncs them: one group commit. When the write or the
    /// fsync fails, the records stay buffered for the next attempt and whatever the failed
    /// write left in the segment is cut off first, so a later record never follows a torn one.
    pub fn sync(&mut self) -> Result<()> {
        if self.torn {
            self.cut_failed_write()?;
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self
            .file
            .write_all(&self.pending)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.torn = true;
            let error = Error::io(format!("writing {}", self.current.path.display()), e);
            if let Err(cut) = self.cut_failed_write() {
                tracing::error!(error = %cut, "cannot remove a failed write from the write-ahead log yet");
            }
            return Err(error);
        }
        self.current_len += self.pending.len() as u64;
        self.bytes += self.pending.len() as u64;
        self.pending.clear();
        if self.current_len >= SEGMENT_BYTES
            && let Err(e) = self.start_segment()
        {
            tracing::warn!(error = %e, "cannot start a new write-ahead log segment; the current one grows");
        }
        Ok(())
    }

    /// Cuts the current segment back to its last whole record; if it cannot be cut, continues
    /// in a new segment (the torn bytes are then at the end of a closed segment, where opening
    /// the log finds and reports them).
    fn cut_failed_write(&mut self) -> Result<()> {
        let cut = self
            .file
            .set_len(self.current_len)
            .and_then(|()| self.file.sync_all());
        let Err(cut_error) = cut else {
            self.torn = false;
            return Ok(());
        };
        let first = self.pending_first_lsn();
        let (segment, file) = create_segment(&self.dir, first).map_err(|e| Error::Wal {
            path: self.current.path.clone(),
            message: format!(
                "a write failed, and neither could its partial record be cut off ({cut_error}) \
                 nor a new segment be started ({e}); no event is accepted until one succeeds"
            ),
        })?;
        self.file = file;
        self.closed
            .push(std::mem::replace(&mut self.current, segment));
        self.current_len = 0;
        self.torn = false;
        Ok(())
    }

    /// The LSN of the first buffered record (the next LSN when none is buffered).
    fn pending_first_lsn(&self) -> u64 {
        self.pending
            .get(8..16)
            .and_then(|b| b.try_into().ok())
            .map_or(self.next_lsn, u64::from_le_bytes)
    }

    /// The highest LSN handed out so far (0 when none).
    pub fn last_lsn(&self) -> u64 {
        self.next_lsn - 1
    }

    /// Damage found when the log was opened.
    pub fn recovered(&self) -> &[Recovered] {
        &self.recovered
    }

    /// Syncs, then closes the current segment and starts a new one, so that the closed ones can
    /// be released once the table holds their events.
    pub fn rotate(&mut self) -> Result<()> {
        self.sync()?;
        if self.current_len == 0 {
            return Ok(());
        }
        self.start_segment()
    }

    fn start_segment(&mut self) -> Result<()> {
        let (segment, file) = create_segment(&self.dir, self.next_lsn)?;
        self.file = file;
        self.closed
            .push(std::mem::replace(&mut self.current, segment));
        self.current_len = 0;
        Ok(())
    }

    /// Deletes closed segments whose every record has an LSN at or below `committed_lsn`.
    pub fn release(&mut self, committed_lsn: u64) -> Result<()> {
        while let Some(oldest) = self.closed.first() {
            let next_first = self
                .closed
                .get(1)
                .map_or(self.current.first_lsn, |s| s.first_lsn);
            if next_first > committed_lsn.saturating_add(1) {
                break;
            }
            let len = fs::metadata(&oldest.path).map(|m| m.len()).unwrap_or(0);
            remove(&oldest.path)?;
            self.bytes = self.bytes.saturating_sub(len);
            self.closed.remove(0);
        }
        Ok(())
    }
}

/// The records a freshly opened log holds above the table's LSN, read a segment at a time. It
/// owns what it reads, so the log can be written and released while the records are replayed.
pub struct Replay {
    segments: VecDeque<(PathBuf, Vec<Range<usize>>)>,
    committed_lsn: u64,
    bytes: Vec<u8>,
    path: PathBuf,
    ranges: VecDeque<Range<usize>>,
    offset: usize,
}

impl Replay {
    /// The next record, in LSN order; `None` once every one was read.
    pub fn next_record(&mut self) -> Result<Option<WalRecord<'_>>> {
        loop {
            let Some(range) = self.ranges.front().cloned() else {
                let Some((path, ranges)) = self.segments.pop_front() else {
                    return Ok(None);
                };
                self.bytes = fs::read(&path)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                self.path = path;
                self.ranges = ranges.into();
                self.offset = 0;
                continue;
            };
            self.offset = self.offset.max(range.start);
            if self.offset >= range.end {
                self.ranges.pop_front();
                continue;
            }
            let Some(record) = scan::parse_at(&self.bytes, self.offset, 0, u64::MAX) else {
                return Err(Error::Wal {
                    path: self.path.clone(),
                    message: format!(
                        "the record at byte {} changed while the log was replayed",
                        self.offset
                    ),
                });
            };
            self.offset = record.end;
            if record.lsn > self.committed_lsn {
                // `parse_at` checked the organization's bytes.
                let org = std::str::from_utf8(&self.bytes[record.org]).unwrap_or_default();
                return Ok(Some(WalRecord {
                    lsn: record.lsn,
                    org,
                    raw: &self.bytes[record.raw],
                }));
            }
        }
    }
}

/// Says what was found, what is kept and where the damaged bytes went: a warning for a torn
/// write at the end of the log or damage that costs nothing the table lacks, an error when
/// records the table does not hold could not be read.
fn report(found: &Recovered, torn_tail: bool) {
    let segment = found.segment.display();
    let bytes = &found.damage.bytes;
    let kept_in = found.kept_in.display();
    let after = found.damage.after_lsn;
    if torn_tail {
        tracing::warn!(
            "write-ahead log {segment}: cut {} bytes of a write that did not complete off its \
             end (bytes {}..{}, after LSN {after}; a write is acknowledged only once complete); \
             every record before them is replayed; the bytes are kept in {kept_in}",
            bytes.end - bytes.start,
            bytes.start,
            bytes.end,
        );
        return;
    }
    let missing = found.unreadable.end - found.unreadable.start;
    let message = format!(
        "write-ahead log {segment}: bytes {}..{} ({} bytes) are damaged; the records through \
         LSN {after} before them and from LSN {} after them are kept and replayed; {missing} \
         record(s) could not be read{}, of which {} the table does not hold; the damaged \
         bytes are kept in {kept_in}",
        bytes.start,
        bytes.end,
        bytes.end - bytes.start,
        found.unreadable.end,
        if missing > 0 {
            format!(
                " (LSN {}..={})",
                found.unreadable.start,
                found.unreadable.end - 1
            )
        } else {
            String::new()
        },
        found.lost,
    );
    if found.lost > 0 {
        tracing::error!("{message}");
    } else {
        tracing::warn!("{message}");
    }
}

/// Copies the damaged bytes at `offset` of a segment to
/// `<quarantine>/wal-<segment>-at-<offset>.bin` and syncs the copy.
fn keep_damaged(
    quarantine_dir: &Path,
    segment: &Segment,
    offset: u64,
    bytes: &[u8],
) -> Result<PathBuf> {
    fs::create_dir_all(quarantine_dir)
        .map_err(|e| Error::io(format!("creating {}", quarantine_dir.display()), e))?;
    let path = quarantine_dir.join(format!("wal-{:020}-at-{offset}.bin", segment.first_lsn));
    File::create(&path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .map_err(|e| {
            Error::io(
                format!("keeping damaged log bytes in {}", path.display()),
                e,
            )
        })?;
    sync_dir(quarantine_dir)?;
    Ok(path)
}

fn list_segments(dir: &Path) -> Result<Vec<Segment>> {
    let entries =
        fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SEGMENT_SUFFIX)) else {
            continue;
        };
        let Ok(first_lsn) = stem.parse::<u64>() else {
            continue;
        };
        segments.push(Segment {
            first_lsn,
            path: entry.path(),
        });
    }
    segments.sort_by_key(|s| s.first_lsn);
    Ok(segments)
}

fn create_segment(dir: &Path, first_lsn: u64) -> Result<(Segment, File)> {
    let path = dir.join(format!("{first_lsn:020}{SEGMENT_SUFFIX}"));
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    // The new name must survive a crash too.
    sync_dir(dir)?;
    Ok((Segment { first_lsn, path }, file))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(Error::io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len).and_then(|()| f.sync_all()))
        .map_err(|e| Error::io(format!("truncating {}", path.display()), e))
}

#[cfg(test)]
mod tests;
