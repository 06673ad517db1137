//! The events table: a Delta Lake table of Parquet files partitioned by organization and day.
//!
//! [`EventTable`] is the one way into the table, for this crate and for the query and export
//! crates: its versions, its live files ([`TableFile`]), the files a commit added, its object
//! store. No deltalake type crosses the crate boundary, so the rest of the engine does not
//! depend on how the table's log is read or written. Writing is in [`layout`] (the Parquet
//! settings and storage order) and compaction's file operations in [`files`].

mod files;
mod layout;
mod removal;

pub(crate) use files::LiveFile;
pub use files::TableFile;
pub use layout::BLOOM_FILTER_COLUMNS;
pub(crate) use layout::{
    compacted_writer_properties, count_partitions, date_string, storage_order, write_in_order,
    writer_properties,
};

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimestampMicrosecondType};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, StructField, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;
use parquet::arrow::ProjectionMask;
// ParquetObjectReader is deprecated in favour of hand-written AsyncFileReaders; it is still the
// reader deltalake itself uses over the same object store, so one read path serves both.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;

use insights_schemas::{PARTITION_COLUMNS, column, event_schema};

use crate::dedup::{EventKey, PartitionId, event_key};
use crate::error::{Error, Result};
use crate::evidence::Chain;
use crate::store::StoreLocation;

/// The application id under which commits record the highest WAL sequence number they hold.
pub const INGEST_APP_ID: &str = "insights-ingest";

/// What one append committed.
#[derive(Debug, Clone)]
pub struct CommitSummary {
    pub version: i64,
    pub rows: usize,
    pub files: usize,
    /// Rows per partition, to settle the dedup index.
    pub partitions: BTreeMap<PartitionId, usize>,
}

/// The Delta table of events. Cloning is cheap (the snapshot's data is shared).
#[derive(Clone)]
pub struct EventTable {
    table: DeltaTable,
    name: String,
    /// The digest chain, for a table opened to be written: every commit gets its digest.
    digests: Option<Arc<tokio::sync::Mutex<Chain>>>,
}

/// Commit properties of every commit the engine makes: the log entries stay (the digests
/// hash them, and `insights verify` reads them again), so Delta's expired-log cleanup is off.
pub(crate) fn commit_properties() -> CommitProperties {
    CommitProperties::default().with_cleanup_expired_logs(Some(false))
}

impl EventTable {
    /// Connects to the table location of a store; says whether a table exists there.
    async fn connect(store: &StoreLocation) -> Result<(DeltaTable, String, bool)> {
        let url = store.table_url()?;
        let name = url.to_string();
        let table = DeltaTable::try_from_url_with_storage_options(url, store.storage_options())
            .await
            .map_err(|e| Error::table(&name, e))?;
        let exists = table
            .verify_deltatable_existence()
            .await
            .map_err(|e| Error::table(&name, e))?;
        Ok((table, name, exists))
    }

    /// Opens the table of an existing store; an error says so when there is none.
    pub async fn open(store: &StoreLocation) -> Result<Self> {
        let missing = || Error::Store {
            store: store.to_string(),
            message: "no events table here; ingest events first or check --store".into(),
        };
        // A local directory that is not there must not be created by a read.
        if let StoreLocation::Local(dir) = store
            && !dir.join("events").join("_delta_log").is_dir()
        {
            return Err(missing());
        }
        let (mut table, name, exists) = Self::connect(store).await?;
        if !exists {
            return Err(missing());
        }
        table.load().await.map_err(|e| Error::table(&name, e))?;
        Ok(Self {
            table,
            name,
            digests: None,
        })
    }

    /// Opens the table of an existing store to change it (compaction, retention, vacuum):
    /// every commit it makes gets its digest, and commits not digested yet get theirs now.
    pub async fn open_for_writing(store: &StoreLocation) -> Result<Self> {
        let mut table = Self::open(store).await?;
        table.digests = Some(Arc::new(tokio::sync::Mutex::new(Chain::open(store)?)));
        table.record_digests().await;
        Ok(table)
    }

    /// Opens the table of a store, creating it (and a local store's directory) if absent.
    pub async fn open_or_create(store: &StoreLocation) -> Result<Self> {
        if let StoreLocation::Local(dir) = store {
            let events = dir.join("events");
            std::fs::create_dir_all(&events)
                .map_err(|e| Error::io(format!("creating {}", events.display()), e))?;
        }
        let digests = Some(Arc::new(tokio::sync::Mutex::new(Chain::open(store)?)));
        let (mut table, name, exists) = Self::connect(store).await?;
        if exists {
            table.load().await.map_err(|e| Error::table(&name, e))?;
            let mut opened = Self {
                table,
                name,
                digests,
            };
            opened.record_digests().await;
            opened.add_missing_columns().await?;
            return Ok(opened);
        }
        let schema: StructType = event_schema()
            .as_ref()
            .try_into_kernel()
            .map_err(|e| Error::table(&name, e.into()))?;
        let created = table
            .create()
            .with_table_name("events")
            .with_comment("Directory Insights events")
            .with_columns(schema.fields().cloned())
            .with_partition_columns(PARTITION_COLUMNS)
            .with_save_mode(SaveMode::Ignore)
            .with_commit_properties(commit_properties())
            .await;
        let table = match created {
            Ok(table) => Self {
                table,
                name,
                digests,
            },
            // Another process created it first: use theirs.
            Err(DeltaTableError::VersionAlreadyExists(_)) => Self {
                digests,
                ..Self::open(store).await?
            },
            Err(e) => return Err(Error::table(&name, e)),
        };
        table.record_digests().await;
        Ok(table)
    }

    /// Digests the commits made since the last digest (this writer's and any other's). A
    /// digest that cannot be written is not a failed commit: the commit stands, the problem is
    /// logged, and the next commit (or `insights verify`, which reports the gap) catches up.
    pub(crate) async fn record_digests(&self) {
        let Some(chain) = &self.digests else {
            return;
        };
        let mut chain = chain.lock().await;
        if let Err(e) = chain.catch_up(self).await {
            tracing::warn!(error = %e, version = self.version(), "a commit's digest could not be written yet");
        }
    }

    /// Digests the commits made since the last digest, failing when one cannot be written
    /// (for the maintenance commands, which report it).
    pub async fn write_digests(&self) -> Result<usize> {
        match &self.digests {
            Some(chain) => chain.lock().await.catch_up(self).await,
            None => Ok(0),
        }
    }

    /// The bytes of the log entry of `version`, `None` if it is not in the log.
    pub async fn read_log_entry(&self, version: i64) -> Result<Option<bytes::Bytes>> {
        self.table
            .log_store()
            .read_commit_entry(u64::try_from(version).unwrap_or(0))
            .await
            .map_err(|e| Error::table(&self.name, e))
    }

    /// Brings the table's schema up to the catalogue's: columns added to the engine since the
    /// table was created are added to it (Delta ADD COLUMNS: appended, nullable) in a commit of
    /// their own, before anything is written with them. Files written before keep lacking
    /// them; readers derive their values from `raw` there.
    pub async fn add_missing_columns(&mut self) -> Result<()> {
        let wanted: StructType = event_schema()
            .as_ref()
            .try_into_kernel()
            .map_err(|e| Error::table(&self.name, e.into()))?;
        let mut attempts = 0;
        loop {
            let present = self
                .table
                .snapshot()
                .map_err(|e| Error::table(&self.name, e))?
                .schema();
            let missing: Vec<StructField> = wanted
                .fields()
                .filter(|field| present.field(field.name()).is_none())
                .cloned()
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let names: Vec<&str> = missing.iter().map(|f| f.name().as_str()).collect();
            tracing::info!(columns = ?names, "adding columns to the table");
            let added = self
                .table
                .clone()
                .add_columns()
                .with_fields(missing)
                .with_commit_properties(commit_properties())
                .await;
            match added {
                Ok(table) => {
                    self.table = table;
                    self.record_digests().await;
                    return Ok(());
                }
                // Another writer may have added them first: look again.
                Err(_) if attempts < 3 => {
                    attempts += 1;
                    self.reload().await?;
                }
                Err(e) => return Err(Error::table(&self.name, e)),
            }
        }
    }

    /// The table's URL.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the table's log again, up to its newest version.
    pub async fn reload(&mut self) -> Result<()> {
        self.table
            .update_state()
            .await
            .map_err(|e| Error::table(&self.name, e))
    }

    /// Reads the commits made since this version, if any; says whether there were.
    pub async fn refresh(&mut self) -> Result<bool> {
        let before = self.version();
        self.table
            .update_incremental(None)
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        Ok(self.version() != before)
    }

    /// The table as it was at `version`.
    pub async fn at_version(&self, version: i64) -> Result<Self> {
        let mut table = self.table.clone();
        table
            .load_version(u64::try_from(version).unwrap_or(0))
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        Ok(Self {
            table,
            name: self.name.clone(),
            digests: None,
        })
    }

    /// The object store the table's files are read from, rooted at the table.
    pub fn object_store(&self) -> Arc<dyn object_store::ObjectStore> {
        self.table.object_store()
    }

    /// The current table version.
    pub fn version(&self) -> i64 {
        self.table
            .version()
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(-1)
    }

    /// The highest WAL sequence number the table holds (0 if none).
    pub async fn committed_lsn(&self) -> Result<u64> {
        let state = self
            .table
            .snapshot()
            .map_err(|e| Error::table(&self.name, e))?;
        let version = state
            .transaction_version(self.table.log_store().as_ref(), INGEST_APP_ID)
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        Ok(version.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
    }

    /// The identities of every event the table holds in one partition.
    pub async fn partition_keys(&self, organization: &str, day: i32) -> Result<Vec<EventKey>> {
        let date = date_string(day);
        let files = self.list(Some(organization), Some(&date)).await?;
        let store = self.table.object_store();
        let mut keys = Vec::new();
        for LiveFile { file, .. } in files {
            let (path, size) = (file.path, file.size);
            let file = path.to_string();
            let parquet_err = |source| Error::Parquet {
                file: file.clone(),
                source,
            };
            #[allow(deprecated)] // see the import
            let reader = ParquetObjectReader::new(store.clone(), path.clone()).with_file_size(size);
            let builder = ParquetRecordBatchStreamBuilder::new(reader)
                .await
                .map_err(parquet_err)?;
            let mask =
                ProjectionMask::columns(builder.parquet_schema(), [column::ID, column::TIMESTAMP]);
            let mut stream = builder.with_projection(mask).build().map_err(parquet_err)?;
            while let Some(batch) = stream.try_next().await.map_err(parquet_err)? {
                let (Some(ids), Some(times)) = (
                    batch.column_by_name(column::ID),
                    batch.column_by_name(column::TIMESTAMP),
                ) else {
                    return Err(Error::Store {
                        store: file,
                        message: "file lacks id or timestamp".into(),
                    });
                };
                // Compaction (through DataFusion) may write strings as Utf8View.
                let ids = arrow::compute::cast(ids, &DataType::Utf8)?;
                let (Some(id_values), Some(times)) = (
                    ids.as_string_opt::<i32>(),
                    times.as_primitive_opt::<TimestampMicrosecondType>(),
                ) else {
                    return Err(Error::Store {
                        store: file,
                        message: format!(
                            "id or timestamp has an unexpected type ({} and {})",
                            ids.data_type(),
                            times.data_type()
                        ),
                    });
                };
                keys.extend(
                    (0..batch.num_rows())
                        .map(|i| event_key(organization, id_values.value(i), times.value(i))),
                );
            }
        }
        Ok(keys)
    }

    /// Writes `batch` in storage order ([`storage_order`]), one Parquet file per partition, and
    /// commits them in one Delta version that records `last_lsn` as the ingest transaction.
    pub async fn append(&mut self, batch: RecordBatch, last_lsn: u64) -> Result<CommitSummary> {
        let rows = batch.num_rows();
        let started = std::time::Instant::now();
        let order = storage_order(&batch)?;
        let sort_ms = started.elapsed().as_millis() as u64;
        let partitions = count_partitions(&batch);
        // Each partition's file is encoded on its own task, so a commit uses every core that
        // the ingest loop leaves idle.
        let mut writers = Vec::with_capacity(partitions.len());
        let mut offset = 0;
        for rows_in_partition in partitions.values() {
            let order = order.slice(offset, *rows_in_partition);
            offset += rows_in_partition;
            let batch = batch.clone();
            let mut writer = RecordBatchWriter::for_table(&self.table)
                .map_err(|e| Error::table(&self.name, e))?
                .with_writer_properties(writer_properties());
            writers.push(tokio::spawn(async move {
                write_in_order(&mut writer, &batch, &order).await?;
                writer.flush().await
            }));
        }
        drop(batch);
        let mut adds = Vec::new();
        for writer in writers {
            let written = writer
                .await
                .map_err(|e| Error::Stopped(format!("a Parquet writer task failed: {e}")))?;
            adds.extend(written.map_err(|e| Error::table(&self.name, e))?);
        }
        let files = adds.len();
        let lsn = i64::try_from(last_lsn).unwrap_or(i64::MAX);
        let properties =
            commit_properties().with_application_transaction(Transaction::new(INGEST_APP_ID, lsn));
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(PARTITION_COLUMNS.iter().map(|c| c.to_string()).collect()),
            predicate: None,
        };
        let snapshot = self
            .table
            .snapshot()
            .map_err(|e| Error::table(&self.name, e))?;
        let encoded_ms = started.elapsed().as_millis() as u64;
        let finalized = CommitBuilder::from(properties)
            .with_actions(adds.into_iter().map(Action::Add).collect())
            .build(Some(snapshot), self.table.log_store(), operation)
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        let version = i64::try_from(finalized.version()).unwrap_or(i64::MAX);
        self.table.state = Some(finalized.snapshot());
        self.record_digests().await;
        tracing::debug!(
            rows,
            files,
            sort_ms,
            encoded_ms,
            total_ms = started.elapsed().as_millis() as u64,
            "appended"
        );
        Ok(CommitSummary {
            version,
            rows,
            files,
            partitions,
        })
    }
}
