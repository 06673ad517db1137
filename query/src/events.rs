//! One page of events for a DI request: `limit` rows after `skip` and `search_after`, in
//! (timestamp, id) order, with the paging key of the last row.

use std::collections::{BTreeSet, HashMap};

use arrow::array::{ArrayRef, AsArray, RecordBatch, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::{concat_batches, max, min, take_record_batch};
use arrow::datatypes::TimestampMicrosecondType;
use datafusion::prelude::{DataFrame, Expr, SessionContext, col, in_list, lit};
use serde_json::Value;

use insights_schemas::catalogue::is_known_field;
use insights_schemas::column;
use insights_schemas::request::{EventQuery, RequestError, SortOrder};

use crate::encode::{Encoder, Format, text_column};
use crate::engine::{Loaded, QueryEngine, Scope};
use crate::error::{Error, Result};
use crate::fields::timestamp_lit;
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
    /// Two reads: the page's keys (organization, time, id) are found and ordered over the
    /// narrow columns, then only those rows' output columns (`raw` above all) are read, by id
    /// within the keys' time span. A page of 100 events among a day's millions then
    /// decompresses the raw JSON of about 100 events, not of every candidate the sort saw.
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
        // Both reads see the same table version, so every key is found again.
        let loaded = self.current();
        let page_filter = filter::filter(query)?;
        let mut frame = self
            .events_of(&ctx, scope, &loaded)?
            .filter(page_filter.clone())?;
        if let Some((ms, id)) = &query.search_after {
            frame = frame.filter(filter::after(query.sort, *ms, id))?;
        }
        let columns = output_columns(format, &query.fields);
        // Without `raw` the output columns are narrow: one read gives the page.
        let one_read = !columns.contains(&column::RAW);
        let mut read = if one_read {
            columns.clone()
        } else {
            Vec::new()
        };
        for key in KEY_COLUMNS {
            if !read.contains(&key) {
                read.push(key);
            }
        }
        let started = std::time::Instant::now();
        let found = self.page_keys(frame, query, &read).await?;
        let mut keys: Vec<(String, i64, String)> = Vec::new();
        for batch in &found {
            let columns = KeyColumns::of(batch)?;
            keys.extend((0..batch.num_rows()).map(|row| {
                let (org, micros, id) = columns.key(row);
                (org.to_owned(), micros, id.to_owned())
            }));
        }

        let keys_found = started.elapsed();
        let mut encoder = Encoder::new(format, &query.fields);
        let mut body = Vec::new();
        encoder.begin(&mut body);
        let page = if one_read {
            match found.first() {
                Some(first) => Some(project(
                    &concat_batches(&first.schema(), &found)?,
                    &columns,
                )?),
                None => None,
            }
        } else {
            self.rows_of(&ctx, scope, &loaded, &keys, &columns, page_filter)
                .await?
        };
        if let Some(page) = page {
            encoder.batch(&page, &mut body)?;
        }
        encoder.finish(&mut body);
        tracing::debug!(
            keys_ms = keys_found.as_secs_f64() * 1000.0,
            page_ms = (started.elapsed() - keys_found).as_secs_f64() * 1000.0,
            rows = keys.len(),
            "events page"
        );
        let last = keys
            .last()
            .map(|(_, micros, id)| (micros.div_euclid(1000), id.clone()));
        Ok(EventsPage {
            body,
            count: usize::try_from(encoder.rows()).unwrap_or(usize::MAX),
            limit: query.limit,
            sort: query.sort,
            search_after: last.or_else(|| query.search_after.clone()),
        })
    }

    /// The page's rows of `frame` with the `read` columns, in the page's order.
    ///
    /// The order is by millisecond, then id: an expression, so DataFusion's top-k filter cannot
    /// skip files or row groups by their statistics, and the sort would read every candidate.
    /// A probe first finds the times of the `skip + limit` first rows by the timestamp alone,
    /// which is pruned that way and reads no other column (an id is a string the decoder
    /// would otherwise decompress for every candidate). When there are fewer, the probe saw
    /// every candidate, and they all lie between its first and last time. Otherwise the
    /// page's rows are all within the probe's last millisecond: at least `skip + limit` rows
    /// are in or before it (in the page's direction), so any row past it ranks below them.
    /// The sort then reads only the rows up to that bound.
    async fn page_keys(
        &self,
        frame: DataFrame,
        query: &EventQuery,
        read: &[&str],
    ) -> Result<Vec<RecordBatch>> {
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
        if first > last {
            return Ok(Vec::new());
        }
        let bounded = if rows < wanted {
            col(column::TIMESTAMP)
                .gt_eq(timestamp_lit(first))
                .and(col(column::TIMESTAMP).lt_eq(timestamp_lit(last)))
        } else if asc {
            let millisecond = last.div_euclid(1000);
            col(column::TIMESTAMP).lt(timestamp_lit((millisecond + 1) * 1000))
        } else {
            let millisecond = first.div_euclid(1000);
            col(column::TIMESTAMP).gt_eq(timestamp_lit(millisecond * 1000))
        };
        Ok(frame
            .filter(bounded)?
            .sort(filter::order(query.sort))?
            .limit(query.skip, Some(query.limit))?
            .select(read.iter().map(|c| col(*c)).collect::<Vec<_>>())?
            .collect()
            .await?)
    }

    /// The rows of `keys`, in their order, with `columns`; `None` when there are no keys.
    ///
    /// A small page is found by its ids within the keys' time span. A large one (a puller's
    /// 10,000 events) by the page's own filter within that span: the span holds the page's
    /// rows and at most the rows sharing its first and last millisecond, and a list of
    /// thousands of ids costs more to plan and evaluate than reading those few extra rows.
    async fn rows_of(
        &self,
        ctx: &SessionContext,
        scope: &Scope,
        loaded: &Loaded,
        keys: &[(String, i64, String)],
        columns: &[&'static str],
        page_filter: Expr,
    ) -> Result<Option<RecordBatch>> {
        let (Some(first), Some(last)) = (
            keys.iter().map(|k| k.1).min(),
            keys.iter().map(|k| k.1).max(),
        ) else {
            return Ok(None);
        };
        let mut read = columns.to_vec();
        for key in KEY_COLUMNS {
            if !read.contains(&key) {
                read.push(key);
            }
        }
        let ids: BTreeSet<&str> = keys.iter().map(|k| k.2.as_str()).collect();
        let which = if ids.len() > MAX_LISTED_IDS {
            page_filter
        } else {
            in_list(col(column::ID), ids.into_iter().map(lit).collect(), false)
        };
        let batches = self
            .events_of(ctx, scope, loaded)?
            .filter(
                filter::within(first, last + 1)
                    .and(filter::days(first, last))
                    .and(which),
            )?
            .select(read.iter().map(|c| col(*c)).collect::<Vec<_>>())?
            .collect()
            .await?;
        let Some(schema) = batches.first().map(|b| b.schema()) else {
            return Err(Error::Invalid(
                "the page's events were not found again".into(),
            ));
        };
        let all = concat_batches(&schema, &batches)?;
        let found = KeyColumns::of(&all)?;
        let mut at: HashMap<(&str, i64, &str), u32> = HashMap::with_capacity(all.num_rows());
        for row in 0..all.num_rows() {
            let index = u32::try_from(row).map_err(|_| Error::Invalid("page too large".into()))?;
            at.entry(found.key(row)).or_insert(index);
        }
        let indices = keys
            .iter()
            .map(|(org, micros, id)| {
                at.get(&(org.as_str(), *micros, id.as_str()))
                    .copied()
                    .ok_or_else(|| {
                        Error::Invalid(format!("event {id} of the page was not found again"))
                    })
            })
            .collect::<Result<Vec<u32>>>()?;
        let ordered = take_record_batch(&all, &UInt32Array::from(indices))?;
        Ok(Some(project(&ordered, columns)?))
    }
}

/// Pages of more events than this find their rows again by the page's filter, not by a list
/// of their ids.
const MAX_LISTED_IDS: usize = 1_000;

/// The columns that identify an event of the page.
const KEY_COLUMNS: [&str; 3] = [column::ORGANIZATION, column::TIMESTAMP, column::ID];

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

/// `columns` of `batch`, in that order.
fn project(batch: &RecordBatch, columns: &[&str]) -> Result<RecordBatch> {
    let projection = columns
        .iter()
        .map(|name| batch.schema().index_of(name))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(batch.project(&projection)?)
}

/// The (organization, timestamp, id) columns of a batch, as plain strings and microseconds.
struct KeyColumns {
    orgs: ArrayRef,
    times: TimestampMicrosecondArray,
    ids: ArrayRef,
}

impl KeyColumns {
    fn of(batch: &RecordBatch) -> Result<Self> {
        let times = batch
            .column_by_name(column::TIMESTAMP)
            .ok_or_else(|| Error::Invalid("the page has no timestamp column".into()))?;
        Ok(Self {
            orgs: text_column(batch, column::ORGANIZATION)?,
            times: times.as_primitive::<TimestampMicrosecondType>().clone(),
            ids: text_column(batch, column::ID)?,
        })
    }

    fn key(&self, row: usize) -> (&str, i64, &str) {
        (
            self.orgs.as_string::<i32>().value(row),
            self.times.value(row),
            self.ids.as_string::<i32>().value(row),
        )
    }
}
