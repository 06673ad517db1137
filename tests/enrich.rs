//! Responder enrichment end to end, on crafted event histories.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{run, stderr};

const A: &str = "orga";
const B: &str = "orgb";
const AT: &str = "2026-10-31T00:00:00Z";

fn event(org: &str, id: &str, ts: &str, service: &str, event_type: &str, extra: Value) -> String {
    let mut event = json!({"id": id, "timestamp": ts, "service": service, "event_type": event_type, "organization": org});
    if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
        event.extend(extra);
    }
    event.to_string()
}

fn history() -> Vec<String> {
    let admin = json!({"type": "admin", "email": "admin@x.io", "id": "ADM"});
    vec![
        event(
            A,
            "e01",
            "2026-10-02T09:00:00Z",
            "directory",
            "user_create",
            json!({"initiated_by": admin,
            "resource": {"id": "U1", "type": "user", "username": "jdoe", "email": "jdoe@x.io"},
            "changes": [{"field": "username", "to": "jdoe"}, {"field": "firstname", "to": "John"}, {"field": "email", "to": "jdoe@x.io"}]}),
        ),
        event(
            A,
            "e02",
            "2026-10-05T09:00:00Z",
            "sso",
            "sso_auth",
            json!({"initiated_by": {"id": "U1", "type": "user", "username": "jdoe"},
            "sso_token_success": true, "application": {"name": "Slack"}, "client_ip": "1.1.1.1", "geoip": {"country_code": "US"}, "mfa": true}),
        ),
        event(
            A,
            "e03",
            "2026-10-06T09:00:00Z",
            "radius",
            "radius_auth_attempt",
            json!({"username": "jdoe", "success": false,
            "client_ip": "2.2.2.2", "geoip": {"country_code": "US"}}),
        ),
        event(
            A,
            "e04",
            "2026-10-10T09:00:00Z",
            "directory",
            "user_update",
            json!({"initiated_by": admin,
            "resource": {"id": "U1", "type": "user", "username": "jdoe"},
            "changes": [{"field": "username", "from": "jdoe", "to": "john.doe"}]}),
        ),
        event(
            A,
            "e05",
            "2026-10-11T09:00:00Z",
            "directory",
            "group_update",
            json!({"initiated_by": {"type": "admin", "email": "jdoe@x.io", "id": "ADM2"},
            "resource": {"id": "G1", "type": "user_group", "name": "Engineering"}, "changes": [{"field": "name", "to": "Engineering"}]}),
        ),
        event(
            A,
            "e06",
            "2026-10-12T09:00:00Z",
            "systems",
            "user_login_attempt",
            json!({"username": "john.doe", "success": true,
            "system": {"id": "S1", "hostname": "Computer123"}, "client_ip": "3.3.3.3", "geoip": {"country_code": "US"}}),
        ),
        event(
            A,
            "e07",
            "2026-10-13T09:00:00Z",
            "systems",
            "user_login_attempt",
            json!({"username": "asmith", "success": true,
            "system": {"id": "S1", "hostname": "Computer123"}, "client_ip": "9.9.9.9"}),
        ),
        event(
            A,
            "e08",
            "2026-10-13T10:00:00Z",
            "systems",
            "user_login_attempt",
            json!({"username": "asmith", "success": true,
            "system": {"id": "S1", "hostname": "Computer123"}, "client_ip": "9.9.9.9"}),
        ),
        event(
            A,
            "e09",
            "2026-10-14T09:00:00Z",
            "systems",
            "user_login_attempt",
            json!({"username": "mallory", "success": false,
            "system": {"id": "S1", "hostname": "Computer123"}, "client_ip": "8.8.8.8"}),
        ),
        event(
            A,
            "e10",
            "2026-10-15T09:00:00Z",
            "systems",
            "command_result",
            json!({"system": {"id": "S1", "hostname": "Computer123"},
            "initiated_by": admin, "command_result": {"exit_code": 0, "output": "patched"}}),
        ),
        event(
            A,
            "e11",
            "2026-10-16T09:00:00Z",
            "mdm",
            "mdm_command_result",
            json!({"system": {"id": "S1", "hostname": "Computer123"},
            "status": "Acknowledged", "request_type": "DeviceInformation"}),
        ),
        event(
            A,
            "e12",
            "2026-10-17T09:00:00Z",
            "directory",
            "system_update",
            json!({"initiated_by": admin,
            "resource": {"id": "S1", "type": "system", "hostname": "Computer123", "displayName": "Finance laptop", "os": "macOS 15"},
            "changes": [{"field": "displayName", "to": "Finance laptop"}]}),
        ),
        event(
            A,
            "e13",
            "2026-10-20T09:00:00Z",
            "directory",
            "user_suspended",
            json!({"initiated_by": admin,
            "resource": {"id": "U1", "type": "user", "username": "john.doe"},
            "changes": [{"field": "suspended", "from": false, "to": true}]}),
        ),
        event(
            A,
            "e14",
            "2026-10-21T09:00:00Z",
            "sso",
            "sso_auth",
            json!({"initiated_by": {"id": "U1", "type": "user", "username": "john.doe"},
            "sso_token_success": true, "application": {"name": "Slack"}, "client_ip": "1.1.1.1", "geoip": {"country_code": "US"}}),
        ),
        event(
            A,
            "e15",
            "2026-10-24T09:00:00Z",
            "ldap",
            "ldap_bind",
            json!({"username": "john.doe", "success": false, "client_ip": "2.2.2.2", "geoip": {"country_code": "US"}}),
        ),
        event(
            A,
            "e16",
            "2026-10-30T12:00:00Z",
            "radius",
            "radius_auth_attempt",
            json!({"username": "john.doe", "success": false, "client_ip": "5.5.5.5", "geoip": {"country_code": "DE"}}),
        ),
        event(
            A,
            "e17",
            "2026-10-30T12:01:00Z",
            "radius",
            "radius_auth_attempt",
            json!({"username": "john.doe", "success": false, "client_ip": "6.6.6.6", "geoip": {"country_code": "DE"}}),
        ),
        event(
            A,
            "e18",
            "2026-10-30T12:02:00Z",
            "radius",
            "radius_auth_attempt",
            json!({"username": "john.doe", "success": false, "client_ip": "7.7.7.7", "geoip": {"country_code": "FR"}}),
        ),
        event(
            B,
            "b01",
            "2026-10-21T09:00:00Z",
            "sso",
            "sso_auth",
            json!({"initiated_by": {"id": "U1", "type": "user", "username": "jdoe"},
            "sso_token_success": true, "client_ip": "4.4.4.4", "application": {"name": "Other"}}),
        ),
        event(
            B,
            "b02",
            "2026-10-21T09:00:00Z",
            "systems",
            "user_login_attempt",
            json!({"username": "eve", "success": true,
            "system": {"id": "S9", "hostname": "Computer123"}}),
        ),
    ]
}

fn store() -> (tempfile::TempDir, PathBuf) {
    store_of(history())
}

fn store_of(events: Vec<String>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("history.ndjson");
    std::fs::write(&input, events.join("\n") + "\n").unwrap();
    let store = dir.path().join("store");
    crate::support::ingest_into(dir.path(), &input, &store);
    (dir, store)
}

fn enrich(store: &Path, org: &str, kind: &str, who: &str) -> Result<Value, String> {
    enrich_in(store, org, &["--at", AT], kind, who)
}

/// `insights enrich` with these window options (`--at`, `--days`).
fn enrich_in(
    store: &Path,
    org: &str,
    window: &[&str],
    kind: &str,
    who: &str,
) -> Result<Value, String> {
    let mut args = vec!["enrich", "--store", store.to_str().unwrap(), "--org", org];
    args.extend_from_slice(window);
    args.extend(["--format", "json", kind, who]);
    let output = run(store.parent().unwrap(), &args);
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        Err(stderr(&output))
    }
}

#[test]
fn user_enrichment_pins_every_attribute() {
    let (_dir, store) = store();
    let report = enrich(&store, A, "user", "jdoe").unwrap();
    assert_eq!(report["id"], "U1");
    assert_eq!(
        report["username"], "john.doe",
        "the rename is followed: {report:#}"
    );
    assert_eq!(report["email"], "jdoe@x.io");
    assert_eq!(report["attributes"]["firstname"], "John");
    assert_eq!(report["attributes"]["username"], "john.doe");
    assert_eq!(report["attributes"]["suspended"], true);
    assert_eq!(report["state"], "suspended");
    assert_eq!(report["state_since"], "2026-10-20T09:00:00.000Z");
    assert_eq!(report["mfa_seen"], true);
    assert_eq!(
        report["last_success"]["sso"]["time"],
        "2026-10-21T09:00:00.000Z"
    );
    assert_eq!(
        report["last_success"]["systems"]["time"],
        "2026-10-12T09:00:00.000Z"
    );
    assert_eq!(
        report["last_failure"]["radius"]["time"],
        "2026-10-30T12:02:00.000Z"
    );
    assert_eq!(report["last_failure"]["ldap"]["client_ip"], "2.2.2.2");
    assert_eq!(report["failures_24h"], 3);
    assert_eq!(report["failures_7d"], 4);
    let ips: Vec<(&str, u64)> = report["client_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["value"].as_str().unwrap(), t["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(ips[0], ("1.1.1.1", 2));
    assert!(ips.contains(&("2.2.2.2", 2)) && ips.len() == 6, "{ips:?}");
    assert!(
        !ips.iter().any(|(ip, _)| *ip == "4.4.4.4"),
        "another organization's event leaked"
    );
    assert_eq!(
        report["client_ips"][0]["first_seen"],
        "2026-10-05T09:00:00.000Z"
    );
    assert_eq!(
        report["client_ips"][0]["last_seen"],
        "2026-10-21T09:00:00.000Z"
    );
    let countries: Vec<&str> = report["countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["value"].as_str().unwrap())
        .collect();
    assert_eq!(countries, ["US", "DE", "FR"]);
    assert_eq!(report["devices"][0]["value"], "Computer123");
    assert_eq!(
        report["applications"],
        json!([{"value": "Slack", "count": 2, "first_seen": "2026-10-05T09:00:00.000Z", "last_seen": "2026-10-21T09:00:00.000Z"}])
    );
    assert_eq!(
        report["radius"],
        json!({"events": 4, "failures": 4, "last": "2026-10-30T12:02:00.000Z"})
    );
    assert_eq!(report["ldap"]["events"], 1);
    let to_user: Vec<&str> = report["changes_to_user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(to_user, ["user_suspended", "user_update", "user_create"]);
    assert_eq!(report["changes_to_user"][0]["party"], "admin@x.io");
    assert_eq!(report["changes_by_user"][0]["event_type"], "group_update");
    assert_eq!(
        report["changes_by_user"][0]["party"],
        "user_group Engineering"
    );
    let signals = report["signals"].to_string();
    assert!(signals.contains("3 client IPs"), "{signals}");
    assert!(
        signals.contains("new country") && signals.contains("DE") && signals.contains("FR"),
        "{signals}"
    );
    assert!(
        signals.contains("after the user was suspended"),
        "{signals}"
    );

    // every identifier finds the same user, case-insensitively
    for who in ["john.doe", "JOHN.DOE", "JDoe@X.io", "U1"] {
        let other = enrich(&store, A, "user", who).unwrap();
        assert_eq!(other["id"], "U1", "{who}");
        assert_eq!(other["events"], report["events"], "{who}");
    }
    // the window: 12 days back sees neither the creation nor the early logins
    let recent = enrich_in(&store, A, &["--at", AT, "--days", "12"], "user", "john.doe").unwrap();
    assert_eq!(recent["changes_to_user"].as_array().unwrap().len(), 1);
    assert!(recent["last_success"]["systems"].is_null());

    // not found says what was searched; another organization's user is not found
    let missing = enrich(&store, A, "user", "nobody").unwrap_err();
    assert!(
        missing.contains("\"nobody\"") && missing.contains("searched usernames"),
        "{missing}"
    );
    let isolated = enrich(&store, B, "user", "john.doe").unwrap_err();
    assert!(isolated.contains("no user"), "{isolated}");
    let b = enrich(&store, B, "user", "jdoe").unwrap();
    assert_eq!(b["client_ips"][0]["value"], "4.4.4.4");
    assert_eq!(b["events"], 1);
}

#[test]
fn host_enrichment_pins_every_attribute() {
    let (_dir, store) = store();
    let report = enrich(&store, A, "host", "Computer123").unwrap();
    assert_eq!(report["id"], "S1");
    assert_eq!(report["hostname"], "Computer123");
    assert_eq!(report["display_name"], "Finance laptop");
    assert_eq!(report["os"], "macOS 15");
    let users: Vec<(&str, u64)> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["value"].as_str().unwrap(), t["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(users, [("asmith", 2), ("john.doe", 1)]);
    assert_eq!(report["users"][0]["last_seen"], "2026-10-13T10:00:00.000Z");
    let ips: Vec<&str> = report["source_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["value"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["9.9.9.9", "3.3.3.3", "8.8.8.8"]);
    assert_eq!(report["failed_logins"], 1);
    assert_eq!(report["last_failed_login"]["client_ip"], "8.8.8.8");
    assert_eq!(
        report["commands"][0]["changes"],
        json!({"exit_code": 0, "output": "patched"})
    );
    assert_eq!(report["mdm_results"][0]["changes"], "Acknowledged");
    assert_eq!(report["admin_changes"][0]["event_type"], "system_update");
    assert_eq!(report["last_activity"], "2026-10-17T09:00:00.000Z");
    for which in ["computer123", "S1", "finance LAPTOP"] {
        assert_eq!(
            enrich(&store, A, "host", which).unwrap()["id"],
            "S1",
            "{which}"
        );
    }
    let missing = enrich(&store, A, "host", "Nowhere9").unwrap_err();
    assert!(
        missing.contains("\"Nowhere9\"") && missing.contains("searched hostnames"),
        "{missing}"
    );
    // the same hostname in another organization is another host
    let other = enrich(&store, B, "host", "Computer123").unwrap();
    assert_eq!(other["id"], "S9");
    assert_eq!(other["users"][0]["value"], "eve");
}

/// A host's report lists the newest details of each kind, read again by time in one look whose
/// lists name at most 20 times each: 29 distinct times here, so the newest are in the second
/// list; two commands share one time and both are listed, each with its own result.
#[test]
fn host_details_are_the_newest_of_each_kind_however_many_times_they_span() {
    let host = json!({"id": "S7", "hostname": "Server7"});
    let mut events = Vec::new();
    for day in 1..=12 {
        events.push(event(
            A,
            &format!("c{day:02}"),
            &format!("2026-10-{day:02}T09:00:00Z"),
            "systems",
            "command_result",
            json!({"system": host, "command_result": {"exit_code": day}}),
        ));
        events.push(event(
            A,
            &format!("a{day:02}"),
            &format!("2026-10-{day:02}T10:00:00Z"),
            "directory",
            "system_update",
            json!({"resource": {"type": "system", "id": "S7", "name": "Server7"},
            "changes": [{"field": "description", "to": format!("v{day}")}]}),
        ));
        events.push(event(
            A,
            &format!("m{day:02}"),
            &format!("2026-10-{day:02}T11:00:00Z"),
            "mdm",
            "mdm_command_result",
            json!({"system": host, "status": format!("S{day}")}),
        ));
    }
    events.push(event(
        A,
        "c12b",
        "2026-10-12T09:00:00Z",
        "systems",
        "command_result",
        json!({"system": host, "command_result": {"exit_code": 99}}),
    ));
    let (_dir, store) = store_of(events);
    let report = enrich(&store, A, "host", "server7").unwrap();
    let mdm: Vec<&str> = report["mdm_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["changes"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (3..=12).rev().map(|day| format!("S{day}")).collect();
    assert_eq!(
        mdm, expected,
        "the newest MDM results, from the second list of times"
    );
    let commands: Vec<(&str, i64)> = report["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["time"].as_str().unwrap(),
                c["changes"]["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(String, i64)> = vec![("2026-10-12T09:00:00.000Z".into(), 99)];
    expected.extend(
        (4..=12)
            .rev()
            .map(|day| (format!("2026-10-{day:02}T09:00:00.000Z"), day)),
    );
    assert_eq!(
        commands,
        expected
            .iter()
            .map(|(t, code)| (t.as_str(), *code))
            .collect::<Vec<_>>()
    );
    let admin: Vec<&str> = report["admin_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["time"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (3..=12)
        .rev()
        .map(|day| format!("2026-10-{day:02}T10:00:00.000Z"))
        .collect();
    assert_eq!(admin, expected);
    assert!(
        report["admin_changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["changes"].is_null()),
        "{}",
        report["admin_changes"]
    );

    // A window that starts and ends inside a day holds only the events inside it: not the
    // first day's earlier ones (c03 at 09:00), not the last day's later ones (m05 at 11:00).
    let window = ["--at", "2026-10-05T10:00:00Z", "--days", "2"];
    let narrow = enrich_in(&store, A, &window, "host", "server7").unwrap();
    assert_eq!(narrow["events"], 7, "{narrow}");
    let times = |kind: &str| -> Vec<String> {
        narrow[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["time"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        times("commands"),
        ["2026-10-05T09:00:00.000Z", "2026-10-04T09:00:00.000Z"]
    );
    assert_eq!(
        times("mdm_results"),
        ["2026-10-04T11:00:00.000Z", "2026-10-03T11:00:00.000Z"]
    );
    assert_eq!(
        times("admin_changes"),
        [
            "2026-10-05T10:00:00.000Z",
            "2026-10-04T10:00:00.000Z",
            "2026-10-03T10:00:00.000Z"
        ]
    );
    assert_eq!(narrow["last_activity"], "2026-10-05T10:00:00.000Z");
}

/// A list that shows only its busiest or newest entries says how many there are in all, in the
/// JSON answer and in the terminal outline.
#[test]
fn truncated_lists_say_how_many_entries_there_are() {
    let host = json!({"id": "S5", "hostname": "Busy5"});
    let mut events = Vec::new();
    for user in 0..280 {
        events.push(event(
            A,
            &format!("l{user:03}"),
            &format!("2026-10-10T{:02}:{:02}:00Z", user / 60, user % 60),
            "systems",
            "user_login_attempt",
            json!({"username": format!("user{user:03}"), "success": true, "system": host,
                "client_ip": format!("10.0.{}.{}", user / 100, user % 100)}),
        ));
    }
    for n in 0..13 {
        events.push(event(
            A,
            &format!("c{n:02}"),
            &format!("2026-10-11T09:{n:02}:00Z"),
            "systems",
            "command_result",
            json!({"system": host, "command_result": {"exit_code": n}}),
        ));
    }
    let (_dir, store) = store_of(events);
    let report = enrich(&store, A, "host", "busy5").unwrap();
    assert_eq!(report["users"].as_array().unwrap().len(), 25);
    assert_eq!(report["source_ips"].as_array().unwrap().len(), 25);
    assert_eq!(report["commands"].as_array().unwrap().len(), 10);
    assert_eq!(
        report["totals"],
        json!({"users": 280, "source_ips": 280, "commands": 13, "mdm_results": 0,
            "admin_changes": 0})
    );
    let output = run(
        store.parent().unwrap(),
        &[
            "enrich",
            "--store",
            store.to_str().unwrap(),
            "--org",
            A,
            "--at",
            AT,
            "host",
            "Busy5",
        ],
    );
    let outline = String::from_utf8(output.stdout).unwrap();
    assert!(outline.contains("\nusers (25 of 280):\n"), "{outline}");
    assert!(outline.contains("\ncommands (10 of 13):\n"), "{outline}");
    assert!(!outline.contains("totals"), "{outline}");

    let user = enrich(&store, A, "user", "user007").unwrap();
    assert_eq!(user["totals"]["client_ips"], 1);
    assert_eq!(user["client_ips"].as_array().unwrap().len(), 1);
}

/// Renames are followed however the chain is found: the newest name finds the last rename and
/// the user's id; the id finds the earlier renames (in the scan of the user's events), and the
/// first name they reveal finds the logins made under it.
#[test]
fn a_chain_of_renames_is_followed_back_to_the_first_name() {
    let admin = json!({"type": "admin", "email": "admin@x.io", "id": "ADM"});
    let rename = |id: &str, ts: &str, event_type: &str, to: &str, from: Option<&str>| {
        let mut change = json!({"field": "username", "to": to});
        if let Some(from) = from {
            change["from"] = json!(from);
        }
        event(
            A,
            id,
            ts,
            "directory",
            event_type,
            json!({"initiated_by": admin,
                "resource": {"id": "U7", "type": "user", "username": to},
                "changes": [change]}),
        )
    };
    let login = |id: &str, ts: &str, username: &str, success: bool, ip: &str| {
        event(
            A,
            id,
            ts,
            "radius",
            "radius_auth_attempt",
            json!({"username": username, "success": success, "client_ip": ip}),
        )
    };
    let events = vec![
        rename("r1", "2026-10-02T09:00:00Z", "user_create", "alice.a", None),
        login("l1", "2026-10-03T09:00:00Z", "alice.a", false, "9.9.9.9"),
        rename(
            "r2",
            "2026-10-04T09:00:00Z",
            "user_update",
            "bob.b",
            Some("alice.a"),
        ),
        login("l2", "2026-10-05T09:00:00Z", "bob.b", true, "8.8.8.8"),
        rename(
            "r3",
            "2026-10-06T09:00:00Z",
            "user_update",
            "carol.c",
            Some("bob.b"),
        ),
        login("l3", "2026-10-07T09:00:00Z", "carol.c", true, "7.7.7.7"),
        login("x1", "2026-10-07T10:00:00Z", "dave.d", false, "6.6.6.6"),
    ];
    let (_dir, store) = store_of(events);
    for who in ["carol.c", "alice.a", "U7"] {
        let report = enrich(&store, A, "user", who).unwrap();
        assert_eq!(report["id"], "U7", "{who}: {report:#}");
        assert_eq!(report["username"], "carol.c", "{who}: {report:#}");
        assert_eq!(report["events"], 6, "{who}: {report:#}");
        assert_eq!(
            report["last_failure"]["radius"]["client_ip"], "9.9.9.9",
            "{who}: the login under the first name is the user's: {report:#}"
        );
        let mut ips: Vec<&str> = report["client_ips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["value"].as_str().unwrap())
            .collect();
        ips.sort_unstable();
        assert_eq!(ips, ["7.7.7.7", "8.8.8.8", "9.9.9.9"], "{who}");
        assert_eq!(report["totals"]["changes_to_user"], 3, "{who}");
    }
}
