//! One page of events for a DI request: `limit` rows after `skip` and `search_after`, in
//! (timestamp, id) order, with the paging key of the last row.

use arrow::array::AsArray;
use arrow::datatypes::TimestampMicrosecondType;
use datafusion::prelude::col;
use futures::TryStreamExt;
use serde_json::Value;

use insights_schemas::catalogue::is_known_field;
use insights_schemas::column;
use insights_schemas::request::{EventQuery, RequestError, SortOrder};

use crate::encode::{Encoder, Format, text_column};
use crate::engine::{QueryEngine, Scope};
use crate::error::Result;
use crate::filter;

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
    pub async fn events_page(
        &self,
        scope: &Scope,
        query: &EventQuery,
        format: Format,
    ) -> Result<EventsPage> {
        check_fields(&query.fields)?;
        let ctx = self.context()?;
        let mut frame = self.events(&ctx, scope)?.filter(filter::filter(query)?)?;
        if let Some((ms, id)) = &query.search_after {
            frame = frame.filter(filter::after(query.sort, *ms, id))?;
        }
        let mut columns = format.columns(&query.fields);
        for key in [column::TIMESTAMP, column::ID] {
            if !columns.contains(&key) {
                columns.push(key);
            }
        }
        let frame = frame
            .sort(filter::order(query.sort))?
            .limit(query.skip, Some(query.limit))?
            .select(columns.into_iter().map(col).collect::<Vec<_>>())?;
        let mut stream = frame.execute_stream().await?;
        let mut encoder = Encoder::new(format, &query.fields);
        let mut body = Vec::new();
        encoder.begin(&mut body);
        let mut last = None;
        while let Some(batch) = stream.try_next().await? {
            if batch.num_rows() == 0 {
                continue;
            }
            encoder.batch(&batch, &mut body)?;
            let row = batch.num_rows() - 1;
            let timestamps = batch
                .column_by_name(column::TIMESTAMP)
                .map(|c| c.as_primitive::<TimestampMicrosecondType>().value(row));
            let ids = text_column(&batch, column::ID)?;
            if let Some(micros) = timestamps {
                last = Some((
                    micros.div_euclid(1000),
                    ids.as_string::<i32>().value(row).to_owned(),
                ));
            }
        }
        encoder.finish(&mut body);
        Ok(EventsPage {
            body,
            count: usize::try_from(encoder.rows()).unwrap_or(usize::MAX),
            limit: query.limit,
            sort: query.sort,
            search_after: last.or_else(|| query.search_after.clone()),
        })
    }
}
