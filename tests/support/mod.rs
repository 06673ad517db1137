//! Helpers shared by the end-to-end tests: running the binary, reading the table back with
//! readers that know nothing of this project (deltalake for the log, parquet for the files).

#![allow(dead_code)] // each test module uses a different subset

pub mod client;
pub mod moto;
pub mod proxy;
pub mod server;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use futures::TryStreamExt;
use object_store::ObjectStoreExt as _;

/// The binary under test: the one this test binary was built with, or the one the environment
/// variable `INSIGHTS_TEST_BINARY` names (to run the tests against another build).
pub fn binary() -> PathBuf {
    std::env::var_os("INSIGHTS_TEST_BINARY").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_insights")),
        PathBuf::from,
    )
}

/// A command of the binary under test.
pub fn insights() -> Command {
    let mut command = Command::new(binary());
    command
        .env("RUST_BACKTRACE", "0")
        .env_remove("INSIGHTS_STORE")
        .env_remove("INSIGHTS_SIGNING_KEY_FILE")
        .env_remove("INSIGHTS_SIGNING_KEY")
        .env_remove("INSIGHTS_DIGEST_COPY");
    command
}

/// Runs the binary with `args` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    insights()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the insights binary runs")
}

/// Runs `insights ingest INPUT --store STORE` in `dir` and asserts that it succeeded.
pub fn ingest_into(dir: &Path, input: &Path, store: &Path) {
    let output = run(
        dir,
        &[
            "ingest",
            input.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "ingest {input:?}: {}",
        stderr(&output)
    );
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fixture file of `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Writes generated events to `dir/name` and returns the path.
pub fn generate(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut all = vec!["generate", "--out", path.to_str().unwrap()];
    all.extend_from_slice(args);
    // The fixtures of the tests are dated: a fixed first day unless the test names one.
    if !args.contains(&"--start") {
        all.extend_from_slice(&["--start", "2026-10-01"]);
    }
    let output = run(dir, &all);
    assert!(
        output.status.success(),
        "generate failed: {}",
        stderr(&output)
    );
    path
}

/// One stored event as read back from the table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredRow {
    pub organization: String,
    pub timestamp_us: i64,
    pub id: String,
    pub raw: String,
    pub date: String,
    pub columns: Vec<(String, Option<String>)>,
}

/// Reads every live row of the table of a store (a local directory or an s3:// URL).
pub fn read_table(store: &str, options: HashMap<String, String>) -> Vec<StoredRow> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(read_table_async(store, options))
}

async fn read_table_async(store: &str, options: HashMap<String, String>) -> Vec<StoredRow> {
    let url = if store.starts_with("s3://") {
        url::Url::parse(&format!("{}/events", store.trim_end_matches('/'))).unwrap()
    } else {
        url::Url::from_directory_path(Path::new(store).join("events")).unwrap()
    };
    let table = deltalake::open_table_with_storage_options(url, options)
        .await
        .expect("open the table");
    let files: Vec<_> = table
        .get_active_add_actions_by_partitions(&[])
        .map_ok(|f| (f.object_store_path(), f.size(), f.partition_values_map()))
        .try_collect()
        .await
        .unwrap();
    let store = table.object_store();
    let mut rows = Vec::new();
    for (path, size, partition) in files {
        let bytes = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(i64::try_from(bytes.len()).unwrap(), size);
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .expect("a Parquet file")
            .build()
            .unwrap();
        let organization = partition["organization"].clone().unwrap();
        let date = partition["date"].clone().unwrap();
        for batch in reader {
            rows.extend(rows_of(&batch.unwrap(), &organization, &date));
        }
    }
    rows.sort();
    rows
}

/// An event read back from the table: its identity and its raw JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredEvent {
    pub organization: String,
    pub id: String,
    pub timestamp_us: i64,
    pub raw: String,
}

/// Reads the identity and raw JSON of every live event of a local store's table, with readers
/// that know nothing of this project; lighter than [`read_table`] for large tables.
pub fn read_events(store: &Path) -> Vec<StoredEvent> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = url::Url::from_directory_path(store.join("events")).unwrap();
        let table = deltalake::open_table(url).await.expect("open the table");
        let files: Vec<_> = table
            .get_active_add_actions_by_partitions(&[])
            .map_ok(|f| (f.object_store_path(), f.partition_values_map()))
            .try_collect()
            .await
            .unwrap();
        let mut events = Vec::new();
        for (path, partition) in files {
            let file = std::fs::File::open(store.join("events").join(path.as_ref())).unwrap();
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .expect("a Parquet file");
            let mask = parquet::arrow::ProjectionMask::columns(
                builder.parquet_schema(),
                ["id", "timestamp", "raw"],
            );
            let organization = partition["organization"].clone().unwrap();
            for batch in builder.with_projection(mask).build().unwrap() {
                let batch = batch.unwrap();
                let identity = Identity::of(&batch);
                events.extend((0..batch.num_rows()).map(|i| StoredEvent {
                    organization: organization.clone(),
                    id: identity.id(i),
                    timestamp_us: identity.timestamp_us(i),
                    raw: identity.raw(i),
                }));
            }
        }
        events
    })
}

/// The id, timestamp and raw JSON columns of a batch. Writers may choose Utf8 or Utf8View;
/// both are read as Utf8.
struct Identity {
    ids: arrow::array::ArrayRef,
    times: arrow::array::ArrayRef,
    raws: arrow::array::ArrayRef,
}

impl Identity {
    fn of(batch: &RecordBatch) -> Self {
        let utf8 = |name: &str| {
            arrow::compute::cast(
                batch.column_by_name(name).unwrap(),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap()
        };
        Self {
            ids: utf8("id"),
            times: batch.column_by_name("timestamp").unwrap().clone(),
            raws: utf8("raw"),
        }
    }

    fn id(&self, i: usize) -> String {
        self.ids.as_string::<i32>().value(i).to_owned()
    }

    fn raw(&self, i: usize) -> String {
        self.raws.as_string::<i32>().value(i).to_owned()
    }

    fn timestamp_us(&self, i: usize) -> i64 {
        self.times
            .as_primitive::<TimestampMicrosecondType>()
            .value(i)
    }
}

fn rows_of(batch: &RecordBatch, organization: &str, date: &str) -> Vec<StoredRow> {
    let identity = Identity::of(batch);
    (0..batch.num_rows())
        .map(|i| StoredRow {
            organization: organization.to_owned(),
            timestamp_us: identity.timestamp_us(i),
            id: identity.id(i),
            raw: identity.raw(i),
            date: date.to_owned(),
            columns: batch
                .schema()
                .fields()
                .iter()
                .enumerate()
                .map(|(c, field)| {
                    let column = batch.column(c);
                    let value = (!column.is_null(i))
                        .then(|| arrow::util::display::array_value_to_string(column, i).unwrap());
                    (field.name().clone(), value)
                })
                .collect(),
        })
        .collect()
}

/// Non-blank lines of a file.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// (organization, id, timestamp µs) of an event line, as the engine identifies it.
pub fn identity(line: &str) -> (String, String, i64) {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    let ts = chrono::DateTime::parse_from_rfc3339(value["timestamp"].as_str().unwrap()).unwrap();
    let micros = ts.timestamp() * 1_000_000 + i64::from(ts.timestamp_subsec_micros());
    (
        value["organization"].as_str().unwrap().to_owned(),
        value["id"].as_str().unwrap().to_owned(),
        micros,
    )
}
