//! A corpus of bad input: each bad record is reported with its line and reason and quarantined,
//! every good record is kept, and nothing panics.

use std::collections::HashMap;
use std::io::Write;

use crate::support::{fixture, lines, read_table, run, stderr, stdout};

#[test]
fn bad_lines_are_reported_quarantined_and_good_lines_kept() {
    let dir = tempfile::tempdir().unwrap();
    let good = lines(&fixture("services.ndjson"));
    let good_line = |i: usize| good[i].as_bytes().to_vec();
    let huge = format!("{{\"id\":\"huge\",\"pad\":\"{}\"", "x".repeat(10 << 20));
    // (content, expected reason fragment); None for good lines.
    let corpus: Vec<(Vec<u8>, Option<&str>)> = vec![
        (good_line(0), None),
        (good[1].as_bytes()[..good[1].len() / 2].to_vec(), Some("invalid JSON")),
        (good_line(3), None),
        (br#"{"id":7,"timestamp":"2023-01-14T08:16:06Z","service":"sso","event_type":"sso_auth","organization":"o"}"#.to_vec(), Some("field `id` must be a string")),
        (br#"{"timestamp":"2023-01-14T08:16:06Z","service":"sso","event_type":"sso_auth","organization":"o"}"#.to_vec(), Some("missing required field `id`")),
        (br#"{"id":"x","timestamp":"yesterday","service":"sso","event_type":"sso_auth","organization":"o"}"#.to_vec(), Some("not an RFC 3339 date-time")),
        (br#"{"id":"x","timestamp":"2023-01-14T08:16:06Z","event_type":"sso_auth","organization":"o"}"#.to_vec(), Some("missing required field `service`")),
        (br#"["not","an","object"]"#.to_vec(), Some("expected a JSON object, found an array")),
        (b"{\"id\":\"\xff\xfe\"}".to_vec(), Some("invalid UTF-8")),
        (vec![0x00, 0x01, 0x02, 0x9c, 0xff, 0x10], Some("")),
        (huge.into_bytes(), Some("invalid JSON")),
        (good_line(4), None),
    ];
    let mut file = std::fs::File::create(dir.path().join("bad.ndjson")).unwrap();
    for (content, _) in &corpus {
        file.write_all(content).unwrap();
        file.write_all(b"\n").unwrap();
    }
    drop(file);
    std::fs::write(dir.path().join("empty.ndjson"), b"").unwrap();

    let output = run(
        dir.path(),
        &["ingest", "--json", "bad.ndjson", "empty.ndjson"],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "rejections exit non-zero: {}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let bad_count = corpus.iter().filter(|(_, r)| r.is_some()).count() as u64;
    assert_eq!(summary["accepted"], 3);
    assert_eq!(summary["rejected"], bad_count);
    let first = &summary["first_rejections"][0];
    assert_eq!(first["line"], 2);
    assert!(
        first["reason"].as_str().unwrap().contains("invalid JSON"),
        "{first}"
    );

    // Each bad line is in the quarantine with its line number and reason.
    let quarantine = dir.path().join("insights-data/_quarantine/rejected.ndjson");
    let entries: Vec<serde_json::Value> = lines(&quarantine)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len() as u64, bad_count);
    let expected_bad: Vec<(u64, &str)> = corpus
        .iter()
        .enumerate()
        .filter_map(|(i, (_, reason))| reason.map(|r| (i as u64 + 1, r)))
        .collect();
    for (entry, (line, fragment)) in entries.iter().zip(&expected_bad) {
        assert_eq!(entry["line"], *line);
        assert_eq!(entry["source"], "bad.ndjson");
        assert!(
            entry["reason"].as_str().unwrap().contains(fragment),
            "{entry}"
        );
        assert!(entry.get("text").is_some() || entry.get("hex").is_some());
    }
    // The invalid UTF-8 line is kept as hex, byte for byte.
    assert_eq!(entries[6]["hex"], "7b226964223a22fffe227d");
    // The 10 MB line is kept whole.
    assert_eq!(entries[8]["text"].as_str().unwrap().len(), (10 << 20) + 21);

    let rows = read_table(
        dir.path().join("insights-data").to_str().unwrap(),
        HashMap::new(),
    );
    let mut stored: Vec<_> = rows.iter().map(|r| r.raw.clone()).collect();
    let mut want = vec![good[0].clone(), good[3].clone(), good[4].clone()];
    stored.sort();
    want.sort();
    assert_eq!(stored, want);
}

#[test]
fn over_long_records_are_rejected_with_their_size() {
    let dir = tempfile::tempdir().unwrap();
    let good = lines(&fixture("services.ndjson"));
    let long = format!(
        "{},\"pad\":\"{}\"}}",
        &good[0][..good[0].len() - 1],
        "y".repeat(200_000)
    );
    std::fs::write(
        dir.path().join("in.ndjson"),
        format!("{long}\n{}\n", good[1]),
    )
    .unwrap();
    let output = run(
        dir.path(),
        &["ingest", "--max-record-bytes", "100000", "in.ndjson"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stdout(&output).contains("in.ndjson:1: line is"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("longer than the limit of 100000 bytes"));
    let rows = read_table(
        dir.path().join("insights-data").to_str().unwrap(),
        HashMap::new(),
    );
    assert_eq!(rows.len(), 1);
}

#[test]
fn missing_input_file_fails_before_ingesting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let services = fixture("services.ndjson");
    let output = run(
        dir.path(),
        &["ingest", services.to_str().unwrap(), "nope.ndjson"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot open input file nope.ndjson"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.path().join("insights-data/events").exists());
}

#[test]
fn binary_garbage_is_rejected_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("garbage.bin"), garbage).unwrap();
    let output = run(dir.path(), &["ingest", "garbage.bin"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"));
    assert!(
        stdout(&output).contains("accepted               0"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn bad_lines_of_a_large_batch_keep_their_line_numbers() {
    // A batch this large is decoded on two threads; the halves must come back in order.
    let dir = tempfile::tempdir().unwrap();
    let events = crate::support::generate(dir.path(), "events.ndjson", &["--events", "1000"]);
    let mut all = lines(&events);
    let bad_lines = [300usize, 900];
    for line in bad_lines {
        all[line - 1] = format!("not json {line}");
    }
    std::fs::write(dir.path().join("mixed.ndjson"), all.join("\n") + "\n").unwrap();
    let output = run(dir.path(), &["ingest", "--json", "mixed.ndjson"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(summary["accepted"], 998);
    assert_eq!(summary["rejected"], 2);
    let quarantine = dir.path().join("insights-data/_quarantine/rejected.ndjson");
    let entries: Vec<serde_json::Value> = lines(&quarantine)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reported: Vec<(u64, String)> = entries
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        reported,
        bad_lines
            .iter()
            .map(|&l| (l as u64, format!("not json {l}")))
            .collect::<Vec<_>>()
    );
    let rows = read_table(
        dir.path().join("insights-data").to_str().unwrap(),
        HashMap::new(),
    );
    let mut stored: Vec<_> = rows.iter().map(|r| r.raw.clone()).collect();
    let mut want: Vec<_> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| !bad_lines.contains(&(i + 1)))
        .map(|(_, l)| l.clone())
        .collect();
    stored.sort();
    want.sort();
    assert_eq!(stored, want);
}
