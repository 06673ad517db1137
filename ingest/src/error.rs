//! The ingest crate's error type.

use std::path::PathBuf;

/// Result of an ingest operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while ingesting, with the file or location it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("write-ahead log {path}: {message}")]
    Wal { path: PathBuf, message: String },
    #[error("store {store}: {message}")]
    Store { store: String, message: String },
    #[error("table {table}: {source}")]
    Table {
        table: String,
        source: Box<deltalake::DeltaTableError>,
    },
    #[error("reading {file}: {source}")]
    Parquet {
        file: String,
        source: parquet::errors::ParquetError,
    },
    #[error("building a record batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(
        "the store is in use by another ingesting process (lock file {0}); stop it or use another store"
    )]
    Locked(PathBuf),
    #[error("the ingest engine stopped: {0}")]
    Stopped(String),
    #[error(
        "a table commit failed (attempt {attempts}): {message}; its events are safe in the \
         write-ahead log and the commit is retried"
    )]
    Commit { message: String, attempts: u32 },
    #[error(
        "the table cannot be written: a commit has failed {attempts} time(s) ({message}); the \
         {waiting} acknowledged events waiting for it are safe in the write-ahead log, and new \
         events are refused until it lands"
    )]
    Backlogged {
        message: String,
        attempts: u32,
        waiting: usize,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("signing key {source_name}: {message}")]
    Key {
        source_name: String,
        message: String,
    },
    #[error("digests {location}: {message}")]
    Digest { location: String, message: String },
    #[error(
        "ingesting {input} stopped before line {line}; every event acknowledged before is kept \
         in the write-ahead log {} and committed by the next ingest or serve on this store: \
         {source}", wal.display()
    )]
    Interrupted {
        input: String,
        line: u64,
        wal: PathBuf,
        source: Box<Error>,
    },
}

impl Error {
    /// An I/O error with the path or action it happened on.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn table(table: &str, source: deltalake::DeltaTableError) -> Self {
        Self::Table {
            table: table.to_owned(),
            source: Box::new(source),
        }
    }
}
