//! The DI request model: the JSON body of `POST /insights/directory/v1/events` (and its count,
//! distinct and interval siblings), parsed and validated into [`EventQuery`].
//!
//! Semantics follow the DI API guide: `service` is required (an array; `all` for every
//! service), `start_time` is required and inclusive, `end_time` is exclusive, `limit` defaults
//! to 1000 and a nonsensical value falls back to it (at most 10,000), `sort` is `ASC` unless
//! `DESC` is asked for (case-insensitively), and `search_after` is `[epoch_ms, "id"]`.

use std::fmt;

use serde_json::{Map, Value};

use crate::catalogue::SERVICES;
use crate::timestamp::parse_timestamp_us;

/// Rows returned when `limit` is absent or nonsensical.
pub const DEFAULT_LIMIT: usize = 1000;
/// The largest `limit` honoured.
pub const MAX_LIMIT: usize = 10_000;

/// Order of results on (timestamp, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

/// A `search_term` tree.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchTerm {
    /// Every child matches.
    And(Vec<SearchTerm>),
    /// At least one child matches.
    Or(Vec<SearchTerm>),
    /// No child matches.
    Not(Vec<SearchTerm>),
    /// The field at a dot path equals one of the values (case-insensitively for strings).
    Field { path: String, values: Vec<Value> },
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
    let value: Value =
        serde_json::from_slice(body).map_err(|e| bad("body", format!("not valid JSON: {e}")))?;
    let Value::Object(body) = value else {
        return Err(bad("body", "expected a JSON object"));
    };
    Ok(EventQuery {
        services: parse_services(body.get("service"))?,
        start_time_us: parse_time(body.get("start_time"), "start_time")?
            .ok_or_else(|| bad("start_time", "required (an RFC 3339 date-time)"))?,
        end_time_us: parse_time(body.get("end_time"), "end_time")?,
        search_term: match body.get("search_term") {
            None | Some(Value::Null) => None,
            Some(term) => Some(parse_search_term(term, "search_term")?),
        },
        q: match body.get("q") {
            None | Some(Value::Null) => None,
            Some(Value::String(q)) if q.trim().is_empty() => None,
            Some(Value::String(q)) => Some(q.clone()),
            Some(_) => return Err(bad("q", "must be a string")),
        },
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

fn parse_services(value: Option<&Value>) -> Result<Vec<String>, RequestError> {
    let names: Vec<&str> = match value {
        None | Some(Value::Null) => {
            return Err(bad(
                "service",
                format!("required; one or more of: all, {}", SERVICES.join(", ")),
            ));
        }
        Some(Value::String(one)) => vec![one.as_str()],
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
            format!("empty; use one or more of: all, {}", SERVICES.join(", ")),
        ));
    }
    let mut services = Vec::new();
    for name in names {
        let name = name.trim().to_ascii_lowercase();
        if name == "all" {
            return Ok(Vec::new());
        }
        if !SERVICES.contains(&name.as_str()) {
            return Err(bad(
                "service",
                format!(
                    "unknown service {name:?}; valid values: all, {}",
                    SERVICES.join(", ")
                ),
            ));
        }
        if !services.contains(&name) {
            services.push(name);
        }
    }
    Ok(services)
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

/// A dot path: non-empty segments of letters, digits, `_`, `-` or `@`.
fn valid_path(path: &str) -> bool {
    !path.is_empty()
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

/// Parses a `search_term` node: `{"and"|"or"|"not": [terms] | {field: value, ...}}`, or a bare
/// `{field: value, ...}` meaning all of them.
fn parse_search_term(value: &Value, at: &str) -> Result<SearchTerm, RequestError> {
    let Value::Object(map) = value else {
        return Err(bad(
            at,
            "must be an object such as {\"and\": [{\"service\": \"sso\"}]}",
        ));
    };
    if map.is_empty() {
        return Err(bad(at, "empty search term"));
    }
    let operator = |key: &str| matches!(key, "and" | "or" | "not");
    if map.len() == 1
        && let Some((key, children)) = map.iter().next()
        && operator(&key.to_ascii_lowercase())
    {
        let key = key.to_ascii_lowercase();
        let path = format!("{at}.{key}");
        let terms = parse_children(children, &path)?;
        return Ok(match key.as_str() {
            "and" => SearchTerm::And(terms),
            "or" => SearchTerm::Or(terms),
            _ => SearchTerm::Not(terms),
        });
    }
    if let Some(key) = map.keys().find(|k| operator(&k.to_ascii_lowercase())) {
        return Err(bad(
            at,
            format!("`{key}` must be the only key of its object"),
        ));
    }
    let mut fields = fields_of(map, at)?;
    Ok(if fields.len() == 1 {
        fields.remove(0)
    } else {
        SearchTerm::And(fields)
    })
}

fn parse_children(value: &Value, at: &str) -> Result<Vec<SearchTerm>, RequestError> {
    let terms = match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_search_term(item, &format!("{at}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Value::Object(map) => fields_or_terms(map, at)?,
        _ => {
            return Err(bad(
                at,
                "must be an array of terms or an object of field values",
            ));
        }
    };
    if terms.is_empty() {
        return Err(bad(at, "no terms"));
    }
    Ok(terms)
}

/// The map form: `{field: value, ...}`, where a value may itself be a nested operator.
fn fields_or_terms(map: &Map<String, Value>, at: &str) -> Result<Vec<SearchTerm>, RequestError> {
    map.iter()
        .map(|(key, value)| match key.to_ascii_lowercase().as_str() {
            "and" | "or" | "not" => parse_search_term(
                &Value::Object(Map::from_iter([(key.clone(), value.clone())])),
                at,
            ),
            _ => field_term(key, value, at),
        })
        .collect()
}

fn fields_of(map: &Map<String, Value>, at: &str) -> Result<Vec<SearchTerm>, RequestError> {
    map.iter()
        .map(|(key, value)| field_term(key, value, at))
        .collect()
}

fn field_term(path: &str, value: &Value, at: &str) -> Result<SearchTerm, RequestError> {
    let path = path.trim();
    if !valid_path(path) {
        return Err(bad(
            at,
            format!("{path:?} is not a field path like \"initiated_by.username\""),
        ));
    }
    let values = match value {
        Value::Array(items) if items.is_empty() => {
            return Err(bad(at, format!("`{path}` has an empty list of values")));
        }
        Value::Array(items) => items.clone(),
        Value::Object(_) => {
            return Err(bad(
                at,
                format!("`{path}` must be a value or a list of values"),
            ));
        }
        other => vec![other.clone()],
    };
    Ok(SearchTerm::Field {
        path: path.to_owned(),
        values,
    })
}

#[cfg(test)]
mod tests;
