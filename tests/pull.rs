//! `insights pull` against a real DI API: `insights serve` on a loopback port holding
//! generated events is the upstream; the puller fills a second store. Crashes, faults on the
//! wire, wrong keys and the pull inside `insights serve` are covered.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use crate::support::proxy::{Fault, Proxy};
use crate::support::server::{Server, key};
use crate::support::{
    StoredEvent, generate, ingest_into, insights, read_events, run, stderr, stdout,
};

/// Timestamps of the crafted events that share one millisecond: more than a page holds.
const SAME_MS: &str = "2026-10-01T12:00:00.123Z";
const SAME_MS_EVENTS: usize = 10_050;

/// An upstream store of generated events of three organizations, plus more events in one
/// millisecond than one page holds, served by `insights serve`; and a read key for every
/// organization.
struct Upstream {
    dir: tempfile::TempDir,
    store: PathBuf,
    orgs: Vec<String>,
    server: Server,
    read: String,
}

impl Upstream {
    /// The server's socket address, for a proxy in front of it.
    fn address(&self) -> std::net::SocketAddr {
        self.server
            .base
            .trim_start_matches("http://")
            .parse()
            .unwrap()
    }
}

fn upstream(events: &str) -> Upstream {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("upstream");
    let input = generate(
        dir.path(),
        "events.ndjson",
        &[
            "--events", events, "--days", "2", "--orgs", "3", "--seed", "5",
        ],
    );
    let text = std::fs::read_to_string(&input).unwrap();
    let orgs: BTreeSet<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["organization"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let orgs: Vec<String> = orgs.into_iter().collect();
    assert_eq!(orgs.len(), 3);
    let same_ms: String = (0..SAME_MS_EVENTS)
        .map(|i| event(&orgs[0], &format!("same-ms-{i:05}"), SAME_MS) + "\n")
        .collect();
    let crafted = dir.path().join("same-ms.ndjson");
    std::fs::write(&crafted, same_ms).unwrap();
    ingest_into(dir.path(), &input, &store);
    ingest_into(dir.path(), &crafted, &store);
    let read = key(&store, "*", "read");
    let server = Server::start(&store, &[]);
    Upstream {
        dir,
        store,
        orgs,
        server,
        read,
    }
}

fn event(org: &str, id: &str, timestamp: &str) -> String {
    json!({"id": id, "timestamp": timestamp, "service": "directory",
        "event_type": "user_login_attempt", "organization": org, "success": true,
        "initiated_by": {"type": "user", "username": "pulled"}})
    .to_string()
}

/// `insights pull --once --json` of `orgs` from `base` into `store`, with `key` in JC_API_KEY.
/// Without `--since`, a first run reaches back 90 days, which covers the generated events.
fn pull_command(
    dir: &Path,
    store: &Path,
    base: &str,
    key: &str,
    orgs: &[String],
    extra: &[&str],
) -> Command {
    let mut command = insights();
    command.current_dir(dir).env("JC_API_KEY", key).args([
        "pull",
        "--store",
        store.to_str().unwrap(),
        "--base-url",
        base,
        "--once",
        "--json",
    ]);
    for org in orgs {
        command.args(["--org", org]);
    }
    command.args(extra);
    command
}

fn pull(dir: &Path, store: &Path, base: &str, key: &str, orgs: &[String], extra: &[&str]) -> Value {
    let output = pull_command(dir, store, base, key, orgs, extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "pull failed: {}", stderr(&output));
    serde_json::from_str(stdout(&output).trim()).unwrap()
}

/// The events of a store, sorted, with a check that none is stored twice.
fn stored(store: &Path) -> Vec<StoredEvent> {
    let mut events = read_events(store);
    events.sort();
    let identities: BTreeSet<_> = events
        .iter()
        .map(|e| (&e.organization, &e.id, e.timestamp_us))
        .collect();
    assert_eq!(identities.len(), events.len(), "an event is stored twice");
    events
}

fn assert_same(upstream: &Path, pulled: &Path) {
    let (expected, got) = (stored(upstream), stored(pulled));
    assert_eq!(expected.len(), got.len(), "event counts differ");
    // Equal rows: organization, id, timestamp and raw JSON byte for byte.
    assert!(expected == got, "the pulled store differs from upstream");
}

fn ingest_upstream(up: &Upstream, org: &str, lines: &[String]) {
    let ingest = key(&up.store, org, "ingest");
    let body = lines.join("\n");
    let answer: Value = crate::support::client::runtime().block_on(async {
        let response = reqwest::Client::new()
            .post(up.server.url("/api/v1/ingest"))
            .header("x-api-key", ingest)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    });
    assert_eq!(answer["accepted"], lines.len(), "{answer}");
}

#[test]
fn pull_copies_every_event_verbatim_and_late_events_arrive_with_the_next_run_once() {
    let up = upstream("20000");
    let down = up.dir.path().join("pulled");
    let base = up.server.base.clone();
    let all = 20_000 + SAME_MS_EVENTS as u64;
    let backfill = |dir: &Path| {
        pull(
            dir,
            &down,
            &base,
            &up.read,
            &up.orgs,
            &["--since", "2026-09-01T00:00:00Z", "--lag", "1s"],
        )
    };
    let incremental = |dir: &Path| pull(dir, &down, &base, &up.read, &up.orgs, &["--lag", "1s"]);
    let first = backfill(up.dir.path());
    assert_eq!(first["stored"], all, "{first}");
    assert_eq!(first["duplicates"], 0);
    assert_eq!(first["quarantined"], 0);
    assert!(first["pages"].as_u64().unwrap() >= 5, "{first}");
    assert_same(&up.store, &down);
    // One checkpoint per organization, in the store: the window ended a second before the run.
    let checkpoint = |org: &str| -> i64 {
        let path = down.join("pull").join(org).join("all.json");
        let value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        value["through_us"].as_i64().unwrap()
    };
    let through = checkpoint(&up.orgs[1]);
    let now = Utc::now().timestamp_micros();
    assert!(
        through <= now - 1_000_000 && through > now - 120_000_000,
        "{through}"
    );

    // New events upstream: after the checkpoint, late ones (timestamped before it but inside
    // the overlap), and some beyond the overlap, which only a backfill reaches.
    let org = &up.orgs[1];
    let at = |us: i64| insights_schemas::format_timestamp_us(us);
    let now = Utc::now().timestamp_micros();
    let new: Vec<String> = (0..30)
        .map(|i| event(org, &format!("new-{i}"), &at(now - 500_000)))
        .collect();
    let late: Vec<String> = (0..20)
        .map(|i| event(org, &format!("late-{i}"), &at(through - 300_000_000)))
        .collect();
    let beyond: Vec<String> = (0..5)
        .map(|i| event(org, &format!("beyond-{i}"), &at(through - 1_800_000_000)))
        .collect();
    ingest_upstream(&up, org, &[new, late, beyond].concat());
    std::thread::sleep(Duration::from_secs(2));
    let second = incremental(up.dir.path());
    assert_eq!(
        second["stored"], 50,
        "the new and the late events, once: {second}"
    );
    assert!(checkpoint(org) > through, "the checkpoint moves on");
    let third = incremental(up.dir.path());
    assert_eq!(third["stored"], 0, "{third}");
    assert_eq!(
        third["duplicates"], 50,
        "the overlap is read again and dropped: {third}"
    );
    assert_eq!(stored(&down).len() as u64, all + 50);

    // A backfill reaches what lay beyond the overlap; then the stores are equal.
    let last = backfill(up.dir.path());
    assert_eq!(last["stored"], 5, "{last}");
    assert_same(&up.store, &down);
}

#[test]
fn sigkill_of_the_puller_at_random_points_neither_loses_nor_duplicates() {
    let up = upstream("60000");
    let down = up.dir.path().join("pulled");
    // Small pages, each checkpointed, so that a run has many points to die at: before, while
    // and after a page is stored, and while its checkpoint is written.
    let extra = ["--limit", "2000", "--lag", "1s", "--checkpoint-every", "0s"];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut killed = 0;
    for round in 0..6 {
        let mut child = pull_command(
            up.dir.path(),
            &down,
            &up.server.base,
            &up.read,
            &up.orgs,
            &extra,
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(200 + seed % 2500);
        let started = Instant::now();
        while started.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        eprintln!("round {round}: killed after {delay:?}");
    }
    assert!(killed >= 5, "only {killed} rounds were killed mid-pull");
    let last = pull(
        up.dir.path(),
        &down,
        &up.server.base,
        &up.read,
        &up.orgs,
        &extra,
    );
    assert_eq!(last["quarantined"], 0, "{last}");
    assert_same(&up.store, &down);
}

#[test]
fn faults_on_the_wire_are_retried_and_429_waits_as_told() {
    let up = upstream("5000");
    let down = up.dir.path().join("pulled");

    let script = vec![
        Fault::RateLimited(2),
        Fault::Pass,
        Fault::Unavailable,
        Fault::Reset,
        Fault::Pass,
        Fault::CutShort,
        Fault::BrokenJson,
        Fault::Slow(1500),
        Fault::Pass,
        Fault::RateLimited(1),
    ];
    let proxy = Proxy::start(up.address(), script);
    let started = Instant::now();
    let report = pull(
        up.dir.path(),
        &down,
        &proxy.url(),
        &up.read,
        &up.orgs,
        &["--limit", "3000"],
    );
    assert_same(&up.store, &down);
    let faults = proxy
        .arrivals()
        .iter()
        .filter(|(_, fault)| *fault != Fault::Pass && !matches!(fault, Fault::Slow(_)))
        .count() as u64;
    assert_eq!(report["retries"], faults, "{report}");
    assert_eq!(report["stored"], 5000 + SAME_MS_EVENTS as u64);
    // After each 429 no request came sooner than Retry-After said, but for one the other
    // reader (two by default) had already sent: a 429 pauses every reader.
    let arrivals = proxy.arrivals();
    for (n, (at, fault)) in arrivals.iter().enumerate() {
        if let Fault::RateLimited(seconds) = fault {
            let early: Vec<Duration> = arrivals[n + 1..]
                .iter()
                .map(|(later, _)| *later - *at)
                .filter(|waited| *waited < Duration::from_secs(*seconds))
                .collect();
            assert!(
                early.len() <= 1 && early.iter().all(|w| *w < Duration::from_millis(500)),
                "requests {early:?} after a 429 of {seconds} s"
            );
        }
    }
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[test]
fn an_event_that_does_not_decode_is_quarantined_and_the_pull_goes_on() {
    let up = upstream("1000");
    let down = up.dir.path().join("pulled");

    // One reader: the proxy alters the first answer, which with two readers may be that of a
    // slice without events.
    let proxy = Proxy::start(up.address(), vec![Fault::BadEvent]);
    let output = pull_command(
        up.dir.path(),
        &down,
        &proxy.url(),
        &up.read,
        &up.orgs,
        &["--readers", "1"],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(report["quarantined"], 1, "{report}");
    assert_eq!(
        report["stored"],
        1000 + SAME_MS_EVENTS as u64 - 1,
        "{report}"
    );
    let reason = report["first_rejections"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("timestamp"), "{report}");
    let quarantine = std::fs::read_to_string(down.join("_quarantine/rejected.ndjson")).unwrap();
    assert!(
        quarantine.contains("no timestamp") && quarantine.contains("page 1"),
        "{quarantine}"
    );
    // The event it stood for comes with a backfill straight from upstream.
    let again = pull(
        up.dir.path(),
        &down,
        &up.server.base,
        &up.read,
        &up.orgs,
        &["--since", "2026-09-01T00:00:00Z"],
    );
    assert_eq!(again["stored"], 1, "{again}");
    assert_same(&up.store, &down);
}

#[test]
fn a_wrong_or_revoked_key_stops_with_a_clear_error_and_stores_nothing() {
    let up = upstream("1000");
    let down = up.dir.path().join("pulled");
    let refused = |key: &str, orgs: &[String]| -> String {
        let output = pull_command(up.dir.path(), &down, &up.server.base, key, orgs, &[])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        stderr(&output)
    };
    let wrong = refused("ik_0000_not_a_key", &up.orgs);
    assert!(
        wrong.contains("401") && wrong.contains("JC_API_KEY"),
        "{wrong}"
    );
    // A revoked key.
    let revoked = key(&up.store, "*", "read");
    let id = revoked.split('_').nth(1).unwrap();
    let output = run(
        up.dir.path(),
        &["keys", "--store", up.store.to_str().unwrap(), "revoke", id],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let message = refused(&revoked, &up.orgs);
    assert!(message.contains("401"), "{message}");
    // A key of one organization asking for another.
    let other = key(&up.store, &up.orgs[0], "read");
    let message = refused(&other, &up.orgs[1..2]);
    assert!(
        message.contains("403") && message.contains(&up.orgs[1]),
        "{message}"
    );
    // Nothing was stored.
    let count = run(
        up.dir.path(),
        &[
            "count",
            "--store",
            down.to_str().unwrap(),
            "--start",
            "2000-01-01T00:00:00Z",
        ],
    );
    let text = stdout(&count);
    assert!(
        !count.status.success() || text.contains("\"count\":0"),
        "{text}"
    );
    // No key at all: refused before anything is opened.
    let output = insights()
        .current_dir(up.dir.path())
        .env_remove("JC_API_KEY")
        .args([
            "pull",
            "--store",
            down.to_str().unwrap(),
            "--org",
            &up.orgs[0],
            "--once",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("JC_API_KEY"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn serve_pulls_in_the_background_shows_it_in_metrics_and_health_and_stops_on_sigterm() {
    let up = upstream("3000");
    let down_dir = tempfile::tempdir().unwrap();
    let down = down_dir.path().join("store");
    std::fs::write(down_dir.path().join("jc.key"), format!("{}\n", up.read)).unwrap();
    let config = down_dir.path().join("pull.toml");
    std::fs::write(
        &config,
        format!(
            "organizations = [{}]\nkey_file = \"jc.key\"\nbase_url = \"{}\"\nsince = \"2026-09-01T00:00:00Z\"\nevery = \"1s\"\nlag = \"1s\"\n",
            up.orgs.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", "),
            up.server.base
        ),
    )
    .unwrap();
    std::fs::create_dir_all(&down).unwrap();
    let mut server = Server::start(&down, &["--pull", config.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let health = loop {
        let health: Value = get_json(&server.url("/healthz"));
        let done = up
            .orgs
            .iter()
            .all(|org| health["pull"][org]["last_success"].is_string());
        if done {
            break health;
        }
        assert!(
            Instant::now() < deadline,
            "the pull did not complete: {health}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let pulled: u64 = up
        .orgs
        .iter()
        .map(|org| health["pull"][org]["stored"].as_u64().unwrap())
        .sum();
    assert_eq!(pulled, 3000 + SAME_MS_EVENTS as u64, "{health}");
    assert!(
        health["pull"][&up.orgs[0]]["lag_seconds"].as_f64().unwrap() < 60.0,
        "{health}"
    );
    assert!(
        health["pull"][&up.orgs[0]]["last_error"].is_null(),
        "{health}"
    );
    let metrics = get_text(&server.url("/metrics"));
    for org in &up.orgs {
        let line = format!("insights_pull_events_total{{organization=\"{org}\"}}");
        assert!(metrics.contains(&line), "{metrics}");
    }
    assert!(metrics.contains("insights_pull_lag_seconds"), "{metrics}");
    server.terminate();
    assert_same(&up.store, &down);
}

fn get_json(url: &str) -> Value {
    serde_json::from_str(&get_text(url)).unwrap()
}

fn get_text(url: &str) -> String {
    crate::support::client::runtime()
        .block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
}
