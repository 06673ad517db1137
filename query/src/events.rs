//! One page of events for a DI request: `limit` rows after `skip` and `search_after`, in
//! (timestamp, id) order, with the paging key of the last row.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::compute::{
    SortColumn, SortOptions, concat_batches, lexsort_to_indices, max, min, take_record_batch,
};
use arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use datafusion::prelude::{DataFrame, col};
use futures::StreamExt;
use serde_json::Value;

use insights_schemas::catalogue::is_known_field;
use insights_schemas::column;
use insights_schemas::request::{EventQuery, RequestError, SortOrder};

use crate::encode::{Encoder, Format, text_column};
use crate::engine::{QueryEngine, Scope};
use crate::error::{Error, Result};
use crate::filter;
use crate::scan::FileOrder;

/// A page of events and the DI response headers that go with it.
#[derive(Debug, Clone)]
pub struct EventsPage {
    /// The encoded rows (a JSON array for [`Format::Json`]).
    pub body: Vec<u8>,
    /// `X-Result-Count`: rows in the page.
    pub count: usize,
    /// `X-Limit`.
    pub limit: usize,
    /// `X-Sort`.
    pub sort: SortOrder,
    /// `X-Search_after`: the last row's (epoch ms, id), or the request's own when the page is
    /// empty.
    pub search_after: Option<(i64, String)>,
}

impl EventsPage {
    /// The `X-Search_after` header value: `[epoch_ms, "id"]`, or `[]` before any row.
    pub fn search_after_header(&self) -> String {
        match &self.search_after {
            Some((ms, id)) => {
                Value::Array(vec![Value::from(*ms), Value::from(id.as_str())]).to_string()
            }
            None => "[]".to_owned(),
        }
    }
}

/// The `X-Sort` value of an order.
pub fn sort_header(sort: SortOrder) -> &'static str {
    match sort {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    }
}

/// Checks `fields`: a list in which no field is known is an error, as in DI.
pub fn check_fields(fields: &[String]) -> Result<(), RequestError> {
    if fields.is_empty() || fields.iter().any(|f| is_known_field(f)) {
        return Ok(());
    }
    Err(RequestError {
        field: "fields".into(),
        message: format!(
            "none of {} is a known event field (such as timestamp, username, client_ip, initiated_by.email)",
            fields.join(", ")
        ),
    })
}

impl QueryEngine {
    /// Runs a DI events request and encodes its page in `format`.
    ///
    /// A probe over the timestamp alone bounds the rows the page can hold; those are read once,
    /// with the output columns, and ordered here (see [`QueryEngine::page_rows`]).
    pub async fn events_page(
        &self,
        scope: &Scope,
        query: &EventQuery,
        format: Format,
    ) -> Result<EventsPage> {
        check_fields(&query.fields)?;
        // The page is the first `skip + limit` events in time order.
        let ctx = self.context_reading(match query.sort {
            SortOrder::Desc => FileOrder::NewestFirst,
            SortOrder::Asc => FileOrder::OldestFirst,
        })?;
        let mut frame = self
            .events_of(&ctx, scope, &self.current())?
            .filter(filter::filter(query)?)?;
        if let Some((ms, id)) = &query.search_after {
            frame = frame.filter(filter::after(query.sort, *ms, id))?;
        }
        let columns = output_columns(format, &query.fields);
        let started = std::time::Instant::now();
        let page = self.page_rows(frame, query, &columns).await?;
        let read = started.elapsed();
        let mut encoder = Encoder::new(format, &query.fields);
        let mut body = Vec::new();
        let mut last = None;
        if let Some(page) = &page {
            // The raw JSON is most of the body.
            body.reserve(page.get_array_memory_size());
            let order = PageOrder::of(page)?;
            last = page
                .num_rows()
                .checked_sub(1)
                .map(|row| (order.millis.value(row), order.id(row).to_owned()));
        }
        encoder.begin(&mut body);
        if let Some(page) = &page {
            encoder.batch(page, &mut body)?;
        }
        encoder.finish(&mut body);
        tracing::debug!(
            read_ms = read.as_secs_f64() * 1000.0,
            encode_ms = (started.elapsed() - read).as_secs_f64() * 1000.0,
            rows = page.as_ref().map_or(0, RecordBatch::num_rows),
            "events page"
        );
        Ok(EventsPage {
            body,
            count: usize::try_from(encoder.rows()).unwrap_or(usize::MAX),
            limit: query.limit,
            sort: query.sort,
            search_after: last.or_else(|| query.search_after.clone()),
        })
    }

    /// The page's rows of `frame` with the `read` columns, in the page's order; `None` when
    /// there are none.
    ///
    /// The order is by millisecond, then id: an expression, so DataFusion's top-k filter cannot
    /// skip files or row groups by their statistics, and a sort would read every candidate.
    /// A probe first finds the times of the `skip + limit` first rows by the timestamp alone,
    /// which is pruned that way and reads no other column (the raw JSON would otherwise be
    /// decompressed for every candidate). When there are fewer, the probe saw every candidate,
    /// and they all lie between its first and last time. Otherwise the page's rows are all
    /// within the probe's last millisecond: at least `skip + limit` rows are in or before it
    /// (in the page's direction), so any row past it ranks below them.
    ///
    /// The rows up to that bound are read once, with the output columns, and ordered here; only
    /// rows sharing the probe's last millisecond beyond the page are read in vain. At most
    /// `skip + limit` best rows are kept, plus as many read since the last ordering, so a
    /// millisecond holding millions of events does not hold them all in memory.
    async fn page_rows(
        &self,
        frame: DataFrame,
        query: &EventQuery,
        read: &[&str],
    ) -> Result<Option<RecordBatch>> {
        let wanted = query.skip.saturating_add(query.limit);
        let asc = query.sort == SortOrder::Asc;
        let probe = frame
            .clone()
            .sort(vec![col(column::TIMESTAMP).sort(asc, false)])?
            .limit(0, Some(wanted))?
            .select(vec![col(column::TIMESTAMP)])?
            .collect()
            .await?;
        let rows: usize = probe.iter().map(RecordBatch::num_rows).sum();
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for batch in &probe {
            let times = batch.column(0).as_primitive::<TimestampMicrosecondType>();
            first = first.min(min(times).unwrap_or(i64::MAX));
            last = last.max(max(times).unwrap_or(i64::MIN));
        }
        // No row (every event has a time).
        if first > last || wanted == 0 {
            return Ok(None);
        }
        // [start, end) in microseconds; the date partitions outside it are not read.
        let (start, end) = if rows < wanted {
            (first, last + 1)
        } else if asc {
            (first, (last.div_euclid(1000) + 1) * 1000)
        } else {
            (first.div_euclid(1000) * 1000, last + 1)
        };
        let bounded = filter::within(start, end).and(filter::days(start, end - 1));
        let mut stream = frame
            .filter(bounded)?
            .select(read.iter().map(|c| col(*c)).collect::<Vec<_>>())?
            .execute_stream()
            .await?;
        let schema = stream.schema();
        let mut best: Option<RecordBatch> = None;
        let mut since: Vec<RecordBatch> = Vec::new();
        let mut since_rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            since_rows += batch.num_rows();
            since.push(batch);
            if since_rows >= wanted {
                since.extend(best.take());
                best = Some(first_in_order(&schema, &since, wanted, asc)?);
                since.clear();
                since_rows = 0;
            }
        }
        since.extend(best.take());
        let ordered = first_in_order(&schema, &since, wanted, asc)?;
        let page = ordered.slice(
            query.skip.min(ordered.num_rows()),
            ordered.num_rows().saturating_sub(query.skip),
        );
        Ok((page.num_rows() > 0).then_some(page))
    }
}

/// The first `count` rows of `batches` in the page's order.
fn first_in_order(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    count: usize,
    asc: bool,
) -> Result<RecordBatch> {
    let all = concat_batches(schema, batches)?;
    let order = PageOrder::of(&all)?;
    let options = SortOptions {
        descending: !asc,
        nulls_first: false,
    };
    let sort_column = |values: ArrayRef| SortColumn {
        values,
        options: Some(options),
    };
    let indices = lexsort_to_indices(
        &[
            sort_column(Arc::new(order.millis)),
            sort_column(order.ids),
            sort_column(Arc::new(order.times)),
        ],
        Some(count.min(all.num_rows())),
    )?;
    Ok(take_record_batch(&all, &indices)?)
}

/// The columns `format` writes, and the paging key's (timestamp, id).
fn output_columns(format: Format, fields: &[String]) -> Vec<&'static str> {
    let mut columns = format.columns(fields);
    for key in [column::TIMESTAMP, column::ID] {
        if !columns.contains(&key) {
            columns.push(key);
        }
    }
    columns
}

/// The paging key of a page's rows: (millisecond, id), then the exact time.
struct PageOrder {
    millis: Int64Array,
    ids: ArrayRef,
    times: TimestampMicrosecondArray,
}

impl PageOrder {
    fn of(batch: &RecordBatch) -> Result<Self> {
        let times = batch
            .column_by_name(column::TIMESTAMP)
            .ok_or_else(|| Error::Invalid("the page has no timestamp column".into()))?
            .as_primitive::<TimestampMicrosecondType>()
            .clone();
        // As `filter::millis`: the integer division of the microseconds.
        let millis = times.unary(|micros| micros / 1000);
        Ok(Self {
            millis,
            ids: text_column(batch, column::ID)?,
            times,
        })
    }

    fn id(&self, row: usize) -> &str {
        self.ids.as_string::<i32>().value(row)
    }
}
