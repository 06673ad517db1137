//! Case-insensitive matching of text against a few values, without building a lower-cased copy
//! of the column.
//!
//! `lower(username) IN ('jsmith')` allocates and fills a new string array for every batch
//! before comparing; [`matches_any`] compares each value in place (ASCII case folding, with a
//! full Unicode lower-casing only for non-ASCII text), with the same result: a row matches when
//! `lower(text)` equals one of the already lower-cased values. A null text gives null, as
//! `lower(NULL) IN (...)` does.

use std::sync::{Arc, LazyLock};

use arrow::array::{AnyDictionaryArray, Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, lit};
use datafusion::scalar::ScalarValue;

/// `text` lower-cased equals one of `lowered` (which must be lower-case already).
pub(crate) fn matches(text: &str, lowered: &[String]) -> bool {
    if lowered.iter().any(|value| {
        value.len() == text.len() && value.as_bytes().eq_ignore_ascii_case(text.as_bytes())
    }) {
        // Equal up to ASCII case: non-ASCII bytes are identical, and `value` is lower-case.
        return true;
    }
    if text.is_ascii() {
        return false;
    }
    let lower = text.to_lowercase();
    lowered.iter().any(|value| *value == lower)
}

/// Each row's index into the dictionary's values; `None` for a null row. A dictionary with no
/// values (every row null) has no index at all.
pub(crate) fn dictionary_keys(dictionary: &dyn AnyDictionaryArray) -> Vec<Option<usize>> {
    let rows = dictionary.keys().len();
    if dictionary.values().is_empty() {
        return vec![None; rows];
    }
    let normalized = dictionary.normalized_keys();
    (0..rows)
        .map(|row| dictionary.keys().is_valid(row).then(|| normalized[row]))
        .collect()
}

fn evaluate(texts: &ArrayRef, lowered: &[String]) -> Result<BooleanArray> {
    if let Some(dictionary) = texts.as_any_dictionary_opt() {
        // Each distinct value once, then every row by its key.
        let by_value = evaluate(dictionary.values(), lowered)?;
        let out: BooleanArray = dictionary_keys(dictionary)
            .into_iter()
            .map(|key| {
                key.filter(|&k| by_value.is_valid(k))
                    .map(|k| by_value.value(k))
            })
            .collect();
        return Ok(out);
    }
    let texts = match texts.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => texts.clone(),
        _ => cast(texts, &DataType::Utf8)?,
    };
    let out: BooleanArray = match texts.data_type() {
        DataType::Utf8 => texts
            .as_string::<i32>()
            .iter()
            .map(|t| t.map(|t| matches(t, lowered)))
            .collect(),
        DataType::LargeUtf8 => texts
            .as_string::<i64>()
            .iter()
            .map(|t| t.map(|t| matches(t, lowered)))
            .collect(),
        _ => texts
            .as_string_view()
            .iter()
            .map(|t| t.map(|t| matches(t, lowered)))
            .collect(),
    };
    Ok(out)
}

/// The scalar function behind [`matches_any`]: `text_matches_ignore_case(text, v1, v2, ...)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextMatchesIgnoreCase {
    signature: Signature,
}

impl ScalarUDFImpl for TextMatchesIgnoreCase {
    fn name(&self) -> &str {
        "text_matches_ignore_case"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some((text, values)) = args.args.split_first() else {
            return Err(DataFusionError::Plan(format!(
                "{} takes a text and the values to match",
                self.name()
            )));
        };
        let lowered = values
            .iter()
            .map(|value| match value {
                ColumnarValue::Scalar(
                    ScalarValue::Utf8(Some(v))
                    | ScalarValue::LargeUtf8(Some(v))
                    | ScalarValue::Utf8View(Some(v)),
                ) => Ok(v.to_lowercase()),
                other => Err(DataFusionError::Plan(format!(
                    "{} matches text literals, not {other:?}",
                    self.name()
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        match text {
            ColumnarValue::Array(array) => {
                Ok(ColumnarValue::Array(Arc::new(evaluate(array, &lowered)?)))
            }
            ColumnarValue::Scalar(scalar) => {
                let result = evaluate(&scalar.to_array()?, &lowered)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    &result, 0,
                )?))
            }
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::new_from_impl(TextMatchesIgnoreCase {
        signature: Signature::variadic_any(Volatility::Immutable),
    }))
});

/// `lower(text) IN (lower(values)...)`, evaluated without lower-casing the column (the function
/// lower-cases the values). It is guarded by `text IS NOT NULL`, which is the same condition
/// (null never matches) but one the scan can prove false from statistics: row groups and pages
/// where the column is all null (other services' events) are skipped unread.
pub fn matches_any<S: AsRef<str>>(text: Expr, values: impl IntoIterator<Item = S>) -> Expr {
    let mut args = vec![text.clone()];
    args.extend(values.into_iter().map(|v| lit(v.as_ref())));
    text.is_not_null().and(UDF.call(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lowered(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_lowercase()).collect()
    }

    #[test]
    fn matches_ascii_text_in_any_case() {
        let values = lowered(&["JSmith", "admin@example.com"]);
        assert!(matches("jsmith", &values));
        assert!(matches("JSMITH", &values));
        assert!(matches("Admin@Example.COM", &values));
        assert!(!matches("jsmith2", &values));
        assert!(!matches("", &values));
    }

    #[test]
    fn matches_non_ascii_text_as_lower_does() {
        let values = lowered(&["JÖRG", "ÉMILE"]);
        for text in ["jörg", "JÖRG", "Jörg", "émile", "Émile"] {
            assert!(matches(text, &values), "{text}");
            assert_eq!(
                values.contains(&text.to_lowercase()),
                matches(text, &values),
                "{text}"
            );
        }
        assert!(!matches("jorg", &values));
    }

    #[test]
    fn matches_dictionary_text_by_value() {
        let texts: ArrayRef = Arc::new(
            vec![Some("JSmith"), None, Some("other"), Some("jsmith")]
                .into_iter()
                .collect::<arrow::array::DictionaryArray<arrow::datatypes::Int32Type>>(),
        );
        let out = evaluate(&texts, &lowered(&["jsmith"])).unwrap();
        assert!(out.value(0));
        assert!(out.is_null(1));
        assert!(!out.value(2));
        assert!(out.value(3));
    }

    #[test]
    fn all_null_dictionary_gives_null() {
        let texts: ArrayRef = Arc::new(
            vec![None::<&str>, None]
                .into_iter()
                .collect::<arrow::array::DictionaryArray<arrow::datatypes::Int32Type>>(),
        );
        let out = evaluate(&texts, &lowered(&["a"])).unwrap();
        assert_eq!(out.null_count(), 2);
    }

    #[test]
    fn null_text_gives_null() {
        let texts: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            Some("A"),
            None,
            Some("b"),
        ]));
        let out = evaluate(&texts, &lowered(&["a"])).unwrap();
        assert!(out.value(0));
        assert!(out.is_null(1));
        assert!(!out.value(2));
    }
}
