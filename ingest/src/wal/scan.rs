//! Reading a segment's bytes back: which byte ranges hold whole, checksummed records in LSN
//! order, and which bytes are damaged.
//!
//! A segment is scanned before anything of it is replayed. Where a record does not check out
//! (a torn write, a flipped bit, a failed append that left half a record behind), the scan
//! looks for the next offset at which a whole record with a later LSN starts and goes on from
//! there, so that one damaged record never costs the acknowledged records after it.

use std::ops::Range;

/// `len: u32 | crc32: u32 | lsn: u64`; the body is `org_len: u16 | org | raw`.
pub(super) const HEADER: usize = 4 + 4 + 8;
/// The shortest body: an empty organization and an empty event.
const MIN_BODY: usize = 2;
/// A record larger than this cannot have been written by us: the header is corrupt.
const MAX_BODY: usize = 1 << 30;

/// One record found in a segment: its LSN and where its parts are.
pub(super) struct Parsed {
    pub lsn: u64,
    /// The organization's bytes (checked to be UTF-8).
    pub org: Range<usize>,
    pub raw: Range<usize>,
    /// Offset just past the record.
    pub end: usize,
}

/// Bytes of a segment that hold no readable record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte range within the segment.
    pub bytes: Range<u64>,
    /// The LSN of the last readable record before the damage (the segment's first LSN minus one
    /// when the damage is at its start).
    pub after_lsn: u64,
    /// The LSN of the first readable record after it in the same segment; `None` when the
    /// damage runs to the segment's end.
    pub before_lsn: Option<u64>,
}

/// What a segment holds.
pub(super) struct Scan {
    /// Byte ranges of consecutive whole records, in order.
    pub ranges: Vec<Range<usize>>,
    /// The LSN of the last whole record, if any.
    pub last_lsn: Option<u64>,
    pub damage: Vec<Damage>,
}

/// Parses the record at `offset`, if one whole record with an LSN above `after_lsn` (and at most
/// `max_lsn`) starts there and its checksum matches.
pub(super) fn parse_at(
    bytes: &[u8],
    offset: usize,
    after_lsn: u64,
    max_lsn: u64,
) -> Option<Parsed> {
    let header = bytes.get(offset..offset.checked_add(HEADER)?)?;
    let len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    if !(MIN_BODY..=MAX_BODY).contains(&len) {
        return None;
    }
    let lsn = u64::from_le_bytes(header[8..16].try_into().ok()?);
    if lsn <= after_lsn || lsn > max_lsn {
        return None;
    }
    let end = offset.checked_add(HEADER)?.checked_add(len)?;
    let body = bytes.get(offset + HEADER..end)?;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[8..16]);
    hasher.update(body);
    if hasher.finalize() != crc {
        return None;
    }
    let org_len = usize::from(u16::from_le_bytes([body[0], body[1]]));
    std::str::from_utf8(body.get(2..2 + org_len)?).ok()?;
    let org_start = offset + HEADER + 2;
    Some(Parsed {
        lsn,
        org: org_start..org_start + org_len,
        raw: org_start + org_len..end,
        end,
    })
}

/// Scans a segment whose first record has LSN `first_lsn`.
pub(super) fn scan(bytes: &[u8], first_lsn: u64) -> Scan {
    let mut scan = Scan {
        ranges: Vec::new(),
        last_lsn: None,
        damage: Vec::new(),
    };
    let mut after = first_lsn.saturating_sub(1);
    let mut offset = 0;
    let mut range_start = 0;
    while offset < bytes.len() {
        if let Some(record) = parse_at(bytes, offset, after, u64::MAX) {
            after = record.lsn;
            scan.last_lsn = Some(record.lsn);
            offset = record.end;
            continue;
        }
        if range_start < offset {
            scan.ranges.push(range_start..offset);
        }
        let resumed = resync(bytes, offset, after);
        let end = resumed.as_ref().map_or(bytes.len(), |(at, _)| *at);
        scan.damage.push(Damage {
            bytes: offset as u64..end as u64,
            after_lsn: after,
            before_lsn: resumed.as_ref().map(|(_, lsn)| *lsn),
        });
        offset = end;
        range_start = end;
    }
    if range_start < offset {
        scan.ranges.push(range_start..offset);
    }
    scan
}

/// The next offset after the damage at `from` where a whole record with an LSN above `after`
/// starts, and its LSN. A damaged span of `n` bytes held at most `n / (HEADER + MIN_BODY)`
/// records, which bounds the LSN a genuine next record can have; with the checksum, that
/// makes a false match in the middle of damaged or foreign bytes vanishingly unlikely.
fn resync(bytes: &[u8], from: usize, after: u64) -> Option<(usize, u64)> {
    (from + 1..bytes.len()).find_map(|offset| {
        let span = (offset - from) / (HEADER + MIN_BODY) + 1;
        let max_lsn = after.saturating_add(span as u64);
        parse_at(bytes, offset, after, max_lsn).map(|record| (offset, record.lsn))
    })
}
