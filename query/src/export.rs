//! Streaming exports: every event a request matches, with no row cap, encoded and optionally
//! gzipped chunk by chunk as DataFusion produces record batches.
//!
//! The export runs slice by slice in the request's order: each day partition, cut into equal
//! time slices of about [`SLICE_ROWS`] events (from the table's per-file row counts), so that a
//! sort never holds more than one slice. Rows narrower than whole events make larger slices:
//! [`NARROW_SLICE_ROWS`] for the typed columns of a flat CSV, [`RECORD_SLICE_ROWS`] for a
//! `fields` export, whose requested fields are encoded into one record per event as the scan
//! reads it, before the sort. Output flows through a bounded channel, so a slow reader slows
//! the scan instead of growing a buffer.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use chrono::NaiveDate;
use datafusion::prelude::{Expr, col};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::{Stream, TryStreamExt};
use tokio::sync::mpsc;

use insights_schemas::column;
use insights_schemas::request::{EventQuery, SortOrder};

use crate::encode::{Encoder, Format, RECORD, records_udf};
use crate::engine::{QueryEngine, Scope};
use crate::error::{Error, Result};
use crate::events::check_fields;
use crate::filter;

/// Events per sorted slice of an export that writes the raw events (at most, if events spread
/// evenly over a day): about 800 bytes each, so a slice's sort holds a few MiB.
pub const SLICE_ROWS: u64 = 8_192;
/// Events per slice when only the typed columns are written (CSV without dot paths): rows of
/// about 200 bytes, and each slice is one query with its own planning and file opening.
pub const NARROW_SLICE_ROWS: u64 = 65_536;
/// Events per slice when each row's requested `fields` are encoded before the sort: records of
/// a few dozen bytes for the fields users export (ids, names, addresses), so a slice's sort
/// holds some MiB, and a day partition of a busy store is read in one pass. Each slice reads
/// the `raw` pages it touches, and a time slice touches most of a day's pages (rows are
/// clustered by host and actor, not by time), so fewer slices decompress less.
pub const RECORD_SLICE_ROWS: u64 = 262_144;
/// Output is handed on in chunks of about this size.
const CHUNK_BYTES: usize = 256 << 10;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// How far an export has got; shared with whoever shows progress.
#[derive(Debug, Default)]
pub struct ExportProgress {
    /// Day partitions the export will read.
    pub days_total: AtomicUsize,
    /// Day partitions read so far.
    pub days_done: AtomicUsize,
    /// Events written so far.
    pub rows: AtomicU64,
}

/// A running export: a stream of output chunks plus its progress.
pub struct Export {
    pub progress: Arc<ExportProgress>,
    receiver: mpsc::Receiver<Result<Bytes>>,
}

impl Export {
    /// The output, chunk by chunk; an error ends it.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        futures::stream::unfold(self.receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        })
    }

    /// Writes the whole output to `out` (blocking writes, for the command line).
    pub async fn write_to(self, out: &mut dyn Write) -> Result<u64> {
        let progress = self.progress.clone();
        let mut receiver = self.receiver;
        while let Some(chunk) = receiver.recv().await {
            out.write_all(&chunk?)?;
        }
        out.flush()?;
        Ok(progress.rows.load(Ordering::Relaxed))
    }
}

/// Checks what an export of `query` would refuse: its `fields` and its filter.
pub fn check(query: &EventQuery) -> Result<()> {
    check_fields(&query.fields)?;
    filter::filter(query)?;
    Ok(())
}

/// Starts exporting what `query` matches (ignoring `limit` and `skip`; `search_after` resumes).
pub async fn export(
    engine: Arc<QueryEngine>,
    scope: Scope,
    query: EventQuery,
    format: Format,
    gzip: bool,
) -> Result<Export> {
    // Validate the request before anything is streamed, so a bad request is an error, not a
    // truncated body.
    check(&query)?;
    let reads_raw = format
        .columns(&query.fields)
        .contains(&insights_schemas::column::RAW);
    let slice_rows = if writes_records(format, &query.fields) {
        RECORD_SLICE_ROWS
    } else if reads_raw {
        SLICE_ROWS
    } else {
        NARROW_SLICE_ROWS
    };
    let slices = slices_in_scope(&engine, &scope, &query, slice_rows).await?;
    let progress = Arc::new(ExportProgress::default());
    let days = slices.windows(2).filter(|w| w[0].day != w[1].day).count()
        + usize::from(!slices.is_empty());
    progress.days_total.store(days, Ordering::Relaxed);
    let (sender, receiver) = mpsc::channel(4);
    let task_progress = progress.clone();
    tokio::spawn(async move {
        let mut sink = Sink::new(gzip, sender.clone());
        let result = run(
            &engine,
            &scope,
            &query,
            format,
            &slices,
            &task_progress,
            &mut sink,
        )
        .await;
        let result = match result {
            Ok(()) => sink.finish().await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            // The reader may be gone already; then nobody is left to tell.
            let _ = sender.send(Err(e)).await;
        }
    });
    Ok(Export { progress, receiver })
}

async fn run(
    engine: &QueryEngine,
    scope: &Scope,
    query: &EventQuery,
    format: Format,
    slices: &[Slice],
    progress: &ExportProgress,
    sink: &mut Sink,
) -> Result<()> {
    let mut encoder = Encoder::new(format, &query.fields);
    let mut buffer = Vec::with_capacity(CHUNK_BYTES * 2);
    encoder.begin(&mut buffer);
    // With `fields`, each event's requested fields are encoded as it is read, before the sort;
    // otherwise the sort carries the columns the format writes.
    let (read, columns): (Vec<Expr>, Vec<Expr>) = if writes_records(format, &query.fields) {
        let records = records_udf(format, &query.fields);
        (
            vec![
                col(column::TIMESTAMP),
                col(column::ID),
                records.call(vec![col(column::RAW)]).alias(RECORD),
            ],
            vec![col(RECORD)],
        )
    } else {
        let columns: Vec<Expr> = format.columns(&query.fields).into_iter().map(col).collect();
        (columns.clone(), columns)
    };
    let mut last_day = None;
    for slice in slices {
        let ctx = engine.context_exporting()?;
        let mut frame = engine.events(&ctx, scope)?.filter(
            filter::filter(query)?
                .and(filter::on_day(slice.day))
                .and(filter::within(slice.start_us, slice.end_us)),
        )?;
        if let Some((ms, id)) = &query.search_after {
            frame = frame.filter(filter::after(query.sort, *ms, id))?;
        }
        let mut stream = frame
            .select(read.clone())?
            .sort(filter::order(query.sort))?
            .select(columns.clone())?
            .execute_stream()
            .await?;
        while let Some(batch) = stream.try_next().await? {
            encoder.batch(&batch, &mut buffer)?;
            progress.rows.store(encoder.rows(), Ordering::Relaxed);
            if buffer.len() >= CHUNK_BYTES {
                sink.send(&mut buffer).await?;
            }
        }
        if last_day.is_some_and(|day| day != slice.day) {
            progress.days_done.fetch_add(1, Ordering::Relaxed);
        }
        last_day = Some(slice.day);
    }
    if last_day.is_some() {
        progress.days_done.fetch_add(1, Ordering::Relaxed);
    }
    encoder.finish(&mut buffer);
    sink.send(&mut buffer).await
}

/// Whether an export encodes each event's requested fields as it reads it (`fields` in any
/// format that writes them).
fn writes_records(format: Format, fields: &[String]) -> bool {
    !fields.is_empty() && format != Format::Table
}

/// A time slice of one day partition: `[start_us, end_us)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slice {
    day: i32,
    start_us: i64,
    end_us: i64,
}

/// The slices of the day partitions in scope that the request's time range reaches, in its
/// order.
async fn slices_in_scope(
    engine: &QueryEngine,
    scope: &Scope,
    query: &EventQuery,
    slice_rows: u64,
) -> Result<Vec<Slice>> {
    let first = query.start_time_us.div_euclid(MICROS_PER_DAY);
    let last = query
        .end_time_us
        .map(|end| (end - 1).div_euclid(MICROS_PER_DAY));
    let epoch =
        NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| Error::Invalid("epoch".into()))?;
    let mut rows_per_day: BTreeMap<i32, u64> = BTreeMap::new();
    for ((_, date), rows) in engine.partitions(scope).await? {
        let Some(day) = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .ok()
            .and_then(|date| i32::try_from((date - epoch).num_days()).ok())
        else {
            continue;
        };
        if i64::from(day) >= first && last.is_none_or(|last| i64::from(day) <= last) {
            *rows_per_day.entry(day).or_default() += rows;
        }
    }
    let mut slices = Vec::new();
    for (day, rows) in rows_per_day {
        // At most 86,400: fits.
        let pieces = rows.div_ceil(slice_rows).clamp(1, 86_400).cast_signed();
        let day_start = i64::from(day) * MICROS_PER_DAY;
        let width = MICROS_PER_DAY / pieces;
        for piece in 0..pieces {
            let start_us = day_start + piece * width;
            let end_us = if piece + 1 == pieces {
                day_start + MICROS_PER_DAY
            } else {
                start_us + width
            };
            slices.push(Slice {
                day,
                start_us,
                end_us,
            });
        }
    }
    if query.sort == SortOrder::Desc {
        slices.reverse();
    }
    Ok(slices)
}

/// Where encoded bytes go: straight on, or through gzip.
struct Sink {
    gzip: Option<GzEncoder<Vec<u8>>>,
    sender: mpsc::Sender<Result<Bytes>>,
}

impl Sink {
    fn new(gzip: bool, sender: mpsc::Sender<Result<Bytes>>) -> Self {
        Self {
            gzip: gzip.then(|| GzEncoder::new(Vec::new(), Compression::fast())),
            sender,
        }
    }

    async fn send(&mut self, buffer: &mut Vec<u8>) -> Result<()> {
        let chunk = match &mut self.gzip {
            Some(gzip) => {
                gzip.write_all(buffer)?;
                buffer.clear();
                std::mem::take(gzip.get_mut())
            }
            None => std::mem::replace(buffer, Vec::with_capacity(CHUNK_BYTES * 2)),
        };
        if chunk.is_empty() {
            return Ok(());
        }
        self.sender
            .send(Ok(Bytes::from(chunk)))
            .await
            .map_err(|_| Error::Invalid("the export's reader went away".into()))
    }

    async fn finish(mut self) -> Result<()> {
        if let Some(gzip) = self.gzip.take() {
            let tail = gzip.finish()?;
            if !tail.is_empty() {
                self.sender
                    .send(Ok(Bytes::from(tail)))
                    .await
                    .map_err(|_| Error::Invalid("the export's reader went away".into()))?;
            }
        }
        Ok(())
    }
}
