//! The `search_term` tree of a DI request: and/or/not nodes over fields and their values,
//! parsed within the limits of how deep, how many terms and how many values.
use serde_json::{Map, Value};

use super::{
    MAX_FIELD_VALUES, MAX_SEARCH_DEPTH, MAX_SEARCH_TERMS, MAX_SEARCH_VALUES, RequestError, bad,
    valid_path,
};

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

/// Parses the request's `search_term`.
pub(super) fn parse(term: &Value) -> Result<SearchTerm, RequestError> {
    parse_search_term(term, "search_term", &mut Budget::default(), 1)
}

/// What a `search_term` has used of its limits so far.
#[derive(Default)]
struct Budget {
    terms: usize,
    values: usize,
}

impl Budget {
    fn term(&mut self, at: &str) -> Result<(), RequestError> {
        self.terms += 1;
        if self.terms > MAX_SEARCH_TERMS {
            return Err(bad(
                at,
                format!("the search term has more than {MAX_SEARCH_TERMS} operators and fields"),
            ));
        }
        Ok(())
    }

    fn values(&mut self, count: usize, path: &str, at: &str) -> Result<(), RequestError> {
        if count > MAX_FIELD_VALUES {
            return Err(bad(
                at,
                format!("`{path}` lists {count} values; at most {MAX_FIELD_VALUES}"),
            ));
        }
        self.values += count;
        if self.values > MAX_SEARCH_VALUES {
            return Err(bad(
                at,
                format!("the search term lists more than {MAX_SEARCH_VALUES} values in all"),
            ));
        }
        Ok(())
    }
}

/// Parses a `search_term` node: `{"and"|"or"|"not": [terms] | {field: value, ...}}`, or a bare
/// `{field: value, ...}` meaning all of them. `depth` is the node's nesting level (1 at the top).
fn parse_search_term(
    value: &Value,
    at: &str,
    budget: &mut Budget,
    depth: usize,
) -> Result<SearchTerm, RequestError> {
    let Value::Object(map) = value else {
        return Err(bad(
            at,
            "must be an object such as {\"and\": [{\"service\": \"sso\"}]}",
        ));
    };
    if map.is_empty() {
        return Err(bad(at, "empty search term"));
    }
    if depth > MAX_SEARCH_DEPTH {
        return Err(bad(
            at,
            format!("operators nest more than {MAX_SEARCH_DEPTH} deep"),
        ));
    }
    let operator = |key: &str| matches!(key, "and" | "or" | "not");
    if map.len() == 1
        && let Some((key, children)) = map.iter().next()
        && operator(&key.to_ascii_lowercase())
    {
        budget.term(at)?;
        let key = key.to_ascii_lowercase();
        let path = format!("{at}.{key}");
        let terms = parse_children(children, &path, budget, depth + 1)?;
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
    let mut fields = map
        .iter()
        .map(|(key, value)| field_term(key, value, at, budget))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if fields.len() == 1 {
        fields.remove(0)
    } else {
        SearchTerm::And(fields)
    })
}

fn parse_children(
    value: &Value,
    at: &str,
    budget: &mut Budget,
    depth: usize,
) -> Result<Vec<SearchTerm>, RequestError> {
    let terms = match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_search_term(item, &format!("{at}[{i}]"), budget, depth))
            .collect::<Result<Vec<_>, _>>()?,
        Value::Object(map) => fields_or_terms(map, at, budget, depth)?,
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
fn fields_or_terms(
    map: &Map<String, Value>,
    at: &str,
    budget: &mut Budget,
    depth: usize,
) -> Result<Vec<SearchTerm>, RequestError> {
    map.iter()
        .map(|(key, value)| match key.to_ascii_lowercase().as_str() {
            "and" | "or" | "not" => parse_search_term(
                &Value::Object(Map::from_iter([(key.clone(), value.clone())])),
                at,
                budget,
                depth,
            ),
            _ => field_term(key, value, at, budget),
        })
        .collect()
}

fn field_term(
    path: &str,
    value: &Value,
    at: &str,
    budget: &mut Budget,
) -> Result<SearchTerm, RequestError> {
    budget.term(at)?;
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
    budget.values(values.len(), path, at)?;
    Ok(SearchTerm::Field {
        path: path.to_owned(),
        values,
    })
}
