//! Splitting an input stream into event records: NDJSON lines or the elements of a JSON array,
//! gzip-compressed or not, with the line number each record starts on.
//!
//! Memory stays bounded: records are read into reusable chunks, and a record longer than the
//! limit is skipped over (reported, with its first bytes kept) instead of buffered.

use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;

/// Bytes of an over-long record kept for the quarantine.
pub const TOO_LONG_PREFIX: usize = 64 * 1024;

/// A chunk of records: their bytes back to back, and where each one is.
#[derive(Default)]
pub struct Chunk {
    pub data: Vec<u8>,
    pub records: Vec<RecordSpan>,
}

/// One record of a chunk.
#[derive(Debug, Clone)]
pub struct RecordSpan {
    /// 1-based line of the input the record starts on.
    pub line: u64,
    pub start: usize,
    pub end: usize,
    /// The record was longer than the limit; `start..end` holds only its first bytes.
    pub too_long: Option<usize>,
}

impl Chunk {
    /// An empty chunk with room for `records` records of `bytes` bytes in all.
    pub fn with_capacity(records: usize, bytes: usize) -> Self {
        Self {
            data: Vec::with_capacity(bytes),
            records: Vec::with_capacity(records),
        }
    }

    /// The bytes of one record.
    pub fn bytes(&self, span: &RecordSpan) -> &[u8] {
        &self.data[span.start..span.end]
    }

    fn clear(&mut self) {
        self.data.clear();
        self.records.clear();
    }
}

enum Mode {
    Unknown,
    Lines,
    Array { done: bool },
}

/// Reads records from NDJSON or a JSON array, transparently gunzipping.
pub struct RecordReader {
    input: Box<dyn BufRead + Send>,
    mode: Mode,
    line: u64,
    max_record: usize,
    consumed: u64,
}

impl RecordReader {
    /// Wraps `input`; gzip is detected from its magic bytes, not a file name.
    pub fn new(input: impl Read + Send + 'static, max_record: usize) -> std::io::Result<Self> {
        Self::buffered(BufReader::with_capacity(1 << 20, input), max_record)
    }

    /// Wraps an input that buffers itself (a body in memory, say), read without another copy
    /// unless it is gzip.
    pub fn buffered(
        mut input: impl BufRead + Send + 'static,
        max_record: usize,
    ) -> std::io::Result<Self> {
        let is_gzip = input.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn BufRead + Send> = if is_gzip {
            Box::new(BufReader::with_capacity(
                1 << 20,
                MultiGzDecoder::new(input),
            ))
        } else {
            Box::new(input)
        };
        Ok(Self {
            input,
            mode: Mode::Unknown,
            line: 1,
            max_record,
            consumed: 0,
        })
    }

    /// Bytes of (decompressed) input consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Fills `chunk` with up to `max_records` records or about `max_bytes` bytes. Returns
    /// `false` once the input is exhausted and `chunk` is empty.
    pub fn next_chunk(
        &mut self,
        chunk: &mut Chunk,
        max_records: usize,
        max_bytes: usize,
    ) -> std::io::Result<bool> {
        chunk.clear();
        if let Mode::Unknown = self.mode {
            self.detect_mode()?;
        }
        while chunk.records.len() < max_records && chunk.data.len() < max_bytes {
            let more = match self.mode {
                Mode::Lines => self.read_line(chunk)?,
                Mode::Array { .. } => self.read_element(chunk)?,
                Mode::Unknown => false,
            };
            if !more {
                break;
            }
        }
        Ok(!chunk.records.is_empty())
    }

    fn detect_mode(&mut self) -> std::io::Result<()> {
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                self.mode = Mode::Lines;
                return Ok(());
            }
            // Skip a UTF-8 byte order mark and leading whitespace, counting lines.
            let skip = if buf.starts_with(&[0xef, 0xbb, 0xbf]) {
                3
            } else {
                0
            };
            let rest = &buf[skip..];
            let ws = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            self.line += rest[..ws].iter().filter(|b| **b == b'\n').count() as u64;
            if ws < rest.len() {
                let is_array = rest[ws] == b'[';
                self.mode = if is_array {
                    Mode::Array { done: false }
                } else {
                    Mode::Lines
                };
                let advance = skip + ws + usize::from(is_array);
                self.input.consume(advance);
                self.consumed += advance as u64;
                return Ok(());
            }
            let advance = skip + ws;
            self.input.consume(advance);
            self.consumed += advance as u64;
        }
    }

    /// Reads one line (without its terminator); blank lines are skipped.
    fn read_line(&mut self, chunk: &mut Chunk) -> std::io::Result<bool> {
        loop {
            let start = chunk.data.len();
            let line = self.line;
            let mut len = 0usize;
            let mut saw_any = false;
            loop {
                let buf = self.input.fill_buf()?;
                if buf.is_empty() {
                    break;
                }
                saw_any = true;
                let (take, found) = match memchr::memchr(b'\n', buf) {
                    Some(pos) => (pos + 1, true),
                    None => (buf.len(), false),
                };
                let keep_limit = if len + take > self.max_record {
                    TOO_LONG_PREFIX
                } else {
                    usize::MAX
                };
                let room = keep_limit.saturating_sub(chunk.data.len() - start);
                chunk.data.extend_from_slice(&buf[..take.min(room)]);
                len += take;
                self.input.consume(take);
                self.consumed += take as u64;
                if found {
                    break;
                }
            }
            if !saw_any {
                return Ok(false);
            }
            self.line += 1;
            // Strip the terminator of what we kept.
            while chunk.data.len() > start && matches!(chunk.data.last(), Some(b'\n' | b'\r')) {
                chunk.data.pop();
            }
            let content_len = len - usize::from(len > 0);
            if chunk.data[start..].iter().all(u8::is_ascii_whitespace)
                && content_len < self.max_record
            {
                chunk.data.truncate(start);
                continue;
            }
            let too_long = (content_len > self.max_record).then_some(content_len);
            if too_long.is_some() {
                chunk
                    .data
                    .truncate(start + TOO_LONG_PREFIX.min(chunk.data.len() - start));
            }
            chunk.records.push(RecordSpan {
                line,
                start,
                end: chunk.data.len(),
                too_long,
            });
            return Ok(true);
        }
    }

    /// Reads one element of a top-level JSON array.
    fn read_element(&mut self, chunk: &mut Chunk) -> std::io::Result<bool> {
        if let Mode::Array { done: true } = self.mode {
            return Ok(false);
        }
        // Skip separators up to the element's first byte.
        loop {
            let buf = self.input.fill_buf()?;
            let Some(&byte) = buf.first() else {
                self.mode = Mode::Array { done: true };
                return Ok(false);
            };
            match byte {
                b'\n' => self.line += 1,
                b',' | b' ' | b'\t' | b'\r' => {}
                b']' => {
                    self.input.consume(1);
                    self.consumed += 1;
                    self.mode = Mode::Array { done: true };
                    return Ok(false);
                }
                _ => break,
            }
            self.input.consume(1);
            self.consumed += 1;
        }
        let start = chunk.data.len();
        let line = self.line;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut len = 0usize;
        'element: loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let mut used = 0;
            for &byte in buf {
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if byte == b'\\' {
                        escaped = true;
                    } else if byte == b'"' {
                        in_string = false;
                    }
                } else {
                    match byte {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' if depth > 0 => depth -= 1,
                        b',' | b']' if depth == 0 => break,
                        _ => {}
                    }
                }
                if byte == b'\n' {
                    self.line += 1;
                }
                used += 1;
                if !in_string && depth == 0 && matches!(byte, b'}' | b']') {
                    break;
                }
            }
            let keep = if len + used > self.max_record {
                TOO_LONG_PREFIX
            } else {
                usize::MAX
            };
            let room = keep.saturating_sub(chunk.data.len() - start);
            chunk.data.extend_from_slice(&buf[..used.min(room)]);
            len += used;
            let finished = used < buf.len()
                || (!in_string && depth == 0 && used > 0 && matches!(buf[used - 1], b'}' | b']'));
            self.input.consume(used);
            self.consumed += used as u64;
            if finished {
                break 'element;
            }
        }
        while chunk.data.len() > start && chunk.data.last().is_some_and(u8::is_ascii_whitespace) {
            chunk.data.pop();
        }
        let too_long = (len > self.max_record).then_some(len);
        chunk.records.push(RecordSpan {
            line,
            start,
            end: chunk.data.len(),
            too_long,
        });
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(input: Vec<u8>, max: usize) -> Vec<(u64, String, Option<usize>)> {
        let mut reader = RecordReader::new(std::io::Cursor::new(input), max).unwrap();
        let mut chunk = Chunk::default();
        let mut out = Vec::new();
        while reader.next_chunk(&mut chunk, 2, 1 << 20).unwrap() {
            for span in &chunk.records {
                out.push((
                    span.line,
                    String::from_utf8_lossy(chunk.bytes(span)).into_owned(),
                    span.too_long,
                ));
            }
        }
        out
    }

    #[test]
    fn splits_ndjson_with_line_numbers_and_skips_blank_lines() {
        let got = read_all(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}".to_vec(), 100);
        assert_eq!(
            got,
            vec![
                (1, "{\"a\":1}".into(), None),
                (4, "{\"b\":2}".into(), None),
                (5, "{\"c\":3}".into(), None)
            ]
        );
    }

    #[test]
    fn splits_json_arrays_including_nested_brackets_in_strings() {
        let input =
            b"\n[\n {\"a\":\"x],}\\\"{\"},\n {\"b\":[1,{\"c\":2}]} ,\n 42, \"s\"\n]\n".to_vec();
        let got = read_all(input, 100);
        assert_eq!(
            got,
            vec![
                (3, "{\"a\":\"x],}\\\"{\"}".into(), None),
                (4, "{\"b\":[1,{\"c\":2}]}".into(), None),
                (5, "42".into(), None),
                (5, "\"s\"".into(), None),
            ]
        );
    }

    #[test]
    fn reads_gzip_transparently() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        let got = read_all(encoder.finish().unwrap(), 100);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], (2, "{\"b\":2}".into(), None));
    }

    #[test]
    fn over_long_records_are_reported_with_a_prefix_and_reading_goes_on() {
        let long = "x".repeat(TOO_LONG_PREFIX * 3);
        let got = read_all(
            format!("{{\"a\":1}}\n{long}\n{{\"b\":2}}\n").into_bytes(),
            TOO_LONG_PREFIX,
        );
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].2, Some(long.len()));
        assert_eq!(got[1].1.len(), TOO_LONG_PREFIX);
        assert_eq!(got[2], (3, "{\"b\":2}".into(), None));
    }

    #[test]
    fn truncated_array_yields_the_partial_element() {
        let got = read_all(b"[{\"a\":1},{\"b\":".to_vec(), 100);
        assert_eq!(
            got,
            vec![(1, "{\"a\":1}".into(), None), (1, "{\"b\":".into(), None)]
        );
    }

    #[test]
    fn empty_input_has_no_records() {
        assert!(read_all(Vec::new(), 100).is_empty());
        assert!(read_all(b"[]".to_vec(), 100).is_empty());
        assert!(read_all(b" \n\n".to_vec(), 100).is_empty());
    }
}
