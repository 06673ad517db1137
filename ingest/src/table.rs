//! The events table: a Delta Lake table of Parquet files partitioned by organization and day.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Date32Type, TimestampMicrosecondType};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError, FilterOp, FilterValue};
use futures::TryStreamExt;
use parquet::arrow::ProjectionMask;
// ParquetObjectReader is deprecated in favour of hand-written AsyncFileReaders; it is still the
// reader deltalake itself uses over the same object store, so one read path serves both.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use insights_schemas::{PARTITION_COLUMNS, column, event_schema};

use crate::dedup::{EventKey, PartitionId, event_key};
use crate::error::{Error, Result};
use crate::store::StoreLocation;

/// The application id under which commits record the highest WAL sequence number they hold.
pub const INGEST_APP_ID: &str = "insights-ingest";

/// Rows per Parquet row group: small enough that a time-range query skips most of a day's file,
/// and that the row groups of one day's file are read in parallel.
const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Bytes of raw JSON per data page. A query that shows a few events of many (one user's
/// failures over a week) decompresses only the pages holding them, so small pages make it
/// read a fraction of the column; zstd compresses 32 KiB of events about 5.3x, 1 MiB 9.5x.
const RAW_PAGE_BYTES: usize = 32 << 10;
/// Values written between page-size checks: the bound on how far a page can overshoot.
const WRITE_BATCH_ROWS: usize = 32;

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
        Ok(Self { table, name })
    }

    /// Opens the table of a store, creating it (and a local store's directory) if absent.
    pub async fn open_or_create(store: &StoreLocation) -> Result<Self> {
        if let StoreLocation::Local(dir) = store {
            let events = dir.join("events");
            std::fs::create_dir_all(&events)
                .map_err(|e| Error::io(format!("creating {}", events.display()), e))?;
        }
        let (mut table, name, exists) = Self::connect(store).await?;
        if exists {
            table.load().await.map_err(|e| Error::table(&name, e))?;
            return Ok(Self { table, name });
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
            .await;
        match created {
            Ok(table) => Ok(Self { table, name }),
            // Another process created it first: use theirs.
            Err(DeltaTableError::VersionAlreadyExists(_)) => Self::open(store).await,
            Err(e) => Err(Error::table(&name, e)),
        }
    }

    /// The table's URL.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The underlying Delta table.
    pub fn delta(&self) -> &DeltaTable {
        &self.table
    }

    /// Swaps in a newer state of the same table (after an operation that returned one).
    pub fn replace(&mut self, table: DeltaTable) {
        self.table = table;
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
        let filters = [
            (
                column::ORGANIZATION,
                FilterOp::Eq,
                FilterValue::Scalar(organization),
            ),
            (
                column::DATE,
                FilterOp::Eq,
                FilterValue::Scalar(date.as_str()),
            ),
        ];
        let files: Vec<_> = self
            .table
            .get_active_add_actions_by_partitions(&filters)
            .map_ok(|file| (file.object_store_path(), file.size()))
            .try_collect()
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        let store = self.table.object_store();
        let mut keys = Vec::new();
        for (path, size) in files {
            let file = path.to_string();
            let parquet_err = |source| Error::Parquet {
                file: file.clone(),
                source,
            };
            #[allow(deprecated)] // see the import
            let reader = ParquetObjectReader::new(store.clone(), path.clone())
                .with_file_size(u64::try_from(size).unwrap_or(0));
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

    /// Sorts `batch` by partition and time, writes one Parquet file per partition and commits
    /// them in one Delta version that records `last_lsn` as the ingest transaction.
    pub async fn append(&mut self, batch: RecordBatch, last_lsn: u64) -> Result<CommitSummary> {
        let rows = batch.num_rows();
        let started = std::time::Instant::now();
        let sorted = sort_for_storage(&batch)?;
        drop(batch);
        let sort_ms = started.elapsed().as_millis() as u64;
        let partitions = count_partitions(&sorted);
        // Each partition's file is encoded on its own task, so a commit uses every core that
        // the ingest loop leaves idle.
        let mut writers = Vec::with_capacity(partitions.len());
        let mut offset = 0;
        for rows_in_partition in partitions.values() {
            let slice = sorted.slice(offset, *rows_in_partition);
            offset += rows_in_partition;
            let mut writer = RecordBatchWriter::for_table(&self.table)
                .map_err(|e| Error::table(&self.name, e))?
                .with_writer_properties(writer_properties());
            writers.push(tokio::spawn(async move {
                writer.write(slice).await?;
                writer.flush().await
            }));
        }
        drop(sorted);
        let mut adds = Vec::new();
        for writer in writers {
            let written = writer
                .await
                .map_err(|e| Error::Stopped(format!("a Parquet writer task failed: {e}")))?;
            adds.extend(written.map_err(|e| Error::table(&self.name, e))?);
        }
        let files = adds.len();
        let lsn = i64::try_from(last_lsn).unwrap_or(i64::MAX);
        let properties = CommitProperties::default()
            .with_application_transaction(Transaction::new(INGEST_APP_ID, lsn));
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

/// Parquet settings of the table's files: zstd, statistics with a page index, bloom filters on
/// the columns looked up by value, no dictionary for the unique or large columns.
pub fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_write_batch_size(WRITE_BATCH_ROWS)
        .set_column_data_page_size_limit(ColumnPath::from(column::RAW), RAW_PAGE_BYTES)
        .set_column_dictionary_enabled(ColumnPath::from(column::RAW), false)
        .set_column_dictionary_enabled(ColumnPath::from(column::ID), false)
        .set_column_statistics_enabled(ColumnPath::from(column::RAW), EnabledStatistics::None);
    for name in [column::ID, column::USERNAME, column::CLIENT_IP] {
        builder = builder
            .set_column_bloom_filter_enabled(ColumnPath::from(name), true)
            .set_column_bloom_filter_fpp(ColumnPath::from(name), 0.01);
    }
    builder.build()
}

/// Orders rows by organization, day, timestamp and id: one run per partition, time-sorted.
///
/// Rows arrive nearly in time order, so a sort of compact keys (a partition number and the
/// timestamp, with the id compared only on ties) is much cheaper than a lexicographic sort
/// over the string columns.
fn sort_for_storage(batch: &RecordBatch) -> Result<RecordBatch> {
    let missing = |name: &str| {
        Error::Arrow(arrow::error::ArrowError::SchemaError(format!(
            "no column {name} of the expected type"
        )))
    };
    let orgs = batch
        .column_by_name(column::ORGANIZATION)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| missing(column::ORGANIZATION))?;
    let dates = batch
        .column_by_name(column::DATE)
        .and_then(|c| c.as_primitive_opt::<Date32Type>())
        .ok_or_else(|| missing(column::DATE))?;
    let times = batch
        .column_by_name(column::TIMESTAMP)
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| missing(column::TIMESTAMP))?;
    let ids = batch
        .column_by_name(column::ID)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| missing(column::ID))?;
    // Number the partitions in (organization, day) order.
    let mut partitions: BTreeMap<(&str, i32), u32> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        partitions
            .entry((orgs.value(row), dates.value(row)))
            .or_insert(0);
    }
    for (number, slot) in partitions.values_mut().enumerate() {
        *slot = number as u32;
    }
    let mut keys: Vec<(u32, i64, u32)> = (0..batch.num_rows())
        .map(|row| {
            let partition = partitions[&(orgs.value(row), dates.value(row))];
            (partition, times.value(row), row as u32)
        })
        .collect();
    keys.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| ids.value(a.2 as usize).cmp(ids.value(b.2 as usize)))
            .then(a.2.cmp(&b.2))
    });
    let indices = UInt32Array::from_iter_values(keys.into_iter().map(|k| k.2));
    Ok(take_record_batch(batch, &indices)?)
}

fn count_partitions(batch: &RecordBatch) -> BTreeMap<PartitionId, usize> {
    let mut counts = BTreeMap::new();
    let (Some(orgs), Some(dates)) = (
        batch.column_by_name(column::ORGANIZATION),
        batch.column_by_name(column::DATE),
    ) else {
        return counts;
    };
    let (Some(orgs), Some(dates)) = (
        orgs.as_string_opt::<i32>(),
        dates.as_primitive_opt::<Date32Type>(),
    ) else {
        return counts;
    };
    for i in 0..batch.num_rows() {
        if orgs.is_valid(i) {
            *counts
                .entry((orgs.value(i).to_owned(), dates.value(i)))
                .or_insert(0) += 1;
        }
    }
    counts
}

/// `YYYY-MM-DD` of a day number (days since the epoch).
pub fn date_string(day: i32) -> String {
    chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| day.to_string())
}
