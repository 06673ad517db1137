use super::*;
use arrow::array::{DictionaryArray, StringArray};
use arrow::datatypes::{Field, Schema};
use arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

fn dictionary(values: &[Option<&str>], keys: &[Option<i32>]) -> ArrayRef {
    let values: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
    let keys = arrow::array::Int32Array::from(keys.to_vec());
    Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values).unwrap())
}

fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Batches of two dictionary columns `a`, `b` and a number `n`: a shared dictionary over
/// two batches, then a new one; null keys, a null value in a dictionary, and a dictionary
/// with more values than the batch has rows (counted through the packed ids).
fn batches() -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", dictionary_type(), true),
        Field::new("b", dictionary_type(), true),
        Field::new("n", DataType::Int64, false),
    ]));
    let a_values = [Some("sso"), Some("ldap"), None];
    let b_values = [Some("login"), Some("logout")];
    let first = RecordBatch::try_new(
        schema.clone(),
        vec![
            dictionary(&a_values, &[Some(0), Some(0), Some(1), None, Some(2)]),
            dictionary(&b_values, &[Some(0), Some(1), Some(0), Some(0), None]),
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
        ],
    )
    .unwrap();
    let second = RecordBatch::try_new(
        schema.clone(),
        vec![
            dictionary(&a_values, &[Some(1), Some(1), None]),
            dictionary(&b_values, &[Some(0), Some(0), Some(1)]),
            Arc::new(Int64Array::from(vec![6, 7, 8])),
        ],
    )
    .unwrap();
    // Other key order, a value the earlier dictionaries lack, and 2,000 values for b.
    let many: Vec<String> = (0..2000).map(|i| format!("v{}", i % 700)).collect();
    let many: Vec<Option<&str>> = many.iter().map(|v| Some(v.as_str())).collect();
    let third = RecordBatch::try_new(
        schema.clone(),
        vec![
            dictionary(
                &[Some("radius"), Some("sso")],
                &[Some(1), Some(0), Some(1), Some(1)],
            ),
            dictionary(&many, &[Some(0), Some(700), Some(1999), None]),
            Arc::new(Int64Array::from(vec![9, 10, 11, 12])),
        ],
    )
    .unwrap();
    (schema, vec![first, second, third])
}

fn context(with_rule: bool, flush_groups: usize) -> SessionContext {
    let config = SessionConfig::new().with_target_partitions(2);
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    if with_rule {
        builder = builder.with_physical_optimizer_rule(Arc::new(DictionaryCount { flush_groups }));
    }
    let ctx = SessionContext::new_with_state(builder.build());
    let (schema, batches) = batches();
    // Two partitions: the first two batches and the third.
    let table =
        MemTable::try_new(schema, vec![batches[..2].to_vec(), batches[2..].to_vec()]).unwrap();
    ctx.register_table("t", Arc::new(table)).unwrap();
    ctx
}

async fn run(ctx: &SessionContext, sql: &str) -> (String, String) {
    let frame = ctx.sql(sql).await.unwrap();
    let plan = frame.clone().create_physical_plan().await.unwrap();
    let plan = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string();
    let batches = frame.collect().await.unwrap();
    (pretty_format_batches(&batches).unwrap().to_string(), plan)
}

#[tokio::test]
async fn counts_by_keys_equal_datafusion_s_own() {
    let queries = [
        "SELECT a, b, count(*) AS c, count(1) AS d FROM t GROUP BY a, b ORDER BY a, b",
        "SELECT a, count(*) FROM t GROUP BY a ORDER BY a",
        "SELECT b, count(*) FROM t WHERE n > 2 GROUP BY b ORDER BY b",
        "SELECT b, a, count(*) AS c FROM t GROUP BY b, a ORDER BY c DESC, a, b LIMIT 3",
    ];
    for flush_groups in [FLUSH_GROUPS, 1] {
        for sql in queries {
            let (expected, plain_plan) = run(&context(false, flush_groups), sql).await;
            let (counted, plan) = run(&context(true, flush_groups), sql).await;
            assert!(!plain_plan.contains("DictionaryCountExec"), "{plain_plan}");
            assert!(plan.contains("DictionaryCountExec"), "{sql}:\n{plan}");
            assert!(!plan.contains("mode=Partial"), "{sql}:\n{plan}");
            assert_eq!(counted, expected, "{sql} (flush after {flush_groups})");
        }
    }
}

#[tokio::test]
async fn other_aggregates_keep_datafusion_s_plan() {
    let ctx = context(true, FLUSH_GROUPS);
    for sql in [
        "SELECT a, sum(n) FROM t GROUP BY a",
        "SELECT a, count(b) FROM t GROUP BY a",
        "SELECT a, count(DISTINCT b) FROM t GROUP BY a",
        "SELECT n, count(*) FROM t GROUP BY n",
        "SELECT a, n, count(*) FROM t GROUP BY a, n",
        "SELECT a, count(*) FILTER (WHERE n > 1) FROM t GROUP BY a",
    ] {
        let (_, plan) = run(&ctx, sql).await;
        assert!(!plan.contains("DictionaryCountExec"), "{sql}:\n{plan}");
    }
}
