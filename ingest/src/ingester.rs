//! The ingest engine: validate, dedup, log, acknowledge, and flush to the table.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use insights_schemas::{DecodedEvent, EventBatchBuilder, RejectReason, day_of, decode_event};

use crate::dedup::{KeyIndex, event_key};
use crate::error::{Error, Result};
use crate::framing::Chunk;
use crate::quarantine::Quarantine;
use crate::store::StoreLocation;
use crate::table::{CommitSummary, EventTable};
use crate::wal::Wal;

/// How an [`Ingester`] is set up.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub store: StoreLocation,
    /// Local directory of the write-ahead log.
    pub wal_dir: PathBuf,
    /// Local NDJSON file that receives rejected records.
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
}

/// A record that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A commit under way: it owns a copy of the table and hands back the updated one.
type Flush = JoinHandle<Result<(CommitSummary, u64, EventTable)>>;

/// The ingest engine of one store. One process at a time may ingest into a store.
pub struct Ingester {
    config: IngestConfig,
    /// The table as of the last finished commit. Partition keys are read from it while a
    /// commit is under way: a partition not loaded yet has no events in that commit, because
    /// partitions with uncommitted events are never evicted.
    table: EventTable,
    wal: Wal,
    index: KeyIndex,
    builder: EventBatchBuilder,
    buffered_since: Option<Instant>,
    quarantine: Quarantine,
    in_flight: Option<Flush>,
    /// Set when a table commit failed: the events it held are only in the log now, so this
    /// ingester refuses further work and a restart replays them.
    failed: Option<String>,
    commits: u64,
    _lock: File,
}

impl Ingester {
    /// Opens the store (creating it if needed) and replays the write-ahead log.
    pub async fn open(config: IngestConfig) -> Result<Self> {
        let lock = lock_state(&config.wal_dir)?;
        let table = EventTable::open_or_create(&config.store).await?;
        let committed = table.committed_lsn().await?;
        let mut replayed = Vec::new();
        let wal = Wal::open(&config.wal_dir, committed, |record| {
            replayed.push((record.lsn, record.org.to_owned(), record.raw.to_vec()));
            Ok(())
        })?;
        let mut ingester = Self {
            index: KeyIndex::new(config.dedup_budget),
            builder: sized_builder(&config),
            buffered_since: None,
            quarantine: Quarantine::new(config.quarantine_path.clone()),
            table,
            wal,
            in_flight: None,
            failed: None,
            commits: 0,
            config,
            _lock: lock,
        };
        if !replayed.is_empty() {
            tracing::info!(events = replayed.len(), "replaying the write-ahead log");
        }
        for (lsn, org, raw) in replayed {
            let bound = (!org.is_empty()).then_some(org.as_str());
            let event = decode_event(&raw, bound).map_err(|reason| Error::Wal {
                path: ingester.config.wal_dir.clone(),
                message: format!("logged event {lsn} no longer decodes: {reason}"),
            })?;
            if ingester.admit(&event).await? {
                ingester.builder.append(&event, lsn as i64);
                ingester.buffered_since.get_or_insert_with(Instant::now);
            }
            ingester.flush_if_full().await?;
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
    /// requests.
    pub fn sync(&mut self) -> Result<()> {
        self.wal.sync()?;
        self.quarantine.sync()
    }

    /// Like [`Ingester::ingest`], but the accepted events are durable only after the next
    /// [`Ingester::sync`]; nobody may be told they are stored before then.
    pub async fn ingest_unsynced(
        &mut self,
        source: &str,
        chunk: &Chunk,
        bound_org: Option<&str>,
    ) -> Result<BatchOutcome> {
        if let Some(reason) = &self.failed {
            return Err(Error::Stopped(reason.clone()));
        }
        let mut outcome = BatchOutcome::default();
        let decoded = decode_all(chunk, bound_org, self.config.max_record_bytes);
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
            self.builder.append(&event, lsn as i64);
            self.buffered_since.get_or_insert_with(Instant::now);
            outcome.accepted += 1;
            // Flushing rotates (and so syncs) the log first: no event reaches the table
            // before it is in the log.
            self.flush_if_full().await?;
        }
        outcome.last_seq = self.wal.last_lsn();
        Ok(outcome)
    }

    /// Events accepted but not yet committed to the table.
    pub fn buffered(&self) -> usize {
        self.builder.len()
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

    /// Whether an event is new; records its identity if so.
    async fn admit(&mut self, event: &DecodedEvent<'_>) -> Result<bool> {
        let day = day_of(event.timestamp_us);
        if !self.index.is_loaded(&event.organization, day) {
            let keys = self.table.partition_keys(&event.organization, day).await?;
            self.index.load(&event.organization, day, keys);
        }
        let key = event_key(&event.organization, &event.id, event.timestamp_us);
        Ok(self.index.insert(&event.organization, day, key))
    }

    async fn flush_if_full(&mut self) -> Result<()> {
        if self.builder.len() >= self.config.flush_rows
            || self.builder.raw_bytes() >= self.config.flush_bytes
        {
            self.start_flush().await?;
        }
        Ok(())
    }

    /// Flushes the buffer if its oldest event has waited longer than the flush age.
    pub async fn flush_if_due(&mut self) -> Result<()> {
        if self
            .buffered_since
            .is_some_and(|t| t.elapsed() >= self.config.flush_age)
        {
            self.start_flush().await?;
        }
        Ok(())
    }

    /// Commits everything buffered to the table and waits for it.
    pub async fn flush(&mut self) -> Result<()> {
        self.start_flush().await?;
        self.finish_flush().await
    }

    /// Flushes and releases the store.
    pub async fn close(mut self) -> Result<()> {
        self.flush().await
    }

    /// Table commits made by this ingester.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Where rejected records go.
    pub fn quarantine_path(&self) -> &std::path::Path {
        self.quarantine.path()
    }

    /// Starts committing the buffer in the background; at most one commit is in flight, so
    /// commits land in sequence-number order.
    async fn start_flush(&mut self) -> Result<()> {
        let waited = Instant::now();
        self.finish_flush().await?;
        tracing::debug!(
            waited_ms = waited.elapsed().as_millis() as u64,
            "previous commit finished"
        );
        if self.builder.is_empty() {
            return Ok(());
        }
        // A fresh builder sized for a whole batch: growing one by doubling copies it repeatedly.
        let batch = std::mem::replace(&mut self.builder, sized_builder(&self.config)).finish()?;
        self.buffered_since = None;
        let last_lsn = self.wal.last_lsn();
        self.wal.rotate()?;
        let mut table = self.table.clone();
        self.in_flight = Some(tokio::spawn(async move {
            let summary = table.append(batch, last_lsn).await?;
            Ok((summary, last_lsn, table))
        }));
        Ok(())
    }

    async fn finish_flush(&mut self) -> Result<()> {
        let Some(handle) = self.in_flight.take() else {
            return Ok(());
        };
        let joined = handle
            .await
            .map_err(|e| Error::Stopped(format!("table commit task failed: {e}")))
            .and_then(|result| result);
        let (summary, last_lsn, table) = match joined {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "table commit failed; acknowledged events stay in the write-ahead log \
                     until a restart replays them"
                );
                self.failed = Some(format!(
                    "a table commit failed ({e}); restart to replay the log"
                ));
                return Err(e);
            }
        };
        tracing::debug!(
            version = summary.version,
            rows = summary.rows,
            files = summary.files,
            "committed"
        );
        self.table = table;
        for (partition, rows) in &summary.partitions {
            self.index.committed(partition, *rows);
        }
        self.wal.release(last_lsn)?;
        self.commits += 1;
        Ok(())
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
mod tests {
    use super::*;

    fn chunk(lines: &[String]) -> Chunk {
        let mut chunk = Chunk::default();
        for (i, line) in lines.iter().enumerate() {
            let start = chunk.data.len();
            chunk.data.extend_from_slice(line.as_bytes());
            chunk.records.push(crate::framing::RecordSpan {
                line: i as u64 + 1,
                start,
                end: chunk.data.len(),
                too_long: None,
            });
        }
        chunk
    }

    fn events(count: usize) -> Vec<String> {
        (0..count)
            .map(|i| {
                format!(
                    r#"{{"id":"e{i}","timestamp":"2026-10-01T10:00:{:02}Z","service":"sso","event_type":"sso_auth","organization":"o1"}}"#,
                    i % 60
                )
            })
            .collect()
    }

    async fn open(dir: &std::path::Path, tune: impl FnOnce(&mut IngestConfig)) -> Ingester {
        let mut config = IngestConfig::new(StoreLocation::Local(dir.join("store")), dir);
        tune(&mut config);
        Ingester::open(config).await.unwrap()
    }

    async fn table_version(dir: &std::path::Path) -> i64 {
        EventTable::open(&StoreLocation::Local(dir.join("store")))
            .await
            .unwrap()
            .version()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_when_the_buffer_reaches_its_row_or_byte_budget() {
        let dir = tempfile::tempdir().unwrap();
        let mut ingester = open(dir.path(), |c| c.flush_rows = 10).await;
        ingester
            .ingest("t", &chunk(&events(25)), None)
            .await
            .unwrap();
        ingester.finish_flush().await.unwrap();
        assert_eq!(
            ingester.commits(),
            2,
            "25 events with a 10-row budget: two full batches"
        );
        assert_eq!(ingester.builder.len(), 5);

        let dir = tempfile::tempdir().unwrap();
        let mut ingester = open(dir.path(), |c| c.flush_bytes = 300).await;
        ingester
            .ingest("t", &chunk(&events(6)), None)
            .await
            .unwrap();
        ingester.finish_flush().await.unwrap();
        assert_eq!(
            ingester.commits(),
            2,
            "three ~115-byte events fill a 300-byte budget"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_buffered_events_once_they_are_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        let mut ingester = open(dir.path(), |c| c.flush_age = Duration::from_millis(50)).await;
        ingester
            .ingest("t", &chunk(&events(3)), None)
            .await
            .unwrap();
        ingester.flush_if_due().await.unwrap();
        ingester.finish_flush().await.unwrap();
        assert_eq!(ingester.commits(), 0, "not due yet");
        tokio::time::sleep(Duration::from_millis(80)).await;
        ingester.flush_if_due().await.unwrap();
        ingester.finish_flush().await.unwrap();
        assert_eq!(ingester.commits(), 1);
        assert_eq!(table_version(dir.path()).await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unflushed_events_are_replayed_on_the_next_open_with_their_sequence_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut ingester = open(dir.path(), |_| {}).await;
        let outcome = ingester
            .ingest("t", &chunk(&events(4)), None)
            .await
            .unwrap();
        assert_eq!((outcome.accepted, outcome.last_seq), (4, 4));
        drop(ingester); // no flush: the events are only in the log
        let mut reopened = open(dir.path(), |_| {}).await;
        assert_eq!(reopened.builder.len(), 4, "replayed into the buffer");
        let again = reopened
            .ingest("t", &chunk(&events(5)), None)
            .await
            .unwrap();
        assert_eq!(
            (again.accepted, again.duplicates, again.last_seq),
            (1, 4, 5)
        );
        reopened.close().await.unwrap();
        assert_eq!(table_version(dir.path()).await, 1);
    }
}
