//! Tests: determinism, the shape and mix of the events, and the formatting helpers.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::Value;

use super::json::{Frac, escape_into, push_timestamp};
use super::*;

const AUTH_EVENTS: [&str; 6] = [
    "sso_auth",
    "user_login_attempt",
    "admin_login_attempt",
    "login_attempt",
    "radius_auth_attempt",
    "ldap_bind",
];

fn options(events: u64, seed: u64) -> GenerateOptions {
    GenerateOptions {
        events,
        days: 2,
        orgs: 3,
        seed,
        ..GenerateOptions::default()
    }
}

fn render(opts: &GenerateOptions) -> Vec<u8> {
    let mut out = Vec::new();
    let written = generate(opts, &mut out).expect("writing to a Vec cannot fail");
    assert_eq!(written, opts.events);
    out
}

fn parse(bytes: &[u8]) -> Vec<Value> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    assert_eq!(lines.pop(), Some(&b""[..]), "output ends with a newline");
    let parsed = lines.iter().enumerate().map(|(i, line)| {
        serde_json::from_slice(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1))
    });
    parsed.collect()
}

/// 20,000 events over two days in three organizations, rendered and parsed once.
fn sample() -> &'static (Vec<u8>, Vec<Value>) {
    static SAMPLE: OnceLock<(Vec<u8>, Vec<Value>)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let bytes = render(&options(20_000, 7));
        let events = parse(&bytes);
        (bytes, events)
    })
}

fn text<'a>(event: &'a Value, key: &str) -> &'a str {
    event[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {event}"))
}

fn nanos(timestamp: &str) -> i64 {
    let parsed = chrono::DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339 timestamp");
    parsed.timestamp_nanos_opt().expect("timestamp in range")
}

fn is_hex24(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_upper_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        })
}

#[test]
fn same_seed_gives_identical_bytes() {
    assert_eq!(render(&options(3_000, 7)), render(&options(3_000, 7)));
}

#[test]
fn different_seed_gives_different_bytes() {
    assert_ne!(render(&options(3_000, 7)), render(&options(3_000, 8)));
}

#[test]
fn writes_exactly_the_requested_number_of_lines() {
    for events in [0, 1, 1_999, 2_500] {
        let bytes = render(&options(events, 1));
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count() as u64, events);
        assert_eq!(parse(&bytes).len() as u64, events);
    }
}

#[test]
fn every_event_has_the_required_fields() {
    for event in &sample().1 {
        assert!(event.is_object());
        assert_eq!(text(event, "@version"), "1");
        let (id, event_type) = (text(event, "id"), text(event, "event_type"));
        if event_type == "radius_auth_attempt" {
            assert!(is_upper_uuid(id), "radius id {id}");
        } else {
            assert!(is_hex24(id), "id {id}");
        }
        assert!(is_hex24(text(event, "organization")));
        assert!(!text(event, "service").is_empty());
        nanos(text(event, "timestamp"));
        if event_type == "sso_auth" {
            assert!(event.get("success").is_none() && event["sso_token_success"].is_boolean());
        } else if AUTH_EVENTS.contains(&event_type) {
            assert!(event["success"].is_boolean(), "{event}");
        }
    }
}

#[test]
fn ids_are_unique() {
    let events = &sample().1;
    let ids: HashSet<&str> = events.iter().map(|e| text(e, "id")).collect();
    assert_eq!(ids.len(), events.len());
}

#[test]
fn timestamps_stay_in_range_and_about_one_percent_arrive_late() {
    let events = &sample().1;
    let start = nanos("2026-10-01T00:00:00Z");
    let end = start + 2 * 86_400 * 1_000_000_000;
    let (mut latest, mut late) = (i64::MIN, 0);
    for event in events {
        let t = nanos(text(event, "timestamp"));
        assert!((start..end).contains(&t), "{t} out of range");
        if t < latest {
            late += 1;
            assert!(
                latest - t <= 31 * 60 * 1_000_000_000,
                "at most ~30 minutes late"
            );
        }
        latest = latest.max(t);
    }
    let share = f64::from(late) / events.len() as f64;
    assert!((0.005..0.015).contains(&share), "late share {share}");
}

#[test]
fn auth_failure_share_is_between_3_and_8_percent() {
    let auth: Vec<&Value> = sample()
        .1
        .iter()
        .filter(|e| AUTH_EVENTS.contains(&text(e, "event_type")))
        .collect();
    let failed = auth.iter().filter(|e| {
        let outcome = if text(e, "event_type") == "sso_auth" {
            "sso_token_success"
        } else {
            "success"
        };
        e[outcome] == Value::Bool(false)
    });
    let share = failed.count() as f64 / auth.len() as f64;
    assert!((0.03..=0.08).contains(&share), "failure share {share}");
    assert!(
        auth.len() as f64 > 0.7 * sample().1.len() as f64,
        "sign-ins dominate"
    );
}

#[test]
fn mean_line_size_is_realistic() {
    let (bytes, events) = sample();
    let mean = bytes.len() as f64 / events.len() as f64;
    assert!((700.0..=860.0).contains(&mean), "mean line size {mean}");
}

#[test]
fn organizations_are_distinct_and_the_first_is_busiest() {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for event in &sample().1 {
        *counts.entry(text(event, "organization")).or_default() += 1;
    }
    let mut sizes: Vec<usize> = counts.values().copied().collect();
    sizes.sort_unstable();
    assert_eq!(sizes.len(), 3);
    assert!(
        sizes[2] > 2 * sizes[1],
        "first organization much busier: {sizes:?}"
    );
}

#[test]
fn brute_force_bursts_fail_from_attacker_addresses() {
    let attacks: Vec<&Value> = sample()
        .1
        .iter()
        .filter(|e| {
            e["client_ip"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("185.220.101."))
        })
        .collect();
    assert!(attacks.len() >= 20, "{} attack events", attacks.len());
    assert!(attacks.iter().all(|e| e["success"] == Value::Bool(false)));
    let countries: HashSet<&str> = attacks
        .iter()
        .filter_map(|e| e["geoip"]["country_code"].as_str())
        .collect();
    assert!(
        countries.iter().all(|c| ["RU", "CN", "KP"].contains(c)),
        "{countries:?}"
    );
}

#[test]
fn real_event_quirks_are_present() {
    let (bytes, events) = sample();
    let raw = String::from_utf8_lossy(bytes);
    for needle in [
        "\"payload_verion\":1",
        "\"auth_method\":\"api key\"",
        "\"auth_method\":\"other\"",
        "\"provider\":null",
        "\"provider\":\"\"",
        "\"user_agent\":{",
        "\"useragent\":{",
        "\"mdm_device_id\":",
    ] {
        assert!(raw.contains(needle), "missing {needle}");
    }
    let digits: HashSet<usize> = events
        .iter()
        .map(|e| {
            let t = text(e, "timestamp");
            t.find('.').map_or(0, |dot| t.len() - dot - 2)
        })
        .collect();
    for expected in [0, 3, 6, 8, 9] {
        assert!(
            digits.contains(&expected),
            "no timestamp with {expected} fractional digits"
        );
    }
    let mut kinds = HashSet::new();
    for change in events
        .iter()
        .filter_map(|e| e["changes"].as_array())
        .flatten()
    {
        for side in ["from", "to"] {
            if let Some(value) = change.get(side) {
                kinds.insert(std::mem::discriminant(value));
            }
        }
    }
    assert!(
        kinds.len() >= 5,
        "changes[].from/to use string, bool, null, array and object"
    );
    assert!(
        events
            .iter()
            .any(|e| e["service"] == "mdm" && e.to_string().len() > 4_000)
    );
}

#[test]
fn rejects_start_dates_beyond_nanosecond_timestamps() {
    let start = NaiveDate::from_ymd_opt(2300, 1, 1).expect("valid date");
    let opts = GenerateOptions {
        start,
        ..GenerateOptions::default()
    };
    let error = generate(&opts, &mut Vec::new()).expect_err("2300 is out of range");
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn escapes_quotes_backslashes_and_control_characters() {
    let mut out = Vec::new();
    escape_into(&mut out, "a\"b\\c\nd\u{1}é");
    assert_eq!(out, "a\\\"b\\\\c\\nd\\u0001é".as_bytes());
    let parsed: String = serde_json::from_slice(&[b"\"", &out[..], b"\""].concat()).expect("valid");
    assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
}

#[test]
fn formats_timestamps_with_each_precision() {
    let t = nanos("2026-10-01T08:16:06.495123450Z");
    let cases = [
        (Frac::Secs, "2026-10-01T08:16:06Z"),
        (Frac::Millis, "2026-10-01T08:16:06.495Z"),
        (Frac::Micros, "2026-10-01T08:16:06.495123Z"),
        (Frac::Nanos, "2026-10-01T08:16:06.49512345Z"),
    ];
    for (frac, expected) in cases {
        let mut out = Vec::new();
        push_timestamp(&mut out, t, frac);
        assert_eq!(String::from_utf8_lossy(&out), expected);
    }
    let mut out = Vec::new();
    push_timestamp(&mut out, nanos("1969-12-31T23:59:59.5Z"), Frac::Millis);
    assert_eq!(String::from_utf8_lossy(&out), "1969-12-31T23:59:59.500Z");
}
