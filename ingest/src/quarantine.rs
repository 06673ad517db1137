//! The quarantine: every rejected record, with where it came from and why, so that nothing
//! sent is silently dropped.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// An append-only NDJSON file of rejected records.
pub struct Quarantine {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    written: u64,
}

#[derive(Serialize)]
struct Entry<'a> {
    rejected_at: String,
    source: &'a str,
    line: u64,
    reason: &'a str,
    /// The record as text when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    /// The record's bytes in hex when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    /// The record was longer than the limit and only its first bytes are kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated_from: Option<usize>,
}

impl Quarantine {
    /// The quarantine file at `path`; created on the first rejection.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            writer: None,
            written: 0,
        }
    }

    /// Where rejected records go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one rejected record.
    pub fn add(
        &mut self,
        source: &str,
        line: u64,
        reason: &str,
        bytes: &[u8],
        truncated_from: Option<usize>,
    ) -> Result<()> {
        let (text, hex) = match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text), None),
            Err(_) => (
                None,
                Some(bytes.iter().map(|b| format!("{b:02x}")).collect()),
            ),
        };
        let entry = Entry {
            rejected_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            source,
            line,
            reason,
            text,
            hex,
            truncated_from,
        };
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                if let Some(dir) = self.path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                }
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(|e| Error::io(format!("opening {}", self.path.display()), e))?;
                self.writer.insert(BufWriter::new(file))
            }
        };
        serde_json::to_writer(&mut *writer, &entry)
            .map_err(std::io::Error::from)
            .and_then(|()| writer.write_all(b"\n"))
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))?;
        self.written += 1;
        Ok(())
    }

    /// Makes the rejected records durable.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(writer) = &mut self.writer {
            writer
                .flush()
                .and_then(|()| writer.get_ref().sync_data())
                .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))?;
        }
        Ok(())
    }
}
