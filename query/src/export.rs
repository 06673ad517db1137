//! Streaming exports: every event a request matches, with no row cap, encoded and optionally
//! gzipped chunk by chunk as DataFusion produces record batches.
//!
//! The export runs day partition by day partition in the request's order, one query per day
//! that reads each file of the day once and sorts the day. The sort holds at most
//! [`EXPORT_MEMORY`](crate::engine::EXPORT_MEMORY) (the export's own ceiling within the engine's
//! pool); a larger day is sorted in runs spilled to disk and merged. With `fields`, each event's
//! requested fields are encoded into one record as the scan reads it, before the sort, so the
//! sort carries records rather than whole events. Output flows through a bounded channel, so a
//! slow reader slows the scan instead of growing a buffer.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use chrono::NaiveDate;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
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
    /// Bytes the day sorts wrote to temporary files (days larger than the export's memory).
    pub spilled_bytes: AtomicU64,
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
    let days = days_in_scope(&engine, &scope, &query).await?;
    let progress = Arc::new(ExportProgress::default());
    progress.days_total.store(days.len(), Ordering::Relaxed);
    let (sender, receiver) = mpsc::channel(4);
    let task_progress = progress.clone();
    tokio::spawn(async move {
        let mut sink = Sink::new(gzip, sender.clone());
        let result = run(
            &engine,
            &scope,
            &query,
            format,
            &days,
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
    days: &[i32],
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
    // One runtime for the whole export: its memory ceiling is the export's, not each day's.
    let runtime = engine.export_runtime()?;
    for &day in days {
        let ctx = engine.context_exporting(&runtime)?;
        let mut frame = engine
            .events(&ctx, scope)?
            .filter(filter::filter(query)?.and(filter::on_day(day)))?;
        if let Some((ms, id)) = &query.search_after {
            frame = frame.filter(filter::after(query.sort, *ms, id))?;
        }
        let plan = frame
            .select(read.clone())?
            .sort(filter::order(query.sort))?
            .select(columns.clone())?
            .create_physical_plan()
            .await?;
        let mut stream = execute_stream(plan.clone(), ctx.task_ctx())?;
        while let Some(batch) = stream.try_next().await? {
            encoder.batch(&batch, &mut buffer)?;
            progress.rows.store(encoder.rows(), Ordering::Relaxed);
            if buffer.len() >= CHUNK_BYTES {
                sink.send(&mut buffer).await?;
            }
        }
        progress
            .spilled_bytes
            .fetch_add(spilled_bytes(plan.as_ref()), Ordering::Relaxed);
        progress.days_done.fetch_add(1, Ordering::Relaxed);
    }
    encoder.finish(&mut buffer);
    sink.send(&mut buffer).await
}

/// Bytes that the operators of an executed plan spilled to temporary files.
fn spilled_bytes(plan: &dyn ExecutionPlan) -> u64 {
    let own = plan
        .metrics()
        .and_then(|metrics| metrics.spilled_bytes())
        .unwrap_or(0);
    plan.children()
        .into_iter()
        .map(|child| spilled_bytes(child.as_ref()))
        .sum::<u64>()
        + own as u64
}

/// Whether an export encodes each event's requested fields as it reads it (`fields` in any
/// format that writes them).
fn writes_records(format: Format, fields: &[String]) -> bool {
    !fields.is_empty() && format != Format::Table
}

/// The day partitions in scope (days since the epoch) that the request's time range reaches,
/// in its order.
async fn days_in_scope(
    engine: &QueryEngine,
    scope: &Scope,
    query: &EventQuery,
) -> Result<Vec<i32>> {
    let first = query.start_time_us.div_euclid(MICROS_PER_DAY);
    let last = query
        .end_time_us
        .map(|end| (end - 1).div_euclid(MICROS_PER_DAY));
    let epoch =
        NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| Error::Invalid("epoch".into()))?;
    let mut days = BTreeSet::new();
    for ((_, date), _rows) in engine.partitions(scope).await? {
        let Some(day) = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .ok()
            .and_then(|date| i32::try_from((date - epoch).num_days()).ok())
        else {
            continue;
        };
        if i64::from(day) >= first && last.is_none_or(|last| i64::from(day) <= last) {
            days.insert(day);
        }
    }
    let mut days: Vec<i32> = days.into_iter().collect();
    if query.sort == SortOrder::Desc {
        days.reverse();
    }
    Ok(days)
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
