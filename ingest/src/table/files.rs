//! The table's files: listing the live ones (with their partition, size, rows and time range),
//! the ones a commit added, and the file operations of compaction (read a file's rows, write
//! their replacement, swap them in one data-neutral commit).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Date32Array, RecordBatch, StringArray};
use arrow::compute::cast;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, Remove};
use deltalake::protocol::DeltaOperation;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{FilterOp, FilterValue};
use futures::TryStreamExt;
// ParquetObjectReader is deprecated in favour of hand-written AsyncFileReaders; it is still the
// reader deltalake itself uses over the same object store, so one read path serves both.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use serde::Deserialize;

use insights_schemas::{added_later, column, derive_added_later, event_schema, parse_timestamp_us};

use super::{EventTable, compacted_writer_properties, storage_order, write_in_order};
use crate::error::{Error, Result};

/// The column `name`, one added to the table after `batch`'s file was written, computed from
/// the batch's `raw` JSON.
fn derive_column(batch: &RecordBatch, name: &str) -> Option<ArrayRef> {
    let raw = batch.column_by_name(column::RAW)?;
    let raw = cast(raw, &arrow::datatypes::DataType::Utf8).ok()?;
    let derived = derive_added_later(name, raw.as_string::<i32>().iter())?;
    Some(Arc::new(derived))
}

/// One data file of the table.
#[derive(Debug, Clone)]
pub struct TableFile {
    /// The file's path in the table's object store ([`EventTable::object_store`]).
    pub path: object_store::path::Path,
    /// Bytes.
    pub size: u64,
    /// The organization partition.
    pub organization: String,
    /// The day partition, `YYYY-MM-DD`.
    pub date: String,
    /// Rows, from the file's Delta statistics.
    pub rows: Option<u64>,
    /// The first and last event time in the file (microseconds since the epoch; the last is
    /// rounded up to the millisecond the statistics keep), from its Delta statistics.
    pub timestamps_us: Option<(i64, i64)>,
    /// Whether the file holds every column added to the table after its first release (its
    /// Delta statistics count their nulls); files written before do not, nor, to be safe,
    /// files without statistics.
    pub has_added_columns: bool,
}

/// A live data file and the action that retires it without changing the table's data.
pub(crate) struct LiveFile {
    pub file: TableFile,
    pub remove: Remove,
}

/// The part of a file's Delta statistics the engine reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    num_records: Option<u64>,
    #[serde(default)]
    min_values: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    max_values: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    null_count: serde_json::Map<String, serde_json::Value>,
}

impl Stats {
    fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    fn has_added_columns(&self) -> bool {
        added_later().all(|(name, _)| self.null_count.contains_key(name))
    }

    fn timestamps_us(&self) -> Option<(i64, i64)> {
        let time = |values: &serde_json::Map<String, serde_json::Value>| {
            values
                .get(column::TIMESTAMP)
                .and_then(serde_json::Value::as_str)
                .and_then(parse_timestamp_us)
        };
        // Statistics keep milliseconds: the last event may be up to 999 µs later.
        Some((
            time(&self.min_values)?,
            time(&self.max_values)?.saturating_add(999),
        ))
    }
}

impl EventTable {
    /// The live data files of this version: all of them, or one organization's.
    pub async fn live_files(&self, organization: Option<&str>) -> Result<Vec<TableFile>> {
        let files = self.list(organization, None).await?;
        Ok(files.into_iter().map(|live| live.file).collect())
    }

    /// The live data files of this version, with their removal actions, in the partitions
    /// that `organization` and `date` (`YYYY-MM-DD`) select (each `None` for all).
    pub(crate) async fn list(
        &self,
        organization: Option<&str>,
        date: Option<&str>,
    ) -> Result<Vec<LiveFile>> {
        let filters: Vec<_> = [(column::ORGANIZATION, organization), (column::DATE, date)]
            .into_iter()
            .filter_map(|(name, value)| Some((name, FilterOp::Eq, FilterValue::Scalar(value?))))
            .collect();
        self.table
            .get_active_add_actions_by_partitions(&filters)
            .map_ok(|file| {
                let partition = file.partition_values_map();
                let value = |name: &str| partition.get(name).cloned().flatten().unwrap_or_default();
                let stats = file.stats().as_deref().and_then(Stats::parse);
                LiveFile {
                    file: TableFile {
                        path: file.object_store_path(),
                        size: u64::try_from(file.size()).unwrap_or(0),
                        organization: value(column::ORGANIZATION),
                        date: value(column::DATE),
                        rows: stats.as_ref().and_then(|s| s.num_records),
                        timestamps_us: stats.as_ref().and_then(Stats::timestamps_us),
                        has_added_columns: stats.as_ref().is_some_and(Stats::has_added_columns),
                    },
                    remove: file.remove_action(false),
                }
            })
            .try_collect()
            .await
            .map_err(|e| Error::table(&self.name, e))
    }

    /// The data files that the commit of `version` added with new rows (not the rewrites of a
    /// compaction), read from the table's log. Only their path, size and partition are known.
    pub async fn files_added_by(&self, version: i64) -> Result<Vec<TableFile>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct AddAction {
            path: String,
            #[serde(default)]
            partition_values: std::collections::HashMap<String, Option<String>>,
            size: u64,
            data_change: bool,
        }
        #[derive(Deserialize)]
        struct LogLine {
            add: Option<AddAction>,
        }
        let invalid = |message: String| Error::Store {
            store: self.name.clone(),
            message,
        };
        let bytes = self
            .table
            .log_store()
            .read_commit_entry(u64::try_from(version).unwrap_or(0))
            .await
            .map_err(|e| Error::table(&self.name, e))?
            .ok_or_else(|| {
                invalid(format!(
                    "the commit of version {version} is missing from the log"
                ))
            })?;
        let mut files = Vec::new();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let parsed: LogLine = serde_json::from_slice(line).map_err(|e| {
                invalid(format!("the commit of version {version} is not valid: {e}"))
            })?;
            let Some(add) = parsed.add.filter(|a| a.data_change) else {
                continue;
            };
            let path = object_store::path::Path::from_url_path(&add.path).map_err(|e| {
                invalid(format!(
                    "version {version} adds a file with a bad path: {e}"
                ))
            })?;
            let partition = |name: &str| {
                add.partition_values
                    .get(name)
                    .cloned()
                    .flatten()
                    .unwrap_or_default()
            };
            files.push(TableFile {
                path,
                size: add.size,
                organization: partition(column::ORGANIZATION),
                date: partition(column::DATE),
                rows: None,
                timestamps_us: None,
                has_added_columns: false,
            });
        }
        Ok(files)
    }

    /// The rows of one data file in the table's schema, with the partition columns (which the
    /// file itself does not hold) filled in from its partition.
    pub(crate) async fn read_rows(&self, file: &TableFile) -> Result<Vec<RecordBatch>> {
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
            .with_file_size(file.size);
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
                            let array = match batch.column_by_name(other) {
                                Some(array) => array.clone(),
                                // A column added since the file was written.
                                None => {
                                    derive_column(&batch, other).ok_or_else(|| Error::Store {
                                        store: name.clone(),
                                        message: format!("the file lacks the column {other}"),
                                    })?
                                }
                            };
                            // Files written through DataFusion may hold Utf8View strings.
                            if array.data_type() == field.data_type() {
                                array
                            } else {
                                cast(&array, field.data_type())?
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
            .with_writer_properties(compacted_writer_properties());
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
            let committed = CommitBuilder::from(super::commit_properties().with_max_retries(0))
                .with_actions(actions.clone())
                .build(Some(snapshot), self.table.log_store(), operation.clone())
                .await;
            match committed {
                Ok(finalized) => {
                    self.table.state = Some(finalized.snapshot());
                    self.record_digests().await;
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
    pub(super) async fn all_live(&self, files: &[LiveFile]) -> Result<bool> {
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
