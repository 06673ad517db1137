//! What a pull has done, per organization, for progress lines, `/metrics` and `/healthz`.
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde::Serialize;

/// Counters of one organization's pull.
#[derive(Default)]
pub struct PullStats {
    /// Events received from the API.
    pub pulled: AtomicU64,
    /// Events stored for the first time.
    pub stored: AtomicU64,
    /// Events received again (the overlap, a retried page) and dropped by dedup.
    pub duplicates: AtomicU64,
    /// Events that did not decode, quarantined.
    pub quarantined: AtomicU64,
    /// Pages received.
    pub pages: AtomicU64,
    /// Requests retried (429, 5xx, resets, timeouts, broken pages).
    pub retries: AtomicU64,
    /// Runs that ended in an error.
    pub failed_runs: AtomicU64,
    /// When the last run completed (µs since the epoch; 0 before the first).
    pub last_success_us: AtomicI64,
    /// The checkpoint: events before it are stored (µs; 0 before the first).
    pub through_us: AtomicI64,
    /// The window being read: its start and end (µs).
    pub window_start_us: AtomicI64,
    pub window_end_us: AtomicI64,
    last_error: Mutex<Option<String>>,
}

impl PullStats {
    /// Records the last error (`None` once a run succeeds).
    pub fn set_error(&self, error: Option<String>) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = error;
        }
    }

    /// The last error, unless a run has succeeded since.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|slot| slot.clone())
    }

    /// A snapshot, for `/healthz` and summaries.
    pub fn status(&self, now_us: i64) -> OrgStatus {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let last_success_us = self.last_success_us.load(Ordering::Relaxed);
        let through_us = self.through_us.load(Ordering::Relaxed);
        OrgStatus {
            last_success: (last_success_us > 0)
                .then(|| insights_schemas::format_timestamp_us(last_success_us)),
            through: (through_us > 0).then(|| insights_schemas::format_timestamp_us(through_us)),
            lag_seconds: (through_us > 0).then(|| (now_us - through_us) as f64 / 1e6),
            counts: PullCounts {
                pulled: get(&self.pulled),
                stored: get(&self.stored),
                duplicates: get(&self.duplicates),
                quarantined: get(&self.quarantined),
                pages: get(&self.pages),
                retries: get(&self.retries),
            },
            failed_runs: get(&self.failed_runs),
            last_error: self.last_error(),
        }
    }
}

/// One organization's pull, as `/healthz` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OrgStatus {
    pub last_success: Option<String>,
    pub through: Option<String>,
    /// How far the checkpoint is behind now, in seconds.
    pub lag_seconds: Option<f64>,
    #[serde(flatten)]
    pub counts: PullCounts,
    pub failed_runs: u64,
    pub last_error: Option<String>,
}

/// What a pull did, in events, pages and retries.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PullCounts {
    /// Events received from the API.
    pub pulled: u64,
    /// Events stored for the first time.
    pub stored: u64,
    /// Events received again and dropped by dedup.
    pub duplicates: u64,
    /// Events that did not decode, quarantined.
    pub quarantined: u64,
    /// Pages received.
    pub pages: u64,
    /// Requests retried.
    pub retries: u64,
}

impl PullCounts {
    /// Adds another's counts.
    pub fn add(&mut self, other: &PullCounts) {
        self.pulled += other.pulled;
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.quarantined += other.quarantined;
        self.pages += other.pages;
        self.retries += other.retries;
    }
}
