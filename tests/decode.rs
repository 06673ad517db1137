//! Every documented service and every quirk of real events decodes into the typed columns, and
//! `raw` gives back each event byte for byte.

use std::collections::HashMap;

use crate::support::{fixture, lines, read_table, run, stderr, stdout};

#[test]
fn services_and_quirks_decode_into_typed_columns_and_raw_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let services = fixture("services.ndjson");
    let quirks = fixture("quirks.ndjson");
    let output = run(
        dir.path(),
        &[
            "ingest",
            services.to_str().unwrap(),
            quirks.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );

    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    let mut source_lines = HashMap::new();
    source_lines.insert("services.ndjson", lines(&services));
    source_lines.insert("quirks.ndjson", lines(&quirks));
    let total: usize = source_lines.values().map(Vec::len).sum();
    assert_eq!(
        expected.len(),
        total,
        "expected.json covers every fixture line"
    );
    assert!(
        stdout(&output).contains(&format!("accepted    {total:>12}")),
        "{}",
        stdout(&output)
    );

    let rows = read_table(
        dir.path().join("insights-data").to_str().unwrap(),
        HashMap::new(),
    );
    assert_eq!(rows.len(), total);
    let by_key: HashMap<_, _> = rows
        .iter()
        .map(|r| ((r.organization.clone(), r.id.clone(), r.timestamp_us), r))
        .collect();

    let mut services_seen = std::collections::BTreeSet::new();
    for want in &expected {
        let file = want["file"].as_str().unwrap();
        let line_no = want["line"].as_u64().unwrap() as usize;
        let line = &source_lines[file][line_no - 1];
        let key = (
            want["organization"].as_str().unwrap().to_owned(),
            want["id"].as_str().unwrap().to_owned(),
            want["timestamp_us"].as_i64().unwrap(),
        );
        let row = by_key
            .get(&key)
            .unwrap_or_else(|| panic!("{file}:{line_no} not stored"));
        assert_eq!(
            &row.raw,
            line.trim(),
            "{file}:{line_no}: raw must be byte for byte"
        );
        let columns: HashMap<_, _> = row.columns.iter().cloned().collect();
        for name in [
            "service",
            "event_type",
            "success",
            "client_ip",
            "username",
            "resource_name",
            "system_hostname",
            "application_name",
            "auth_method",
            "mfa",
            "error_message",
            "geoip_country_code",
        ] {
            let want_value = match &want[name] {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            assert_eq!(columns[name], want_value, "{file}:{line_no} column {name}");
        }
        services_seen.insert(columns["service"].clone().unwrap());
    }
    // The fixtures are written from the API spec; the services only JumpCloud's own client
    // names (`workflows`) have no documented events to write them from.
    let documented = insights_schemas::catalogue::SERVICE_CATALOGUE
        .iter()
        .filter(|s| s.source == insights_schemas::catalogue::ServiceSource::ApiSpec);
    for service in documented.map(|s| s.name) {
        assert!(
            services_seen.contains(service),
            "no fixture event of service {service}"
        );
    }
}

#[test]
fn json_array_and_gzip_inputs_store_the_same_events_as_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let services = lines(&fixture("services.ndjson"));
    let array = format!("[\n{}\n]\n", services.join(",\n"));
    std::fs::write(dir.path().join("events.json"), array).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, services.join("\n").as_bytes()).unwrap();
    std::fs::write(dir.path().join("events.ndjson.gz"), gz.finish().unwrap()).unwrap();

    let output = run(dir.path(), &["ingest", "--store", "a", "events.json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(dir.path(), &["ingest", "--store", "b", "events.ndjson.gz"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let a = read_table(dir.path().join("a").to_str().unwrap(), HashMap::new());
    let b = read_table(dir.path().join("b").to_str().unwrap(), HashMap::new());
    assert_eq!(a.len(), services.len());
    assert_eq!(a, b);
}

#[test]
fn org_bound_ingest_stamps_missing_organizations_and_rejects_others() {
    let dir = tempfile::tempdir().unwrap();
    let without =
        r#"{"id":"a","timestamp":"2026-10-01T10:00:00Z","service":"sso","event_type":"sso_auth"}"#;
    let same = r#"{"id":"b","timestamp":"2026-10-01T10:00:00Z","service":"sso","event_type":"sso_auth","organization":"org9"}"#;
    let other = r#"{"id":"c","timestamp":"2026-10-01T10:00:00Z","service":"sso","event_type":"sso_auth","organization":"org1"}"#;
    std::fs::write(
        dir.path().join("in.ndjson"),
        [without, same, other].join("\n"),
    )
    .unwrap();
    let output = run(dir.path(), &["ingest", "--org", "org9", "in.ndjson"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stdout(&output).contains("in.ndjson:3: event belongs to organization \"org1\" but this ingest is bound to \"org9\""),
        "{}",
        stdout(&output)
    );
    let rows = read_table(
        dir.path().join("insights-data").to_str().unwrap(),
        HashMap::new(),
    );
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.organization == "org9"));
    let stamped = rows.iter().find(|r| r.id == "a").unwrap();
    assert_eq!(
        stamped.raw, without,
        "raw stays as sent; the organization lives in its column"
    );
}
