//! How the table's files are written: the Parquet settings, and the storage order that clusters
//! a partition's rows by service, host (or resource) and time.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{Date32Type, TimestampMicrosecondType};
use deltalake::DeltaTableError;
use deltalake::kernel::scalars::ScalarExt;
use deltalake::writer::{RecordBatchWriter, WriteMode};
use indexmap::IndexMap;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use insights_schemas::{PARTITION_COLUMNS, column};

use crate::dedup::PartitionId;
use crate::error::{Error, Result};

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

/// Parquet settings of the table's files: zstd for `raw` and `id`, LZ4 for the typed columns
/// (see [`properties`]), statistics with a page index, bloom filters on the columns looked up
/// by value, no dictionary for the unique or large columns. `timestamp`
/// is delta-encoded and not compressed: every page of events reads it for its probe and its
/// filters, and zstd over plain values cost more to decompress than the deltas to decode (a
/// DI page over a `bench-http.sh` store of 2.1–2.2 million fresh events: 63–66 ms of server
/// CPU with zstd, 40–47 ms delta-encoded, in files 1 % smaller).
/// The columns looked up by value, which the files carry bloom filters for.
pub const BLOOM_FILTER_COLUMNS: [&str; 3] = [column::ID, column::USERNAME, column::CLIENT_IP];

pub fn writer_properties() -> WriterProperties {
    properties(1)
}

/// zstd level of `raw` in the files compaction writes, which live for years: on 32 KiB pages of
/// events it compresses ~10 % smaller than level 1 (`zstd -b1 -e9 -B32768` over 32 MiB of the
/// benchmark's events: x5.04 at level 1, x5.55 at 6, x5.68 at 9), at ~100 MB/s instead of
/// ~330, and decompresses as fast or faster.
const COMPACTED_RAW_ZSTD_LEVEL: i32 = 6;

/// [`writer_properties`] for the files compaction writes: `raw` compressed harder.
pub fn compacted_writer_properties() -> WriterProperties {
    properties(COMPACTED_RAW_ZSTD_LEVEL)
}

/// The typed columns are LZ4-compressed: the Parquet reader makes a new codec for every column
/// chunk it reads, and a zstd codec allocates a compression and a decompression context each
/// time, which cost more than the small dictionary-encoded chunks take to decompress
/// (`docs/decisions/0037-typed-columns-are-lz4-compressed.md`).
fn properties(raw_zstd_level: i32) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_column_compression(
            ColumnPath::from(column::ID),
            Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()),
        )
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(WRITE_BATCH_ROWS)
        .set_column_data_page_size_limit(ColumnPath::from(column::RAW), RAW_PAGE_BYTES)
        .set_column_dictionary_enabled(ColumnPath::from(column::RAW), false)
        .set_column_compression(
            ColumnPath::from(column::RAW),
            Compression::ZSTD(ZstdLevel::try_new(raw_zstd_level).unwrap_or_default()),
        )
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
    for name in BLOOM_FILTER_COLUMNS {
        builder = builder
            .set_column_bloom_filter_enabled(ColumnPath::from(name), true)
            .set_column_bloom_filter_fpp(ColumnPath::from(name), 0.01);
    }
    builder.build()
}

/// The text column whose values, after the service, cluster a partition's rows.
const CLUSTER_COLUMN: &str = column::RESOURCE_TYPE;
/// The text column whose values, after the service and resource type, cluster a partition's
/// rows: each host's device events form one run...
const HOST_COLUMN: &str = column::SYSTEM_HOSTNAME;
/// ... and, for events about a resource (no host), each resource's events (a user's, a
/// system's admin changes).
const RESOURCE_NAME_COLUMN: &str = column::RESOURCE_NAME;
/// ... and within those, each actor's events.
const ACTOR_COLUMN: &str = column::USERNAME;

/// Orders rows by organization and day (one run per partition), then by service and resource
/// type, then by host (or, for events with no host, the resource's name), then by actor
/// (`username`), then by timestamp and id. Within a file each service's events are contiguous,
/// so a column that only some services fill (`system_hostname`, `resource_*`) is wholly null,
/// or narrow in range, in the pages of the others; each host's (each resource's) events of a
/// service are one run, so a scan for one host reads only the pages of its runs; and in that
/// run each actor's events are one time-sorted run, so one user's events (their failed logins,
/// their enrichment) sit in few pages instead of in every page of the day, and the similar JSON
/// of one user's events compresses better. Measured side by side on the 2,000,000-event peers
/// store against the order without the actor: live table 221 -> 196 MB; failed logins of a busy
/// user over HTTP 104-117 -> 59-85 ms; that user's enrichment 420-532 -> 323-381 ms; a day of
/// sso to NDJSON 105-119 -> 134-146 ms (the export orders by time what is no longer stored in
/// time order); the other queries within noise.
///
/// Rows arrive nearly in time order, so a sort of compact keys (numbers for the partition, the
/// service, the resource type, the name and the actor, and the timestamp, with the id compared
/// only on ties) is much cheaper than a lexicographic sort over the string columns.
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
    let actors = ranks(text(ACTOR_COLUMN)?.iter());
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
    let mut keys: Vec<(u32, u32, u32, u32, u32, i64, u32)> = (0..batch.num_rows())
        .map(|row| {
            let partition = partitions[&(orgs.value(row), dates.value(row))];
            (
                partition,
                services[row],
                clusters[row],
                names[row],
                actors[row],
                times.value(row),
                row as u32,
            )
        })
        .collect();
    keys.sort_unstable_by(|a, b| {
        (a.0, a.1, a.2, a.3, a.4, a.5)
            .cmp(&(b.0, b.1, b.2, b.3, b.4, b.5))
            .then_with(|| ids.value(a.6 as usize).cmp(ids.value(b.6 as usize)))
            .then(a.6.cmp(&b.6))
    });
    Ok(UInt32Array::from_iter_values(keys.into_iter().map(|k| k.6)))
}

/// Rows [`write_in_order`] gathers at a time: a multiple of the page and write-batch sizes, so
/// that pages are cut where a single sorted batch would cut them.
const GATHER_ROWS: usize = 2 * PAGE_ROWS;

/// Writes the rows of `batch` numbered by `order`, in that order, a few thousand at a time.
/// The sorted rows are never all in memory at once: a commit of 200,000 events would otherwise
/// copy ~160 MiB of JSON into fresh memory (which the kernel zeroes first) before encoding any.
///
/// `order` keeps each partition's rows together ([`storage_order`]), so each gathered block is
/// cut at partition boundaries and handed to the writer as one partition's rows, with that
/// partition's values. The writer's own `write` would split every block by partition again,
/// copying every column of it a second time.
pub(crate) async fn write_in_order(
    writer: &mut RecordBatchWriter,
    batch: &RecordBatch,
    order: &UInt32Array,
) -> std::result::Result<(), DeltaTableError> {
    let partitions = PARTITION_COLUMNS.map(|name| batch.column_by_name(name));
    let [Some(orgs), Some(dates)] = partitions else {
        return Err(DeltaTableError::generic(format!(
            "the rows lack a partition column ({PARTITION_COLUMNS:?})"
        )));
    };
    let (Some(org_values), Some(date_values)) = (
        orgs.as_string_opt::<i32>(),
        dates.as_primitive_opt::<Date32Type>(),
    ) else {
        return Err(DeltaTableError::generic(
            "the partition columns are not a text and a date".to_owned(),
        ));
    };
    let partition_of = |row: usize| {
        (
            org_values.is_valid(row).then(|| org_values.value(row)),
            date_values.is_valid(row).then(|| date_values.value(row)),
        )
    };
    let rows = order.values();
    let mut start = 0;
    while start < rows.len() {
        let first = rows[start] as usize;
        let partition = partition_of(first);
        let limit = (start + GATHER_ROWS).min(rows.len());
        let end = start
            + 1
            + rows[start + 1..limit]
                .iter()
                .take_while(|&&row| partition_of(row as usize) == partition)
                .count();
        let values = [(PARTITION_COLUMNS[0], orgs), (PARTITION_COLUMNS[1], dates)]
            .into_iter()
            .map(|(name, array)| {
                ScalarExt::from_array(array.as_ref(), first)
                    .map(|value| (name.to_owned(), value))
                    .ok_or_else(|| {
                        DeltaTableError::generic(format!(
                            "row {first}: the partition column {name} holds no partition value"
                        ))
                    })
            })
            .collect::<std::result::Result<IndexMap<_, _>, _>>()?;
        let block = take_record_batch(batch, &order.slice(start, end - start))?;
        writer
            .write_partition(block, &values, WriteMode::Default)
            .await?;
        start = end;
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
