//! Dot paths of DI events resolved to expressions: a typed column where one holds exactly that
//! field, otherwise the value extracted from the `raw` JSON with datafusion-functions-json.

use arrow::datatypes::DataType;
use datafusion::functions::expr_fn::lower;
use datafusion::prelude::{Expr, cast, col, in_list, lit};
use datafusion::scalar::ScalarValue;
use serde_json::Value;

use insights_schemas::parse_timestamp_us;
use insights_schemas::request::RequestError;
use insights_schemas::{COLUMNS, Column, ColumnType, column};

use crate::case_fold::matches_any;

/// How a typed column compares with search values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text compared case-insensitively.
    Text,
    /// Event ids: lower-case hex or upper-case UUIDs, matched in the value's own, lower and
    /// upper case so that the Parquet bloom filter on `id` prunes.
    Id,
    Bool,
    Timestamp,
}

/// Where a dot path's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// A typed column that holds exactly this field.
    Column { name: &'static str, kind: Kind },
    /// Any other path, read from the raw event.
    Raw { path: Vec<String> },
}

/// How the typed column `column` compares with search values.
fn kind_of(column: &Column) -> Kind {
    match column.kind {
        _ if column.name == column::ID => Kind::Id,
        ColumnType::Timestamp => Kind::Timestamp,
        ColumnType::Bool => Kind::Bool,
        ColumnType::Text | ColumnType::Date | ColumnType::Int64 => Kind::Text,
    }
}

/// Resolves a dot path.
pub fn resolve(path: &str) -> FieldRef {
    // A typed column holds the dot path its catalogue entry names. `username` is the actor
    // (the event's `initiated_by.username`, else its `username`, else `initiated_by.email`),
    // and `success` falls back to `sso_token_success`, as the table's columns are derived.
    // `initiated_by.username` has a column of its own, computed from `raw` for files written
    // before it was added (see `added_columns`).
    match COLUMNS.iter().find(|c| c.path == Some(path)) {
        Some(column) => FieldRef::Column {
            name: column.name,
            kind: kind_of(column),
        },
        None => FieldRef::Raw {
            path: path.split('.').map(str::to_owned).collect(),
        },
    }
}

impl FieldRef {
    /// The field's value: the typed column, or the raw JSON value as text (strings unquoted,
    /// other JSON as written).
    pub fn value(&self) -> Expr {
        match self {
            FieldRef::Column { name, .. } => col(*name),
            FieldRef::Raw { path } => raw_text(path),
        }
    }

    /// The field's value as lower-case text, for bucket keys (DI lower-cases values when it
    /// stores them, so its buckets do not split by case).
    pub fn text(&self) -> Expr {
        match self {
            FieldRef::Column { name, .. } => lower(cast(col(*name), DataType::Utf8)),
            FieldRef::Raw { path } => lower(raw_text(path)),
        }
    }

    /// A predicate: the field equals one of `values`, strings case-insensitively.
    pub fn matches(&self, path: &str, values: &[Value]) -> Result<Expr, RequestError> {
        let bad = |message: String| RequestError {
            field: "search_term".into(),
            message,
        };
        let (nulls, values): (Vec<&Value>, Vec<&Value>) = values.iter().partition(|v| v.is_null());
        let mut alternatives = Vec::new();
        if !nulls.is_empty() {
            alternatives.push(self.value().is_null());
        }
        if !values.is_empty() {
            alternatives.push(match self {
                FieldRef::Column { name, kind } => match kind {
                    Kind::Text => matches_any(col(*name), values.iter().map(|v| text_of(v))),
                    Kind::Id => {
                        let mut variants: Vec<String> = Vec::new();
                        for value in &values {
                            let text = text_of(value);
                            for variant in [text.clone(), text.to_lowercase(), text.to_uppercase()]
                            {
                                if !variants.contains(&variant) {
                                    variants.push(variant);
                                }
                            }
                        }
                        in_list(col(*name), variants.into_iter().map(lit).collect(), false)
                    }
                    Kind::Bool => {
                        let flags = values
                            .iter()
                            .map(|v| {
                                bool_of(v).ok_or_else(|| {
                                    bad(format!("`{path}` takes true or false, not {v}"))
                                })
                            })
                            .collect::<Result<Vec<bool>, _>>()?;
                        in_list(col(*name), flags.into_iter().map(lit).collect(), false)
                    }
                    Kind::Timestamp => {
                        let instants = values
                            .iter()
                            .map(|v| {
                                v.as_str()
                                    .and_then(parse_timestamp_us)
                                    .map(timestamp_lit)
                                    .ok_or_else(|| {
                                        bad(format!("`{path}` takes RFC 3339 date-times, not {v}"))
                                    })
                            })
                            .collect::<Result<Vec<Expr>, _>>()?;
                        in_list(col(*name), instants, false)
                    }
                },
                FieldRef::Raw { path } => {
                    matches_any(raw_text(path), values.iter().map(|v| text_of(v)))
                }
            });
        }
        Ok(alternatives
            .into_iter()
            .reduce(Expr::or)
            .unwrap_or_else(|| lit(false)))
    }
}

/// A microsecond UTC timestamp literal of the table's timestamp type.
pub fn timestamp_lit(micros: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(micros),
        Some("UTC".into()),
    ))
}

/// `json_as_text(raw, 'a', 'b', ...)`.
fn raw_text(path: &[String]) -> Expr {
    let mut args = vec![col(column::RAW)];
    args.extend(path.iter().map(|segment| lit(segment.as_str())));
    datafusion_functions_json::udfs::json_as_text_udf().call(args)
}

/// A search value as the text it matches: strings as they are, other JSON as written.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn bool_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_paths_resolve_to_their_columns() {
        assert_eq!(
            resolve("initiated_by.email"),
            FieldRef::Column {
                name: "initiated_by_email",
                kind: Kind::Text
            }
        );
        assert_eq!(
            resolve("initiated_by.username"),
            FieldRef::Column {
                name: "initiated_by_username",
                kind: Kind::Text
            }
        );
        assert_eq!(
            resolve("id"),
            FieldRef::Column {
                name: "id",
                kind: Kind::Id
            }
        );
        assert_eq!(
            resolve("outer.eap_type"),
            FieldRef::Raw {
                path: vec!["outer".into(), "eap_type".into()]
            }
        );
        assert!(matches!(resolve("sso_token_success"), FieldRef::Raw { .. }));
    }

    #[test]
    fn booleans_accept_strings_and_refuse_nonsense() {
        let success = resolve("success");
        assert!(success.matches("success", &[Value::from("FALSE")]).is_ok());
        let err = success
            .matches("success", &[Value::from("maybe")])
            .unwrap_err();
        assert!(err.message.contains("true or false"), "{err}");
    }
}
