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

    // initiated_by.username is read from the event, narrowed by the actor column first: a2's
    // actor column is "jdoe" too (its top-level username), but its event has no initiated_by.
    assert_eq!(
        term_ids(&store, json!({"initiated_by.username": "jdoe"})),
        ["a1"]
    );
    assert_eq!(
        term_ids(&store, json!({"initiated_by.username": ["JDOE", "nobody"]})),
        ["a1"]
    );

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

mod aggregate;
mod export;
