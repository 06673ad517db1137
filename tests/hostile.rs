//! Hostile and odd requests, each with nothing but a read key: the server never dies, never
//! runs away with a core or with memory, and answers as JumpCloud's API would.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::client::{Answer, receive, runtime};
use crate::support::server::{Server, fresh_store, key};
use crate::support::{generate, run, stderr, stdout};

/// A store of generated events and a read key of its organization.
struct Fixture {
    _dir: tempfile::TempDir,
    store: std::path::PathBuf,
    org: String,
    read: String,
}

fn fixture(events: &str) -> Fixture {
    let (dir, store) = fresh_store();
    let input = generate(
        dir.path(),
        "events.ndjson",
        &["--events", events, "--days", "2", "--seed", "3"],
    );
    let ingest = run(
        dir.path(),
        &[
            "ingest",
            "--store",
            store.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
    );
    assert!(ingest.status.success(), "{}", stderr(&ingest));
    let first = std::fs::read_to_string(&input).unwrap();
    let event: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let org = event["organization"].as_str().unwrap().to_owned();
    let read = key(&store, &org, "read");
    Fixture {
        _dir: dir,
        store,
        org,
        read,
    }
}

/// Sends a request built by `build` and reads the whole answer.
fn send(build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder) -> Answer {
    runtime().block_on(receive(build(&reqwest::Client::new())))
}

fn post(server: &Server, path: &str, key: &str, body: String) -> Answer {
    let url = server.url(path);
    send(|client| client.post(url).header("x-api-key", key).body(body))
}

/// Asserts that `/healthz` answers within a second.
fn alive(server: &Server, after: &str) {
    let url = server.url("/healthz");
    let started = Instant::now();
    let answer = send(|client| client.get(url).timeout(Duration::from_secs(1)));
    assert_eq!(answer.status, 200, "after {after}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/healthz took {:?} after {after}",
        started.elapsed()
    );
}

/// CPU time the process has used, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The process's peak resident memory, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

fn clock_ticks_per_second() -> u64 {
    let output = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    stdout(&output).trim().parse().unwrap_or(100)
}

fn count_body(extra: Value) -> String {
    let mut body = json!({"service": ["all"], "start_time": "2020-01-01T00:00:00Z"});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body.to_string()
}

#[test]
fn small_requests_that_overflowed_the_stack_are_refused_and_the_limits_answer() {
    let f = fixture("2000");
    let server = Server::start(&f.store, &["--request-timeout", "60"]);
    let deep_sql = |terms: usize| {
        json!({"query": format!("SELECT {}", vec!["1"; terms].join("+"))}).to_string()
    };
    let cases = [
        ("/api/v1/sql", deep_sql(3_000), "at most 1000"),
        (
            "/insights/directory/v1/events/count",
            count_body(
                json!({"search_term": {"or": (0..3_000).map(|i| json!({"username": format!("u{i}")})).collect::<Vec<_>>()}}),
            ),
            "more than 256",
        ),
        (
            "/insights/directory/v1/events/count",
            count_body(
                json!({"q": (0..3_000).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ")}),
            ),
            "at most 1024",
        ),
        (
            "/insights/directory/v1/events/count",
            count_body(
                json!({"q": (0..33).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ")}),
            ),
            "at most 32",
        ),
        (
            "/insights/directory/v1/events/count",
            count_body(
                json!({"search_term": {"username": (0..1_001).map(|i| format!("u{i}")).collect::<Vec<_>>()}}),
            ),
            "at most 1000",
        ),
        (
            "/insights/directory/v1/events/count",
            count_body(
                json!({"search_term": (0..17).fold(json!({"username": "x"}), |t, _| json!({"and": [t]}))}),
            ),
            "more than 16 deep",
        ),
        (
            "/insights/directory/v1/events",
            count_body(json!({"fields": (0..101).map(|i| format!("f{i}")).collect::<Vec<_>>()})),
            "at most 100",
        ),
    ];
    for (path, body, limit) in &cases {
        let answer = post(&server, path, &f.read, body.clone());
        assert_eq!(answer.status, 400, "{path}: {}", answer.message());
        assert!(
            answer.message().contains(limit),
            "{path}: {}",
            answer.message()
        );
        assert!(
            answer.header("x-request-id").is_some(),
            "errors carry a request id"
        );
        alive(&server, path);
    }
    // At the limits, each answers.
    let answer = post(&server, "/api/v1/sql", &f.read, deep_sql(1_000));
    assert_eq!(answer.status, 200, "{}", answer.message());
    let answer = post(
        &server,
        "/insights/directory/v1/events/count",
        &f.read,
        count_body(
            json!({"search_term": {"or": (0..255).map(|i| json!({"username": format!("u{i}")})).collect::<Vec<_>>()}}),
        ),
    );
    assert_eq!(answer.status, 200, "{}", answer.message());
    alive(&server, "the queries at the limits");
}

#[test]
fn a_timed_out_or_abandoned_query_stops_using_the_cpu() {
    let f = fixture("3000");
    let server = Server::start(&f.store, &["--request-timeout", "2"]);
    let pid = server.child.id();
    let ticks = clock_ticks_per_second();
    let cross = json!({"query": "SELECT count(*) FROM events a, events b, events c"}).to_string();
    let check_idle = |what: &str| {
        // Give the runtime a moment to drop the work, then watch the CPU for two seconds.
        std::thread::sleep(Duration::from_millis(300));
        let before = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(3));
        let used = cpu_ticks(pid) - before;
        eprintln!("{what}: {used} ticks of CPU in 3 s ({ticks}/s)");
        assert!(
            used < ticks * 3 / 10,
            "{what}: the server used {used} ticks of CPU in the 3 s after ({ticks}/s)"
        );
    };
    let answer = post(&server, "/api/v1/sql", &f.read, cross.clone());
    assert_eq!(answer.status, 503, "{}", answer.message());
    assert!(
        answer.message().contains("longer than 2 s"),
        "{}",
        answer.message()
    );
    check_idle("after the timeout");

    // A client that gives up before the answer.
    let url = server.url("/api/v1/sql");
    let gave_up = runtime().block_on(async {
        reqwest::Client::new()
            .post(url)
            .header("x-api-key", &f.read)
            .body(cross.clone())
            .timeout(Duration::from_millis(700))
            .send()
            .await
    });
    assert!(gave_up.is_err(), "the client gave up before an answer");
    check_idle("after the client went away");
}

#[test]
fn one_key_cannot_take_every_query_slot_and_healthz_answers_beside_them() {
    let f = fixture("3000");
    let server = Server::start(
        &f.store,
        &["--request-timeout", "8", "--max-queries-per-key", "2"],
    );
    let other = key(&f.store, &f.org, "read");
    let cross = json!({"query": "SELECT count(*) FROM events a, events b, events c"}).to_string();
    let url = server.url("/api/v1/sql");
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let (url, read, body) = (url.clone(), f.read.clone(), cross.clone());
            std::thread::spawn(move || {
                send(|client| client.post(url).header("x-api-key", read).body(body)).status
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let third = post(&server, "/api/v1/sql", &f.read, cross.clone());
    assert_eq!(third.status, 503, "{}", third.message());
    assert!(
        third.message().contains("this key runs 2 queries"),
        "{}",
        third.message()
    );
    // Another key is still served, and so is /healthz.
    let answer = post(
        &server,
        "/insights/directory/v1/events/count",
        &other,
        count_body(json!({})),
    );
    assert_eq!(answer.status, 200, "{}", answer.message());
    alive(&server, "two runaway queries of one key");
    for query in busy {
        assert_eq!(query.join().unwrap(), 503);
    }
}

#[test]
fn query_memory_holds_for_functions_joins_and_answers() {
    let f = fixture("3000");
    let server = Server::start(
        &f.store,
        &["--request-timeout", "20", "--query-memory-mib", "64"],
    );
    let pid = server.child.id();
    // What a few ordinary queries take: the server's own footprint.
    for query in [
        "SELECT service, count(*) FROM events GROUP BY service",
        "SELECT raw FROM events ORDER BY timestamp DESC LIMIT 100",
    ] {
        let answer = post(
            &server,
            "/api/v1/sql",
            &f.read,
            json!({"query": query}).to_string(),
        );
        assert_eq!(answer.status, 200, "{query}: {}", answer.message());
    }
    let baseline = peak_rss_mib(pid);
    for (query, said) in [
        ("SELECT length(repeat('a', 500000000))", "repeat()"),
        ("SELECT length(repeat('a', 2000000000))", "repeat()"),
        ("SELECT length(repeat(raw, 100000)) FROM events", "repeat()"),
        ("SELECT cardinality(range(1, 4000000000))", "range()"),
        (
            "SELECT a.raw, b.raw FROM events a, events b",
            "query memory",
        ),
    ] {
        let answer = post(
            &server,
            "/api/v1/sql",
            &f.read,
            json!({"query": query}).to_string(),
        );
        assert_eq!(answer.status, 503, "{query}: {}", answer.message());
        assert!(
            answer.message().contains(said),
            "{query}: {}",
            answer.message()
        );
        assert!(
            answer.message().contains("--query-memory-mib"),
            "{}",
            answer.message()
        );
        alive(&server, query);
    }
    let peak = peak_rss_mib(pid);
    eprintln!(
        "query memory 64 MiB: peak RSS {baseline} MiB before the hostile queries, {peak} MiB after"
    );
    // The configured 64 MiB, plus what encoding a batch of answer rows and decoding the
    // files' pages take beside the pool.
    assert!(
        peak <= baseline + 64 + 128,
        "peak RSS {peak} MiB; {baseline} MiB before the hostile queries"
    );
}

#[test]
fn odd_events_are_quarantined_with_their_reason_and_the_table_stays_readable_by_python() {
    let (dir, store) = fresh_store();
    let event = |id: &str, stamp: &str, extra: &str| {
        format!(
            r#"{{"id":"{id}","timestamp":"{stamp}","service":"sso","event_type":"sso_auth","organization":"o1"{extra}}}"#
        )
    };
    let lines = [
        event("zero", "0000-01-01T00:00:00Z", ""),
        event("before", "1969-12-31T23:59:59Z", ""),
        event("far", "2200-01-01T00:00:00Z", ""),
        event("first", "1970-01-01T00:00:00Z", ""),
        event("last", "2199-12-31T23:59:59.999999Z", ""),
        event(
            "huge",
            "2026-10-01T00:00:00Z",
            r#","success":1e400,"score":-1e999"#,
        ),
    ];
    let input = dir.path().join("odd.ndjson");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let output = run(
        dir.path(),
        &[
            "ingest",
            "--json",
            "--store",
            store.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let summary: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(
        (summary["accepted"].as_u64(), summary["rejected"].as_u64()),
        (Some(3), Some(3))
    );
    for rejection in summary["first_rejections"].as_array().unwrap() {
        assert!(
            rejection["reason"]
                .as_str()
                .unwrap()
                .contains("out of range"),
            "{rejection}"
        );
    }
    let quarantined = std::fs::read_to_string(store.join("_quarantine/rejected.ndjson")).unwrap();
    assert_eq!(quarantined.lines().count(), 3);

    // The deltalake Python reader (a reader that knows nothing of this project) reads it all.
    let script = format!(
        "import json, os, sys\n\
         from deltalake import DeltaTable\n\
         t = DeltaTable({path:?}).to_pyarrow_table()\n\
         rows = t.to_pylist()\n\
         sys.stdout.write(json.dumps(sorted([r['id'], str(r['timestamp']), r['raw']] for r in rows)))\n\
         sys.stdout.flush()\n\
         os._exit(0)\n",
        path = store.join("events").to_str().unwrap()
    );
    let python = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(python.status.success(), "{}", stderr(&python));
    let rows: Vec<(String, String, String)> = serde_json::from_str(&stdout(&python)).unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids, ["first", "huge", "last"]);
    assert_eq!(rows[1].2, lines[5], "raw kept byte for byte");
    assert_eq!(rows[2].1, "2199-12-31 23:59:59.999999+00:00");
}

#[test]
fn repeated_or_conflicting_credentials_are_refused() {
    let f = fixture("200");
    let server = Server::start(&f.store, &[]);
    let url = server.url("/insights/directory/v1/events/count");
    let (read, body) = (f.read.clone(), count_body(json!({})));
    let twice = send(|client| {
        client
            .post(url.clone())
            .header("x-api-key", &read)
            .header("x-api-key", &read)
            .body(body.clone())
    });
    assert_eq!(twice.status, 400);
    assert!(
        twice.message().contains("exactly one credential"),
        "{}",
        twice.message()
    );
    let both = send(|client| {
        client
            .post(url.clone())
            .header("x-api-key", &read)
            .header("authorization", "Bearer it_x_1_y")
            .body(body.clone())
    });
    assert_eq!(both.status, 400);
    let forged = send(|client| {
        client
            .post(url.clone())
            .header("authorization", "Bearer it_0123_99999999999_abcd")
            .body(body.clone())
    });
    assert_eq!(forged.status, 401);
    assert!(forged.header("x-request-id").is_some());
}

/// `X-Search_After` as JumpCloud's app reads it: the header's JSON, sent back as is.
fn search_after(answer: &Answer) -> Value {
    serde_json::from_str(&answer.header("x-search_after").unwrap()).unwrap()
}

#[test]
fn jumpcloud_serverless_app_in_service_token_mode_reads_every_event() {
    let f = fixture("25000");
    let server = Server::start(&f.store, &[]);
    let output = run(
        f.store.parent().unwrap(),
        &[
            "keys",
            "--store",
            f.store.to_str().unwrap(),
            "create",
            "--service-account",
            "--org",
            &f.org,
            "--role",
            "read",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let secret = stdout(&output).trim().to_owned();
    assert!(
        secret.starts_with("sa_") && secret.contains(':'),
        "{secret}"
    );

    // The app's exchange: HTTP Basic of "clientID:clientSecret", a form, its JSON answer.
    let token_url = server.url("/oauth2/token");
    let (id, password) = secret.split_once(':').unwrap();
    let token = send(|client| {
        client
            .post(token_url.clone())
            .basic_auth(id, Some(password))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("scope=api&grant_type=client_credentials")
    });
    assert_eq!(
        token.status,
        200,
        "{}",
        String::from_utf8_lossy(&token.body)
    );
    let access_token = token.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.json()["expires_in"], 3600);
    let wrong = send(|client| {
        client
            .post(token_url.clone())
            .basic_auth(id, Some("wrong"))
            .body("grant_type=client_credentials")
    });
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "invalid_client");

    // Then the DI calls with the bearer token and x-org-id, service by service as the app
    // does (workflows among them): a count, then pages of 10,000 while a page is full.
    let services = [
        "access_management",
        "alerts",
        "asset_management",
        "directory",
        "ldap",
        "mdm",
        "notifications",
        "object_storage",
        "password_manager",
        "radius",
        "reports",
        "saas_app_management",
        "software",
        "sso",
        "systems",
        "workflows",
    ];
    let call = |path: &str, body: &Value| {
        let url = server.url(path);
        let (token, org, body) = (access_token.clone(), f.org.clone(), body.to_string());
        send(move |client| {
            client
                .post(url)
                .header("authorization", format!("Bearer {token}"))
                .header("x-org-id", org)
                .header("content-type", "application/json")
                .header(
                    "user-agent",
                    "JumpCloud_AWSServerless.DirectoryInsights/3.2.0",
                )
                .body(body)
        })
    };
    let (start, end) = ("2026-09-01T00:00:00Z", "2026-12-31T00:00:00Z");
    let mut total = 0;
    let mut seen = std::collections::HashSet::new();
    for service in services {
        let body = json!({"service": [service], "start_time": start, "end_time": end});
        let count = call("/insights/directory/v1/events/count", &body);
        assert_eq!(count.status, 200, "{service}: {}", count.message());
        let expected = count.json()["count"].as_u64().unwrap();
        let mut body =
            json!({"service": [service], "start_time": start, "end_time": end, "limit": 10000});
        let mut page = call("/insights/directory/v1/events", &body);
        assert_eq!(page.status, 200, "{service}: {}", page.message());
        let mut events = page.json().as_array().unwrap().clone();
        while page
            .header("x-result-count")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= page.header("x-limit").unwrap().parse::<u64>().unwrap()
        {
            body["search_after"] = search_after(&page);
            page = call("/insights/directory/v1/events", &body);
            assert_eq!(page.status, 200, "{service}: {}", page.message());
            events.extend(page.json().as_array().unwrap().clone());
        }
        assert_eq!(events.len() as u64, expected, "{service}");
        for event in &events {
            assert!(
                seen.insert(event["id"].as_str().unwrap().to_owned()),
                "{event}"
            );
        }
        total += expected;
    }
    assert_eq!(total, 25_000);

    // An empty first page says `X-Search_after: []`; sent back, it means no cursor.
    let empty = json!({"service": ["workflows"], "start_time": start, "limit": 10});
    let page = call("/insights/directory/v1/events", &empty);
    assert_eq!(page.header("x-search_after").as_deref(), Some("[]"));
    let mut again = empty.clone();
    again["search_after"] = search_after(&page);
    let page = call("/insights/directory/v1/events", &again);
    assert_eq!(page.status, 200, "{}", page.message());

    // A revoked account's token stops working at once.
    let list = run(
        f.store.parent().unwrap(),
        &["keys", "--store", f.store.to_str().unwrap(), "list"],
    );
    let account = stdout(&list)
        .lines()
        .find(|l| l.contains(" service "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let revoke = run(
        f.store.parent().unwrap(),
        &[
            "keys",
            "--store",
            f.store.to_str().unwrap(),
            "revoke",
            &account,
        ],
    );
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    let refused = call(
        "/insights/directory/v1/events/count",
        &json!({"service": ["all"], "start_time": start}),
    );
    assert_eq!(refused.status, 401);
}
