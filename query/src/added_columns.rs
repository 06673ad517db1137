//! Columns added to the table after files were written without them (see the catalogue's
//! `added_later`): for such files a scan reads `raw` and computes the column as the ingest of
//! each event would have filled it, so a query sees the same values whichever file an event is
//! in. Compaction writes the column into the files it rewrites.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, lit};
use datafusion::scalar::ScalarValue;

use insights_schemas::{column, derive_added_later};

/// `added_column(raw, 'name')`: the column `name`, one added later, computed from `raw`.
pub(crate) fn derived(name: &str) -> Expr {
    ScalarUDF::new_from_impl(AddedColumn {
        signature: Signature::any(2, Volatility::Immutable),
    })
    .call(vec![datafusion::prelude::col(column::RAW), lit(name)])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct AddedColumn {
    signature: Signature,
}

impl ScalarUDFImpl for AddedColumn {
    fn name(&self) -> &str {
        "added_column"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [raw, name] = args.args.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "{} takes the raw JSON and a column name",
                self.name()
            )));
        };
        let ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(name))
            | ScalarValue::LargeUtf8(Some(name))
            | ScalarValue::Utf8View(Some(name)),
        ) = name
        else {
            return Err(DataFusionError::Plan(format!(
                "{} takes a column name literal, not {name:?}",
                self.name()
            )));
        };
        let raws: ArrayRef = match raw {
            ColumnarValue::Array(array) => cast(array, &DataType::Utf8)?,
            ColumnarValue::Scalar(scalar) => cast(&scalar.to_array()?, &DataType::Utf8)?,
        };
        let derived =
            derive_added_later(name, raws.as_string::<i32>().iter()).ok_or_else(|| {
                DataFusionError::Plan(format!("{name} is not a column added to the table later"))
            })?;
        Ok(match raw {
            ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(derived)),
            ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::Utf8(
                derived.is_valid(0).then(|| derived.value(0).to_owned()),
            )),
        })
    }
}
