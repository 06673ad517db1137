//! Case-insensitive matching of text against a few values, without building a lower-cased copy
//! of the column.
//!
//! `lower(username) IN ('jsmith')` allocates and fills a new string array for every batch
//! before comparing; [`matches_any`] compares each value in place (ASCII case folding, with a
//! full Unicode lower-casing only for non-ASCII text), with the same result: a row matches when
//! `lower(text)` equals one of the already lower-cased values. A null text gives null, as
//! `lower(NULL) IN (...)` does.

use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::{cast, take};
use arrow::datatypes::DataType;
use datafusion::common::tree_node::TreeNode;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{BinaryExpr, Operator};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, lit};
use datafusion::scalar::ScalarValue;

/// Lower-cased values to match text against: a list while it is short, a hash set beyond, so
/// that matching a column against a thousand values costs one lookup per row, not a thousand
/// comparisons.
pub(crate) enum Lowered {
    Few(Vec<String>),
    Many(std::collections::HashSet<String>),
}

/// Values up to this many are compared one by one.
const FEW_VALUES: usize = 16;

impl Lowered {
    pub(crate) fn new(values: Vec<String>) -> Self {
        if values.len() <= FEW_VALUES {
            Self::Few(values)
        } else {
            Self::Many(values.into_iter().collect())
        }
    }

    /// `text` lower-cased equals one of the values.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Self::Few(values) => matches(text, values),
            Self::Many(set) => {
                if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) {
                    set.contains(text)
                } else {
                    set.contains(&text.to_lowercase())
                }
            }
        }
    }
}

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
    lowered.contains(&lower)
}

fn evaluate(texts: &ArrayRef, lowered: &Lowered) -> Result<BooleanArray> {
    if let Some(dictionary) = texts.as_any_dictionary_opt() {
        if dictionary.values().is_empty() {
            // No values: every row is null.
            return Ok(BooleanArray::new_null(dictionary.keys().len()));
        }
        // Each distinct value once, then every row takes its value's result (a null key null).
        let by_value = evaluate(dictionary.values(), lowered)?;
        return Ok(take(&by_value, dictionary.keys(), None)?
            .as_boolean()
            .clone());
    }
    let texts = match texts.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => texts.clone(),
        _ => cast(texts, &DataType::Utf8)?,
    };
    let out: BooleanArray = match texts.data_type() {
        DataType::Utf8 => texts
            .as_string::<i32>()
            .iter()
            .map(|t| t.map(|t| lowered.matches(t)))
            .collect(),
        DataType::LargeUtf8 => texts
            .as_string::<i64>()
            .iter()
            .map(|t| t.map(|t| lowered.matches(t)))
            .collect(),
        _ => texts
            .as_string_view()
            .iter()
            .map(|t| t.map(|t| lowered.matches(t)))
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
        let lowered = Lowered::new(lowered);
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
/// where the column is all null (other services' events) are skipped unread. The scan also
/// prunes by the ranges of text that can match at all ([`pruning_hint`]).
pub fn matches_any<S: AsRef<str>>(text: Expr, values: impl IntoIterator<Item = S>) -> Expr {
    let mut args = vec![text.clone()];
    args.extend(values.into_iter().map(|v| lit(v.as_ref())));
    text.is_not_null().and(UDF.call(args))
}

/// A condition that every row passing `filter` passes, for statistics to prune by, or `None`
/// when `filter` holds no case-insensitive match. Each match of [`matches_any`] whose values are
/// all ASCII becomes the ranges of text that can match it ([`prefix_ranges`]), so statistics
/// skip the pages whose values all sort outside them (the pages of other hosts and users).
///
/// The ranges are only for pruning: as a filter they would cost more to evaluate than the match
/// itself. The rewrite keeps the implication under `AND` and `OR`; any other expression that
/// holds a match (`NOT`, `CASE`) is left out of the hint.
pub(crate) fn pruning_hint(filter: &Expr) -> Option<Expr> {
    fn hint(expr: &Expr, rewrote: &mut bool) -> Option<Expr> {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::And | Operator::Or) =>
            {
                let (left, right) = (hint(left, rewrote), hint(right, rewrote));
                match (op, left, right) {
                    (Operator::And, Some(l), Some(r)) => Some(l.and(r)),
                    (Operator::And, one, other) => one.or(other),
                    (_, Some(l), Some(r)) => Some(l.or(r)),
                    _ => None,
                }
            }
            Expr::ScalarFunction(call) if call.func.name() == UDF.name() => {
                let (text, values) = call.args.split_first()?;
                // Statistics checked against hundreds of ranges cost more than they save.
                if values.len() > MAX_HINTED_VALUES {
                    return None;
                }
                let mut ranges = Vec::new();
                for value in values {
                    let Expr::Literal(ScalarValue::Utf8(Some(value)), _) = value else {
                        return None;
                    };
                    ranges.extend(prefix_ranges(&value.to_lowercase())?);
                }
                *rewrote = true;
                let ranges = ranges
                    .into_iter()
                    .map(|(low, high)| text.clone().gt_eq(lit(low)).and(text.clone().lt(lit(high))))
                    .collect();
                crate::filter::balanced(ranges, Expr::or)
            }
            other => {
                let holds_match = other
                    .exists(|e| {
                        Ok(matches!(e, Expr::ScalarFunction(call) if call.func.name() == UDF.name()))
                    })
                    .unwrap_or(true);
                (!holds_match).then(|| other.clone())
            }
        }
    }
    let mut rewrote = false;
    let hinted = hint(filter, &mut rewrote)?;
    rewrote.then_some(hinted)
}

/// A match against more values than this gives no pruning hint.
const MAX_HINTED_VALUES: usize = 32;

/// Ranges of prefixes longer than this many are not worth the statistics' time.
const MAX_RANGES: usize = 8;

/// Every text whose lower-casing is `lowered` (ASCII and lower-case) lies in one of these
/// half-open ranges `[low, high)`: the text starts with a case variant of `lowered`'s first
/// characters, as many as give at most [`MAX_RANGES`] variants. The characters that lower-case
/// to an ASCII character are that character, its upper case, and for `k` the Kelvin sign
/// (`case_variants`). `None` when `lowered` is not ASCII or empty: no guard then.
fn prefix_ranges(lowered: &str) -> Option<Vec<(String, String)>> {
    if lowered.is_empty() || !lowered.is_ascii() {
        return None;
    }
    let mut prefixes = vec![String::new()];
    for c in lowered.chars() {
        let variants = case_variants(c);
        if prefixes.len() * variants.len() > MAX_RANGES {
            break;
        }
        prefixes = prefixes
            .iter()
            .flat_map(|prefix| {
                variants.iter().map(move |v| {
                    let mut longer = prefix.clone();
                    longer.push(*v);
                    longer
                })
            })
            .collect();
    }
    prefixes
        .into_iter()
        .map(|low| {
            let mut high = low.clone();
            let last = high.pop()?;
            // The next character after the prefix's last: every text with the prefix sorts
            // below it. No ASCII character or the Kelvin sign is the last character.
            high.push(char::from_u32(u32::from(last) + 1)?);
            Some((low, high))
        })
        .collect()
}

/// The characters whose lower-casing is the one character `c` (ASCII, lower-case).
fn case_variants(c: char) -> Vec<char> {
    let mut variants = vec![c];
    let upper = c.to_ascii_uppercase();
    if upper != c {
        variants.push(upper);
    }
    if c == 'k' {
        variants.push('\u{212A}');
    }
    variants.sort_unstable();
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lowered(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_lowercase()).collect()
    }

    #[test]
    fn many_values_match_as_few_do() {
        let values: Vec<String> = (0..100)
            .map(|i| format!("user{i}"))
            .chain(["straße".into(), "éa".into()])
            .collect();
        let many = Lowered::new(values.clone());
        assert!(matches!(many, Lowered::Many(_)));
        for text in [
            "user7", "USER99", "User100", "STRASSE", "straße", "Straße", "ÉA", "éa", "x", "",
        ] {
            assert_eq!(many.matches(text), matches(text, &values), "{text}");
        }
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
        let out = evaluate(&texts, &Lowered::new(lowered(&["jsmith"]))).unwrap();
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
        let out = evaluate(&texts, &Lowered::new(lowered(&["a"]))).unwrap();
        assert_eq!(out.null_count(), 2);
    }

    #[test]
    fn only_the_case_variants_lower_case_to_an_ascii_character() {
        for code in 0..=0x10FFFF_u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let lower: Vec<char> = c.to_lowercase().collect();
            if let [only] = lower[..]
                && only.is_ascii()
            {
                assert!(
                    case_variants(only).contains(&c),
                    "{c:?} lower-cases to {only:?}"
                );
            }
            // No character lower-cases to several characters that are all ASCII.
            if lower.len() > 1 {
                assert!(!lower.iter().all(char::is_ascii), "{c:?}");
            }
        }
    }

    #[test]
    fn prefix_ranges_hold_every_text_that_matches() {
        let ranges = prefix_ranges("srv-web-01").unwrap();
        // s, r, v: 2 variants each, `-` one; the next letter would make 16.
        assert_eq!(ranges.len(), 8);
        assert!(ranges.contains(&("srv-".to_owned(), "srv.".to_owned())));
        assert!(ranges.contains(&("SrV-".to_owned(), "SrV.".to_owned())));
        let inside = |text: &str| {
            ranges
                .iter()
                .any(|(low, high)| low.as_str() <= text && text < high.as_str())
        };
        for text in ["srv-web-01", "SRV-WEB-01", "Srv-Web-01", "sRv-wEb-01"] {
            assert!(matches(text, &lowered(&["srv-web-01"])));
            assert!(inside(text), "{text}");
        }
        for text in ["srv-web-02", "ws-0001", "Srx", "", "sr", "srv_web_01"] {
            assert!(!matches(text, &lowered(&["srv-web-01"])), "{text}");
        }
        assert!(!inside("ws-0001") && !inside("Srx") && !inside("sr") && !inside("srv_web_01"));
        let kelvin = prefix_ranges("kim").unwrap();
        assert!(
            kelvin
                .iter()
                .any(|(low, high)| low.as_str() <= "\u{212A}IM" && "\u{212A}IM" < high.as_str())
        );
        assert!(matches("\u{212A}IM", &lowered(&["kim"])));
        assert_eq!(prefix_ranges("jörg"), None);
        assert_eq!(prefix_ranges(""), None);
        assert_eq!(
            prefix_ranges("1-2").unwrap(),
            vec![("1-2".into(), "1-3".into())]
        );
    }

    #[test]
    fn the_pruning_hint_replaces_matches_by_their_ranges_and_keeps_the_rest() {
        use datafusion::prelude::col;
        let host = matches_any(col("system_hostname"), ["Srv-Web-01"]);
        let filter = host
            .clone()
            .or(col("system_id").eq(lit("x")))
            .and(col("timestamp").gt(lit(1)));
        let hint = pruning_hint(&filter).unwrap().to_string();
        assert!(hint.contains("system_hostname >= Utf8(\"SRV-\")"), "{hint}");
        assert!(hint.contains("system_hostname < Utf8(\"srv.\")"), "{hint}");
        assert!(hint.contains("system_id = Utf8(\"x\")"), "{hint}");
        assert!(hint.contains("timestamp > Int32(1)"), "{hint}");
        assert!(!hint.contains(UDF.name()), "{hint}");
        // A negated match says nothing about the text's range: left out, and with no match
        // rewritten there is no hint at all (the scan prunes by the filter itself).
        let negated = (!host.clone()).and(col("service").eq(lit("systems")));
        assert_eq!(pruning_hint(&negated), None);
        let user = matches_any(col("username"), ["Ann"]);
        let both = pruning_hint(&negated.and(user)).unwrap().to_string();
        assert!(
            both.starts_with("service = Utf8(\"systems\") AND "),
            "{both}"
        );
        assert!(both.contains("username >= Utf8(\"ANN\")"), "{both}");
        assert!(!both.contains("system_hostname"), "{both}");
        // ... and an OR with a side that gives no hint gives none.
        assert_eq!(pruning_hint(&(!host.clone()).or(col("a").eq(lit(1)))), None);
        // Non-ASCII values: no ranges, no hint; no match at all: nothing to add.
        assert_eq!(pruning_hint(&matches_any(col("username"), ["jörg"])), None);
        assert_eq!(pruning_hint(&col("a").eq(lit(1))), None);
    }

    #[test]
    fn null_text_gives_null() {
        let texts: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            Some("A"),
            None,
            Some("b"),
        ]));
        let out = evaluate(&texts, &Lowered::new(lowered(&["a"]))).unwrap();
        assert!(out.value(0));
        assert!(out.is_null(1));
        assert!(!out.value(2));
    }
}
