//! The rows of a plan, in a fixed order, as chunks of newline-terminated raw events.
//!
//! Two sources make up an increment:
//! - the table as of `to_version`, restricted to the plan's event-time window (window and
//!   backfill modes, and the very first increment of versions mode);
//! - the data files added by the commits `(from_version, to_version]`, restricted to events
//!   *before* the window (late arrivals for windows already exported), or unrestricted in
//!   versions mode. Compaction commits add no data and are skipped.
//!
//! Files are read in a fixed order (snapshot files by partition and path, then added files by
//! version and position in the commit), so a re-run of the same plan cuts the same objects.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use parquet::arrow::ProjectionMask;
// ParquetObjectReader is deprecated in favour of hand-written AsyncFileReaders; it is the reader
// deltalake itself uses over the same object store.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use tokio::sync::mpsc;

use insights_schemas::column;

use insights_ingest::EventTable;

use crate::error::{Cause, Error, Result};
use crate::state::{Mode, Plan};

/// Raw bytes gathered before a chunk is handed on to compression.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Newline-terminated raw events.
#[derive(Debug, Default)]
pub struct Chunk {
    pub data: Vec<u8>,
    pub rows: u64,
}

/// One data file to read, with the half-open range of event times to keep.
#[derive(Debug, Clone)]
struct FileRead {
    path: Path,
    size: u64,
    from_us: i64,
    to_us: i64,
}

/// What a plan reads.
struct Selection {
    /// Rows of the table at `to_version` in this event-time range.
    snapshot: Option<(i64, i64)>,
    /// Rows of the files added after `from_version`, before this event time.
    added_before: Option<i64>,
}

fn selection(plan: &Plan) -> Selection {
    match plan.mode {
        Mode::Versions if plan.from_version < 0 => Selection {
            snapshot: Some((i64::MIN, i64::MAX)),
            added_before: None,
        },
        Mode::Versions => Selection {
            snapshot: None,
            added_before: Some(i64::MAX),
        },
        Mode::Window { .. } => Selection {
            snapshot: Some((plan.start_us, plan.end_us)),
            added_before: (plan.from_version >= 0).then_some(plan.start_us),
        },
        Mode::Backfill => Selection {
            snapshot: Some((plan.start_us, plan.end_us)),
            added_before: None,
        },
    }
}

fn table_error(table: &EventTable, message: impl Into<String>, e: insights_ingest::Error) -> Error {
    Error::table(table.name(), message, e)
}

/// The `YYYY-MM-DD` partition of an event time.
fn date_of(us: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_micros(us).map(|t| t.format("%Y-%m-%d").to_string())
}

/// Lists the files of a plan, in reading order. `table` must be loaded at `plan.to_version`.
async fn files(table: &EventTable, plan: &Plan) -> Result<Vec<FileRead>> {
    let selection = selection(plan);
    let mut reads = Vec::new();
    if let Some((from_us, to_us)) = selection.snapshot {
        let first = (from_us > i64::MIN).then(|| date_of(from_us)).flatten();
        let last = (to_us < i64::MAX).then(|| date_of(to_us - 1)).flatten();
        let mut listed = table
            .live_files(plan.organization.as_deref())
            .await
            .map_err(|e| table_error(table, "listing its files", e))?;
        listed.retain(|file| {
            first.as_ref().is_none_or(|f| file.date >= *f)
                && last.as_ref().is_none_or(|l| file.date <= *l)
        });
        listed.sort_by(|a, b| (&a.date, &a.path).cmp(&(&b.date, &b.path)));
        reads.extend(listed.into_iter().map(|file| FileRead {
            path: file.path,
            size: file.size,
            from_us,
            to_us,
        }));
    }
    if let Some(before) = selection.added_before {
        for version in plan.from_version + 1..=plan.to_version {
            let added = table.files_added_by(version).await.map_err(|e| {
                table_error(table, format!("reading the commit of version {version}"), e)
            })?;
            for file in added {
                if plan
                    .organization
                    .as_ref()
                    .is_some_and(|org| file.organization != *org)
                {
                    continue;
                }
                // A partition entirely at or after `before` cannot hold late rows.
                if let (true, Some(limit)) = (before < i64::MAX, date_of(before))
                    && file.date > limit
                {
                    continue;
                }
                reads.push(FileRead {
                    path: file.path,
                    size: file.size,
                    from_us: i64::MIN,
                    to_us: before,
                });
            }
        }
    }
    Ok(reads)
}

/// Sends the plan's rows as chunks of about [`CHUNK_BYTES`], in order. `table` must be loaded at
/// `plan.to_version`.
pub async fn read_rows(table: &EventTable, plan: &Plan, chunks: mpsc::Sender<Chunk>) -> Result<()> {
    let files = files(table, plan).await?;
    let store = table.object_store();
    // Objects are cut at chunk boundaries, so a chunk is never larger than an object.
    let chunk_bytes =
        usize::try_from(plan.object_bytes).map_or(CHUNK_BYTES, |b| b.min(CHUNK_BYTES));
    let mut chunk = Chunk::default();
    for file in files {
        if read_file(&store, &file, chunk_bytes, &mut chunk, &chunks).await? {
            return Ok(());
        }
    }
    if chunk.rows > 0 {
        // A closed receiver means the export failed elsewhere; that error is the one reported.
        let _ = chunks.send(chunk).await;
    }
    Ok(())
}

/// Appends the wanted rows of one file to `chunk`, handing on full chunks. True when the
/// receiver has gone (the export failed elsewhere).
async fn read_file(
    store: &Arc<dyn ObjectStore>,
    file: &FileRead,
    chunk_bytes: usize,
    chunk: &mut Chunk,
    chunks: &mpsc::Sender<Chunk>,
) -> Result<bool> {
    let name = file.path.to_string();
    let read_error = |e: Cause| Error::Read {
        file: name.clone(),
        message: "not a readable Parquet file of the table".into(),
        source: Some(e),
    };
    #[allow(deprecated)] // see the import
    let reader =
        ParquetObjectReader::new(store.clone(), file.path.clone()).with_file_size(file.size);
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| read_error(e.into()))?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), [column::RAW, column::TIMESTAMP]);
    let mut stream = builder
        .with_projection(mask)
        .with_batch_size(1024)
        .build()
        .map_err(|e| read_error(e.into()))?;
    while let Some(batch) = stream.try_next().await.map_err(|e| read_error(e.into()))? {
        let mut full = Vec::new();
        append_batch(&batch, file, chunk_bytes, chunk, &mut full)
            .map_err(|m| read_error(m.into()))?;
        for ready in full {
            if chunks.send(ready).await.is_err() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Appends the wanted rows of `batch` to `chunk`, moving each chunk that reaches `chunk_bytes`
/// to `full`.
fn append_batch(
    batch: &RecordBatch,
    file: &FileRead,
    chunk_bytes: usize,
    chunk: &mut Chunk,
    full: &mut Vec<Chunk>,
) -> Result<(), String> {
    let (Some(raw), Some(times)) = (
        batch.column_by_name(column::RAW),
        batch.column_by_name(column::TIMESTAMP),
    ) else {
        return Err("the file lacks the raw or timestamp column".into());
    };
    let times = times
        .as_primitive_opt::<TimestampMicrosecondType>()
        .ok_or_else(|| format!("timestamp has type {}", times.data_type()))?;
    let keep = |i: usize| {
        let t = times.value(i);
        t >= file.from_us && t < file.to_us
    };
    let mut push = |value: &str| {
        chunk.data.extend_from_slice(value.as_bytes());
        chunk.data.push(b'\n');
        chunk.rows += 1;
        if chunk.data.len() >= chunk_bytes {
            let next = Chunk {
                data: Vec::with_capacity(chunk_bytes + (chunk_bytes >> 3)),
                rows: 0,
            };
            full.push(std::mem::replace(chunk, next));
        }
    };
    if let Some(values) = raw.as_string_opt::<i32>() {
        (0..values.len())
            .filter(|&i| values.is_valid(i) && keep(i))
            .for_each(|i| push(values.value(i)));
    } else if let Some(values) = raw.as_string_view_opt() {
        (0..values.len())
            .filter(|&i| values.is_valid(i) && keep(i))
            .for_each(|i| push(values.value(i)));
    } else if let Some(values) = raw.as_string_opt::<i64>() {
        (0..values.len())
            .filter(|&i| values.is_valid(i) && keep(i))
            .for_each(|i| push(values.value(i)));
    } else {
        return Err(format!("raw has type {}", raw.data_type()));
    }
    Ok(())
}
