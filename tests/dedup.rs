//! Dedup by (organization, id, timestamp) across batches, commits and restarts.

use std::collections::{HashMap, HashSet};

use crate::support::{generate, identity, lines, read_table, run, stderr, stdout};

fn summary(output: &std::process::Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_str(stdout(output).trim()).unwrap()
}

#[test]
fn re_ingesting_across_restarts_and_commits_stores_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(
        dir.path(),
        "events.ndjson",
        &["--events", "6000", "--days", "3", "--orgs", "2"],
    );
    let all = lines(&events);
    // Small flushes, so the second run meets its events across several commits.
    let first = summary(&run(
        dir.path(),
        &["ingest", "--json", "--flush-rows", "1000", "events.ndjson"],
    ));
    assert_eq!(first["accepted"], 6000);
    assert!(first["table_commits"].as_u64().unwrap() >= 6);

    // An overlapping second batch: the last half again plus a duplicate within the batch.
    let overlap: Vec<_> = all[3000..].iter().chain(&all[5990..]).cloned().collect();
    std::fs::write(dir.path().join("overlap.ndjson"), overlap.join("\n")).unwrap();
    let second = summary(&run(
        dir.path(),
        &["ingest", "--json", "overlap.ndjson", "events.ndjson"],
    ));
    assert_eq!(second["accepted"], 0);
    assert_eq!(second["duplicates"], 3010 + 6000);

    let rows = read_table(
        dir.path().join("insights-data").to_str().unwrap(),
        HashMap::new(),
    );
    assert_eq!(rows.len(), 6000);
    let stored: HashSet<_> = rows
        .iter()
        .map(|r| (r.organization.clone(), r.id.clone(), r.timestamp_us))
        .collect();
    let sent: HashSet<_> = all.iter().map(|l| identity(l)).collect();
    assert_eq!(stored, sent);
}

#[test]
fn same_id_with_another_timestamp_is_a_different_event() {
    let dir = tempfile::tempdir().unwrap();
    let a = r#"{"id":"e1","timestamp":"2026-10-01T10:00:00.000Z","service":"sso","event_type":"sso_auth","organization":"o1"}"#;
    let b = r#"{"id":"e1","timestamp":"2026-10-01T10:00:00.001Z","service":"sso","event_type":"sso_auth","organization":"o1"}"#;
    let c = r#"{"id":"e1","timestamp":"2026-10-01T10:00:00.000Z","service":"sso","event_type":"sso_auth","organization":"o2"}"#;
    // The same instant written another way is the same event.
    let a_again = r#"{"id":"e1","timestamp":"2026-10-01T12:00:00+02:00","service":"sso","event_type":"sso_auth","organization":"o1","extra":1}"#;
    std::fs::write(dir.path().join("in.ndjson"), [a, b, c, a_again].join("\n")).unwrap();
    let out = summary(&run(dir.path(), &["ingest", "--json", "in.ndjson"]));
    assert_eq!(out["accepted"], 3);
    assert_eq!(out["duplicates"], 1);
    let rows = read_table(
        dir.path().join("insights-data").to_str().unwrap(),
        HashMap::new(),
    );
    let raws: Vec<_> = rows.iter().map(|r| r.raw.as_str()).collect();
    assert!(
        raws.contains(&a) && raws.contains(&b) && raws.contains(&c),
        "{raws:?}"
    );
}

#[test]
fn a_second_ingesting_process_is_refused_while_one_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = crate::support::insights()
        .current_dir(dir.path())
        .args(["ingest", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lock = dir.path().join("insights-data/_wal/LOCK");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !lock.exists() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(dir.path().join("empty.ndjson"), "").unwrap();
    let second = run(dir.path(), &["ingest", "empty.ndjson"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("in use by another ingesting process"),
        "{}",
        stderr(&second)
    );
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
}
