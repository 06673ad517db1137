//! Acknowledged means durable, whatever happens after: a replay cut short by a second crash,
//! a write-ahead log append that fails, a store that turns read-only, a damaged log, a
//! compaction running beside the server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::server::{Launch, Server, fresh_store, key};
use crate::support::{StoredEvent, read_events, run, stderr, stdout};

const ORG: &str = "orgd";

/// `count` events of [`ORG`] numbered from `start`, as NDJSON lines.
fn lines(prefix: &str, start: usize, count: usize) -> Vec<String> {
    (start..start + count)
        .map(|i| {
            json!({
                "id": format!("{prefix}{i:07}"),
                "timestamp": format!(
                    "2026-10-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                    1 + i % 3,
                    (i / 3600) % 24,
                    (i / 60) % 60,
                    i % 60,
                    i % 1000
                ),
                "service": "sso",
                "event_type": "sso_auth",
                "organization": ORG,
                "username": format!("user{}", i % 17),
                "client_ip": format!("10.0.{}.{}", i % 7, i % 251),
            })
            .to_string()
        })
        .collect()
}

/// A client that posts NDJSON batches and remembers which lines were acknowledged.
struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    key: String,
    acknowledged: BTreeSet<String>,
}

/// The answer to one ingest request.
struct Posted {
    status: u16,
    retry_after: Option<String>,
    body: serde_json::Value,
}

impl Client {
    fn new(key: String) -> Self {
        Self {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::new(),
            key,
            acknowledged: BTreeSet::new(),
        }
    }

    /// Posts `batch` to the server at `base`; on 200 every line of it is acknowledged.
    fn post(&mut self, base: &str, batch: &[String]) -> Posted {
        let answer = self.runtime.block_on(async {
            let response = self
                .http
                .post(format!("{base}/api/v1/ingest"))
                .header("x-api-key", &self.key)
                .body(batch.join("\n"))
                .send()
                .await
                .expect("the server answers");
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            Posted {
                status,
                retry_after,
                body,
            }
        });
        if answer.status == 200 {
            let stored = answer.body["accepted"].as_u64().unwrap()
                + answer.body["duplicates"].as_u64().unwrap();
            assert_eq!(stored, batch.len() as u64, "{}", answer.body);
            self.acknowledged.extend(batch.iter().cloned());
        }
        answer
    }

    /// `GET path` on the server: status and JSON body.
    fn get(&self, server: &Server, path: &str) -> (u16, serde_json::Value) {
        self.runtime.block_on(async {
            let response = self.http.get(server.url(path)).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap();
            (status, serde_json::from_slice(&body).unwrap_or_default())
        })
    }
}

/// Asserts that the table holds every acknowledged line exactly once, byte for byte, and
/// nothing twice. Returns what it holds.
fn assert_holds_each_once(store: &Path, acknowledged: &BTreeSet<String>) -> Vec<StoredEvent> {
    let events = read_events(store);
    let mut by_identity: BTreeMap<(String, String, i64), usize> = BTreeMap::new();
    for event in &events {
        *by_identity
            .entry((
                event.organization.clone(),
                event.id.clone(),
                event.timestamp_us,
            ))
            .or_default() += 1;
    }
    let twice: Vec<_> = by_identity.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "stored more than once: {:?}",
        &twice[..twice.len().min(5)]
    );
    let raws: BTreeSet<&str> = events.iter().map(|e| e.raw.as_str()).collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|line| !raws.contains(line.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events are missing (or altered), e.g. {}",
        missing.len(),
        acknowledged.len(),
        missing[0]
    );
    events
}

/// Waits until `/healthz` answers `status` ("ok" or "degraded").
fn wait_health(client: &Client, server: &Server, status: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = client.get(server, "/healthz");
        if body["status"] == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never said {status}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_replay_spanning_several_commits_survives_a_second_kill() {
    // The reproduction: a log of 45,000 events, a restart whose replay commits 10,000 at a
    // time and is killed with 5,000 of them still buffered, then a clean restart.
    let (_dir, store) = fresh_store();
    let mut client = Client::new(key(&store, ORG, "ingest"));
    let mut server = Server::start(
        &store,
        &["--flush-rows", "1000000", "--flush-age-ms", "600000"],
    );
    for part in 0..45 {
        let answer = client.post(&server.base, &lines("r", part * 1000, 1000));
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    server.kill();
    let mut replaying = Server::start(
        &store,
        &["--flush-rows", "10000", "--flush-age-ms", "600000"],
    );
    let (status, _) = client.get(&replaying, "/healthz");
    assert_eq!(status, 200);
    replaying.kill();
    let mut last = Server::start(&store, &[]);
    last.terminate();
    let stored = assert_holds_each_once(&store, &client.acknowledged);
    assert_eq!(stored.len(), 45_000);
}

/// Sets the file-size limit (`ulimit -f`, in bytes) of a running process.
fn set_file_size_limit(pid: u32, bytes: Option<u64>) {
    let limit = libc::rlimit {
        rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY),
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads `limit` and writes nothing (the old-limit pointer is null).
    let done = unsafe {
        libc::prlimit(
            libc::pid_t::try_from(pid).unwrap(),
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(done, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// The newest segment of a store's write-ahead log.
fn newest_segment(store: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(store.join("_wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segments.sort();
    segments.pop().expect("a log segment")
}

#[test]
fn a_failed_log_append_is_answered_503_and_leaves_nothing_torn_behind() {
    let (_dir, store) = fresh_store();
    let mut client = Client::new(key(&store, ORG, "ingest"));
    let errors = store.parent().unwrap().join("serve.err");
    let mut server = Server::start_with(
        &store,
        &["--flush-rows", "2500", "--flush-age-ms", "600000"],
        Launch {
            stderr: Some(errors.clone()),
            ..Launch::default()
        },
    );
    let mut next = 0;
    let mut batch = |count: usize| {
        let lines = lines("f", next, count);
        next += count;
        lines
    };
    for _ in 0..3 {
        assert_eq!(client.post(&server.base, &batch(500)).status, 200);
    }
    // Twice: a full disk in the middle of a segment, then again after a commit rotated it.
    for round in 0..2 {
        let segment = std::fs::metadata(newest_segment(&store)).unwrap().len();
        set_file_size_limit(server.child.id(), Some(segment + 1000));
        for _ in 0..3 {
            let answer = client.post(&server.base, &batch(500));
            assert_eq!(answer.status, 503, "round {round}: {}", answer.body);
            assert!(answer.retry_after.is_some());
            let message = answer.body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("write-ahead log") || message.contains("durable"),
                "{message}"
            );
        }
        set_file_size_limit(server.child.id(), None);
        for _ in 0..4 {
            let answer = client.post(&server.base, &batch(500));
            assert_eq!(answer.status, 200, "round {round}: {}", answer.body);
        }
    }
    server.kill();
    let mut restarted = Server::start_with(
        &store,
        &[],
        Launch {
            stderr: Some(errors.clone()),
            ..Launch::default()
        },
    );
    restarted.terminate();
    let log = std::fs::read_to_string(&errors).unwrap();
    assert!(
        !log.contains("damaged"),
        "a failed append left a torn record: {log}"
    );
    assert_holds_each_once(&store, &client.acknowledged);
}

/// Removes (or gives back) the owner's write permission on everything under `dir`.
fn set_writable(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(dir) {
        let mut permissions = std::fs::metadata(&entry).unwrap().permissions();
        let mode = permissions.mode();
        permissions.set_mode(if writable {
            mode | 0o200
        } else {
            mode & !0o222
        });
        std::fs::set_permissions(&entry, permissions).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            all.extend(walk(&entry.unwrap().path()));
        }
    }
    all
}

/// How a server that file permissions restrict is started: as root, as the user `nobody`
/// (file permissions do not stop root), with the directory given to it and a link to the
/// binary inside it; otherwise as the user running the tests.
fn unprivileged(dir: &Path) -> Launch {
    // SAFETY: geteuid only reads the process's user id.
    if unsafe { libc::geteuid() } != 0 {
        return Launch::default();
    }
    const NOBODY: u32 = 65534;
    let binary = dir.join("insights");
    // A link to the binary under test (never written to, nor given to another owner).
    if !binary.exists() && std::fs::hard_link(crate::support::binary(), &binary).is_err() {
        std::fs::copy(crate::support::binary(), &binary).unwrap();
    }
    for entry in walk(dir).into_iter().filter(|entry| *entry != binary) {
        std::os::unix::fs::chown(&entry, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    Launch {
        user: Some(NOBODY),
        binary: Some(binary),
        ..Launch::default()
    }
}

#[test]
fn a_store_that_turns_read_only_loses_nothing_acknowledged() {
    let (dir, store) = fresh_store();
    let mut client = Client::new(key(&store, ORG, "ingest"));
    let launch = || {
        let mut launch = unprivileged(dir.path());
        launch.stderr = Some(dir.path().join("serve.err"));
        launch
    };
    let flags = ["--flush-rows", "1000", "--flush-age-ms", "200"];
    let mut server = Server::start_with(&store, &flags, launch());
    let mut next = 0;
    let mut batch = || {
        let lines = lines("w", next, 250);
        next += 250;
        lines
    };
    for _ in 0..4 {
        assert_eq!(client.post(&server.base, &batch()).status, 200);
    }
    wait_health(&client, &server, "ok");

    // The store turns read-only: the log's open segment still takes appends (durable, so
    // acknowledged), commits fail and are retried, and once the buffer is full behind the
    // failed commit, new events are refused with 503.
    set_writable(&store, false);
    let mut refused = None;
    for _ in 0..40 {
        let answer = client.post(&server.base, &batch());
        match answer.status {
            200 => {}
            503 => {
                refused = Some(answer.body);
                break;
            }
            other => panic!("unexpected {other}: {}", answer.body),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = refused.expect("ingest was never refused while the store was read-only");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be written"),
        "{refused}"
    );
    let health = wait_health(&client, &server, "degraded");
    assert!(
        health["ingest"].as_str().unwrap().contains("has failed"),
        "{health}"
    );

    // Writable again: the retried commit lands, ingest goes on, SIGTERM commits the rest.
    set_writable(&store, true);
    wait_health(&client, &server, "ok");
    for _ in 0..2 {
        assert_eq!(client.post(&server.base, &batch()).status, 200);
    }
    server.terminate();
    assert_holds_each_once(&store, &client.acknowledged);

    // Read-only again, and SIGTERM while it is: the exit says what could not be committed.
    let mut server = Server::start_with(&store, &flags, launch());
    set_writable(&store, false);
    for _ in 0..3 {
        assert_eq!(client.post(&server.base, &batch()).status, 200);
    }
    let status = server.stop();
    assert!(
        !status.success(),
        "a shutdown that could not commit exits with an error"
    );
    let said = std::fs::read_to_string(dir.path().join("serve.err")).unwrap();
    assert!(said.contains("kept in the write-ahead log"), "{said}");
    // Writable again: a start replays the log, a SIGKILL, another start, and all is there.
    set_writable(&store, true);
    let mut server = Server::start_with(&store, &flags, launch());
    server.kill();
    let mut server = Server::start_with(&store, &flags, launch());
    server.terminate();
    assert_holds_each_once(&store, &client.acknowledged);
}

#[test]
fn a_damaged_log_is_reported_quarantined_and_the_rest_replayed() {
    let (dir, store) = fresh_store();
    let mut client = Client::new(key(&store, ORG, "ingest"));
    let mut server = Server::start(
        &store,
        &["--flush-rows", "1000000", "--flush-age-ms", "600000"],
    );
    for part in 0..20 {
        assert_eq!(
            client
                .post(&server.base, &lines("d", part * 200, 200))
                .status,
            200
        );
    }
    server.kill();
    // Bit rot in the middle of the log.
    let segment = newest_segment(&store);
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() * 2 / 5;
    for byte in &mut bytes[middle..middle + 100] {
        *byte = 0xff;
    }
    std::fs::write(&segment, &bytes).unwrap();

    let errors = dir.path().join("serve.err");
    let mut server = Server::start_with(
        &store,
        &[],
        Launch {
            stderr: Some(errors.clone()),
            ..Launch::default()
        },
    );
    server.terminate();
    let said = std::fs::read_to_string(&errors).unwrap();
    let line = said
        .lines()
        .find(|l| l.contains("are damaged"))
        .unwrap_or_else(|| panic!("the damage is not reported: {said}"));
    // "... N record(s) could not be read (LSN a..=b), of which N the table does not hold;
    // the damaged bytes are kept in FILE"
    let unreadable: usize = line
        .split(" record(s) could not be read")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of unreadable records: {line}"));
    let kept_in = line.rsplit("kept in ").next().unwrap().trim();
    let kept = std::fs::read(kept_in).unwrap();
    assert!(
        kept.windows(100).any(|w| w.iter().all(|b| *b == 0xff)),
        "the quarantined copy holds the damaged bytes ({} bytes)",
        kept.len()
    );
    let stored = read_events(&store);
    assert_eq!(stored.len() + unreadable, 4000, "{line}");
    assert!((1..=2).contains(&unreadable), "{line}");
    let acknowledged: BTreeSet<&str> = client.acknowledged.iter().map(String::as_str).collect();
    assert!(stored.iter().all(|e| acknowledged.contains(e.raw.as_str())));
}

#[test]
fn compaction_beside_a_writing_server_keeps_every_event_once() {
    let (dir, store) = fresh_store();
    let ingest = key(&store, ORG, "ingest");
    let mut server = Server::start(&store, &["--flush-rows", "600", "--flush-age-ms", "100"]);
    let base = server.base.clone();
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let ingest = ingest.clone();
            let base = base.clone();
            std::thread::spawn(move || {
                let mut client = Client::new(ingest);
                for part in 0..25 {
                    let start = (writer * 25 + part) * 300;
                    let answer = client.post(&base, &lines("c", start, 300));
                    assert_eq!(answer.status, 200, "{}", answer.body);
                }
                client.acknowledged
            })
        })
        .collect();
    // Compactions while the server commits, two of them at once each time.
    let mut compacted = 0;
    let mut rounds = 0;
    while rounds < 2 || writers.iter().any(|w| !w.is_finished()) {
        rounds += 1;
        let both: Vec<_> = (0..2)
            .map(|_| {
                let dir = dir.path().to_path_buf();
                let store = store.clone();
                std::thread::spawn(move || {
                    run(&dir, &["compact", "--store", store.to_str().unwrap()])
                })
            })
            .collect();
        for compaction in both {
            let output = compaction.join().unwrap();
            assert!(output.status.success(), "{}", stderr(&output));
            compacted += u64::from(!stdout(&output).contains("compacted 0 partitions"));
        }
    }
    let mut acknowledged = BTreeSet::new();
    for writer in writers {
        acknowledged.extend(writer.join().unwrap());
    }
    server.terminate();
    assert!(compacted > 0, "no compaction found files to merge");
    let stored = assert_holds_each_once(&store, &acknowledged);
    assert_eq!(stored.len(), 15_000);
}
