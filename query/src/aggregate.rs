//! Count, distinct (terms buckets) and interval (date-histogram buckets) in the DI response
//! shapes.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use chrono::{DateTime, FixedOffset, SecondsFormat};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::prelude::{cast, col, lit};
use serde::Serialize;

use insights_schemas::column;
use insights_schemas::request::{
    DistinctQuery, EventQuery, IntervalQuery, IntervalUnit, RequestError,
};

use crate::encode::text_column;
use crate::engine::{QueryEngine, Scope};
use crate::error::Result;
use crate::fields::resolve;
use crate::filter;

/// The most buckets a distinct answer lists; the rest are summed in `sum_other_doc_count`.
pub const MAX_DISTINCT_BUCKETS: usize = 10_000;
/// The most buckets an interval answer may have (Elasticsearch's default `max_buckets`).
pub const MAX_INTERVAL_BUCKETS: i64 = 65_536;

/// `POST /events/count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountResponse {
    pub count: u64,
}

/// One distinct value and how many events have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermsBucket {
    pub key: String,
    pub doc_count: u64,
}

/// `POST /events/distinct`: buckets by descending count, then key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistinctResponse {
    pub buckets: Vec<TermsBucket>,
    pub doc_count_error_upper_bound: u64,
    pub sum_other_doc_count: u64,
}

/// One histogram bucket: its start as epoch milliseconds and in the request's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateBucket {
    pub key: i64,
    pub key_as_string: String,
    pub doc_count: u64,
    /// With `stack_by`: the bucket's count split by the field's values (lower case; beyond the
    /// [`MAX_STACKS`] most frequent values, [`OTHER_STACK`]; events without the field,
    /// [`NO_STACK`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stacks: Option<BTreeMap<String, u64>>,
}

/// The most values a stacked histogram keeps apart; the rest are summed as [`OTHER_STACK`].
pub const MAX_STACKS: usize = 12;
/// The stack of the values beyond the [`MAX_STACKS`] most frequent.
pub const OTHER_STACK: &str = "(other)";
/// The stack of events without the field; never folded into [`OTHER_STACK`].
pub const NO_STACK: &str = "(none)";

/// `POST /events/interval`: buckets in time order, empty ones between the first and the last
/// included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntervalResponse {
    pub buckets: Vec<DateBucket>,
}

impl QueryEngine {
    /// Counts the events a request matches.
    pub async fn count(&self, scope: &Scope, query: &EventQuery) -> Result<CountResponse> {
        let ctx = self.context()?;
        let rows = self
            .events(&ctx, scope)?
            .filter(filter::filter(query)?)?
            .count()
            .await?;
        Ok(CountResponse { count: rows as u64 })
    }

    /// The distinct values of a field among the events a request matches.
    pub async fn distinct(
        &self,
        scope: &Scope,
        request: &DistinctQuery,
    ) -> Result<DistinctResponse> {
        let field = resolve(&request.field);
        let ctx = self.context()?;
        let batches = self
            .events(&ctx, scope)?
            .filter(filter::filter(&request.query)?)?
            .filter(field.value().is_not_null())?
            .aggregate(
                vec![field.text().alias("key")],
                vec![count(lit(1)).alias("doc_count")],
            )?
            .collect()
            .await?;
        let mut buckets = Vec::new();
        let mut total = 0u64;
        for batch in &batches {
            let keys = text_column(batch, "key")?;
            let keys = keys.as_string::<i32>();
            let counts = arrow::compute::cast(batch.column(1), &DataType::Int64)?;
            let counts = counts.as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                let doc_count = counts.value(row).max(0) as u64;
                total += doc_count;
                if keys.is_valid(row) {
                    buckets.push(TermsBucket {
                        key: keys.value(row).to_owned(),
                        doc_count,
                    });
                }
            }
        }
        buckets.sort_by(|a, b| {
            b.doc_count
                .cmp(&a.doc_count)
                .then_with(|| a.key.cmp(&b.key))
        });
        buckets.truncate(MAX_DISTINCT_BUCKETS);
        let listed: u64 = buckets.iter().map(|b| b.doc_count).sum();
        Ok(DistinctResponse {
            buckets,
            doc_count_error_upper_bound: 0,
            sum_other_doc_count: total.saturating_sub(listed),
        })
    }

    /// A histogram of the events a request matches, by interval.
    pub async fn interval(
        &self,
        scope: &Scope,
        request: &IntervalQuery,
    ) -> Result<IntervalResponse> {
        let width = request.bucket_us();
        let origin = bucket_origin(request);
        let ctx = self.context()?;
        let micros = cast(col(column::TIMESTAMP), DataType::Int64);
        // Every matching row is at or after start_time >= origin, so the integer division
        // truncates towards the bucket start.
        let bucket = (micros - lit(origin)) / lit(width);
        let mut groups = vec![bucket.alias("bucket")];
        if let Some(path) = &request.stack_by {
            groups.push(resolve(path).text().alias("stack"));
        }
        let batches = self
            .events(&ctx, scope)?
            .filter(filter::filter(&request.query)?)?
            .aggregate(groups, vec![count(lit(1)).alias("doc_count")])?
            .sort(vec![col("bucket").sort(true, false)])?
            .collect()
            .await?;
        // (bucket, stack value, count), in bucket order.
        let mut counts: Vec<(i64, Option<Option<String>>, u64)> = Vec::new();
        for batch in &batches {
            let index = arrow::compute::cast(batch.column(0), &DataType::Int64)?;
            let index = index.as_primitive::<Int64Type>();
            let total =
                arrow::compute::cast(batch.column(batch.num_columns() - 1), &DataType::Int64)?;
            let total = total.as_primitive::<Int64Type>();
            let stacks = if request.stack_by.is_some() {
                Some(text_column(batch, "stack")?)
            } else {
                None
            };
            let stacks = stacks.as_ref().map(|s| s.as_string::<i32>());
            for row in 0..batch.num_rows() {
                if index.is_valid(row) {
                    // None: not stacked; Some(None): an event without the field.
                    let stack = stacks.map(|s| s.is_valid(row).then(|| s.value(row).to_owned()));
                    counts.push((index.value(row), stack, total.value(row).max(0) as u64));
                }
            }
        }
        let kept = kept_stacks(&counts);
        let (Some(first), Some(last)) = (counts.first(), counts.last()) else {
            return Ok(IntervalResponse {
                buckets: Vec::new(),
            });
        };
        if last.0 - first.0 + 1 > MAX_INTERVAL_BUCKETS {
            return Err(RequestError {
                field: "interval_value".into(),
                message: format!(
                    "the histogram would have {} buckets (at most {MAX_INTERVAL_BUCKETS}); use a wider interval or a shorter time range",
                    last.0 - first.0 + 1
                ),
            }
            .into());
        }
        let offset = FixedOffset::east_opt(request.offset_seconds)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
        let mut buckets = Vec::with_capacity((last.0 - first.0 + 1) as usize);
        let mut next = counts.iter().peekable();
        for index in first.0..=last.0 {
            let mut doc_count = 0;
            let mut stacks = request.stack_by.as_ref().map(|_| BTreeMap::new());
            while let Some((_, stack, n)) = next.next_if(|(at, _, _)| *at == index) {
                doc_count += n;
                if let (Some(stacks), Some(stack)) = (stacks.as_mut(), stack) {
                    let key = match stack {
                        None => NO_STACK,
                        Some(value) if kept.contains(value) => value,
                        Some(_) => OTHER_STACK,
                    };
                    *stacks.entry(key.to_owned()).or_insert(0) += n;
                }
            }
            let start_us = origin + index * width;
            buckets.push(DateBucket {
                key: start_us.div_euclid(1000),
                key_as_string: format_local(start_us, &offset),
                doc_count,
                stacks,
            });
        }
        Ok(IntervalResponse { buckets })
    }
}

/// The [`MAX_STACKS`] stack values with the most events (all of them when there are no more),
/// ties by value.
fn kept_stacks(counts: &[(i64, Option<Option<String>>, u64)]) -> HashSet<String> {
    let mut totals: HashMap<&str, u64> = HashMap::new();
    for (_, stack, n) in counts {
        if let Some(Some(stack)) = stack {
            *totals.entry(stack).or_insert(0) += n;
        }
    }
    let mut ranked: Vec<(&str, u64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.truncate(MAX_STACKS);
    ranked.into_iter().map(|(s, _)| s.to_owned()).collect()
}

/// The start of the bucket that holds `start_time`: buckets align to midnight (and to Monday
/// for weeks) in the request's time zone.
fn bucket_origin(request: &IntervalQuery) -> i64 {
    // 1970-01-05 was a Monday.
    let base = match request.unit {
        IntervalUnit::Week => 4 * 86_400_000_000,
        _ => 0,
    } - i64::from(request.offset_seconds) * 1_000_000;
    let start = request.query.start_time_us;
    start - (start - base).rem_euclid(request.bucket_us())
}

fn format_local(micros: i64, offset: &FixedOffset) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(utc) => utc
            .with_timezone(offset)
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        None => micros.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use insights_schemas::request::parse_interval_query;

    #[test]
    fn buckets_align_to_local_midnight_and_monday() {
        let day = parse_interval_query(
            br#"{"service":["all"],"start_time":"2026-10-07T13:00:00Z","interval_unit":"d","timezone":"-0500"}"#,
        )
        .unwrap();
        // 2026-10-07T05:00:00Z is local midnight at -05:00.
        assert_eq!(bucket_origin(&day), 1_791_349_200_000_000);
        let week = parse_interval_query(
            br#"{"service":["all"],"start_time":"2026-10-07T13:00:00Z","interval_unit":"w"}"#,
        )
        .unwrap();
        // Monday 2026-10-05T00:00:00Z.
        assert_eq!(bucket_origin(&week), 1_791_158_400_000_000);
        let offset = FixedOffset::west_opt(5 * 3600).unwrap();
        assert_eq!(
            format_local(1_791_349_200_000_000, &offset),
            "2026-10-07T00:00:00.000-05:00"
        );
    }

    #[test]
    fn stacks_keep_the_busiest_values_and_leave_events_without_the_field_apart() {
        let mut counts = Vec::new();
        for value in 0..(MAX_STACKS as u64 + 2) {
            counts.push((0, Some(Some(format!("v{value:02}"))), 100 - value));
        }
        // Events without the field outnumber every value, and are never ranked among them.
        counts.push((0, Some(None), 1_000));
        let kept = kept_stacks(&counts);
        assert_eq!(kept.len(), MAX_STACKS);
        assert!(kept.contains("v00") && kept.contains(&format!("v{:02}", MAX_STACKS - 1)));
        assert!(!kept.contains(&format!("v{MAX_STACKS:02}")));
        assert!(!kept.contains(NO_STACK));
    }
}
