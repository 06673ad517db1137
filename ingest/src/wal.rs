//! The write-ahead log: an event is acknowledged once its record is here and fsync'd.
//!
//! The log is a directory of segment files named by the first log sequence number (LSN) they
//! hold. A record is `len: u32 | crc32: u32 | lsn: u64 | org_len: u16 | org | raw`, little
//! endian; the checksum covers everything after it. The LSN of an event becomes its
//! `ingest_seq`, and a table commit records the highest LSN it contains as a Delta application
//! transaction, so replay after a crash skips exactly what the table already holds.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const HEADER: usize = 4 + 4 + 8;
const SEGMENT_SUFFIX: &str = ".wal";
/// A record larger than this cannot have been written by us: the header is corrupt.
const MAX_RECORD: usize = 1 << 30;

/// One event read back from the log.
pub struct WalRecord<'a> {
    pub lsn: u64,
    /// The organization an ingest was bound to, or empty when the event names its own.
    pub org: &'a str,
    pub raw: &'a [u8],
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
    pending: Vec<u8>,
    next_lsn: u64,
    bytes: u64,
}

impl Wal {
    /// Opens the log in `dir`, handing every record above `committed_lsn` to `replay` in LSN
    /// order. A torn record at the end of the newest segment (a crash mid-write, never
    /// acknowledged) is cut off; corruption anywhere else is an error.
    pub fn open(
        dir: &Path,
        committed_lsn: u64,
        mut replay: impl FnMut(WalRecord<'_>) -> Result<()>,
    ) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let mut segments = list_segments(dir)?;
        let mut last_lsn = committed_lsn;
        let count = segments.len();
        let mut bytes = 0;
        for (index, segment) in segments.iter().enumerate() {
            let is_newest = index + 1 == count;
            let (valid_len, segment_last) =
                read_segment(&segment.path, is_newest, committed_lsn, &mut replay)?;
            bytes += valid_len;
            if let Some(lsn) = segment_last {
                last_lsn = last_lsn.max(lsn);
            }
        }
        // An empty newest segment would collide with the one we are about to start.
        if let Some(newest) = segments.last()
            && fs::metadata(&newest.path)
                .map(|m| m.len() == 0)
                .unwrap_or(false)
        {
            remove(&newest.path)?;
            segments.pop();
        }
        let next_lsn = last_lsn + 1;
        let (current, file) = create_segment(dir, next_lsn)?;
        let mut wal = Self {
            dir: dir.to_path_buf(),
            closed: segments,
            current,
            file,
            pending: Vec::with_capacity(1 << 20),
            next_lsn,
            bytes,
        };
        wal.release(committed_lsn)?;
        Ok(wal)
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

    /// Writes the buffered records and fsyncs them: one group commit.
    pub fn sync(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.pending)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(format!("writing {}", self.current.path.display()), e))?;
        self.bytes += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// The highest LSN handed out so far (0 when none).
    pub fn last_lsn(&self) -> u64 {
        self.next_lsn - 1
    }

    /// Bytes of the log on disk.
    pub fn size_bytes(&self) -> u64 {
        self.bytes
    }

    /// Closes the current segment and starts a new one, so that the closed ones can be
    /// released once the table holds their events.
    pub fn rotate(&mut self) -> Result<()> {
        self.sync()?;
        if fs::metadata(&self.current.path)
            .map(|m| m.len() == 0)
            .unwrap_or(false)
        {
            return Ok(());
        }
        let (segment, file) = create_segment(&self.dir, self.next_lsn)?;
        self.file = file;
        self.closed
            .push(std::mem::replace(&mut self.current, segment));
        Ok(())
    }

    /// Deletes closed segments whose every record has an LSN at or below `committed_lsn`.
    pub fn release(&mut self, committed_lsn: u64) -> Result<()> {
        while let Some(oldest) = self.closed.first() {
            let next_first = self
                .closed
                .get(1)
                .map_or(self.current.first_lsn, |s| s.first_lsn);
            if next_first > committed_lsn + 1 {
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
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))?;
    Ok((Segment { first_lsn, path }, file))
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(Error::io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

/// Reads one segment, replaying records above `committed_lsn`. Returns the length of its valid
/// prefix and its last LSN.
fn read_segment(
    path: &Path,
    is_newest: bool,
    committed_lsn: u64,
    replay: &mut impl FnMut(WalRecord<'_>) -> Result<()>,
) -> Result<(u64, Option<u64>)> {
    let file = File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut offset: u64 = 0;
    let mut last = None;
    let mut body = Vec::new();
    let corrupt = |offset: u64, what: &str| Error::Wal {
        path: path.to_path_buf(),
        message: format!("{what} at byte {offset}; the log is damaged before its end"),
    };
    loop {
        let mut header = [0u8; HEADER];
        match read_full(&mut reader, &mut header) {
            Ok(0) => break,
            Ok(n) if n < HEADER => {
                if is_newest {
                    truncate(path, offset)?;
                    break;
                }
                return Err(corrupt(offset, "truncated record header"));
            }
            Ok(_) => {}
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        }
        let len = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
        let lsn = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        let intact = (2..=MAX_RECORD).contains(&len) && {
            body.resize(len, 0);
            let got = read_full(&mut reader, &mut body)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&header[8..16]);
            hasher.update(&body);
            got == len && hasher.finalize() == crc
        };
        if !intact {
            if is_newest {
                tracing::warn!(wal = %path.display(), offset, "cutting a torn record off the log");
                truncate(path, offset)?;
                break;
            }
            return Err(corrupt(offset, "checksum mismatch"));
        }
        let org_len = usize::from(u16::from_le_bytes([body[0], body[1]]));
        let Some(org) = body
            .get(2..2 + org_len)
            .and_then(|b| std::str::from_utf8(b).ok())
        else {
            return Err(corrupt(offset, "bad organization field"));
        };
        if lsn > committed_lsn {
            replay(WalRecord {
                lsn,
                org,
                raw: &body[2 + org_len..],
            })?;
        }
        last = Some(lsn);
        offset += (HEADER + len) as u64;
    }
    Ok((offset, last))
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
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
