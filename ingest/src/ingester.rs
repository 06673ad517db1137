//! The ingest engine: validate, dedup, log, acknowledge, and flush to the table.
//!
//! The promise is that an acknowledged event is durable, and stays so: it is in the write-ahead
//! log (fsync'd) before anyone is told, and its record leaves the log only once a table commit
//! that holds it has landed. Each commit records the highest LSN *of the events it holds* as
//! its watermark, and commits land in LSN order, one at a time; a commit that fails keeps its
//! batch and is retried (see [`flush`]), and nothing buffered after it is committed before it.

mod flush;

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use insights_schemas::{DecodedEvent, EventBatchBuilder, RejectReason, day_of, decode_event};

use crate::dedup::{KeyIndex, event_key};
use crate::error::{Error, Result};
use crate::framing::Chunk;
use crate::quarantine::Quarantine;
use crate::store::StoreLocation;
use crate::table::EventTable;
use crate::wal::{Recovered, Wal};

use flush::CommitState;

/// How an [`Ingester`] is set up.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub store: StoreLocation,
    /// Local directory of the write-ahead log.
    pub wal_dir: PathBuf,
    /// Local NDJSON file that receives rejected records; damaged bytes of the log go beside it.
    pub quarantine_path: PathBuf,
    /// Flush the buffer once it holds this many events...
    pub flush_rows: usize,
    /// ...or this many bytes of raw JSON...
    pub flush_bytes: usize,
    /// ...or its oldest event has waited this long.
    pub flush_age: Duration,
    /// Event identities the dedup index keeps in memory (about 40 bytes each).
    pub dedup_budget: usize,
    /// Records longer than this are rejected.
    pub max_record_bytes: usize,
}

impl IngestConfig {
    /// Defaults for a store; `local_state` is where a remote store keeps its log and quarantine.
    pub fn new(store: StoreLocation, local_state: &std::path::Path) -> Self {
        let state = store.state_dir(local_state);
        Self {
            store,
            wal_dir: state.join("_wal"),
            quarantine_path: state.join("_quarantine").join("rejected.ndjson"),
            flush_rows: 200_000,
            flush_bytes: 64 << 20,
            flush_age: Duration::from_secs(10),
            dedup_budget: 8_000_000,
            max_record_bytes: 16 << 20,
        }
    }

    /// The directory of the quarantine file.
    fn quarantine_dir(&self) -> PathBuf {
        self.quarantine_path
            .parent()
            .map_or_else(|| self.wal_dir.clone(), std::path::Path::to_path_buf)
    }
}

/// A record that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    /// 1-based line of the input.
    pub line: u64,
    pub reason: String,
}

/// What became of one batch of records; everything accepted is durable.
#[derive(Debug, Default, Clone)]
pub struct BatchOutcome {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<Rejection>,
    /// The highest ingest sequence number handed out so far.
    pub last_seq: u64,
}

/// Chunks at least this long are decoded on two threads.
const PARALLEL_DECODE_RECORDS: usize = 256;

/// Decodes every record of a chunk, in order. Decoding is the CPU-heavy, order-free part of
/// ingest, so a large chunk is split in two and its second half decoded on a helper thread
/// while this one decodes the first; the ordered part (dedup, log, buffer) stays sequential.
fn decode_all<'a>(
    chunk: &'a Chunk,
    bound_org: Option<&'a str>,
    limit: usize,
) -> Vec<std::result::Result<DecodedEvent<'a>, RejectReason>> {
    let decode = |span: &crate::framing::RecordSpan| match span.too_long {
        Some(len) => Err(RejectReason::TooLong { len, limit }),
        None => decode_event(chunk.bytes(span), bound_org),
    };
    if chunk.records.len() < PARALLEL_DECODE_RECORDS {
        return chunk.records.iter().map(decode).collect();
    }
    let (first, second) = chunk.records.split_at(chunk.records.len() / 2);
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| second.iter().map(decode).collect::<Vec<_>>());
        let mut decoded: Vec<_> = first.iter().map(decode).collect();
        match helper.join() {
            Ok(rest) => decoded.extend(rest),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        decoded
    })
}

/// The ingest engine of one store. One process at a time may ingest into a store.
pub struct Ingester {
    pub(crate) config: IngestConfig,
    /// The table as of the last finished commit. Partition keys are read from it while a
    /// commit is under way: a partition not loaded yet has no events in that commit, because
    /// partitions with uncommitted events are never evicted.
    table: EventTable,
    wal: Wal,
    /// Why the last write of the log failed, until one succeeds.
    wal_error: Option<String>,
    index: KeyIndex,
    builder: EventBatchBuilder,
    /// The highest LSN among the events in `builder`: the watermark of their commit.
    buffered_lsn: u64,
    buffered_since: Option<Instant>,
    quarantine: Quarantine,
    commit: CommitState,
    /// Set when buffered events could not be turned into a batch: they are only in the log
    /// now, so this ingester commits nothing more (a later watermark would pass them) and a
    /// restart replays them.
    broken: Option<String>,
    commits: u64,
    commit_failures: u64,
    _lock: File,
}

impl Ingester {
    /// Opens the store (creating it if needed) and replays the write-ahead log into the buffer,
    /// committing as the buffer fills; damage in the log is reported and quarantined
    /// ([`Wal::open`]), and a logged event that no longer decodes is quarantined with its LSN.
    pub async fn open(config: IngestConfig) -> Result<Self> {
        let lock = lock_state(&config.wal_dir)?;
        let table = EventTable::open_or_create(&config.store).await?;
        let committed = table.committed_lsn().await?;
        let (wal, mut replay) = Wal::open(&config.wal_dir, committed, &config.quarantine_dir())?;
        let mut ingester = Self {
            index: KeyIndex::new(config.dedup_budget),
            builder: sized_builder(&config),
            buffered_lsn: 0,
            buffered_since: None,
            quarantine: Quarantine::new(config.quarantine_path.clone()),
            table,
            wal,
            wal_error: None,
            commit: CommitState::Idle,
            broken: None,
            commits: 0,
            commit_failures: 0,
            config,
            _lock: lock,
        };
        let mut replayed = 0u64;
        while let Some(record) = replay.next_record()? {
            replayed += 1;
            let bound = (!record.org.is_empty()).then_some(record.org);
            match decode_event(record.raw, bound) {
                Ok(event) => {
                    if ingester.admit(&event).await? {
                        ingester.buffer(&event, record.lsn);
                    }
                }
                Err(reason) => {
                    let reason = format!("a logged event no longer decodes: {reason}");
                    tracing::warn!(lsn = record.lsn, %reason, "quarantined while replaying");
                    ingester.quarantine.add(
                        "write-ahead log",
                        record.lsn,
                        &reason,
                        record.raw,
                        None,
                    )?;
                }
            }
            ingester.make_room_during_replay().await?;
        }
        ingester.quarantine.sync()?;
        if replayed > 0 {
            tracing::info!(events = replayed, "replayed the write-ahead log");
        }
        Ok(ingester)
    }

    /// Ingests a chunk of records from `source` (a file name, for messages). When this returns,
    /// every accepted event is durable. `bound_org` stamps or checks the organization.
    pub async fn ingest(
        &mut self,
        source: &str,
        chunk: &Chunk,
        bound_org: Option<&str>,
    ) -> Result<BatchOutcome> {
        let mut outcome = self.ingest_unsynced(source, chunk, bound_org).await?;
        self.sync()?;
        outcome.last_seq = self.wal.last_lsn();
        Ok(outcome)
    }

    /// Makes everything ingested so far durable: one fsync of the log (and of the quarantine)
    /// for any number of [`Ingester::ingest_unsynced`] calls, the group commit of concurrent
    /// requests. When it fails, nothing ingested since the last sync may be acknowledged; the
    /// records stay buffered and are written by the next sync that succeeds.
    pub fn sync(&mut self) -> Result<()> {
        self.sync_log()?;
        self.quarantine.sync()
    }

    fn sync_log(&mut self) -> Result<()> {
        let synced = self.wal.sync();
        self.wal_error = synced.as_ref().err().map(ToString::to_string);
        synced
    }

    /// Like [`Ingester::ingest`], but the accepted events are durable only after the next
    /// [`Ingester::sync`]; nobody may be told they are stored before then.
    ///
    /// Fails before accepting anything when ingest cannot go on: the log cannot be written
    /// ([`Error::Unavailable`]), or a table commit keeps failing and the buffer is full
    /// ([`Error::Backlogged`]).
    pub async fn ingest_unsynced(
        &mut self,
        source: &str,
        chunk: &Chunk,
        bound_org: Option<&str>,
    ) -> Result<BatchOutcome> {
        self.check_room().await?;
        let mut outcome = BatchOutcome::default();
        let decoded = decode_all(chunk, bound_org, self.config.max_record_bytes);
        // Reading the table for dedup can fail; do it before anything is accepted.
        for event in decoded.iter().flatten() {
            self.load_partition(&event.organization, day_of(event.timestamp_us))
                .await?;
        }
        for (span, decoded) in chunk.records.iter().zip(decoded) {
            let bytes = chunk.bytes(span);
            let event = match decoded {
                Ok(event) => event,
                Err(reason) => {
                    let reason = reason.to_string();
                    self.quarantine
                        .add(source, span.line, &reason, bytes, span.too_long)?;
                    outcome.rejected.push(Rejection {
                        line: span.line,
                        reason,
                    });
                    continue;
                }
            };
            if !self.admit(&event).await? {
                outcome.duplicates += 1;
                continue;
            }
            let logged_org = if bound_org.is_some() {
                event.organization.as_ref()
            } else {
                ""
            };
            let lsn = self.wal.append(logged_org, event.raw.as_bytes());
            self.buffer(&event, lsn);
            outcome.accepted += 1;
            self.flush_if_full().await?;
        }
        outcome.last_seq = self.wal.last_lsn();
        Ok(outcome)
    }

    /// Events accepted but not yet committed to the table (including a commit being retried).
    pub fn buffered(&self) -> usize {
        self.builder.len() + self.commit.events()
    }

    /// How long the oldest event not yet committed has waited.
    pub fn buffered_age(&self) -> Duration {
        self.buffered_since
            .map_or(Duration::ZERO, |since| since.elapsed())
    }

    /// The local directory of the write-ahead log.
    pub fn wal_dir(&self) -> &std::path::Path {
        &self.config.wal_dir
    }

    /// Damage the write-ahead log held when it was opened.
    pub fn recovered(&self) -> &[Recovered] {
        self.wal.recovered()
    }

    /// Why ingest cannot go on right now (the log cannot be written, a commit keeps failing),
    /// or `None` when it can.
    pub fn trouble(&self) -> Option<String> {
        if let Some(reason) = &self.broken {
            return Some(reason.clone());
        }
        if let Some(error) = &self.wal_error {
            return Some(format!("the write-ahead log cannot be written: {error}"));
        }
        self.commit.trouble()
    }

    /// Table commits made by this ingester.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Table commits that failed (each failed attempt counts).
    pub fn commit_failures(&self) -> u64 {
        self.commit_failures
    }

    /// Where rejected records go.
    pub fn quarantine_path(&self) -> &std::path::Path {
        self.quarantine.path()
    }

    /// Adds an admitted event to the buffer.
    fn buffer(&mut self, event: &DecodedEvent<'_>, lsn: u64) {
        debug_assert!(lsn > self.buffered_lsn, "events are buffered in LSN order");
        self.builder
            .append(event, i64::try_from(lsn).unwrap_or(i64::MAX));
        self.buffered_lsn = self.buffered_lsn.max(lsn);
        self.buffered_since.get_or_insert_with(Instant::now);
    }

    /// Loads the identities the table holds for a partition, unless they are loaded.
    async fn load_partition(&mut self, organization: &str, day: i32) -> Result<()> {
        if !self.index.is_loaded(organization, day) {
            let keys = self.table.partition_keys(organization, day).await?;
            self.index.load(organization, day, keys);
        }
        Ok(())
    }

    /// Whether an event is new; records its identity if so.
    async fn admit(&mut self, event: &DecodedEvent<'_>) -> Result<bool> {
        let day = day_of(event.timestamp_us);
        self.load_partition(&event.organization, day).await?;
        let key = event_key(&event.organization, &event.id, event.timestamp_us);
        Ok(self.index.insert(&event.organization, day, key))
    }

    /// Whether the buffer holds a commit's worth of events.
    fn buffer_full(&self) -> bool {
        self.builder.len() >= self.config.flush_rows
            || self.builder.raw_bytes() >= self.config.flush_bytes
    }
}

/// A batch builder with room for one flush's worth of events.
fn sized_builder(config: &IngestConfig) -> EventBatchBuilder {
    let raw_bytes = config
        .flush_bytes
        .saturating_add(config.max_record_bytes.min(1 << 20));
    let rows = config.flush_rows.min(raw_bytes / 256 + 1024);
    EventBatchBuilder::with_capacity(rows, raw_bytes)
}

/// Takes the store's ingest lock, held for the life of the process.
fn lock_state(wal_dir: &std::path::Path) -> Result<File> {
    std::fs::create_dir_all(wal_dir)
        .map_err(|e| Error::io(format!("creating {}", wal_dir.display()), e))?;
    let path = wal_dir.join("LOCK");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(path)),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("locking {}", path.display()), e))
        }
    }
}

#[cfg(test)]
mod tests;
