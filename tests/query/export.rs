//! Exports and saved views: exact, quoted and flattened, and bounded in memory.

use super::*;

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
    // CSV: header, the typed columns, RFC 4180 quoting, UTC milliseconds
    let output = export(&["--format", "csv", "--org", A]);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header = header_of(&mut reader);
    assert_eq!(header[..3], ["timestamp", "id", "organization"]);
    assert!(!header.iter().any(|h| h == "raw"), "{header:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[2][column("error_message")], "bad, \"quoted\"\nline");
    assert_eq!(&rows[2][column("system_hostname")], "Computer123");
    assert_eq!(&rows[3][column("timestamp")], "2026-10-02T09:30:00.123Z");
    assert_eq!(&rows[3][column("initiated_by_email")], "Admin@Example.com");
    assert_eq!(&rows[1][column("success")], "false");
    assert_eq!(&rows[0][column("success")], "false");
    assert_eq!(&rows[5][column("mfa")], "");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("\"bad, \"\"quoted\"\"\nline\""), "{text}");
    assert!(text.ends_with("\r\n"));
    // CSV of chosen fields: exactly those columns, as the events hold them (non-strings as JSON)
    let output = export(&[
        "--format",
        "csv",
        "--org",
        A,
        "--fields",
        "id,outer.eap_type,changes,error_message",
    ]);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header = header_of(&mut reader);
    assert_eq!(header, ["id", "outer.eap_type", "changes", "error_message"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    assert_eq!(&rows[1][1], "PEAP");
    assert_eq!(
        &rows[3][2],
        r#"[{"field":"email","from":"a@x.io","to":"b@x.io"}]"#
    );
    assert_eq!(&rows[2][3], "bad, \"quoted\"\nline");
    assert_eq!(&rows[0][1], "");
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
    let (dir, input, store) = generated_store(BIG_EXPORT_EVENTS, "30");
    let out = dir.path().join("all.ndjson.gz");
    let summary = export_everything(&store, &out);
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
    let peak = peak_mib(&summary);
    assert!(peak < 256, "export peak memory {peak} MiB: {summary}");
    // A day of these events is larger than an export's sort memory: the days were sorted in
    // runs on disk.
    assert!(
        summary.contains("MiB spilled to temporary files"),
        "no day was sorted on disk: {summary}"
    );
    // The file holds every event once, in time order.
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap()),
        &mut text,
    )
    .unwrap();
    let mut exported_lines: Vec<&str> = text.lines().collect();
    assert_in_time_and_id_order(exported_lines.iter().copied());
    let input_text = std::fs::read_to_string(&input).unwrap();
    let mut input_lines: Vec<&str> = input_text.lines().collect();
    exported_lines.sort_unstable();
    input_lines.sort_unstable();
    assert!(
        exported_lines == input_lines,
        "the export differs from the input"
    );

    // With `fields`, each event's fields are encoded as it is read and whole days are sorted
    // at once: every event still comes once, in time order, in bounded memory.
    let out = dir.path().join("fields.csv");
    let output = insights_in(
        &store,
        &[
            "export",
            "--start",
            "2020-01-01T00:00:00Z",
            "--format",
            "csv",
            "--fields",
            "timestamp,id,initiated_by.username",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stderr(&output);
    let peak = peak_mib(&summary);
    assert!(
        peak < 256,
        "fields export peak memory {peak} MiB: {summary}"
    );
    let csv_text = std::fs::read_to_string(&out).unwrap();
    let mut rows = csv_text.lines();
    assert_eq!(rows.next(), Some("timestamp,id,initiated_by.username"));
    let mut ids = Vec::new();
    let mut previous = i64::MIN;
    for row in rows {
        let mut cells = row.split(',');
        let time = cells.next().unwrap();
        let micros = chrono::DateTime::parse_from_rfc3339(time)
            .unwrap_or_else(|e| panic!("{time}: {e}"))
            .timestamp_micros();
        assert!(micros / 1000 >= previous, "{row} comes out of time order");
        previous = micros / 1000;
        ids.push(cells.next().unwrap().to_owned());
    }
    // The generator writes `"@version":"1","id":"...` first in every event.
    let mut input_ids: Vec<String> = input_lines
        .iter()
        .map(|line| {
            let after = line.split_once(r#""id":""#).expect("an id").1;
            after.split_once('"').expect("a quoted id").0.to_owned()
        })
        .collect();
    ids.sort_unstable();
    input_ids.sort_unstable();
    assert!(ids == input_ids, "the fields export differs from the input");
}

/// One day many times larger than an export's sort memory: the day is sorted in runs on disk,
/// merged a bounded number at a time, in bounded memory, and comes out whole and in order.
#[test]
fn a_day_many_times_an_exports_memory_is_sorted_on_disk_in_bounded_memory() {
    let (dir, _input, store) = generated_store("600000", "1");
    let out = dir.path().join("day.ndjson");
    let summary = export_everything(&store, &out);
    assert!(
        summary.contains("MiB spilled to temporary files"),
        "the day was not sorted on disk: {summary}"
    );
    let peak = peak_mib(&summary);
    assert!(peak < 256, "export peak memory {peak} MiB: {summary}");
    let text = std::fs::read_to_string(&out).unwrap();
    let count = assert_in_time_and_id_order(text.lines());
    assert_eq!(count, 600_000);
}

/// A store of `events` generated events over `days` days, ingested: (its directory, the input,
/// the store).
fn generated_store(events: &str, days: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let input = crate::support::generate(
        dir.path(),
        "events.ndjson",
        &["--events", events, "--days", days],
    );
    let store = dir.path().join("store");
    crate::support::ingest_into(dir.path(), &input, &store);
    (dir, input, store)
}

/// Exports every event of `store` to `out` (gzipped if it ends in `.gz`); the summary line.
fn export_everything(store: &Path, out: &Path) -> String {
    let output = insights_in(
        store,
        &[
            "export",
            "--start",
            "2020-01-01T00:00:00Z",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    stderr(&output)
}

/// Checks that generated events come in (millisecond, id) order; how many there were. The
/// generator writes `"@version":"1","id":"...","timestamp":"..."` first in every event.
fn assert_in_time_and_id_order<'a>(lines: impl Iterator<Item = &'a str>) -> usize {
    let mut previous = (i64::MIN, "");
    let mut count = 0;
    for line in lines {
        let (_, after_id) = line.split_once(r#""id":""#).expect("an id");
        let (id, after) = after_id.split_once('"').expect("a quoted id");
        let (_, after_time) = after.split_once(r#""timestamp":""#).expect("a timestamp");
        let time = after_time.split_once('"').expect("a quoted timestamp").0;
        let millis = chrono::DateTime::parse_from_rfc3339(time)
            .unwrap_or_else(|e| panic!("{time}: {e}"))
            .timestamp_millis();
        assert!(
            (millis, id) > previous,
            "{id} at {time} comes out of (time, id) order"
        );
        previous = (millis, id);
        count += 1;
    }
    count
}

/// The peak memory an export's summary reports, in MiB.
fn peak_mib(summary: &str) -> u64 {
    summary
        .split("peak memory ")
        .nth(1)
        .expect("peak memory reported")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A CSV reader's header, as owned names.
fn header_of(reader: &mut csv::Reader<&[u8]>) -> Vec<String> {
    reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect()
}
