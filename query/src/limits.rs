//! What keeps one query from holding a thread or the memory beyond its limits.
//!
//! - [`YieldAfterJoins`]: a join can produce batches for as long as it likes without reading
//!   its inputs again (a cross join of tables already in memory), and an operator above it
//!   then loops without ever returning control to the runtime. A task that never yields cannot
//!   be cancelled: a query past its timeout would keep a core busy to its end. Every join's
//!   output is therefore made cooperative: it yields when the task's budget is spent, and a
//!   cancelled query stops there.
//! - [`guard_functions`]: functions whose result can be far larger than their arguments
//!   (`repeat`, `lpad`, `range`, ...) reserve the bytes they are about to build from the
//!   engine's memory pool first, so `repeat('a', 2000000000)` is refused instead of allocated.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// Wraps the output of every join in a [`CooperativeExec`].
#[derive(Debug, Default)]
pub(crate) struct YieldAfterJoins;

impl PhysicalOptimizerRule for YieldAfterJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(if node.name().contains("Join") {
                Transformed::yes(Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>)
            } else {
                Transformed::no(node)
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "YieldAfterJoins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// How many bytes a function's result may take, from its arguments and the batch's rows.
type Estimate = fn(&[ColumnarValue], usize) -> u64;

/// The functions whose result can outgrow their arguments, with a bound on its size.
const GUARDED: &[(&str, Estimate)] = &[
    ("repeat", |args, rows| {
        sum_rows(rows, |row| {
            text_len(args.first(), row).saturating_mul(int_at(args.get(1), row))
        })
    }),
    ("lpad", padded),
    ("rpad", padded),
    ("concat", all_text),
    ("concat_ws", |args, rows| {
        // Each argument once, and a separator between any two.
        let separators = text_total(args.first(), rows).saturating_mul(args.len() as u64);
        all_text(args, rows).saturating_add(separators)
    }),
    ("replace", |args, rows| {
        sum_rows(rows, |row| {
            let text = text_len(args.first(), row);
            let from = text_len(args.get(1), row).max(1);
            let to = text_len(args.get(2), row);
            text.saturating_add((text / from + 1).saturating_mul(to))
        })
    }),
    ("regexp_replace", |args, rows| {
        sum_rows(rows, |row| {
            let text = text_len(args.first(), row);
            let to = text_len(args.get(2), row).max(1);
            (text + 1).saturating_mul(to)
        })
    }),
    ("overlay", all_text),
    ("array_repeat", |args, rows| {
        sum_rows(rows, |row| int_at(args.get(1), row).saturating_mul(16))
    }),
    ("array_resize", |args, rows| {
        sum_rows(rows, |row| int_at(args.get(1), row).saturating_mul(16))
    }),
    ("range", series),
    ("generate_series", series),
];

/// `lpad`/`rpad(text, length [, fill])`: `length` characters of up to four bytes.
fn padded(args: &[ColumnarValue], rows: usize) -> u64 {
    sum_rows(rows, |row| int_at(args.get(1), row).saturating_mul(4))
}

/// A result no longer than all its text arguments together.
fn all_text(args: &[ColumnarValue], rows: usize) -> u64 {
    args.iter()
        .map(|arg| text_total(Some(arg), rows))
        .fold(0, u64::saturating_add)
}

/// `range`/`generate_series(start, stop [, step])` as a scalar function: a list per row.
fn series(args: &[ColumnarValue], rows: usize) -> u64 {
    sum_rows(rows, |row| {
        let (start, stop, step) = match args.len() {
            1 => (0, signed_at(args.first(), row), 1),
            2 => (signed_at(args.first(), row), signed_at(args.get(1), row), 1),
            _ => (
                signed_at(args.first(), row),
                signed_at(args.get(1), row),
                signed_at(args.get(2), row),
            ),
        };
        let span = stop.abs_diff(start);
        (span / step.unsigned_abs().max(1))
            .saturating_add(1)
            .saturating_mul(8)
    })
}

fn sum_rows(rows: usize, bytes: impl Fn(usize) -> u64) -> u64 {
    (0..rows.max(1)).map(bytes).fold(0, u64::saturating_add)
}

/// The byte length of a text argument at `row` (0 when it is null or not text).
fn text_len(arg: Option<&ColumnarValue>, row: usize) -> u64 {
    match arg {
        Some(ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
        )) => s.len() as u64,
        Some(ColumnarValue::Array(array)) => array_text_len(array, row),
        _ => 0,
    }
}

fn array_text_len(array: &ArrayRef, row: usize) -> u64 {
    if row >= array.len() || array.is_null(row) {
        return 0;
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).len() as u64,
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).len() as u64,
        DataType::Utf8View => array.as_string_view().value(row).len() as u64,
        _ => 0,
    }
}

/// All the text of an argument over a batch of `rows` (a scalar counts once per row).
fn text_total(arg: Option<&ColumnarValue>, rows: usize) -> u64 {
    match arg {
        Some(ColumnarValue::Array(array)) => array.get_buffer_memory_size() as u64,
        scalar => text_len(scalar, 0).saturating_mul(rows.max(1) as u64),
    }
}

/// A count argument at `row`, negative and null counting as 0.
fn int_at(arg: Option<&ColumnarValue>, row: usize) -> u64 {
    u64::try_from(signed_at(arg, row)).unwrap_or(0)
}

fn signed_at(arg: Option<&ColumnarValue>, row: usize) -> i64 {
    let scalar = match arg {
        Some(ColumnarValue::Scalar(scalar)) => Some(scalar.clone()),
        Some(ColumnarValue::Array(array)) if row < array.len() => {
            ScalarValue::try_from_array(array, row).ok()
        }
        _ => None,
    };
    scalar
        .and_then(|s| s.cast_to(&DataType::Int64).ok())
        .and_then(|s| match s {
            ScalarValue::Int64(Some(n)) => Some(n),
            _ => None,
        })
        .unwrap_or(0)
}

/// A function that reserves the bytes of its result from the memory pool before building it.
#[derive(Debug)]
struct Guarded {
    inner: Arc<ScalarUDF>,
    estimate: Estimate,
    pool: Arc<dyn MemoryPool>,
}

impl PartialEq for Guarded {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl Eq for Guarded {}

impl std::hash::Hash for Guarded {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl ScalarUDFImpl for Guarded {
    delegate_to_inner!();

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let bytes = (self.estimate)(&args.args, args.number_rows);
        let reservation =
            MemoryConsumer::new(format!("{}()", self.inner.name())).register(&self.pool);
        reservation
            .try_grow(usize::try_from(bytes).unwrap_or(usize::MAX))
            .map_err(|_| {
                DataFusionError::ResourcesExhausted(format!(
                    "{}() would build about {bytes} bytes, more than the query memory has free",
                    self.inner.name()
                ))
            })?;
        self.inner.invoke_with_args(args)
    }
}

/// Registers the guarded versions of [`GUARDED`] in a session, over the functions it has.
pub(crate) fn guard_functions(ctx: &SessionContext, pool: &Arc<dyn MemoryPool>) {
    for (name, estimate) in GUARDED {
        let Ok(inner) = ctx.udf(name) else {
            continue;
        };
        ctx.register_udf(ScalarUDF::new_from_impl(Guarded {
            inner,
            estimate: *estimate,
            pool: pool.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::GreedyMemoryPool;

    fn context(limit: usize) -> SessionContext {
        let ctx = SessionContext::new();
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(limit));
        guard_functions(&ctx, &pool);
        ctx
    }

    async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<arrow::array::RecordBatch>> {
        ctx.sql(sql).await?.collect().await
    }

    #[tokio::test]
    async fn functions_that_would_outgrow_the_pool_are_refused_before_they_allocate() {
        let ctx = context(1 << 20);
        for sql in [
            "SELECT length(repeat('a', 2000000000))",
            "SELECT lpad('a', 500000000)",
            "SELECT cardinality(range(1, 1000000000))",
            "SELECT array_length(array_repeat(1, 100000000), 1)",
            "SELECT replace(repeat('a', 100000), 'a', repeat('b', 100000))",
        ] {
            let error = run(&ctx, sql).await.expect_err(sql).to_string();
            assert!(error.contains("query memory"), "{sql}: {error}");
        }
    }

    #[tokio::test]
    async fn functions_within_the_pool_answer_as_before() {
        let ctx = context(1 << 20);
        let batches = run(&ctx, "SELECT length(repeat('ab', 1000)) AS n, lpad('7', 3, '0') AS p, cardinality(range(1, 11)) AS r")
            .await
            .unwrap();
        let formatted = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(formatted.contains("| 2000 | 007 | 10 |"), "{formatted}");
    }

    #[test]
    fn estimates_scale_with_rows_and_arguments() {
        let text = ColumnarValue::Scalar(ScalarValue::Utf8(Some("abc".into())));
        let count = ColumnarValue::Scalar(ScalarValue::Int64(Some(1000)));
        let repeat = GUARDED
            .iter()
            .find(|(name, _)| *name == "repeat")
            .unwrap()
            .1;
        assert_eq!(repeat(&[text.clone(), count.clone()], 1), 3000);
        assert_eq!(repeat(&[text, count], 10), 30_000);
        let negative = ColumnarValue::Scalar(ScalarValue::Int64(Some(-5)));
        assert_eq!(padded(&[negative.clone(), negative], 1), 0);
    }
}
