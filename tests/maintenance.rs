//! `insights compact` and `insights stats`.

use std::collections::HashMap;

use crate::support::{generate, read_table, run, stderr, stdout};

#[test]
fn compaction_is_data_neutral_and_leaves_files_sorted_by_service_host_then_time() {
    let dir = tempfile::tempdir().unwrap();
    generate(
        dir.path(),
        "events.ndjson",
        &["--events", "8000", "--days", "2", "--orgs", "2"],
    );
    let ingest = run(
        dir.path(),
        &["ingest", "--flush-rows", "1000", "events.ndjson"],
    );
    assert!(ingest.status.success(), "{}", stderr(&ingest));
    let store = dir.path().join("insights-data");
    let before = read_table(store.to_str().unwrap(), HashMap::new());
    let stats_before: serde_json::Value =
        serde_json::from_str(&stdout(&run(dir.path(), &["stats", "--json"]))).unwrap();
    assert_eq!(stats_before["rows"], 8000);
    assert_eq!(stats_before["partitions"], 4);
    assert!(stats_before["files"].as_u64().unwrap() > 4);
    columns_are_encoded_and_compressed_as_laid_out(&store.join("events"));

    let compact = run(dir.path(), &["compact"]);
    assert!(compact.status.success(), "{}", stderr(&compact));
    assert!(
        stdout(&compact).contains("compacted 4 partitions"),
        "{}",
        stdout(&compact)
    );

    let after = read_table(store.to_str().unwrap(), HashMap::new());
    assert_eq!(
        before.iter().map(|r| &r.raw).collect::<Vec<_>>(),
        after.iter().map(|r| &r.raw).collect::<Vec<_>>()
    );
    let stats_after: serde_json::Value =
        serde_json::from_str(&stdout(&run(dir.path(), &["stats", "--json"]))).unwrap();
    assert_eq!(stats_after["rows"], 8000);
    assert_eq!(stats_after["files"], 4);
    assert_eq!(stats_after["organizations"].as_object().unwrap().len(), 2);
    columns_are_encoded_and_compressed_as_laid_out(&store.join("events"));

    // Dedup still knows every event after the files were rewritten.
    let again = run(dir.path(), &["ingest", "--json", "events.ndjson"]);
    let again: serde_json::Value = serde_json::from_str(stdout(&again).trim()).unwrap();
    assert_eq!(again["duplicates"], 8000);

    // Within each file, rows are ordered by service, then resource type (none first), then
    // host or else resource name (none first), then actor (none first), then timestamp: each
    // service's events are one contiguous run, in it each host's (resource's) events one run,
    // and in that each actor's events one time-sorted run.
    let mut runs = 0;
    let mut host_runs = 0;
    for entry in walk(&store.join("events")) {
        let file = std::fs::File::open(&entry).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        #[allow(clippy::type_complexity)]
        let mut last: Option<(
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
        )> = None;
        for batch in reader {
            let batch = batch.unwrap();
            let text = |name: &str| {
                arrow::compute::cast(
                    batch.column_by_name(name).unwrap(),
                    &arrow::datatypes::DataType::Utf8,
                )
                .unwrap()
            };
            let (services, kinds) = (text("service"), text("resource_type"));
            let (hosts, names) = (text("system_hostname"), text("resource_name"));
            let actors = text("username");
            let (services, kinds, hosts, names, actors) = (
                arrow::array::AsArray::as_string::<i32>(&services),
                arrow::array::AsArray::as_string::<i32>(&kinds),
                arrow::array::AsArray::as_string::<i32>(&hosts),
                arrow::array::AsArray::as_string::<i32>(&names),
                arrow::array::AsArray::as_string::<i32>(&actors),
            );
            let valid = |texts: &arrow::array::StringArray, row: usize| {
                arrow::array::Array::is_valid(texts, row).then(|| texts.value(row).to_owned())
            };
            let ts = arrow::array::AsArray::as_primitive::<
                arrow::datatypes::TimestampMicrosecondType,
            >(batch.column_by_name("timestamp").unwrap());
            for row in 0..batch.num_rows() {
                let key = (
                    services.value(row).to_owned(),
                    valid(kinds, row),
                    valid(hosts, row).or(valid(names, row)),
                    valid(actors, row),
                    ts.value(row),
                );
                if let Some(last) = &last {
                    assert!(*last <= key, "{}: {last:?} before {key:?}", entry.display());
                    runs += usize::from(last.0 != key.0);
                    host_runs += usize::from(last.0 == "systems" && last.2 != key.2);
                }
                last = Some(key);
            }
        }
        runs += 1;
    }
    // The generated events span several services in every file.
    assert!(runs > 4 * 3, "only {runs} service runs in 4 files");
    // ... and the device events of several hosts in each.
    assert!(host_runs > 4 * 3, "only {host_runs} host runs in 4 files");
}

/// The files of both ingest and compaction store `timestamp` delta-encoded and not compressed
/// (every page of events reads it over all its candidates), `raw` and `id` zstd-compressed,
/// and the typed columns LZ4-compressed (docs/architecture.md › Parquet layout).
fn columns_are_encoded_and_compressed_as_laid_out(table: &std::path::Path) {
    let files = walk(table);
    assert!(!files.is_empty());
    for entry in files {
        let file = std::fs::File::open(&entry).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let metadata = parquet::file::reader::FileReader::metadata(&reader);
        for group in metadata.row_groups() {
            for chunk in group.columns() {
                let name = chunk.column_path().string();
                let zstd = matches!(chunk.compression(), parquet::basic::Compression::ZSTD(_));
                match name.as_str() {
                    "raw" | "id" => assert!(zstd, "{name}: {:?}", chunk.compression()),
                    "timestamp" => {}
                    _ => assert_eq!(
                        chunk.compression(),
                        parquet::basic::Compression::LZ4_RAW,
                        "{name} in {}",
                        entry.display()
                    ),
                }
            }
            let chunk = group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == "timestamp")
                .unwrap();
            let encodings: Vec<_> = chunk.encodings().collect();
            assert_eq!(
                chunk.compression(),
                parquet::basic::Compression::UNCOMPRESSED,
                "{}",
                entry.display()
            );
            assert!(
                encodings.contains(&parquet::basic::Encoding::DELTA_BINARY_PACKED)
                    && !encodings.contains(&parquet::basic::Encoding::RLE_DICTIONARY),
                "{}: {encodings:?}",
                entry.display()
            );
        }
    }
}

/// Live files only: compaction leaves the replaced files until a vacuum, so read the log.
fn walk(table: &std::path::Path) -> Vec<std::path::PathBuf> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = url::Url::from_directory_path(table).unwrap();
        let t = deltalake::open_table(url).await.unwrap();
        t.get_file_uris()
            .unwrap()
            .map(|u| std::path::PathBuf::from(u.trim_start_matches("file://")))
            .collect()
    })
}

#[test]
fn stats_reports_per_organization_figures() {
    let dir = tempfile::tempdir().unwrap();
    generate(
        dir.path(),
        "events.ndjson",
        &["--events", "3000", "--days", "3", "--orgs", "3"],
    );
    assert!(
        run(dir.path(), &["ingest", "events.ndjson"])
            .status
            .success()
    );
    let out = stdout(&run(dir.path(), &["stats"]));
    assert!(out.contains("rows        3000"), "{out}");
    assert!(out.contains("version     1"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&run(dir.path(), &["stats", "--json"]))).unwrap();
    let orgs = json["organizations"].as_object().unwrap();
    assert_eq!(orgs.len(), 3);
    let total: u64 = orgs.values().map(|o| o["rows"].as_u64().unwrap()).sum();
    assert_eq!(total, 3000);
    for org in orgs.values() {
        assert_eq!(org["first_date"], "2026-10-01");
        assert_eq!(org["last_date"], "2026-10-03");
    }
}

#[test]
fn stats_of_a_missing_store_says_so_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["stats", "--store", "nowhere"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no events table here"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.path().join("nowhere").exists());
}

/// A store whose table was written before the column `initiated_by_username` existed: its
/// schema and files lack it (written here with deltalake, as the older engine did). Searches on
/// `initiated_by.username` and SQL on the column answer from `raw` for those files; the next
/// ingest adds the column to the table; compaction writes it into the rewritten files; the
/// answers never change.
#[test]
fn a_table_older_than_an_added_column_answers_the_same_before_and_after_compaction() {
    use arrow::array::RecordBatch;
    use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
    use deltalake::writer::{DeltaWriter, RecordBatchWriter};

    let dir = tempfile::tempdir().unwrap();
    let first = generate(
        dir.path(),
        "first.ndjson",
        &["--events", "3000", "--days", "2", "--seed", "7"],
    );
    let second = generate(
        dir.path(),
        "second.ndjson",
        &["--events", "2000", "--days", "2", "--seed", "7"]
            .into_iter()
            .chain(["--start", "2026-10-05"])
            .collect::<Vec<_>>(),
    );
    let store = dir.path().join("insights-data");
    std::fs::create_dir_all(store.join("events")).unwrap();

    // The older table: every column but those added later, in two commits.
    let schema = insights_schemas::event_schema();
    let kept: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !insights_schemas::COLUMNS[i].added_later)
        .collect();
    let old_schema = std::sync::Arc::new(schema.project(&kept).unwrap());
    let lines = crate::support::lines(&first);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = url::Url::from_directory_path(store.join("events")).unwrap();
        let kernel: deltalake::kernel::StructType = old_schema.as_ref().try_into_kernel().unwrap();
        let mut table = deltalake::DeltaTable::try_from_url(url)
            .await
            .unwrap()
            .create()
            .with_columns(kernel.fields().cloned())
            .with_partition_columns(insights_schemas::PARTITION_COLUMNS)
            .await
            .unwrap();
        for (part, chunk) in lines.chunks(1500).enumerate() {
            let mut builder = insights_schemas::EventBatchBuilder::default();
            for (i, line) in chunk.iter().enumerate() {
                let event = insights_schemas::decode_event(line.as_bytes(), None).unwrap();
                builder.append(&event, i64::try_from(part * 1500 + i + 1).unwrap());
            }
            let batch: RecordBatch = builder.finish().unwrap().project(&kept).unwrap();
            let mut writer = RecordBatchWriter::for_table(&table).unwrap();
            writer.write(batch).await.unwrap();
            writer.flush_and_commit(&mut table).await.unwrap();
        }
    });
    assert!(!has_column_in_every_file(&store, "initiated_by_username"));

    // The actor searched for, and what each file holds for it.
    let all: Vec<serde_json::Value> = crate::support::lines(&first)
        .iter()
        .chain(crate::support::lines(&second).iter())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let actor = |e: &serde_json::Value| e["initiated_by"]["username"].as_str().map(str::to_owned);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for event in &all[..3000] {
        if let Some(user) = actor(event) {
            *counts.entry(user).or_default() += 1;
        }
    }
    let (user, _) = counts
        .iter()
        .max_by_key(|(u, n)| (**n, (*u).clone()))
        .unwrap();
    let expected = |events: &[serde_json::Value]| {
        let mut ids: Vec<String> = events
            .iter()
            .filter(|e| actor(e).is_some_and(|a| a.eq_ignore_ascii_case(user)))
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let search = |dir: &std::path::Path| {
        let term = serde_json::json!({"initiated_by.username": user}).to_string();
        let out = run(
            dir,
            &[
                "query",
                "--start",
                "2026-09-01T00:00:00Z",
                "--end",
                "2026-11-01T00:00:00Z",
                "--search-term",
                &term,
                "--limit",
                "10000",
                "--format",
                "ndjson",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let mut ids: Vec<String> = stdout(&out)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        ids.sort();
        ids
    };
    let sql_count = |dir: &std::path::Path, filter: &str| {
        let out = run(
            dir,
            &[
                "sql",
                &format!("SELECT count(*) AS n FROM events WHERE {filter}"),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        // The one number in the printed table.
        stdout(&out)
            .lines()
            .find_map(|l| l.trim_matches(|c| c == '|' || c == ' ').parse::<u64>().ok())
            .unwrap()
    };
    let nulls = |events: &[serde_json::Value]| {
        events
            .iter()
            .filter(|e| actor(e).filter(|a| !a.is_empty()).is_none())
            .count() as u64
    };

    // What a search and SQL on the column must answer, given the events the table holds.
    let answers_match = |events: &[serde_json::Value]| {
        let ids = expected(events);
        assert_eq!(search(dir.path()), ids);
        assert_eq!(
            sql_count(dir.path(), &format!("initiated_by_username = '{user}'")),
            ids.len() as u64
        );
        assert_eq!(
            sql_count(dir.path(), "initiated_by_username IS NULL"),
            nulls(events)
        );
        ids.len()
    };

    // Before: every file lacks the column.
    let first = answers_match(&all[..3000]);
    assert!(first > 10, "{first}");

    // An ingest adds the column to the table; old and new files answer together.
    let ingest = run(dir.path(), &["ingest", second.to_str().unwrap()]);
    assert!(ingest.status.success(), "{}", stderr(&ingest));
    assert!(answers_match(&all) > first);

    // Compaction writes the column into every file it rewrites; nothing changes.
    let before = read_table(store.to_str().unwrap(), HashMap::new());
    let compact = run(dir.path(), &["compact"]);
    assert!(compact.status.success(), "{}", stderr(&compact));
    assert!(has_column_in_every_file(&store, "initiated_by_username"));
    let after = read_table(store.to_str().unwrap(), HashMap::new());
    assert_eq!(
        before.iter().map(|r| &r.raw).collect::<Vec<_>>(),
        after.iter().map(|r| &r.raw).collect::<Vec<_>>()
    );
    answers_match(&all);
}

/// Whether every live Parquet file of the store's table holds the column `name`.
fn has_column_in_every_file(store: &std::path::Path, name: &str) -> bool {
    walk(&store.join("events")).iter().all(|path| {
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let metadata = parquet::file::reader::FileReader::metadata(&reader);
        metadata
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .any(|c| c.name() == name)
    })
}
