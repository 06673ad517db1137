//! The events table as DataFusion scans it: the live Parquet files of one table version, read
//! through DataFusion's own Parquet source.
//!
//! The Delta log stays the table's truth (which files are live, their partition values and
//! statistics); this provider takes that file list once per loaded version and plans each scan
//! from it in memory. Compared with the Delta kernel scan, a query plans without replaying scan
//! metadata, partition values come from DataFusion's constant columns instead of a per-batch
//! transform, and strings are decoded straight into the table's types (measured on 2M events:
//! about a sixth of a scan's CPU went to those steps). Our tables use no deletion vectors or
//! column mapping, which is what the kernel scan would add.
//!
//! The low-cardinality text columns (service, event type, users, hosts, IPs, ...) are read as
//! dictionary arrays, straight from the files' dictionary pages: a scan then decodes small
//! integer keys instead of copying every string, and filters and groupings work on the few
//! distinct values. Every file is read with the same Arrow schema, whatever its writer embedded
//! (compaction writes string views).

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use async_trait::async_trait;
use bytes::Bytes;
use datafusion::catalog::Session;
use datafusion::catalog::TableProvider;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::stats::Precision;
use datafusion::common::{Column, ColumnStatistics, DFSchema, Statistics};
use datafusion::config::TableParquetOptions;
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::physical_plan::ParquetSource;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::logical_expr::utils::conjunction;
use datafusion::parquet;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::prelude::{Expr, cast};
use datafusion::scalar::ScalarValue;
use futures::future::BoxFuture;

use insights_ingest::{BLOOM_FILTER_COLUMNS, EventTable};
use insights_schemas::{PARTITION_COLUMNS, column, column_named, event_schema};

use crate::added_columns;
use crate::error::{Error, Result};

/// The table's schema as queries see it: the event schema with the catalogue's dictionary
/// columns as dictionaries of strings (`id` and `raw`, unique per event, stay plain strings).
pub fn query_schema() -> SchemaRef {
    let fields: Vec<Field> = event_schema()
        .fields()
        .iter()
        .map(|field| {
            if column_named(field.name()).is_some_and(|c| c.dictionary) {
                Field::new(
                    field.name(),
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    field.is_nullable(),
                )
            } else {
                field.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The files a scan reads first, set on a session (as a config extension) by a query sorted by
/// time with a limit: its top-k filter is tight after the first files, and the files it then
/// opens are skipped by their time range. Events arrive roughly in time order, so a busy day's
/// many ingest files have narrow time ranges and a newest-first page reads about one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileOrder {
    /// By latest event, newest first.
    NewestFirst,
    /// By earliest event, oldest first.
    OldestFirst,
}

impl FileOrder {
    /// `selected` (indices into `files`) in this order, dealt out in turn to at most `groups`
    /// partitions, so that every partition starts with the files to be read first.
    fn deal(self, files: &[LiveFile], mut selected: Vec<usize>, groups: usize) -> Vec<Vec<usize>> {
        self.arrange(files, &mut selected);
        let hands = groups.max(1).min(selected.len());
        let mut dealt = vec![Vec::new(); hands];
        for (turn, i) in selected.into_iter().enumerate() {
            dealt[turn % hands].push(i);
        }
        dealt
    }

    /// Orders `selected` (indices into `files`); files without a time range go last.
    fn arrange(self, files: &[LiveFile], selected: &mut [usize]) {
        match self {
            FileOrder::NewestFirst => selected.sort_by_key(|&i| {
                std::cmp::Reverse(files[i].timestamps.map_or(i64::MIN, |(_, max)| max))
            }),
            FileOrder::OldestFirst => {
                selected.sort_by_key(|&i| files[i].timestamps.map_or(i64::MAX, |(min, _)| min))
            }
        }
    }
}

/// One live data file of the table.
#[derive(Debug, Clone)]
struct LiveFile {
    path: String,
    size: u64,
    organization: String,
    /// Days since the epoch.
    date: i32,
    rows: Option<usize>,
    /// Earliest and latest event time in the file, widened to whole milliseconds (the Delta
    /// statistics truncate to the millisecond).
    timestamps: Option<(i64, i64)>,
    /// Whether the file holds the columns added to the table later.
    has_added_columns: bool,
}

/// The events of one table version as a DataFusion table.
#[derive(Debug)]
pub struct EventsProvider {
    schema: SchemaRef,
    file_schema: SchemaRef,
    /// The columns of files written before columns were added to the table.
    older_file_schema: SchemaRef,
    partition_fields: Vec<FieldRef>,
    store_url: ObjectStoreUrl,
    files: Vec<LiveFile>,
    /// The files' partition values, a row per file, to prune by partition filters in one go.
    partitions: RecordBatch,
}

impl EventsProvider {
    /// The live files of the table's loaded version. The table's object store must be
    /// registered in the session's runtime under `store_url`.
    pub async fn new(table: &EventTable, store_url: ObjectStoreUrl) -> Result<Self> {
        let schema = query_schema();
        let file_schema = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .filter(|field| !PARTITION_COLUMNS.contains(&field.name().as_str()))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let older_file_schema = Arc::new(Schema::new(
            file_schema
                .fields()
                .iter()
                .filter(|field| !column_named(field.name()).is_some_and(|c| c.added_later))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let partition_fields: Vec<FieldRef> = PARTITION_COLUMNS
            .iter()
            .map(|name| {
                schema
                    .field_with_name(name)
                    .map(|field| Arc::new(field.clone()))
                    .map_err(Error::from)
            })
            .collect::<Result<_>>()?;
        let files: Vec<LiveFile> = table
            .live_files(None)
            .await?
            .into_iter()
            .map(|file| LiveFile {
                path: file.path.to_string(),
                size: file.size,
                organization: file.organization,
                date: parse_date(&file.date).unwrap_or(i32::MIN),
                rows: file.rows.and_then(|n| usize::try_from(n).ok()),
                timestamps: file.timestamps_us,
                has_added_columns: file.has_added_columns,
            })
            .collect();
        let partitions = RecordBatch::try_new(
            Arc::new(Schema::new(partition_fields.clone())),
            vec![
                Arc::new(StringArray::from_iter_values(
                    files.iter().map(|f| f.organization.as_str()),
                )) as ArrayRef,
                Arc::new(Date32Array::from_iter_values(files.iter().map(|f| f.date))),
            ],
        )?;
        Ok(Self {
            schema,
            file_schema,
            older_file_schema,
            partition_fields,
            store_url,
            files,
            partitions,
        })
    }

    /// Indexes of the files whose partition values pass every filter.
    fn pruned(&self, state: &dyn Session, filters: &[Expr]) -> Result<Vec<usize>> {
        let Some(filter) = conjunction(filters.iter().cloned()) else {
            return Ok((0..self.files.len()).collect());
        };
        let df_schema = DFSchema::try_from(self.partitions.schema())?;
        let predicate = state.create_physical_expr(filter, &df_schema)?;
        let matches = predicate
            .evaluate(&self.partitions)?
            .into_array(self.partitions.num_rows())?;
        let matches = matches.as_boolean();
        Ok((0..self.files.len())
            .filter(|&i| matches.is_valid(i) && matches.value(i))
            .collect())
    }

    /// Of the files at `selected`, those whose event times may pass `on_time` (the filters
    /// that name the time): the files' time ranges are checked in one go, while the scan is
    /// planned.
    fn pruned_by_time(
        &self,
        state: &dyn Session,
        on_time: &[Expr],
        selected: Vec<usize>,
    ) -> Result<Vec<usize>> {
        let Some(filter) = conjunction(on_time.iter().cloned()) else {
            return Ok(selected);
        };
        let df_schema = DFSchema::try_from(self.schema.as_ref().clone())?;
        // Pruning only spares reading: a filter it cannot use leaves every file in.
        let Ok(predicate) = state
            .create_physical_expr(filter, &df_schema)
            .and_then(|expr| {
                PruningPredicateBuilder::new()
                    .with_file_schema(self.schema.clone())
                    .try_build(expr)
            })
        else {
            return Ok(selected);
        };
        if predicate.always_true() {
            return Ok(selected);
        }
        let times = FileTimes {
            files: selected.iter().map(|&i| &self.files[i]).collect(),
        };
        let Ok(keep) = predicate.prune(&times) else {
            return Ok(selected);
        };
        Ok(selected
            .into_iter()
            .zip(keep)
            .filter_map(|(i, keep)| keep.then_some(i))
            .collect())
    }

    /// The file as the scan reads it, with its time range when the scan filters by time
    /// (`with_times`): without it those queries measured slower (failed logins of a busy
    /// user, newest first: 114 → 138–156 ms). But with any column statistics DataFusion
    /// builds a pruning predicate for every file it opens, which is wasted where no filter
    /// names the time (a tenth of a host's 30-day enrichment in its profile).
    fn partitioned_file(&self, file: &LiveFile, with_times: bool) -> PartitionedFile {
        let mut columns = vec![ColumnStatistics::new_unknown(); self.file_schema.fields().len()];
        if let (true, Some((min, max)), Ok(index)) = (
            with_times,
            file.timestamps,
            self.file_schema.index_of(column::TIMESTAMP),
        ) {
            let instant =
                |micros| ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into()));
            columns[index] = ColumnStatistics::new_unknown()
                .with_min_value(Precision::Inexact(instant(min)))
                .with_max_value(Precision::Inexact(instant(max)));
        }
        let statistics = Statistics {
            num_rows: file.rows.map_or(Precision::Absent, Precision::Exact),
            total_byte_size: Precision::Inexact(usize::try_from(file.size).unwrap_or(usize::MAX)),
            column_statistics: columns,
        };
        PartitionedFile::new(file.path.clone(), file.size)
            .with_partition_values(vec![
                ScalarValue::Utf8(Some(file.organization.clone())),
                ScalarValue::Date32(Some(file.date)),
            ])
            .with_statistics(Arc::new(statistics))
            .with_arrow_schema(if file.has_added_columns {
                self.file_schema.clone()
            } else {
                self.older_file_schema.clone()
            })
    }
}

fn names_time(filter: &Expr) -> bool {
    filter
        .column_refs()
        .iter()
        .any(|c| c.name == column::TIMESTAMP)
}

/// The event times of some live files, as statistics to prune them by.
struct FileTimes<'a> {
    files: Vec<&'a LiveFile>,
}

impl FileTimes<'_> {
    fn bound(&self, column: &Column, pick: impl Fn((i64, i64)) -> i64) -> Option<ArrayRef> {
        (column.name == column::TIMESTAMP).then(|| {
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    self.files.iter().map(|f| f.timestamps.map(&pick)),
                )
                .with_timezone("UTC"),
            ) as ArrayRef
        })
    }
}

impl PruningStatistics for FileTimes<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.bound(column, |(min, _)| min)
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.bound(column, |(_, max)| max)
    }

    fn num_containers(&self) -> usize {
        self.files.len()
    }

    fn null_counts(&self, _column: &Column) -> Option<ArrayRef> {
        None
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        None
    }

    fn contained(
        &self,
        _column: &Column,
        _values: &std::collections::HashSet<ScalarValue>,
    ) -> Option<BooleanArray> {
        None
    }
}

fn parse_date(text: &str) -> Option<i32> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

fn is_partition_filter(expr: &Expr) -> bool {
    expr_applicable_for_cols(&PARTITION_COLUMNS, expr)
}

#[async_trait]
impl TableProvider for EventsProvider {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|filter| {
                if is_partition_filter(filter) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let partition_filters: Vec<Expr> = filters
            .iter()
            .filter(|f| is_partition_filter(f))
            .cloned()
            .collect();
        let on_time: Vec<Expr> = filters.iter().filter(|f| names_time(f)).cloned().collect();
        let selected = self
            .pruned(state, &partition_filters)
            .and_then(|selected| self.pruned_by_time(state, &on_time, selected))
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        let projected = match projection {
            Some(indices) => Arc::new(self.schema.project(indices)?),
            None => self.schema.clone(),
        };
        if selected.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let (selected, lacking) = self.split_by_added_columns(&projected, selected);
        let on_time = !on_time.is_empty();
        let mut inputs = Vec::new();
        if !selected.is_empty() {
            inputs.push(self.plan_files(state, selected, &projected, filters, limit, on_time)?);
        }
        if !lacking.is_empty() {
            inputs.push(self.plan_lacking(state, lacking, &projected, filters, limit, on_time)?);
        }
        UnionExec::try_new(inputs)
    }
}

impl EventsProvider {
    /// `selected` split into the files a scan of `projected` reads as they are, and those that
    /// lack a projected column added to the table after they were written.
    fn split_by_added_columns(
        &self,
        projected: &Schema,
        selected: Vec<usize>,
    ) -> (Vec<usize>, Vec<usize>) {
        let reads_added = projected
            .fields()
            .iter()
            .any(|field| column_named(field.name()).is_some_and(|c| c.added_later));
        if !reads_added {
            return (selected, Vec::new());
        }
        selected
            .into_iter()
            .partition(|&i| self.files[i].has_added_columns)
    }

    /// A scan of `files` (which lack columns added later) that reads the other columns and
    /// `raw`, and computes the added columns from `raw` ([`added_columns::derived`]).
    fn plan_lacking(
        &self,
        state: &dyn Session,
        files: Vec<usize>,
        projected: &SchemaRef,
        filters: &[Expr],
        limit: Option<usize>,
        on_time: bool,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let is_added = |name: &str| column_named(name).is_some_and(|c| c.added_later);
        let mut read: Vec<Field> = projected
            .fields()
            .iter()
            .filter(|field| !is_added(field.name()))
            .map(|field| field.as_ref().clone())
            .collect();
        if !read.iter().any(|field| field.name() == column::RAW) {
            read.push(self.schema.field_with_name(column::RAW)?.clone());
        }
        let read = Arc::new(Schema::new(read));
        // Filters on the added columns are applied above the scan, to the computed values.
        let filters: Vec<Expr> = filters
            .iter()
            .filter(|f| !f.column_refs().iter().any(|c| is_added(&c.name)))
            .cloned()
            .collect();
        let scan = self.plan_files(state, files, &read, &filters, limit, on_time)?;
        let read_schema = DFSchema::try_from(read.as_ref().clone())?;
        let exprs = projected
            .fields()
            .iter()
            .map(|field| {
                let expr = if is_added(field.name()) {
                    cast(
                        added_columns::derived(field.name()),
                        field.data_type().clone(),
                    )
                } else {
                    datafusion::prelude::col(field.name())
                };
                Ok(ProjectionExpr::new(
                    state.create_physical_expr(expr, &read_schema)?,
                    field.name().clone(),
                ))
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
    }

    /// A scan of the `files` at these indices with the `projected` columns.
    fn plan_files(
        &self,
        state: &dyn Session,
        selected: Vec<usize>,
        projected: &SchemaRef,
        filters: &[Expr],
        limit: Option<usize>,
        on_time: bool,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        // The scan's own column order is the file's columns, then the partition columns.
        let scan_index = |name: &str| -> datafusion::error::Result<usize> {
            match self.file_schema.index_of(name) {
                Ok(index) => Ok(index),
                Err(_) => PARTITION_COLUMNS
                    .iter()
                    .position(|p| *p == name)
                    .map(|p| self.file_schema.fields().len() + p)
                    .ok_or_else(|| {
                        datafusion::error::DataFusionError::Plan(format!("no column {name}"))
                    }),
            }
        };
        let indices = projected
            .fields()
            .iter()
            .map(|field| scan_index(field.name()))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let groups = state.config_options().execution.target_partitions.max(1);
        let file_groups = match state.config().get_extension::<FileOrder>() {
            Some(order) => order
                .deal(&self.files, selected, groups)
                .into_iter()
                .map(|hand| {
                    FileGroup::new(
                        hand.into_iter()
                            .map(|i| self.partitioned_file(&self.files[i], on_time))
                            .collect(),
                    )
                })
                .collect(),
            None => {
                let files: Vec<PartitionedFile> = selected
                    .iter()
                    .map(|&i| self.partitioned_file(&self.files[i], on_time))
                    .collect();
                FileGroup::new(files).split_files(groups)
            }
        };
        let store = state.runtime_env().object_store(&self.store_url)?;
        let metadata_cache = state.runtime_env().cache_manager.get_file_metadata_cache();
        let mut options = TableParquetOptions {
            global: state.config_options().execution.parquet.clone(),
            ..TableParquetOptions::default()
        };
        // Evaluating filters inside the decoder pays when it spares decoding `raw` for rows
        // that do not match (its pages are skipped); for the narrow columns, decoding whole
        // pages and filtering afterwards is faster (measured: a 30-day distinct over three
        // narrow columns took 112 ms filtered afterwards, 152 ms inside the decoder).
        let reads_raw = projected.field_with_name(column::RAW).is_ok()
            || filters
                .iter()
                .any(|f| f.column_refs().iter().any(|c| c.name == column::RAW));
        options.global.pushdown_filters |= reads_raw;
        // Bloom filters are read only where a filter names a column that has them: checking
        // for them costs every opened file a lookup per row group (a tenth of the opening time
        // of a 30-day distinct over one host's events).
        options.global.bloom_filter_on_read &= filters.iter().any(|f| {
            f.column_refs()
                .iter()
                .any(|c| BLOOM_FILTER_COLUMNS.contains(&c.name.as_str()))
        });
        let table_schema = TableSchema::builder(self.file_schema.clone())
            .with_table_partition_cols(self.partition_fields.clone())
            .build();
        // Ranges that case-insensitive matches imply, for statistics only: evaluated inside
        // the decoder they would cost more than the matches themselves.
        let hint = if options.global.pushdown_filters {
            None
        } else {
            conjunction(filters.iter().cloned())
                .as_ref()
                .and_then(crate::case_fold::pruning_hint)
        };
        let hint = hint
            .map(|hint| {
                let schema = DFSchema::try_from(table_schema.table_schema().as_ref().clone())?;
                state.create_physical_expr(hint, &schema)
            })
            .transpose()?;
        let mut source = ParquetSource::new(table_schema)
            .with_table_parquet_options(options)
            .with_parquet_file_reader_factory({
                let cached = CachedParquetFileReaderFactory::new(store, metadata_cache);
                if state.config().get_extension::<SequentialRead>().is_some() {
                    Arc::new(cached) as Arc<dyn ParquetFileReaderFactory>
                } else {
                    Arc::new(IndexedReaderFactory(cached))
                }
            });
        if let Some(hint) = hint {
            source = source.with_predicate(hint);
        }
        let config = FileScanConfigBuilder::new(self.store_url.clone(), Arc::new(source))
            .with_file_groups(file_groups)
            .with_projection_indices(Some(indices))?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Set on the session of a read of whole days in order (an export), whose scans open each file
/// once per slice: their readers keep the footers in the metadata cache as DataFusion's do, but
/// not the page indexes, so that an export through a store's every file neither holds more
/// memory than its slice needs nor evicts what interactive queries keep there.
#[derive(Debug)]
pub(crate) struct SequentialRead;

/// Readers whose file metadata comes with the page index, from the session runtime's metadata
/// cache. DataFusion's opener asks for the footer alone and then reads and decodes the page
/// index of every file it opens, on every query, without caching it (two blocking file reads,
/// a copy of the metadata, the index of every column); asked without options, the cached
/// reader loads the index once and keeps it with the footer, so a scan of many day partitions
/// opens each file from memory.
#[derive(Debug)]
struct IndexedReaderFactory(CachedParquetFileReaderFactory);

impl ParquetFileReaderFactory for IndexedReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        partitioned_file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> datafusion::error::Result<Box<dyn AsyncFileReader + Send>> {
        Ok(Box::new(IndexedReader(self.0.create_reader(
            partition_index,
            partitioned_file,
            metadata_size_hint,
            metrics,
        )?)))
    }
}

struct IndexedReader(Box<dyn AsyncFileReader + Send>);

impl AsyncFileReader for IndexedReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.0.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        self.0.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        // Without options the cached reader takes the page index too (and caches it); the
        // table's files are never encrypted, the only other thing options carry.
        self.0.get_metadata(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(timestamps: Option<(i64, i64)>) -> LiveFile {
        LiveFile {
            path: String::new(),
            size: 0,
            organization: String::new(),
            date: 0,
            rows: None,
            timestamps,
            has_added_columns: true,
        }
    }

    #[test]
    fn files_are_dealt_in_time_order_and_those_without_times_last() {
        // Index: 0 [10, 20], 1 [0, 40], 2 none, 3 [30, 35], 4 [5, 8].
        let files = [
            file(Some((10, 20))),
            file(Some((0, 40))),
            file(None),
            file(Some((30, 35))),
            file(Some((5, 8))),
        ];
        let all = || (0..files.len()).collect::<Vec<_>>();
        // Newest first by latest event: 1 (40), 3 (35), 0 (20), 4 (8), then 2.
        assert_eq!(
            FileOrder::NewestFirst.deal(&files, all(), 2),
            [vec![1, 0, 2], vec![3, 4]]
        );
        // Oldest first by earliest event: 1 (0), 4 (5), 0 (10), 3 (30), then 2.
        assert_eq!(
            FileOrder::OldestFirst.deal(&files, all(), 3),
            [vec![1, 3], vec![4, 2], vec![0]]
        );
        // Never more partitions than files, nor none when there are files.
        assert_eq!(
            FileOrder::NewestFirst.deal(&files, vec![0, 4], 8),
            [vec![0], vec![4]]
        );
        assert_eq!(FileOrder::NewestFirst.deal(&files, vec![0], 0), [vec![0]]);
        assert!(
            FileOrder::OldestFirst
                .deal(&files, Vec::new(), 2)
                .is_empty()
        );
    }
}
