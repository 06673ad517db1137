//! The query layer end to end: DI request semantics, paging, aggregations, SQL isolation,
//! exports and saved views, through the `insights` binary on crafted events.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::support::{run, stderr, stdout};

const A: &str = "orga";
const B: &str = "orgb";
const UUID: &str = "ED0ED2C3-0524-3263-BE5B-68C02B70986E";

fn event(org: &str, id: &str, ts: &str, service: &str, event_type: &str, extra: Value) -> String {
    let mut event = json!({"id": id, "timestamp": ts, "service": service,
        "event_type": event_type, "organization": org});
    if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
        event.extend(extra);
    }
    event.to_string()
}

/// Seven events of two organizations that each pin a semantic.
fn crafted() -> Vec<String> {
    vec![
        event(
            A,
            "a1",
            "2026-10-01T10:00:00Z",
            "sso",
            "sso_auth",
            json!({
            "initiated_by": {"type": "user", "username": "JDoe"}, "sso_token_success": false,
            "client_ip": "10.0.0.1", "application": {"name": "Slack"}}),
        ),
        event(
            A,
            "a2",
            "2026-10-01T11:00:00Z",
            "radius",
            "radius_auth_attempt",
            json!({
            "username": "jdoe", "success": false, "client_ip": "10.0.0.2",
            "outer": {"eap_type": "PEAP", "username": "jdoe"}}),
        ),
        event(
            A,
            "a3",
            "2026-10-02T00:00:00Z",
            "systems",
            "user_login_attempt",
            json!({
            "username": "asmith", "success": true, "client_ip": "10.0.0.1",
            "system": {"hostname": "Computer123", "id": "sys1"},
            "error_message": "bad, \"quoted\"\nline"}),
        ),
        event(
            A,
            "a4",
            "2026-10-02T09:30:00.123456Z",
            "directory",
            "user_update",
            json!({
            "initiated_by": {"type": "admin", "email": "Admin@Example.com"},
            "resource": {"type": "user", "username": "jdoe"},
            "changes": [{"field": "email", "from": "a@x.io", "to": "b@x.io"}]}),
        ),
        event(
            A,
            UUID,
            "2026-10-03T12:00:00Z",
            "radius",
            "radius_auth_attempt",
            json!({
            "username": "bob", "success": true, "outer": {"eap_type": "TTLS"}}),
        ),
        event(
            A,
            "a7",
            "2026-10-05T08:00:00Z",
            "mdm",
            "command_result",
            json!({
            "mdm_device_id": "d1", "success": true}),
        ),
        event(
            B,
            "b1",
            "2026-10-01T10:00:00Z",
            "sso",
            "sso_auth",
            json!({
            "username": "jdoe", "sso_token_success": true, "client_ip": "10.0.0.1"}),
        ),
    ]
}

/// A store holding `lines` ingested in `parts` runs (so in at least as many files), the i-th
/// line in part i % parts, so that every file spans the whole time range.
fn store_in_parts(lines: &[String], parts: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for part in 0..parts {
        let input = dir.path().join(format!("part{part}.ndjson"));
        let mine: Vec<&str> = lines
            .iter()
            .skip(part)
            .step_by(parts)
            .map(String::as_str)
            .collect();
        std::fs::write(&input, mine.join("\n") + "\n").unwrap();
        crate::support::ingest_into(dir.path(), &input, &store);
    }
    (dir, store)
}

/// A store holding `lines`, in a fresh temporary directory.
fn store_with(lines: &[String]) -> (tempfile::TempDir, PathBuf) {
    store_in_parts(lines, 1)
}

fn insights_in(store: &Path, args: &[&str]) -> Output {
    let mut all = vec![args[0], "--store", store.to_str().unwrap()];
    all.extend_from_slice(&args[1..]);
    run(store.parent().unwrap(), &all)
}

/// Runs `insights query` and returns the ids of the page, in order.
fn ids(store: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec!["query", "--format", "json"];
    all.extend_from_slice(args);
    let output = insights_in(store, &all);
    assert!(
        output.status.success(),
        "query {args:?}: {}",
        stderr(&output)
    );
    let page: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    page.iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn term_ids(store: &Path, term: Value) -> Vec<String> {
    ids(
        store,
        &[
            "--org",
            A,
            "--start",
            "2026-10-01T00:00:00Z",
            "--search-term",
            &term.to_string(),
        ],
    )
}

#[test]
fn request_fields_filter_as_di_does() {
    let (_dir, store) = store_with(&crafted());
    let from = ["--org", A, "--start", "2026-10-01T00:00:00Z"];
    let with = |extra: &[&str]| ids(&store, &[&from[..], extra].concat());

    assert_eq!(with(&[]), ["a1", "a2", "a3", "a4", UUID, "a7"]);
    assert_eq!(with(&["--service", "sso"]), ["a1"]);
    assert_eq!(with(&["--service", "radius,systems"]), ["a2", "a3", UUID]);
    // start inclusive, end exclusive
    assert_eq!(
        ids(
            &store,
            &[
                "--org",
                A,
                "--start",
                "2026-10-01T11:00:00Z",
                "--end",
                "2026-10-02T00:00:00Z"
            ]
        ),
        ["a2"]
    );
    assert_eq!(
        with(&["--sort", "desc"]),
        ["a7", UUID, "a4", "a3", "a2", "a1"]
    );
    assert_eq!(with(&["--limit", "2", "--skip", "1"]), ["a2", "a3"]);
    assert_eq!(with(&["--q", "slack"]), ["a1"]);
    assert_eq!(with(&["--q", "QUOTED line"]), ["a3"]);

    // Both forms of search_term; booleans as strings or JSON; the actor and sso_token_success
    // columns; values case-insensitive.
    let array_form = term_ids(
        &store,
        json!({"and": [{"username": "jdoe"}, {"success": "false"}]}),
    );
    let map_form = term_ids(
        &store,
        json!({"and": {"username": "JDOE", "success": false}}),
    );
    assert_eq!(array_form, ["a1", "a2"]);
    assert_eq!(map_form, array_form);
    // A bare map means all of its fields.
    assert_eq!(
        term_ids(&store, json!({"username": "jdoe", "success": false})),
        ["a1", "a2"]
    );
    // or, with list values
    assert_eq!(
        term_ids(
            &store,
            json!({"or": [{"client_ip": ["10.0.0.2", "10.9.9.9"]}, {"event_type": "user_update"}]})
        ),
        ["a2", "a4"]
    );
    // nesting and not: an event without the field is not excluded by it
    assert_eq!(
        term_ids(
            &store,
            json!({"and": [{"service": ["radius", "systems"]}, {"not": [{"outer.eap_type": "peap"}]}]})
        ),
        ["a3", UUID]
    );
    assert_eq!(
        term_ids(
            &store,
            json!({"not": {"service": "radius", "event_type": "user_update"}})
        ),
        ["a1", "a3", "a7"]
    );
    // dot paths into raw and into typed columns, case-insensitively
    assert_eq!(term_ids(&store, json!({"outer.eap_type": "PEAP"})), ["a2"]);
    assert_eq!(term_ids(&store, json!({"outer.username": "JDOE"})), ["a2"]);
    assert_eq!(
        term_ids(&store, json!({"system.hostname": "computer123"})),
        ["a3"]
    );
    assert_eq!(
        term_ids(&store, json!({"initiated_by.email": "admin@example.com"})),
        ["a4"]
    );
    assert_eq!(
        term_ids(&store, json!({"resource.username": "JDoe"})),
        ["a4"]
    );
    assert_eq!(term_ids(&store, json!({"mdm_device_id": "D1"})), ["a7"]);
    // DI lowercases values; an upper-case RADIUS id is found by its lower-case form
    assert_eq!(term_ids(&store, json!({"id": UUID.to_lowercase()})), [UUID]);
    // another organization's events stay out whatever the search says
    assert!(term_ids(&store, json!({"organization": B})).is_empty());

    // fields: nested projection of known fields
    let output = insights_in(
        &store,
        &[
            &["query", "--format", "json", "--fields", "id,outer.eap_type"][..],
            &from[..],
            &["--service", "radius"],
        ]
        .concat(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let page: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        page,
        json!([{"id": "a2", "outer": {"eap_type": "PEAP"}}, {"id": UUID, "outer": {"eap_type": "TTLS"}}])
    );
}

#[test]
fn bad_requests_name_the_field() {
    let (_dir, store) = store_with(&crafted());
    let fails = |args: &[&str], needle: &str| {
        let output = insights_in(&store, args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let message = stderr(&output);
        assert!(message.contains(needle), "{args:?}: {message}");
    };
    fails(
        &[
            "query",
            "--service",
            "nope",
            "--start",
            "2026-10-01T00:00:00Z",
        ],
        "valid values: all, access_management",
    );
    fails(&["query"], "start_time");
    fails(&["query", "--start", "yesterday"], "start_time");
    fails(
        &[
            "query",
            "--start",
            "2026-10-02T00:00:00Z",
            "--end",
            "2026-10-01T00:00:00Z",
        ],
        "end_time",
    );
    fails(
        &[
            "query",
            "--start",
            "2026-10-01T00:00:00Z",
            "--fields",
            "nosuch,other",
        ],
        "fields",
    );
    fails(
        &[
            "query",
            "--start",
            "2026-10-01T00:00:00Z",
            "--search-term",
            r#"{"success": "maybe"}"#,
        ],
        "true or false",
    );
    fails(
        &[
            "query",
            "--start",
            "2026-10-01T00:00:00Z",
            "--search-term",
            r#"{"and": []}"#,
        ],
        "search_term",
    );
    fails(
        &[
            "query",
            "--start",
            "2026-10-01T00:00:00Z",
            "--search-after",
            r#"["x"]"#,
        ],
        "search_after",
    );
    fails(&["distinct", "--start", "2026-10-01T00:00:00Z"], "field");
    fails(
        &[
            "interval",
            "--start",
            "2026-10-01T00:00:00Z",
            "--interval-unit",
            "y",
        ],
        "interval_unit",
    );
    fails(
        &[
            "query",
            "--start",
            "2026-10-01T00:00:00Z",
            "--format",
            "xml",
        ],
        "format",
    );
}

/// Events that share timestamps (to the millisecond and beyond) so that only the id orders them.
fn ties() -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..360 {
        let ts = match i % 4 {
            0 => "2026-10-01T10:00:00.000Z".to_owned(),
            1 => "2026-10-01T10:00:00.001Z".to_owned(),
            2 => format!("2026-10-01T10:00:00.001{:03}Z", i % 7),
            _ => format!("2026-10-0{}T12:00:00Z", 1 + i % 3),
        };
        lines.push(event(
            A,
            &format!("id{:05}", (i * 7919) % 1000),
            &ts,
            "sso",
            "sso_auth",
            json!({}),
        ));
    }
    lines
}

fn page_through(store: &Path, sort: &str, limit: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let limit_text = limit.to_string();
        let mut args = vec![
            "query",
            "--format",
            "json",
            "--start",
            "2026-10-01T00:00:00Z",
            "--sort",
            sort,
            "--limit",
            &limit_text,
        ];
        if let Some(after) = &after {
            args.extend(["--search-after", after.as_str()]);
        }
        let output = insights_in(store, &args);
        assert!(output.status.success(), "{}", stderr(&output));
        let page: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
        seen.extend(page.iter().map(|e| {
            format!(
                "{}|{}",
                e["timestamp"].as_str().unwrap(),
                e["id"].as_str().unwrap()
            )
        }));
        let message = stderr(&output);
        let header = message
            .rsplit("search_after ")
            .next()
            .unwrap()
            .trim()
            .to_owned();
        let parsed: Value = serde_json::from_str(&header).unwrap();
        assert!(
            parsed.is_array(),
            "X-Search_after is always an array: {header}"
        );
        if page.len() < limit {
            return seen;
        }
        after = Some(header);
    }
}

#[test]
fn search_after_pages_through_every_row_exactly_once_in_order() {
    let lines = ties();
    // Several files, read newest or oldest first over the partitions of the scan.
    let (_dir, store) = store_in_parts(&lines, 3);
    // The expected order: (millisecond, id, exact time).
    let mut expected: Vec<(i64, String, i64, String)> = lines
        .iter()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            let ts = value["timestamp"].as_str().unwrap().to_owned();
            let micros = insights_schemas::parse_timestamp_us(&ts).unwrap();
            (
                micros.div_euclid(1000),
                value["id"].as_str().unwrap().to_owned(),
                micros,
                ts,
            )
        })
        .collect();
    expected.sort();
    let ascending: Vec<String> = expected
        .iter()
        .map(|(_, id, _, ts)| format!("{ts}|{id}"))
        .collect();
    assert_eq!(page_through(&store, "ASC", 50), ascending);
    let mut descending = ascending.clone();
    descending.reverse();
    assert_eq!(page_through(&store, "desc", 64), descending);
    assert_eq!(ascending.len(), 360);

    // Pages that start or end inside a millisecond that more rows share than the page holds
    // (90 rows at .000, 180 in .001 with different microseconds), and the last, short page.
    let window = |sort: &str, skip: usize, limit: usize| {
        let (skip_text, limit_text) = (skip.to_string(), limit.to_string());
        ids(
            &store,
            &[
                "--start",
                "2026-10-01T00:00:00Z",
                "--sort",
                sort,
                "--skip",
                &skip_text,
                "--limit",
                &limit_text,
            ],
        )
    };
    let id_of = |row: &String| row.rsplit('|').next().unwrap().to_owned();
    for (skip, limit) in [
        (0, 1),
        (0, 10),
        (85, 10),
        (100, 7),
        (265, 10),
        (350, 20),
        (359, 5),
    ] {
        let end = (skip + limit).min(ascending.len());
        let want: Vec<String> = ascending[skip..end].iter().map(id_of).collect();
        assert_eq!(
            window("ASC", skip, limit),
            want,
            "ASC skip {skip} limit {limit}"
        );
        let want: Vec<String> = descending[skip..end].iter().map(id_of).collect();
        assert_eq!(
            window("DESC", skip, limit),
            want,
            "DESC skip {skip} limit {limit}"
        );
    }
}

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

#[test]
fn exports_are_exact_and_csv_quotes_and_flattens() {
    let lines = crafted();
    let (dir, store) = store_with(&lines);
    let export = |args: &[&str]| {
        let mut all = vec!["export", "--start", "2026-01-01T00:00:00Z"];
        all.extend_from_slice(args);
        let output = insights_in(&store, &all);
        assert!(output.status.success(), "{}", stderr(&output));
        output
    };
    // NDJSON: the raw events, byte for byte, in (timestamp, id) order.
    let ndjson = dir.path().join("all.ndjson");
    export(&["--out", ndjson.to_str().unwrap()]);
    let exported = std::fs::read_to_string(&ndjson).unwrap();
    let mut expected = lines.clone();
    expected.sort_by_key(|line| {
        let (org, id, micros) = crate::support::identity(line);
        (micros / 1000, id, micros, org)
    });
    assert_eq!(exported, expected.join("\n") + "\n");
    // gzip, from the file name
    let gz = dir.path().join("all.ndjson.gz");
    export(&["--out", gz.to_str().unwrap()]);
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, exported);
    // JSON array to stdout
    let output = export(&["--format", "json", "--org", A]);
    let array: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(array.len(), 6);
    assert_eq!(array[2]["error_message"], "bad, \"quoted\"\nline");
    // CSV: header, typed columns, requested dot paths, RFC 4180 quoting, UTC milliseconds
    let output = export(&[
        "--format",
        "csv",
        "--org",
        A,
        "--fields",
        "outer.eap_type,changes",
    ]);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..3], ["timestamp", "id", "organization"]);
    assert_eq!(header[header.len() - 2..], ["outer.eap_type", "changes"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[2][column("error_message")], "bad, \"quoted\"\nline");
    assert_eq!(&rows[2][column("system_hostname")], "Computer123");
    assert_eq!(&rows[3][column("timestamp")], "2026-10-02T09:30:00.123Z");
    assert_eq!(&rows[3][column("initiated_by_email")], "Admin@Example.com");
    assert_eq!(
        &rows[3][column("changes")],
        r#"[{"field":"email","from":"a@x.io","to":"b@x.io"}]"#
    );
    assert_eq!(&rows[1][column("outer.eap_type")], "PEAP");
    assert_eq!(&rows[1][column("success")], "false");
    assert_eq!(&rows[0][column("success")], "false");
    assert_eq!(&rows[5][column("mfa")], "");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("\"bad, \"\"quoted\"\"\nline\""), "{text}");
    assert!(text.ends_with("\r\n"));
}

#[test]
fn saved_views_are_created_listed_run_exported_and_deleted() {
    let now = chrono::Utc::now();
    let recent =
        (now - chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let old =
        (now - chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut lines = crafted();
    lines.push(event(
        A,
        "recent-fail",
        &recent,
        "sso",
        "sso_auth",
        json!({"sso_token_success": false}),
    ));
    lines.push(event(
        A,
        "old-fail",
        &old,
        "sso",
        "sso_auth",
        json!({"sso_token_success": false}),
    ));
    let (dir, store) = store_with(&lines);
    let views = |args: &[&str]| {
        let mut all = vec!["views"];
        all.extend_from_slice(args);
        insights_in(&store, &all)
    };
    let ok = |output: Output| {
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    ok(views(&[
        "create",
        "failed-sso-24h",
        "--org",
        A,
        "--description",
        "failed SSO, last day",
        "--range",
        "last 24h",
        "--service",
        "sso",
        "--search-term",
        r#"{"success": false}"#,
    ]));
    ok(views(&[
        "create",
        "october-radius",
        "--org",
        A,
        "--start",
        "2026-10-01T00:00:00Z",
        "--end",
        "2026-11-01T00:00:00Z",
        "--service",
        "radius",
    ]));
    let again = views(&[
        "create",
        "october-radius",
        "--org",
        A,
        "--start",
        "2026-10-01T00:00:00Z",
    ]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let bad = views(&["create", "broken", "--org", A, "--range", "since forever"]);
    assert!(stderr(&bad).contains("range"), "{}", stderr(&bad));

    let listed = ok(views(&["list", "--org", A]));
    assert!(
        listed.contains("failed-sso-24h")
            && listed.contains("last 24h")
            && listed.contains("october-radius"),
        "{listed}"
    );
    assert!(ok(views(&["list", "--org", B])).trim().is_empty());
    let shown: Value =
        serde_json::from_str(&ok(views(&["show", "failed-sso-24h", "--org", A]))).unwrap();
    assert_eq!(shown["description"], "failed SSO, last day");

    let run_ids = |name: &str| -> Vec<String> {
        let page: Vec<Value> =
            serde_json::from_str(&ok(views(&["run", name, "--org", A]))).unwrap();
        page.iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(run_ids("failed-sso-24h"), ["recent-fail"]);
    assert_eq!(run_ids("october-radius"), ["a2", UUID]);
    let out = dir.path().join("radius.csv");
    ok(views(&[
        "export",
        "october-radius",
        "--org",
        A,
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3);
    let via_export = insights_in(&store, &["export", "--view", "october-radius", "--org", A]);
    assert_eq!(
        stdout(&via_export).lines().count(),
        2,
        "{}",
        stderr(&via_export)
    );

    // another organization cannot see or run it
    let foreign = views(&["run", "october-radius", "--org", B]);
    assert!(
        stderr(&foreign).contains("no saved view"),
        "{}",
        stderr(&foreign)
    );
    ok(views(&["delete", "october-radius", "--org", A]));
    let gone = views(&["show", "october-radius", "--org", A]);
    assert!(!gone.status.success() && stderr(&gone).contains("no saved view"));
}

/// Events for the memory test: the generator's realistic mix over 30 days.
const BIG_EXPORT_EVENTS: &str = "2000000";

#[test]
fn exporting_two_million_events_stays_under_256_mib() {
    let dir = tempfile::tempdir().unwrap();
    let input = crate::support::generate(
        dir.path(),
        "big.ndjson",
        &["--events", BIG_EXPORT_EVENTS, "--days", "30"],
    );
    let store = dir.path().join("store");
    crate::support::ingest_into(dir.path(), &input, &store);
    let out = dir.path().join("all.ndjson.gz");
    let output = insights_in(
        &store,
        &[
            "export",
            "--start",
            "2020-01-01T00:00:00Z",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stderr(&output);
    let exported: u64 = summary
        .split("exported ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(exported.to_string(), BIG_EXPORT_EVENTS);
    let peak: u64 = summary
        .split("peak memory ")
        .nth(1)
        .expect("peak memory reported")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(peak < 256, "export peak memory {peak} MiB: {summary}");
    // The file holds every event once.
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap()),
        &mut text,
    )
    .unwrap();
    let mut exported_lines: Vec<&str> = text.lines().collect();
    let input_text = std::fs::read_to_string(&input).unwrap();
    let mut input_lines: Vec<&str> = input_text.lines().collect();
    exported_lines.sort_unstable();
    input_lines.sort_unstable();
    assert!(
        exported_lines == input_lines,
        "the export differs from the input"
    );
}
