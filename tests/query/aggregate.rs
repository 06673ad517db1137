//! Counts, distinct values, histograms and SQL: their DI shapes, isolation and plans.

use super::*;

#[test]
fn count_distinct_and_interval_answer_in_di_shapes() {
    let (_dir, store) = store_with(&crafted());
    let base = ["--org", A, "--start", "2026-10-01T00:00:00Z"];
    let json_of = |output: Output| -> Value {
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    assert_eq!(
        json_of(insights_in(&store, &[&["count"][..], &base[..]].concat())),
        json!({"count": 6})
    );
    assert_eq!(
        json_of(insights_in(
            &store,
            &[&["count", "--service", "radius"][..], &base[..]].concat()
        )),
        json!({"count": 2})
    );
    assert_eq!(
        json_of(insights_in(
            &store,
            &[&["distinct", "--field", "service"][..], &base[..]].concat()
        )),
        json!({"buckets": [
            {"key": "radius", "doc_count": 2}, {"key": "directory", "doc_count": 1},
            {"key": "mdm", "doc_count": 1}, {"key": "sso", "doc_count": 1},
            {"key": "systems", "doc_count": 1}],
            "doc_count_error_upper_bound": 0, "sum_other_doc_count": 0})
    );
    // keys are lower-cased as DI stores values; events without the field are not counted
    assert_eq!(
        json_of(insights_in(
            &store,
            &[&["distinct", "--field", "username"][..], &base[..]].concat()
        ))["buckets"],
        json!([{"key": "jdoe", "doc_count": 2}, {"key": "admin@example.com", "doc_count": 1},
            {"key": "asmith", "doc_count": 1}, {"key": "bob", "doc_count": 1}])
    );
    assert_eq!(
        json_of(insights_in(
            &store,
            &[&["distinct", "--field", "outer.eap_type"][..], &base[..]].concat()
        ))["buckets"],
        json!([{"key": "peap", "doc_count": 1}, {"key": "ttls", "doc_count": 1}])
    );
    // daily buckets at UTC midnight, the empty day between filled with 0
    assert_eq!(
        json_of(insights_in(
            &store,
            &[&["interval", "--interval-unit", "d"][..], &base[..]].concat()
        )),
        json!({"buckets": [
            {"key": 1_790_812_800_000_i64, "key_as_string": "2026-10-01T00:00:00.000Z", "doc_count": 2},
            {"key": 1_790_899_200_000_i64, "key_as_string": "2026-10-02T00:00:00.000Z", "doc_count": 2},
            {"key": 1_790_985_600_000_i64, "key_as_string": "2026-10-03T00:00:00.000Z", "doc_count": 1},
            {"key": 1_791_072_000_000_i64, "key_as_string": "2026-10-04T00:00:00.000Z", "doc_count": 0},
            {"key": 1_791_158_400_000_i64, "key_as_string": "2026-10-05T00:00:00.000Z", "doc_count": 1}]})
    );
    // in a time zone five hours west, a3 (00:00 UTC) falls on the local day before
    let local = json_of(insights_in(
        &store,
        &[
            &[
                "interval",
                "--interval-unit",
                "d",
                "--timezone",
                "-0500",
                "--end",
                "2026-10-04T00:00:00Z",
            ][..],
            &base[..],
        ]
        .concat(),
    ));
    assert_eq!(
        local,
        json!({"buckets": [
            {"key": 1_790_830_800_000_i64, "key_as_string": "2026-10-01T00:00:00.000-05:00", "doc_count": 3},
            {"key": 1_790_917_200_000_i64, "key_as_string": "2026-10-02T00:00:00.000-05:00", "doc_count": 1},
            {"key": 1_791_003_600_000_i64, "key_as_string": "2026-10-03T00:00:00.000-05:00", "doc_count": 1}]})
    );
    let hours = json_of(insights_in(
        &store,
        &[
            &[
                "interval",
                "--interval-unit",
                "h",
                "--interval-value",
                "12",
                "--end",
                "2026-10-02T00:00:00Z",
            ][..],
            &base[..],
        ]
        .concat(),
    ));
    assert_eq!(
        hours["buckets"],
        json!([
        {"key": 1_790_812_800_000_i64, "key_as_string": "2026-10-01T00:00:00.000Z", "doc_count": 2}])
    );
    // stacked by service: each bucket's count split by the values, empty buckets too
    let stacked = json_of(insights_in(
        &store,
        &[
            &["interval", "--interval-unit", "d", "--stack-by", "service"][..],
            &base[..],
        ]
        .concat(),
    ));
    let stacks: Vec<Value> = stacked["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["stacks"].clone())
        .collect();
    assert_eq!(
        stacks,
        [
            json!({"radius": 1, "sso": 1}),
            json!({"directory": 1, "systems": 1}),
            json!({"radius": 1}),
            json!({}),
            json!({"mdm": 1})
        ]
    );
}

#[test]
fn sql_sees_only_the_callers_organization_and_only_reads() {
    let (dir, store) = store_with(&crafted());
    let sql = |org: Option<&str>, query: &str| {
        let mut args = vec!["sql", "--format", "csv"];
        if let Some(org) = org {
            args.extend(["--org", org]);
        }
        args.push(query);
        insights_in(&store, &args)
    };
    let ok = |output: Output| {
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    assert_eq!(
        ok(sql(Some(A), "SELECT count(*) AS n FROM events")),
        "n\n6\n"
    );
    assert_eq!(
        ok(sql(Some(B), "SELECT count(*) AS n FROM events")),
        "n\n1\n"
    );
    assert_eq!(ok(sql(None, "SELECT count(*) AS n FROM events")), "n\n7\n");
    assert_eq!(
        ok(sql(Some(A), "SELECT DISTINCT organization FROM events")),
        "organization\norga\n"
    );
    assert_eq!(
        ok(sql(
            Some(A),
            &format!("SELECT count(*) AS n FROM events WHERE organization = '{B}' OR true")
        )),
        "n\n6\n"
    );
    assert_eq!(
        ok(sql(
            Some(A),
            "SELECT json_get_str(raw, 'outer', 'eap_type') AS eap FROM events WHERE service = 'radius' ORDER BY timestamp"
        )),
        "eap\nPEAP\nTTLS\n"
    );
    let copy_target = dir.path().join("copied.csv");
    for attack in [
        "CREATE TABLE stolen AS SELECT * FROM events".to_owned(),
        "INSERT INTO events SELECT * FROM events".to_owned(),
        "DROP TABLE events".to_owned(),
        format!("COPY (SELECT * FROM events) TO '{}'", copy_target.display()),
        format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}'",
            store.display()
        ),
        format!("SELECT * FROM '{}/events'", store.display()),
        "SELECT * FROM information_schema.tables".to_owned(),
        "SET datafusion.execution.batch_size = 1".to_owned(),
    ] {
        let output = sql(Some(A), &attack);
        assert!(
            !output.status.success(),
            "{attack} succeeded: {}",
            stdout(&output)
        );
        let message = stderr(&output);
        assert!(message.contains("sql:"), "{attack}: {message}");
        assert!(!message.contains("panicked"), "{attack}: {message}");
    }
    assert!(!copy_target.exists());
    let output = sql(Some(A), "SELEC nothing");
    assert!(stderr(&output).contains("sql:"), "{}", stderr(&output));
}

#[test]
fn counts_grouped_by_dictionary_columns_are_counted_by_keys_and_agree() {
    let (_dir, store) = store_with(&crafted());
    let sql = |query: &str| {
        let output = insights_in(&store, &["sql", "--org", A, "--format", "csv", query]);
        assert!(output.status.success(), "{query}: {}", stderr(&output));
        stdout(&output)
    };
    let by_keys = "SELECT service, event_type, username, count(*) AS n FROM events \
                   GROUP BY service, event_type, username";
    assert!(sql(&format!("EXPLAIN {by_keys}")).contains("DictionaryCountExec"));
    // Grouping by expressions rather than columns keeps DataFusion's own aggregation.
    let by_values = "SELECT service || '' AS service, event_type || '' AS event_type, \
                     username || '' AS username, count(*) AS n FROM events \
                     GROUP BY 1, 2, 3";
    assert!(!sql(&format!("EXPLAIN {by_values}")).contains("DictionaryCountExec"));
    let order = " ORDER BY service, event_type, username NULLS FIRST";
    let counted = sql(&format!("{by_keys}{order}"));
    assert_eq!(counted, sql(&format!("{by_values}{order}")));
    assert_eq!(counted.lines().count(), 7, "{counted}");
}

/// The data files a query's plan reads, from its `EXPLAIN`.
fn planned_files(store: &Path, query: &str) -> std::collections::BTreeSet<String> {
    let output = insights_in(
        store,
        &[
            "sql",
            "--org",
            A,
            "--format",
            "csv",
            &format!("EXPLAIN {query}"),
        ],
    );
    assert!(output.status.success(), "{query}: {}", stderr(&output));
    stdout(&output)
        .split(|c: char| c.is_whitespace() || "[],\"".contains(c))
        .filter_map(|token| token.split(':').next())
        .filter(|token| token.ends_with(".parquet"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_time_range_plans_only_the_files_whose_events_it_spans() {
    // Two ingests of one day: the morning's events and the evening's, in two files.
    let morning = [
        event(
            A,
            "m1",
            "2026-10-01T08:00:00Z",
            "sso",
            "sso_auth",
            json!({}),
        ),
        event(
            A,
            "m2",
            "2026-10-01T09:00:00Z",
            "sso",
            "sso_auth",
            json!({}),
        ),
    ];
    let evening = [event(
        A,
        "e1",
        "2026-10-01T20:00:00Z",
        "sso",
        "sso_auth",
        json!({}),
    )];
    let (dir, store) = store_with(&morning);
    let input = dir.path().join("evening.ndjson");
    std::fs::write(&input, evening.join("\n") + "\n").unwrap();
    let output = insights_in(&store, &["ingest", input.to_str().unwrap()]);
    assert!(output.status.success(), "ingest: {}", stderr(&output));

    let everything = planned_files(&store, "SELECT id FROM events");
    assert_eq!(everything.len(), 2, "{everything:?}");
    let before_noon = "SELECT id FROM events WHERE timestamp < '2026-10-01T12:00:00Z'";
    let planned = planned_files(&store, before_noon);
    assert_eq!(planned.len(), 1, "{planned:?}");
    assert!(everything.is_superset(&planned));
    let after_noon = planned_files(
        &store,
        "SELECT id FROM events WHERE timestamp >= '2026-10-01T12:00:00Z' AND service = 'sso'",
    );
    assert_eq!(after_noon.len(), 1, "{after_noon:?}");
    assert_ne!(planned, after_noon);
    // A condition on the time inside an OR still prunes: neither side holds evening events.
    let either = planned_files(
        &store,
        "SELECT id FROM events WHERE timestamp < '2026-10-01T08:30:00Z' OR timestamp = '2026-10-01T09:00:00Z'",
    );
    assert_eq!(either, planned);
    // And the pruned plans still answer exactly.
    let rows = insights_in(
        &store,
        &[
            "sql",
            "--org",
            A,
            "--format",
            "csv",
            &format!("{before_noon} ORDER BY id"),
        ],
    );
    assert_eq!(stdout(&rows), "id\nm1\nm2\n");
    // A DI request over the evening answers from the evening's file.
    assert_eq!(
        ids(
            &store,
            &[
                "--org",
                A,
                "--start",
                "2026-10-01T19:00:00Z",
                "--end",
                "2026-10-02T00:00:00Z"
            ]
        ),
        ["e1"]
    );
}
