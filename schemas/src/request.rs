//! The DI request model: the JSON body of `POST /insights/directory/v1/events` (and its count,
//! distinct and interval siblings), parsed and validated into [`EventQuery`].
//!
//! Semantics follow the DI API guide: `service` is required (an array; `all` for every
//! service), `start_time` is required and inclusive, `end_time` is exclusive, `limit` defaults
//! to 1000 and a nonsensical value falls back to it (at most 10,000), `sort` is `ASC` unless
//! `DESC` is asked for (case-insensitively), and `search_after` is `[epoch_ms, "id"]`.

use std::fmt;

use serde_json::Value;

use crate::catalogue::{is_known_service, service_names};
use crate::timestamp::parse_timestamp_us;

/// Rows returned when `limit` is absent or nonsensical.
pub const DEFAULT_LIMIT: usize = 1000;
/// The largest `limit` honoured.
pub const MAX_LIMIT: usize = 10_000;

/// How deep `and`/`or`/`not` may nest in a `search_term`.
pub const MAX_SEARCH_DEPTH: usize = 16;
/// Operators and field terms in one `search_term`, in all.
pub const MAX_SEARCH_TERMS: usize = 256;
/// Values one field term may list.
pub const MAX_FIELD_VALUES: usize = 1_000;
/// Values listed across a whole `search_term`.
pub const MAX_SEARCH_VALUES: usize = 4_000;
/// Words in `q`, and its length in bytes.
pub const MAX_Q_WORDS: usize = 32;
pub const MAX_Q_BYTES: usize = 1_024;
/// Paths in `fields`, and the length of one path (bytes and dot-separated segments).
pub const MAX_FIELDS: usize = 100;
pub const MAX_PATH_BYTES: usize = 256;
pub const MAX_PATH_SEGMENTS: usize = 16;
/// Entries of the `service` array.
pub const MAX_SERVICE_ENTRIES: usize = 64;

/// Order of results on (timestamp, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

/// A validated DI events request.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    /// The services asked for; empty means all.
    pub services: Vec<String>,
    /// Inclusive lower bound, microseconds since the epoch.
    pub start_time_us: i64,
    /// Exclusive upper bound, microseconds since the epoch.
    pub end_time_us: Option<i64>,
    pub search_term: Option<SearchTerm>,
    /// Free-text search over the whole event.
    pub q: Option<String>,
    /// Dot paths to return instead of whole events; empty means whole events.
    pub fields: Vec<String>,
    pub sort: SortOrder,
    pub limit: usize,
    pub skip: usize,
    /// The (timestamp in ms, id) of the last row of the previous page.
    pub search_after: Option<(i64, String)>,
}

/// A request that cannot be served, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for RequestError {}

fn bad(field: &str, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Parses and validates a DI request body.
pub fn parse_event_query(body: &[u8]) -> Result<EventQuery, RequestError> {
    parse_event_query_value(&parse_body(body)?)
}

/// Validates a DI request already parsed as JSON (a saved view's request, a CLI file).
pub fn parse_event_query_value(value: &Value) -> Result<EventQuery, RequestError> {
    let Value::Object(body) = value else {
        return Err(bad("body", "expected a JSON object"));
    };
    let start_time_us = parse_time(body.get("start_time"), "start_time")?
        .ok_or_else(|| bad("start_time", "required (an RFC 3339 date-time)"))?;
    let end_time_us = parse_time(body.get("end_time"), "end_time")?;
    if let Some(end) = end_time_us
        && end <= start_time_us
    {
        return Err(bad("end_time", "must come after start_time"));
    }
    Ok(EventQuery {
        services: parse_services(body.get("service"))?,
        start_time_us,
        end_time_us,
        search_term: match body.get("search_term") {
            None | Some(Value::Null) => None,
            Some(term) => Some(search::parse(term)?),
        },
        q: parse_q(body.get("q"))?,
        fields: parse_fields(body.get("fields"))?,
        sort: match body.get("sort").and_then(Value::as_str) {
            Some(s) if s.eq_ignore_ascii_case("desc") => SortOrder::Desc,
            _ => SortOrder::Asc,
        },
        limit: match body.get("limit").and_then(Value::as_u64) {
            Some(n) if n >= 1 => (n as usize).min(MAX_LIMIT),
            _ => DEFAULT_LIMIT,
        },
        skip: match body.get("skip") {
            None | Some(Value::Null) => 0,
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| bad("skip", "must be a non-negative integer"))?,
        },
        search_after: parse_search_after(body.get("search_after"))?,
    })
}

fn parse_q(value: Option<&Value>) -> Result<Option<String>, RequestError> {
    let q = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(q)) if q.trim().is_empty() => return Ok(None),
        Some(Value::String(q)) => q,
        Some(_) => return Err(bad("q", "must be a string")),
    };
    if q.len() > MAX_Q_BYTES {
        return Err(bad(
            "q",
            format!("is {} bytes; at most {MAX_Q_BYTES}", q.len()),
        ));
    }
    let words = q.split_whitespace().count();
    if words > MAX_Q_WORDS {
        return Err(bad(
            "q",
            format!("has {words} words; at most {MAX_Q_WORDS} (use search_term for more)"),
        ));
    }
    Ok(Some(q.clone()))
}

fn parse_body(body: &[u8]) -> Result<Value, RequestError> {
    serde_json::from_slice(body).map_err(|e| bad("body", format!("not valid JSON: {e}")))
}

/// A `POST /events/distinct` request: the events filter plus the field whose values to count.
#[derive(Debug, Clone, PartialEq)]
pub struct DistinctQuery {
    pub query: EventQuery,
    /// The dot path whose distinct values become buckets.
    pub field: String,
}

/// Parses and validates a DI distinct request body.
pub fn parse_distinct_query(body: &[u8]) -> Result<DistinctQuery, RequestError> {
    parse_distinct_query_value(&parse_body(body)?)
}

/// Validates a DI distinct request already parsed as JSON.
pub fn parse_distinct_query_value(value: &Value) -> Result<DistinctQuery, RequestError> {
    let query = parse_event_query_value(value)?;
    let field = match value.get("field") {
        Some(Value::String(path)) if valid_path(path.trim()) => path.trim().to_owned(),
        None | Some(Value::Null) => {
            return Err(bad(
                "field",
                "required: the field whose distinct values to count",
            ));
        }
        Some(other) => {
            return Err(bad(
                "field",
                format!("{other} is not a field path like \"client_ip\""),
            ));
        }
    };
    Ok(DistinctQuery { query, field })
}

/// The calendar unit of an interval histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
}

impl IntervalUnit {
    /// The unit's length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            IntervalUnit::Second => 1,
            IntervalUnit::Minute => 60,
            IntervalUnit::Hour => 3_600,
            IntervalUnit::Day => 86_400,
            IntervalUnit::Week => 7 * 86_400,
        }
    }
}

/// A `POST /events/interval` request: the events filter plus the histogram's bucket width and
/// the time zone whose local midnight (and Monday, for weeks) buckets align to.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalQuery {
    pub query: EventQuery,
    pub unit: IntervalUnit,
    /// How many units one bucket spans (at least 1).
    pub value: u32,
    /// The time zone as a fixed offset east of UTC, in seconds.
    pub offset_seconds: i32,
    /// An extension of this engine (`stack_by`): a field path whose values split each bucket's
    /// count, as a histogram stacked by service or outcome draws it.
    pub stack_by: Option<String>,
}

impl IntervalQuery {
    /// One bucket's width in microseconds.
    pub fn bucket_us(&self) -> i64 {
        self.unit.seconds() * i64::from(self.value) * 1_000_000
    }
}

/// Parses and validates a DI interval request body.
pub fn parse_interval_query(body: &[u8]) -> Result<IntervalQuery, RequestError> {
    parse_interval_query_value(&parse_body(body)?)
}

/// Validates a DI interval request already parsed as JSON.
pub fn parse_interval_query_value(value: &Value) -> Result<IntervalQuery, RequestError> {
    let query = parse_event_query_value(value)?;
    let unit = match value.get("interval_unit").and_then(Value::as_str) {
        Some("s") => IntervalUnit::Second,
        Some("m") => IntervalUnit::Minute,
        Some("h") => IntervalUnit::Hour,
        Some("d") => IntervalUnit::Day,
        Some("w") => IntervalUnit::Week,
        None if value.get("interval_unit").is_none_or(Value::is_null) => {
            return Err(bad("interval_unit", "required; one of s, m, h, d, w"));
        }
        _ => {
            return Err(bad(
                "interval_unit",
                format!(
                    "{} is not one of s, m, h, d, w",
                    value.get("interval_unit").unwrap_or(&Value::Null)
                ),
            ));
        }
    };
    let interval_value = match value.get("interval_value") {
        None | Some(Value::Null) => 1,
        Some(Value::String(text)) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                bad(
                    "interval_value",
                    format!("{text:?} is not a whole number of at least 1"),
                )
            })?,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                bad(
                    "interval_value",
                    format!("{n} is not a whole number of at least 1"),
                )
            })?,
        Some(other) => {
            return Err(bad(
                "interval_value",
                format!("{other} is not a whole number"),
            ));
        }
    };
    let offset_seconds = match value.get("timezone") {
        None | Some(Value::Null) => 0,
        Some(Value::String(text)) => parse_utc_offset(text).ok_or_else(|| {
            bad(
                "timezone",
                format!("{text:?} is not a UTC offset like \"-0500\", \"+05:30\" or \"Z\""),
            )
        })?,
        Some(other) => {
            return Err(bad(
                "timezone",
                format!("{other} is not a UTC offset string"),
            ));
        }
    };
    let stack_by = match value.get("stack_by") {
        None | Some(Value::Null) => None,
        Some(Value::String(path)) if valid_path(path.trim()) => Some(path.trim().to_owned()),
        Some(other) => {
            return Err(bad(
                "stack_by",
                format!("{other} is not a field path like \"service\""),
            ));
        }
    };
    Ok(IntervalQuery {
        query,
        unit,
        value: interval_value,
        offset_seconds,
        stack_by,
    })
}

/// Parses `Z`, `UTC`, `+HH`, `-HHMM` or `+HH:MM` into seconds east of UTC.
pub fn parse_utc_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") || text.is_empty() {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 18 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Parses a relative range such as `last 24h`, `last 7d`, `last 30m` or `last 2w` into its
/// length in microseconds.
pub fn parse_relative_range(text: &str) -> Option<i64> {
    let rest = text.trim().strip_prefix("last")?.trim();
    let unit_at = rest.find(|c: char| !c.is_ascii_digit())?;
    let amount: i64 = rest[..unit_at].parse().ok().filter(|n| *n >= 1)?;
    let seconds = match rest[unit_at..].trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    amount.checked_mul(seconds)?.checked_mul(1_000_000)
}

/// Whether `path` is a valid dot path (used by callers that take field names outside a body).
pub fn is_field_path(path: &str) -> bool {
    valid_path(path)
}

fn parse_services(value: Option<&Value>) -> Result<Vec<String>, RequestError> {
    let names: Vec<&str> = match value {
        None | Some(Value::Null) => {
            return Err(bad(
                "service",
                format!("required; one or more of: all, {}", service_list()),
            ));
        }
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(items)) if items.len() > MAX_SERVICE_ENTRIES => {
            return Err(bad(
                "service",
                format!("has {} entries; at most {MAX_SERVICE_ENTRIES}", items.len()),
            ));
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| bad("service", "must be an array of strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("service", "must be an array of strings")),
    };
    if names.is_empty() {
        return Err(bad(
            "service",
            format!("empty; use one or more of: all, {}", service_list()),
        ));
    }
    let mut services = Vec::new();
    for name in names {
        let name = name.trim().to_ascii_lowercase();
        if name == "all" {
            return Ok(Vec::new());
        }
        if !is_known_service(&name) {
            return Err(bad(
                "service",
                format!(
                    "unknown service {name:?}; valid values: all, {}",
                    service_list()
                ),
            ));
        }
        if !services.contains(&name) {
            services.push(name);
        }
    }
    Ok(services)
}

fn service_list() -> String {
    service_names().collect::<Vec<_>>().join(", ")
}

fn parse_time(value: Option<&Value>, field: &str) -> Result<Option<i64>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_timestamp_us(text)
            .map(Some)
            .ok_or_else(|| bad(field, format!("{text:?} is not an RFC 3339 date-time"))),
        Some(_) => Err(bad(field, "must be an RFC 3339 date-time string")),
    }
}

fn parse_fields(value: Option<&Value>) -> Result<Vec<String>, RequestError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(bad("fields", "must be an array of field paths")),
    };
    if items.is_empty() {
        return Err(bad("fields", "empty; leave it out to get whole events"));
    }
    if items.len() > MAX_FIELDS {
        return Err(bad(
            "fields",
            format!("has {} paths; at most {MAX_FIELDS}", items.len()),
        ));
    }
    items
        .iter()
        .map(|item| match item.as_str().map(str::trim) {
            Some(path) if valid_path(path) => Ok(path.to_owned()),
            _ => Err(bad(
                "fields",
                format!("{item} is not a field path like \"initiated_by.email\""),
            )),
        })
        .collect()
}

/// A dot path: non-empty segments of letters, digits, `_`, `-` or `@`, within the length
/// limits ([`MAX_PATH_BYTES`], [`MAX_PATH_SEGMENTS`]).
fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH_BYTES
        && path.split('.').count() <= MAX_PATH_SEGMENTS
        && path.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@'))
        })
}

fn parse_search_after(value: Option<&Value>) -> Result<Option<(i64, String)>, RequestError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        // What the first page of a DI answer sends back when it has no rows.
        Some(Value::Array(items)) if items.is_empty() => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(bad(
                "search_after",
                "must be [epoch_ms, \"id\"] from X-Search_after",
            ));
        }
    };
    match items.as_slice() {
        [ms, Value::String(id)] => {
            let ms = ms
                .as_i64()
                .or_else(|| ms.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    bad(
                        "search_after",
                        "the first element must be epoch milliseconds",
                    )
                })?;
            Ok(Some((ms, id.clone())))
        }
        _ => Err(bad(
            "search_after",
            "must be [epoch_ms, \"id\"] from X-Search_after",
        )),
    }
}

mod search;
pub use search::SearchTerm;

#[cfg(test)]
mod tests;
