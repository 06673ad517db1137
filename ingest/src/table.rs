//! The events table: a Delta Lake table of Parquet files partitioned by organization and day.

use std::collections::BTreeMap;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::cast;
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Date32Type, TimestampMicrosecondType};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, Remove, StructType, Transaction};
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

/// Rows per Parquet row group. Each row group costs every scan that reads it a column chunk
/// per column (a dictionary page to decode, a decompression context, statistics to check),
/// however few of its rows the scan keeps; and as rows are clustered by service and host
/// rather than by time (`storage_order`), smaller groups let a time-range query skip
/// little. At 128 Ki rows a day of 67,000 events is one row group rather than 65,536 + 1,519
/// rows (measured on 2M events over 30 days: a host's enrichment 186 → 162 ms, a busy user's
/// 1,121 → 1,025 ms). The writer holds one group's encoded pages: ~11 MiB of compressed JSON.
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Bytes of raw JSON per data page. A query that shows a few events of many (one user's
/// failures over a week) decompresses only the pages holding them, so small pages make it
/// read a fraction of the column; zstd compresses 32 KiB of events about 5.3x, 1 MiB 9.5x.
const RAW_PAGE_BYTES: usize = 32 << 10;
/// Rows per data page at most: the granularity at which page statistics skip rows. A host's or
/// a user's run of events (see `storage_order`) is a few thousand rows of a day; pages of
/// 4,096 rows read about a third of the rows that Parquet's default of 20,000 reads for it
/// (one host over 30 days: 96 ms instead of 120).
const PAGE_ROWS: usize = 4096;
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

    /// Reads the table's log again, up to its newest version.
    pub async fn reload(&mut self) -> Result<()> {
        self.table
            .update_state()
            .await
            .map_err(|e| Error::table(&self.name, e))
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

/// One live data file: its partition, size and rows, and how a compaction reads and replaces it.
pub(crate) struct LiveFile {
    pub organization: String,
    pub date: String,
    pub path: object_store::path::Path,
    pub size: i64,
    /// Rows, from the file's Delta statistics (0 when it has none).
    pub rows: u64,
    /// The action that retires the file without changing the table's data.
    pub remove: Remove,
}

impl LiveFile {
    pub(crate) fn bytes(&self) -> u64 {
        u64::try_from(self.size).unwrap_or(0)
    }
}

impl EventTable {
    /// Every live data file of the current version.
    pub(crate) async fn live_data_files(&self) -> Result<Vec<LiveFile>> {
        self.table
            .get_active_add_actions_by_partitions(&[])
            .map_ok(|file| {
                let partition = file.partition_values_map();
                let value = |name: &str| partition.get(name).cloned().flatten().unwrap_or_default();
                let rows = file
                    .stats()
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                    .and_then(|s| s.get("numRecords").and_then(serde_json::Value::as_u64))
                    .unwrap_or(0);
                LiveFile {
                    organization: value(column::ORGANIZATION),
                    date: value(column::DATE),
                    path: file.object_store_path(),
                    size: file.size(),
                    rows,
                    remove: file.remove_action(false),
                }
            })
            .try_collect()
            .await
            .map_err(|e| Error::table(&self.name, e))
    }

    /// The rows of one data file in the table's schema, with the partition columns (which the
    /// file itself does not hold) filled in from its partition.
    pub(crate) async fn read_rows(&self, file: &LiveFile) -> Result<Vec<RecordBatch>> {
        let name = file.path.to_string();
        let parquet_err = |source| Error::Parquet {
            file: name.clone(),
            source,
        };
        let day = chrono::NaiveDate::parse_from_str(&file.date, "%Y-%m-%d")
            .ok()
            .and_then(|date| {
                date.signed_duration_since(chrono::NaiveDate::default())
                    .num_days()
                    .try_into()
                    .ok()
            })
            .ok_or_else(|| Error::Store {
                store: name.clone(),
                message: format!(
                    "the file's date partition {:?} is not a YYYY-MM-DD date",
                    file.date
                ),
            })?;
        #[allow(deprecated)] // see the import
        let reader = ParquetObjectReader::new(self.table.object_store(), file.path.clone())
            .with_file_size(u64::try_from(file.size).unwrap_or(0));
        let mut stream = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(parquet_err)?
            .build()
            .map_err(parquet_err)?;
        let schema = event_schema();
        let mut batches = Vec::new();
        while let Some(batch) = stream.try_next().await.map_err(parquet_err)? {
            let rows = batch.num_rows();
            let columns = schema
                .fields()
                .iter()
                .map(|field| -> Result<ArrayRef> {
                    Ok(match field.name().as_str() {
                        column::ORGANIZATION => Arc::new(StringArray::from_iter_values(
                            std::iter::repeat_n(file.organization.as_str(), rows),
                        )),
                        column::DATE => Arc::new(Date32Array::from_value(day, rows)),
                        other => {
                            let array =
                                batch.column_by_name(other).ok_or_else(|| Error::Store {
                                    store: name.clone(),
                                    message: format!("the file lacks the column {other}"),
                                })?;
                            // Files written through DataFusion may hold Utf8View strings.
                            if array.data_type() == field.data_type() {
                                array.clone()
                            } else {
                                cast(array, field.data_type())?
                            }
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            batches.push(RecordBatch::try_new(schema.clone(), columns)?);
        }
        Ok(batches)
    }

    /// Writes `rows` in storage order as new files of the table, not yet committed, marked as
    /// data-neutral (they hold rows the table already has).
    pub(crate) async fn write_rewritten(&self, rows: RecordBatch) -> Result<Vec<Add>> {
        let order = storage_order(&rows)?;
        let mut writer = RecordBatchWriter::for_table(&self.table)
            .map_err(|e| Error::table(&self.name, e))?
            .with_writer_properties(writer_properties());
        write_in_order(&mut writer, &rows, &order)
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        drop(rows);
        let mut adds = writer
            .flush()
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        for add in &mut adds {
            add.data_change = false;
        }
        Ok(adds)
    }

    /// Replaces `files` by `adds` in one data-neutral commit (Delta `OPTIMIZE`: every action has
    /// `dataChange` false, so readers of the table's changes, like the exporter, see nothing
    /// new). Returns `false`, committing nothing, when another writer replaced or removed one
    /// of `files` first.
    ///
    /// Delta's conflict check lets two data-neutral removals of the same file both commit, so
    /// two compactions of the same files would both add their rows. Here a commit goes through
    /// only at the version it was checked against (no automatic retry); when another writer
    /// commits first, the table is read again and the files checked again. Appends by the
    /// ingester never remove files, so they never make a compaction give up.
    pub(crate) async fn replace_files(
        &mut self,
        files: &[LiveFile],
        adds: Vec<Add>,
        target_size: u64,
    ) -> Result<bool> {
        let actions: Vec<Action> = files
            .iter()
            .map(|file| Action::Remove(file.remove.clone()))
            .chain(adds.into_iter().map(Action::Add))
            .collect();
        let operation = DeltaOperation::Optimize {
            predicate: None,
            target_size: i64::try_from(target_size).unwrap_or(i64::MAX),
        };
        let mut attempt = 1;
        loop {
            if !self.all_live(files).await? {
                return Ok(false);
            }
            let snapshot = self
                .table
                .snapshot()
                .map_err(|e| Error::table(&self.name, e))?;
            let committed = CommitBuilder::from(CommitProperties::default().with_max_retries(0))
                .with_actions(actions.clone())
                .build(Some(snapshot), self.table.log_store(), operation.clone())
                .await;
            match committed {
                Ok(finalized) => {
                    self.table.state = Some(finalized.snapshot());
                    return Ok(true);
                }
                Err(e) if attempt >= REPLACE_ATTEMPTS => return Err(Error::table(&self.name, e)),
                Err(e) => {
                    tracing::debug!(error = %e, attempt, "the table changed under a compaction");
                    attempt += 1;
                    self.reload().await?;
                }
            }
        }
    }

    /// Whether every one of `files` is live at the current version.
    async fn all_live(&self, files: &[LiveFile]) -> Result<bool> {
        let live: std::collections::HashSet<String> = self
            .table
            .get_active_add_actions_by_partitions(&[])
            .map_ok(|file| file.path().into_owned())
            .try_collect()
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        Ok(files.iter().all(|file| live.contains(&file.remove.path)))
    }
}

/// Commits a compaction tries before it gives up on a group of files.
const REPLACE_ATTEMPTS: u32 = 20;

/// Parquet settings of the table's files: zstd, statistics with a page index, bloom filters on
/// the columns looked up by value, no dictionary for the unique or large columns. `timestamp`
/// is delta-encoded and not compressed: every page of events reads it for its probe and its
/// filters, and zstd over plain values cost more to decompress than the deltas to decode (a
/// DI page over a `bench-http.sh` store of 2.1–2.2 million fresh events: 63–66 ms of server
/// CPU with zstd, 40–47 ms delta-encoded, in files 1 % smaller).
pub fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(WRITE_BATCH_ROWS)
        .set_column_data_page_size_limit(ColumnPath::from(column::RAW), RAW_PAGE_BYTES)
        .set_column_dictionary_enabled(ColumnPath::from(column::RAW), false)
        .set_column_dictionary_enabled(ColumnPath::from(column::ID), false)
        .set_column_dictionary_enabled(ColumnPath::from(column::TIMESTAMP), false)
        .set_column_encoding(
            ColumnPath::from(column::TIMESTAMP),
            parquet::basic::Encoding::DELTA_BINARY_PACKED,
        )
        .set_column_compression(
            ColumnPath::from(column::TIMESTAMP),
            Compression::UNCOMPRESSED,
        )
        .set_column_statistics_enabled(ColumnPath::from(column::RAW), EnabledStatistics::None);
    for name in [column::ID, column::USERNAME, column::CLIENT_IP] {
        builder = builder
            .set_column_bloom_filter_enabled(ColumnPath::from(name), true)
            .set_column_bloom_filter_fpp(ColumnPath::from(name), 0.01);
    }
    builder.build()
}

/// The text column whose values, after the service, cluster a partition's rows.
const CLUSTER_COLUMN: &str = "resource_type";
/// The text column whose values, after the service and resource type, cluster a partition's
/// rows: each host's device events form one run...
const HOST_COLUMN: &str = "system_hostname";
/// ... and, for events about a resource (no host), each resource's events (a user's, a
/// system's admin changes).
const RESOURCE_NAME_COLUMN: &str = "resource_name";

/// Orders rows by organization and day (one run per partition), then by service and resource
/// type, then by host (or, for events with no host, the resource's name), then by timestamp and
/// id. Within a file each service's events are contiguous, so a column that only some services
/// fill (`system_hostname`, `resource_*`) is wholly null, or narrow in range, in the pages of
/// the others; and each host's (each resource's) events of a service are one time-sorted run,
/// so a scan for one host reads only the pages of its runs and skips the rest.
///
/// Rows arrive nearly in time order, so a sort of compact keys (numbers for the partition, the
/// service, the resource type and the name, and the timestamp, with the id compared only on
/// ties) is much cheaper than a lexicographic sort over the string columns.
///
/// Returns the row numbers in that order; [`write_in_order`] writes them.
pub(crate) fn storage_order(batch: &RecordBatch) -> Result<UInt32Array> {
    let missing = |name: &str| {
        Error::Arrow(arrow::error::ArrowError::SchemaError(format!(
            "no column {name} of the expected type"
        )))
    };
    let text = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| missing(name))
    };
    let orgs = text(column::ORGANIZATION)?;
    let dates = batch
        .column_by_name(column::DATE)
        .and_then(|c| c.as_primitive_opt::<Date32Type>())
        .ok_or_else(|| missing(column::DATE))?;
    let times = batch
        .column_by_name(column::TIMESTAMP)
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| missing(column::TIMESTAMP))?;
    let ids = text(column::ID)?;
    let services = ranks(text(column::SERVICE)?.iter());
    let clusters = ranks(text(CLUSTER_COLUMN)?.iter());
    let hosts = text(HOST_COLUMN)?;
    let resources = text(RESOURCE_NAME_COLUMN)?;
    let names = ranks((0..batch.num_rows()).map(|row| {
        [hosts, resources]
            .into_iter()
            .find(|names| names.is_valid(row))
            .map(|names| names.value(row))
    }));
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
    let mut keys: Vec<(u32, u32, u32, u32, i64, u32)> = (0..batch.num_rows())
        .map(|row| {
            let partition = partitions[&(orgs.value(row), dates.value(row))];
            (
                partition,
                services[row],
                clusters[row],
                names[row],
                times.value(row),
                row as u32,
            )
        })
        .collect();
    keys.sort_unstable_by(|a, b| {
        (a.0, a.1, a.2, a.3, a.4)
            .cmp(&(b.0, b.1, b.2, b.3, b.4))
            .then_with(|| ids.value(a.5 as usize).cmp(ids.value(b.5 as usize)))
            .then(a.5.cmp(&b.5))
    });
    Ok(UInt32Array::from_iter_values(keys.into_iter().map(|k| k.5)))
}

/// Rows [`write_in_order`] gathers at a time: a multiple of the page and write-batch sizes, so
/// that pages are cut where a single sorted batch would cut them.
const GATHER_ROWS: usize = 2 * PAGE_ROWS;

/// Writes the rows of `batch` numbered by `order`, in that order, a few thousand at a time.
/// The sorted rows are never all in memory at once: a commit of 200,000 events would otherwise
/// copy ~160 MiB of JSON into fresh memory (which the kernel zeroes first) before encoding any.
async fn write_in_order(
    writer: &mut RecordBatchWriter,
    batch: &RecordBatch,
    order: &UInt32Array,
) -> std::result::Result<(), DeltaTableError> {
    let mut start = 0;
    while start < order.len() {
        let rows = GATHER_ROWS.min(order.len() - start);
        let block = take_record_batch(batch, &order.slice(start, rows))?;
        writer.write(block).await?;
        start += rows;
    }
    Ok(())
}

/// Each row's rank of its value among the distinct values, in text order; null ranks first (0).
fn ranks<'a>(values: impl Iterator<Item = Option<&'a str>> + Clone) -> Vec<u32> {
    let distinct: std::collections::HashSet<&str> = values.clone().flatten().collect();
    let mut distinct: Vec<&str> = distinct.into_iter().collect();
    distinct.sort_unstable();
    let distinct: std::collections::HashMap<&str, u32> = distinct
        .into_iter()
        .enumerate()
        .map(|(rank, value)| (value, rank as u32 + 1))
        .collect();
    values
        .map(|value| value.map_or(0, |v| distinct[v]))
        .collect()
}

/// Rows per (organization, day) partition of a batch.
pub(crate) fn count_partitions(batch: &RecordBatch) -> BTreeMap<PartitionId, usize> {
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
    let mut borrowed: BTreeMap<(&str, i32), usize> = BTreeMap::new();
    for i in 0..batch.num_rows() {
        if orgs.is_valid(i) {
            *borrowed.entry((orgs.value(i), dates.value(i))).or_insert(0) += 1;
        }
    }
    counts.extend(
        borrowed
            .into_iter()
            .map(|((org, day), rows)| ((org.to_owned(), day), rows)),
    );
    counts
}

/// `YYYY-MM-DD` of a day number (days since the epoch).
pub fn date_string(day: i32) -> String {
    chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| day.to_string())
}
