//! Pulls Directory Insights events from JumpCloud's DI API (or any DI-compatible server)
//! into the store, continuously, with no gaps and no duplicates.
//!
//! Each run of an organization reads the window `[checkpoint - overlap, now - lag)` in
//! ascending order, page by page with `search_after`, and stores every page through the same
//! ingester as `insights ingest` (write-ahead log, dedup, quarantine), so a pulled event is
//! stored verbatim and once. The checkpoint moves only after the events before it are durable;
//! re-read events are dropped by dedup and counted as duplicates. See `docs/pull.md`.

mod checkpoint;
mod client;
mod run;
mod settings;
mod sink;
mod stats;

pub use checkpoint::{Checkpoint, Checkpoints};
pub use client::{DiClient, Page};
pub use run::{PageRejection, Puller, RunReport};
pub use settings::{
    DEFAULT_BASE_URL, DEFAULT_SINCE, MAX_PAGE_LIMIT, MAX_READERS, PullSettings, Since,
    parse_duration, read_key_file, read_pull_file,
};
pub use sink::{PageOutcome, Sink};
pub use stats::{OrgStatus, PullCounts, PullStats};

/// Asks a pull to stop: between pages, or while it waits for an answer or a retry.
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

impl Stop {
    /// A stop signal and the sender that raises it (`send(true)`, or dropping it).
    pub fn new() -> (tokio::sync::watch::Sender<bool>, Self) {
        let (sender, receiver) = tokio::sync::watch::channel(false);
        (sender, Self(receiver))
    }

    /// Whether the pull should stop.
    pub fn is_raised(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once the pull should stop.
    pub async fn wait(&self) {
        let mut receiver = self.0.clone();
        // An error means the sender is gone: stop as well.
        let _ = receiver.wait_for(|stop| *stop).await;
    }
}

/// Why a pull stopped.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The settings or a file they name are wrong.
    #[error("{0}")]
    Settings(String),
    /// 401 or 403: the key is wrong, revoked, or not allowed this organization.
    #[error("{message}")]
    KeyRefused { status: u16, message: String },
    /// A 4xx other than 401, 403 and 429: the server refuses the request.
    #[error("the API refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// A transient fault did not go away.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
    /// The answers do not follow the DI API's paging.
    #[error("the API's paging is broken: {0}")]
    Protocol(String),
    /// Storing the events failed; what was acknowledged before is in the write-ahead log.
    #[error(transparent)]
    Store(insights_ingest::Error),
    /// The checkpoint could not be read or written.
    #[error("pull checkpoint: {0}")]
    Checkpoint(String),
    /// The pull was asked to stop.
    #[error("stopped")]
    Stopped,
}

impl PullError {
    /// Whether a later run may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::GaveUp { .. } | Self::Checkpoint(_) | Self::Store(_)
        )
    }
}
