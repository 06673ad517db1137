//! A DI request's filter and order as DataFusion expressions, built with `Expr` builders so that
//! no user text ever becomes SQL.

use arrow::datatypes::DataType;
use datafusion::logical_expr::utils::split_conjunction_owned;
use datafusion::logical_expr::{Like, SortExpr};
use datafusion::prelude::{Expr, cast, col, in_list, lit};
use datafusion::scalar::ScalarValue;

use insights_schemas::column;
use insights_schemas::request::{EventQuery, RequestError, SearchTerm, SortOrder};

use crate::fields::{resolve, timestamp_lit};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The request's filter: time range (with the `date` partitions it spans), services,
/// `search_term` and `q`. `search_after` is separate ([`after`]) since exports ignore it.
pub fn filter(query: &EventQuery) -> Result<Expr, RequestError> {
    let mut conjuncts = vec![
        col(column::TIMESTAMP).gt_eq(timestamp_lit(query.start_time_us)),
        col(column::DATE).gt_eq(date_lit(query.start_time_us)),
    ];
    if let Some(end) = query.end_time_us {
        conjuncts.push(col(column::TIMESTAMP).lt(timestamp_lit(end)));
        // The end is exclusive: an end at midnight does not reach into that day.
        conjuncts.push(col(column::DATE).lt_eq(date_lit(end - 1)));
    }
    if !query.services.is_empty() {
        conjuncts.push(in_list(
            col(column::SERVICE),
            query.services.iter().map(|s| lit(s.as_str())).collect(),
            false,
        ));
    }
    if let Some(term) = &query.search_term {
        conjuncts.push(search_term(term)?);
    }
    if let Some(q) = &query.q {
        conjuncts.extend(full_text(q));
    }
    // Scans that filter inside the Parquet decoder evaluate the conjuncts in this order, each
    // on the rows the ones before kept: the typed columns first, the event's JSON last, so
    // that `raw` is decompressed and parsed only where everything else matched.
    let mut flat: Vec<Expr> = conjuncts
        .into_iter()
        .flat_map(split_conjunction_owned)
        .collect();
    flat.sort_by_key(reads_raw);
    Ok(balanced(flat, Expr::and).unwrap_or_else(|| lit(true)))
}

/// Whether an expression reads the `raw` column.
fn reads_raw(expr: &Expr) -> bool {
    expr.column_refs().iter().any(|c| c.name == column::RAW)
}

/// The `date` partitions from the day of `first_us` to the day of `last_us`, both included.
pub fn days(first_us: i64, last_us: i64) -> Expr {
    col(column::DATE)
        .gt_eq(date_lit(first_us))
        .and(col(column::DATE).lt_eq(date_lit(last_us)))
}

/// A filter for one `date` partition (`days` since the epoch).
pub fn on_day(day: i32) -> Expr {
    col(column::DATE).eq(lit(ScalarValue::Date32(Some(day))))
}

/// Rows with `start_us <= timestamp < end_us`.
pub fn within(start_us: i64, end_us: i64) -> Expr {
    col(column::TIMESTAMP)
        .gt_eq(timestamp_lit(start_us))
        .and(col(column::TIMESTAMP).lt(timestamp_lit(end_us)))
}

/// `exprs` joined by `join` into a balanced tree, so that a list of a thousand conditions is
/// ten levels deep rather than a thousand: planning, optimizing and evaluating an expression
/// recurse through its depth. `None` for an empty list.
pub(crate) fn balanced(exprs: Vec<Expr>, join: fn(Expr, Expr) -> Expr) -> Option<Expr> {
    let mut level = exprs;
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut items = level.into_iter();
        while let Some(left) = items.next() {
            next.push(match items.next() {
                Some(right) => join(left, right),
                None => left,
            });
        }
        level = next;
    }
    level.pop()
}

fn date_lit(micros: i64) -> Expr {
    let day = micros.div_euclid(MICROS_PER_DAY);
    lit(ScalarValue::Date32(Some(
        i32::try_from(day).unwrap_or(if day < 0 { i32::MIN } else { i32::MAX }),
    )))
}

fn search_term(term: &SearchTerm) -> Result<Expr, RequestError> {
    let all = |children: &[SearchTerm]| {
        children
            .iter()
            .map(search_term)
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match term {
        SearchTerm::And(children) => {
            balanced(all(children)?, Expr::and).unwrap_or_else(|| lit(true))
        }
        SearchTerm::Or(children) => {
            balanced(all(children)?, Expr::or).unwrap_or_else(|| lit(false))
        }
        // "None of": a child that is unknown for an event (a missing field) does not match it,
        // so the event is kept.
        SearchTerm::Not(children) => {
            let known = all(children)?.into_iter().map(Expr::is_true).collect();
            balanced(known, Expr::or).map_or_else(|| lit(true), |any| !any)
        }
        SearchTerm::Field { path, values } => resolve(path).matches(path, values)?,
    })
}

/// `q`: every whitespace-separated word occurs in the event, case-insensitively.
fn full_text(q: &str) -> Vec<Expr> {
    q.split_whitespace()
        .map(|word| {
            let mut pattern = String::from("%");
            for c in word.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            Expr::Like(Like::new(
                false,
                Box::new(col(column::RAW)),
                Box::new(lit(pattern)),
                Some('\\'),
                true,
            ))
        })
        .collect()
}

/// The paging key's millisecond part: the timestamp truncated to the millisecond, as DI's
/// `search_after` carries it.
pub fn millis() -> Expr {
    cast(col(column::TIMESTAMP), DataType::Int64) / lit(1000_i64)
}

/// The order of results: (millisecond, id), then the exact timestamp, all in the request's
/// direction. Paging on (millisecond, id) is therefore consistent with the order.
pub fn order(sort: SortOrder) -> Vec<SortExpr> {
    let asc = sort == SortOrder::Asc;
    vec![
        millis().sort(asc, false),
        col(column::ID).sort(asc, false),
        col(column::TIMESTAMP).sort(asc, false),
    ]
}

/// Rows strictly after the `search_after` key in the request's direction.
pub fn after(sort: SortOrder, millis_key: i64, id: &str) -> Expr {
    let same_ms = millis().eq(lit(millis_key));
    match sort {
        SortOrder::Asc => col(column::TIMESTAMP)
            .gt_eq(timestamp_lit(millis_key.saturating_mul(1000)))
            .and(
                millis()
                    .gt(lit(millis_key))
                    .or(same_ms.and(col(column::ID).gt(lit(id)))),
            ),
        SortOrder::Desc => col(column::TIMESTAMP)
            .lt(timestamp_lit(
                millis_key.saturating_add(1).saturating_mul(1000),
            ))
            .and(
                millis()
                    .lt(lit(millis_key))
                    .or(same_ms.and(col(column::ID).lt(lit(id)))),
            ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use insights_schemas::request::parse_event_query;

    /// A term read from the event's JSON comes after every typed-column conjunct, whatever its
    /// place in the request.
    #[test]
    fn conjuncts_that_read_raw_come_last() {
        let query = parse_event_query(
            br#"{"service": ["all"], "start_time": "2026-10-01T00:00:00Z",
                "search_term": {"and": [{"outer.eap_type": "peap"}, {"success": false},
                {"event_type": ["a", "b"]}]}}"#,
        )
        .unwrap();
        let conjuncts = split_conjunction_owned(filter(&query).unwrap());
        let first_raw = conjuncts.iter().position(reads_raw).unwrap();
        assert!(first_raw > 0);
        assert!(
            conjuncts[first_raw..].iter().all(reads_raw),
            "{conjuncts:?}"
        );
        assert!(
            conjuncts[..first_raw]
                .iter()
                .any(|c| c.to_string().contains("event_type"))
        );
    }
}
