//! Turning the buffer into table commits, and what happens when a commit fails.
//!
//! At most one commit is under way, so commits land in LSN order. A commit's watermark (the
//! Delta application transaction) is the highest LSN of the events *in its batch*, and the log
//! is released only up to the watermark of a commit that landed; a replay that spans several
//! commits is therefore as safe as one that spans one.
//!
//! A commit that fails (a store turned read-only, a full disk, an object store that is down)
//! keeps its batch and is retried with a growing delay. Until it lands, no later batch is
//! committed, ingest goes on into the buffer, and once the buffer is full new events are
//! refused ([`Error::Backlogged`]) rather than acknowledged beyond what memory can hold.
//! Before a retry the table is read again: a commit that failed from our side may have landed
//! (a timeout after the log entry was written), and its watermark says so.

use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use tokio::task::JoinHandle;

use super::Ingester;
use crate::error::{Error, Result};
use crate::table::{CommitSummary, EventTable, count_partitions};

/// The delay before the first retry of a failed commit; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Attempts at a commit while replaying the log before opening the store gives up.
const REPLAY_COMMIT_ATTEMPTS: u32 = 5;

/// Events on their way to the table and the highest LSN among them.
pub(super) struct Batch {
    rows: RecordBatch,
    last_lsn: u64,
}

/// A commit that failed and waits to be retried.
pub(super) struct Stalled {
    batch: Batch,
    error: String,
    attempts: u32,
    since: Instant,
    retry_at: Instant,
}

/// Where the ingester's commit stands.
pub(super) enum CommitState {
    Idle,
    Running {
        task: JoinHandle<Result<(CommitSummary, EventTable)>>,
        batch: Batch,
    },
    Stalled(Stalled),
}

impl CommitState {
    /// Events in a commit under way or waiting for a retry.
    pub(super) fn events(&self) -> usize {
        match self {
            Self::Idle => 0,
            Self::Running { batch, .. } => batch.rows.num_rows(),
            Self::Stalled(stalled) => stalled.batch.rows.num_rows(),
        }
    }

    /// What keeps a stalled commit from landing.
    pub(super) fn trouble(&self) -> Option<String> {
        let Self::Stalled(stalled) = self else {
            return None;
        };
        Some(format!(
            "a table commit of {} events has failed {} time(s) over {} s ({}); it is retried, and \
             its events are safe in the write-ahead log",
            stalled.batch.rows.num_rows(),
            stalled.attempts,
            stalled.since.elapsed().as_secs(),
            stalled.error
        ))
    }

    fn stalled_error(&self) -> Option<Error> {
        let Self::Stalled(stalled) = self else {
            return None;
        };
        Some(Error::Commit {
            message: stalled.error.clone(),
            attempts: stalled.attempts,
        })
    }
}

fn retry_delay(attempts: u32) -> Duration {
    FIRST_RETRY_DELAY
        .saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(MAX_RETRY_DELAY)
}

impl Ingester {
    /// Refuses new work when it could not be made durable, or when a commit keeps failing and
    /// the buffer is full; retries a failed log write or a failed commit first, when due.
    pub(super) async fn check_room(&mut self) -> Result<()> {
        if let Some(reason) = &self.broken {
            return Err(Error::Stopped(reason.clone()));
        }
        // Only after a failed write: a sync per request would undo the group commit.
        if self.wal_error.is_some() {
            self.sync_log().map_err(|e| Error::Unavailable(format!(
                "the write-ahead log cannot be written ({e}); no new event is accepted until it can"
            )))?;
        }
        if matches!(self.commit, CommitState::Stalled(_)) {
            // Failures are logged where they happen; what matters here is whether there is room.
            let _ = self.settle(false).await;
            if let CommitState::Stalled(stalled) = &self.commit
                && self.buffer_full()
            {
                return Err(Error::Backlogged {
                    message: stalled.error.clone(),
                    attempts: stalled.attempts,
                    waiting: stalled.batch.rows.num_rows() + self.builder.len(),
                });
            }
        }
        Ok(())
    }

    /// Starts a commit once the buffer is full. A failed commit does not fail the ingest that
    /// happens to find it: it is logged and retried, and ingest is refused only once the buffer
    /// is full again ([`Ingester::check_room`]).
    pub(super) async fn flush_if_full(&mut self) -> Result<()> {
        if !self.buffer_full() || matches!(self.commit, CommitState::Stalled(_)) {
            return Ok(());
        }
        match self.start_flush().await {
            Err(Error::Commit { .. }) => Ok(()),
            other => other,
        }
    }

    /// While the log is replayed, the buffer must not outgrow a commit: a commit that fails is
    /// retried a few times, then opening the store fails (the log keeps every event).
    pub(super) async fn make_room_during_replay(&mut self) -> Result<()> {
        while self.buffer_full() {
            match self.start_flush().await {
                Err(Error::Commit { attempts, .. }) if attempts < REPLAY_COMMIT_ATTEMPTS => {
                    tokio::time::sleep(retry_delay(attempts)).await;
                }
                Err(e) => {
                    return Err(Error::Stopped(format!(
                        "committing the replayed write-ahead log failed ({e}); the log keeps \
                         every event for the next start"
                    )));
                }
                Ok(()) => {}
            }
        }
        Ok(())
    }

    /// Flushes the buffer if its oldest event has waited longer than the flush age, and retries
    /// a failed commit when its delay is over.
    pub async fn flush_if_due(&mut self) -> Result<()> {
        if matches!(self.commit, CommitState::Stalled(_)) {
            self.settle(false).await?;
            if matches!(self.commit, CommitState::Stalled(_)) {
                return Ok(());
            }
        }
        if self
            .buffered_since
            .is_some_and(|t| t.elapsed() >= self.config.flush_age)
        {
            self.start_flush().await?;
        }
        Ok(())
    }

    /// Commits everything buffered to the table and waits for it, retrying a failed commit
    /// once at once.
    pub async fn flush(&mut self) -> Result<()> {
        self.settle(true).await?;
        self.start_flush().await?;
        self.settle(true).await
    }

    /// Flushes and releases the store. When the table cannot be written, the error says so and
    /// the unflushed events stay in the log for the next start.
    pub async fn close(mut self) -> Result<()> {
        self.flush().await
    }

    /// Starts committing the buffer in the background, once the previous commit has landed.
    pub(super) async fn start_flush(&mut self) -> Result<()> {
        if let Some(reason) = &self.broken {
            return Err(Error::Stopped(reason.clone()));
        }
        let waited = Instant::now();
        self.settle(false).await?;
        if let Some(error) = self.commit.stalled_error() {
            return Err(error);
        }
        tracing::debug!(
            waited_ms = waited.elapsed().as_millis() as u64,
            "previous commit finished"
        );
        if self.builder.is_empty() {
            return Ok(());
        }
        // No event reaches the table before its record is durable in the log.
        self.sync_log()?;
        if let Err(e) = self.wal.rotate() {
            tracing::warn!(
                error = %e,
                "cannot start a new write-ahead log segment; the current one is kept until the \
                 table holds all of it"
            );
        }
        // A fresh builder sized for a whole batch: growing one by doubling copies it repeatedly.
        let rows = match std::mem::replace(&mut self.builder, super::sized_builder(&self.config))
            .finish()
        {
            Ok(rows) => rows,
            Err(e) => {
                let reason = format!(
                    "buffered events could not be made into a batch ({e}); they are in the \
                     write-ahead log, and a restart replays them"
                );
                tracing::error!("{reason}");
                self.broken = Some(reason.clone());
                return Err(Error::Stopped(reason));
            }
        };
        self.buffered_since = None;
        let batch = Batch {
            rows,
            last_lsn: self.buffered_lsn,
        };
        let mut table = self.table.clone();
        let (rows, lsn) = (batch.rows.clone(), batch.last_lsn);
        let task = tokio::spawn(async move {
            let summary = table.append(rows, lsn).await?;
            Ok((summary, table))
        });
        self.commit = CommitState::Running { task, batch };
        Ok(())
    }

    /// Waits for the commit under way, and retries a failed one when its delay is over (or at
    /// once, with `now`). Returns the error of an attempt that failed.
    pub(super) async fn settle(&mut self, now: bool) -> Result<()> {
        match std::mem::replace(&mut self.commit, CommitState::Idle) {
            CommitState::Idle => Ok(()),
            CommitState::Running { task, batch } => {
                let result = match task.await {
                    Ok(result) => result.map(|(summary, table)| (Some(summary), table)),
                    Err(e) => Err(Error::Stopped(format!("the table commit task failed: {e}"))),
                };
                self.conclude(batch, result, 0, Instant::now())
            }
            CommitState::Stalled(stalled) => {
                if !now && Instant::now() < stalled.retry_at {
                    self.commit = CommitState::Stalled(stalled);
                    return Ok(());
                }
                let result = self.retry(&stalled.batch).await;
                self.conclude(stalled.batch, result, stalled.attempts, stalled.since)
            }
        }
    }

    /// Commits a batch again, unless the table shows that an attempt which seemed to fail
    /// landed after all (then the summary is `None`).
    async fn retry(&self, batch: &Batch) -> Result<(Option<CommitSummary>, EventTable)> {
        let mut table = self.table.clone();
        table.reload().await?;
        if table.committed_lsn().await? >= batch.last_lsn {
            tracing::info!(
                lsn = batch.last_lsn,
                "a commit that seemed to fail had landed"
            );
            return Ok((None, table));
        }
        let summary = table.append(batch.rows.clone(), batch.last_lsn).await?;
        Ok((Some(summary), table))
    }

    /// Settles the outcome of a commit attempt: on success the table, the dedup index and the
    /// log move on; on failure the batch waits for its next attempt.
    fn conclude(
        &mut self,
        batch: Batch,
        result: Result<(Option<CommitSummary>, EventTable)>,
        attempts_before: u32,
        since: Instant,
    ) -> Result<()> {
        let (summary, table) = match result {
            Ok(done) => done,
            Err(e) => {
                let attempts = attempts_before + 1;
                let delay = retry_delay(attempts);
                self.commit_failures += 1;
                tracing::error!(
                    error = %e,
                    attempts,
                    events = batch.rows.num_rows(),
                    retry_in_ms = delay.as_millis() as u64,
                    "a table commit failed; its events are safe in the write-ahead log, and \
                     nothing later is committed before it lands"
                );
                let message = e.to_string();
                self.commit = CommitState::Stalled(Stalled {
                    batch,
                    error: message.clone(),
                    attempts,
                    since,
                    retry_at: Instant::now() + delay,
                });
                return Err(Error::Commit { message, attempts });
            }
        };
        if attempts_before > 0 {
            tracing::warn!(
                attempts = attempts_before + 1,
                events = batch.rows.num_rows(),
                "a table commit that had failed has landed"
            );
        }
        let partitions = match summary {
            Some(summary) => {
                tracing::debug!(
                    version = summary.version,
                    rows = summary.rows,
                    files = summary.files,
                    "committed"
                );
                summary.partitions
            }
            None => count_partitions(&batch.rows),
        };
        self.table = table;
        for (partition, rows) in &partitions {
            self.index.committed(partition, *rows);
        }
        if let Err(e) = self.wal.release(batch.last_lsn) {
            tracing::warn!(error = %e, "cannot remove a committed write-ahead log segment yet");
        }
        self.commits += 1;
        Ok(())
    }
}
