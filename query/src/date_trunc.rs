//! `date_trunc` over the table's UTC timestamps at the speed of arithmetic.
//!
//! DataFusion truncates to the hour or the day with integer arithmetic only for timestamps
//! without a time zone; the table's `timestamp` is `Timestamp(µs, "UTC")`, whose every value it
//! converts through the zone instead (`date_trunc('hour', timestamp)` over 2,000,000 events:
//! about 350 ms more than the same grouping by arithmetic). In UTC an hour and a day are fixed
//! lengths, so this wrapper hands DataFusion's own function the same values without the zone
//! (its arithmetic path) and puts the zone back on the result; any other zone, unit or argument
//! goes to DataFusion's function unchanged.
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, FieldRef, TimeUnit, TimestampMicrosecondType};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::scalar::ScalarValue;

/// The session's `date_trunc`: DataFusion's, with the UTC hour and day by arithmetic.
pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(UtcDateTrunc {
        inner: datafusion::functions::datetime::date_trunc(),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct UtcDateTrunc {
    inner: Arc<ScalarUDF>,
}

/// Whether a zone name is UTC itself.
fn is_utc(zone: &str) -> bool {
    matches!(zone, "UTC" | "utc" | "Z" | "+00:00" | "+0000" | "Etc/UTC")
}

/// Whether `date_trunc`'s first argument is a unit of fixed length in UTC that DataFusion's
/// arithmetic handles (hour, day; the finer ones it already does by arithmetic).
fn fixed_in_utc(granularity: &ColumnarValue) -> bool {
    let unit = match granularity {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(unit))
            | ScalarValue::Utf8View(Some(unit))
            | ScalarValue::LargeUtf8(Some(unit)),
        ) => unit,
        _ => return false,
    };
    unit.eq_ignore_ascii_case("hour") || unit.eq_ignore_ascii_case("day")
}

impl ScalarUDFImpl for UtcDateTrunc {
    delegate_to_inner!();

    fn output_ordering(
        &self,
        input: &[datafusion::logical_expr::sort_properties::ExprProperties],
    ) -> Result<datafusion::logical_expr::sort_properties::SortProperties> {
        self.inner.inner().output_ordering(input)
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = match args.args.as_slice() {
            [granularity, ColumnarValue::Array(values)] if fixed_in_utc(granularity) => {
                match values.data_type() {
                    DataType::Timestamp(TimeUnit::Microsecond, Some(zone)) if is_utc(zone) => {
                        Some(zone.clone())
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(zone) = zone else {
            return self.inner.invoke_with_args(args);
        };
        if let ColumnarValue::Array(values) = &mut args.args[1] {
            let plain = values
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone_opt(None::<Arc<str>>);
            *values = Arc::new(plain);
        }
        // The inner function checks its result against the types it was promised.
        let plain = DataType::Timestamp(TimeUnit::Microsecond, None);
        args.return_field = Arc::new(
            args.return_field
                .as_ref()
                .clone()
                .with_data_type(plain.clone()),
        );
        if let Some(field) = args.arg_fields.get_mut(1) {
            *field = Arc::new(field.as_ref().clone().with_data_type(plain));
        }
        match self.inner.invoke_with_args(args)? {
            ColumnarValue::Array(result) => {
                let zoned = result
                    .as_primitive_opt::<TimestampMicrosecondType>()
                    .map(|r| r.clone().with_timezone(zone));
                Ok(match zoned {
                    Some(zoned) => ColumnarValue::Array(Arc::new(zoned)),
                    None => ColumnarValue::Array(result),
                })
            }
            scalar => Ok(scalar),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    /// Every unit, zone and edge (before 1970, the last microsecond of an hour, null) gives
    /// what DataFusion's own function gives.
    #[tokio::test]
    async fn utc_hours_and_days_match_datafusion_everywhere() {
        let plain = SessionContext::new();
        let ours = SessionContext::new();
        ours.register_udf(udf());
        let values = "(VALUES (TIMESTAMP '2026-10-15T13:59:59.999999Z'), \
                      (TIMESTAMP '1969-12-31T23:30:00Z'), (TIMESTAMP '2026-03-29T01:30:00Z'), \
                      (NULL))";
        for unit in ["hour", "HOUR", "day", "minute", "week", "month"] {
            for zone in ["UTC", "+00:00", "Europe/Berlin"] {
                let sql = format!(
                    "SELECT date_trunc('{unit}', arrow_cast(column1, 'Timestamp(Microsecond, Some(\"{zone}\"))')) \
                     AS t FROM {values}"
                );
                let expected = plain.sql(&sql).await.unwrap().collect().await.unwrap();
                let found = ours.sql(&sql).await.unwrap().collect().await.unwrap();
                assert_eq!(
                    arrow::util::pretty::pretty_format_batches(&found)
                        .unwrap()
                        .to_string(),
                    arrow::util::pretty::pretty_format_batches(&expected)
                        .unwrap()
                        .to_string(),
                    "{unit} in {zone}"
                );
                assert_eq!(found[0].schema(), expected[0].schema(), "{unit} in {zone}");
            }
        }
    }
}
