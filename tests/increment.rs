//! Incremental exports with the table and the destination both on a real S3-compatible server
//! (moto, on loopback): every event in exactly one increment, across late events, duplicates,
//! compaction, a crashed run, concurrent runs and empty increments; window mode; backfills.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::moto::Moto;
use crate::support::{generate, insights, read_table, stderr, stdout};

const TABLE: &str = "s3://audit/di";

struct Bench {
    moto: Moto,
    dir: tempfile::TempDir,
    batches: usize,
}

impl Bench {
    fn start() -> Self {
        let moto = Moto::start();
        moto.create_bucket("audit");
        moto.create_bucket("archive");
        Self {
            moto,
            dir: tempfile::tempdir().unwrap(),
            batches: 0,
        }
    }

    fn cli(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut command = insights();
        command
            .current_dir(self.dir.path())
            .args(args)
            .envs(self.moto.env())
            .envs(extra_env.iter().copied());
        command.output().unwrap()
    }

    fn ingest_file(&self, file: &Path) {
        let out = self.cli(&["ingest", "--store", TABLE, file.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    }

    fn ingest_lines(&mut self, lines: &[String]) {
        self.batches += 1;
        let path = self
            .dir
            .path()
            .join(format!("batch{}.ndjson", self.batches));
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        self.ingest_file(&path);
    }

    /// Runs `export-increment` and returns its report (the last stdout line) and all of stdout.
    fn export(&self, args: &[&str], extra_env: &[(&str, &str)]) -> (Value, String) {
        let mut all = vec!["export-increment", "--store", TABLE];
        all.extend_from_slice(args);
        let out = self.cli(&all, extra_env);
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        let text = stdout(&out);
        let report = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        (report, text)
    }

    fn table_rows(&self) -> Vec<crate::support::StoredRow> {
        read_table(TABLE, self.moto.storage_options())
    }

    /// Downloads the destination and returns its directory.
    fn download(&self, prefix: &str) -> PathBuf {
        let target = self.dir.path().join(format!("download-{}", rand_suffix()));
        self.moto.download("archive", prefix, &target);
        target
    }
}

fn rand_suffix() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn gunzip_lines(path: &Path) -> Vec<String> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{path:?} ends mid-line"
    );
    text.lines().map(str::to_owned).collect()
}

/// The data objects (`*.json.gz`) directly in `dir`, by name.
fn data_objects(dir: &Path) -> BTreeMap<String, PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".json.gz"))
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_owned(), p))
        .collect()
}

/// Checks every manifest in `dir` against the objects it lists; returns the manifests.
fn check_manifests(dir: &Path) -> Vec<Value> {
    let mut manifests = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_str().unwrap().ends_with(".manifest.json") {
            continue;
        }
        let manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let mut rows = 0;
        for object in manifest["objects"].as_array().unwrap() {
            let key = object["key"].as_str().unwrap();
            let file = dir.join(key.rsplit('/').next().unwrap());
            let bytes = std::fs::read(&file).unwrap();
            assert_eq!(object["bytes"], bytes.len() as u64, "{key}");
            assert_eq!(
                object["sha256"].as_str().unwrap(),
                hex::encode(Sha256::digest(&bytes)),
                "{key}"
            );
            assert_eq!(object["rows"], gunzip_lines(&file).len() as u64, "{key}");
            rows += object["rows"].as_u64().unwrap();
        }
        assert_eq!(manifest["rows"], rows, "{path:?}");
        manifests.push(manifest);
    }
    manifests
}

/// Every event line of the increments (not the backfills), checking that no line repeats.
fn exported_lines(dir: &Path) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    for (name, path) in data_objects(dir) {
        for line in gunzip_lines(&path) {
            assert!(
                lines.insert(line.clone()),
                "exported twice ({name}): {line}"
            );
        }
    }
    lines
}

fn event(org: &str, id: &str, at: chrono::DateTime<Utc>) -> String {
    json!({
        "id": id,
        "organization": org,
        "service": "sso",
        "event_type": "sso_auth",
        "success": true,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "initiated_by": {"type": "user", "username": format!("user-{id}")},
    })
    .to_string()
}

#[test]
fn version_increments_export_every_committed_event_exactly_once() {
    let mut bench = Bench::start();
    let dest = "s3://archive/di";
    let first = generate(
        bench.dir.path(),
        "first.ndjson",
        &["--events", "3000", "--days", "3", "--orgs", "2"],
    );
    bench.ingest_file(&first);
    let (report, _) = bench.export(&["--dest", dest], &[]);
    assert_eq!(report["status"], "exported");
    assert_eq!(report["rows"], 3000);
    assert_eq!(report["increment"], 1);

    // New events, 200 duplicates of exported ones, and late events (old timestamps); the
    // increment is cut into several objects.
    let mut second: Vec<String> = crate::support::lines(&first)[..200].to_vec();
    let old = Utc::now() - Duration::days(400);
    second.extend(
        (0..50).map(|i| event("org-late", &format!("late{i}"), old + Duration::minutes(i))),
    );
    let newer = generate(
        bench.dir.path(),
        "newer.ndjson",
        &[
            "--events",
            "1000",
            "--days",
            "1",
            "--seed",
            "9",
            "--start",
            "2026-11-01",
        ],
    );
    second.extend(crate::support::lines(&newer));
    bench.ingest_lines(&second);
    let (report, _) = bench.export(&["--dest", dest, "--object-bytes", "200000"], &[]);
    assert_eq!(report["rows"], 1050, "{report}");
    assert!(report["objects"].as_array().unwrap().len() > 1, "{report}");

    // A compaction rewrites files without new data: the next increment holds only what was
    // ingested after it.
    let out = bench.cli(&["compact", "--store", TABLE], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let third: Vec<String> = (0..100)
        .map(|i| event("org-c", &format!("c{i}"), Utc::now() - Duration::hours(i)))
        .collect();
    bench.ingest_lines(&third);
    let (report, _) = bench.export(&["--dest", dest], &[]);
    assert_eq!(report["rows"], 100, "{report}");

    // A run killed between its objects and its checkpoint: the objects exist, the increment is
    // not done, and the next run completes that same increment without a second copy.
    let fourth: Vec<String> = (0..500)
        .map(|i| event("org-d", &format!("d{i}"), Utc::now() - Duration::minutes(i)))
        .collect();
    bench.ingest_lines(&fourth);
    let crashed = bench.cli(
        &["export-increment", "--store", TABLE, "--dest", dest],
        &[("INSIGHTS_FAILPOINT", "export-before-manifest")],
    );
    assert!(!crashed.status.success());
    let seen = bench.download("di");
    assert!(
        seen.join("_insights/claims/00000000000000000004.json")
            .exists()
    );
    assert!(
        !seen
            .join("_insights/checkpoints/00000000000000000004.json")
            .exists()
    );
    assert_eq!(exported_lines(&seen).len(), 3000 + 1050 + 100 + 500);
    bench.ingest_lines(&[event("org-d", "d-after-crash", Utc::now())]);
    let (report, _) = bench.export(&["--dest", dest], &[]);
    assert_eq!(report["increment"], 4);
    assert_eq!(report["resumed"], true);
    assert_eq!(
        report["rows"], 500,
        "the claimed plan, not what arrived since: {report}"
    );
    let (report, _) = bench.export(&["--dest", dest], &[]);
    assert_eq!(
        (report["increment"].clone(), report["rows"].clone()),
        (json!(5), json!(1))
    );

    // Two runs at once: one increment, exported once.
    let fifth: Vec<String> = (0..700)
        .map(|i| event("org-e", &format!("e{i}"), Utc::now() - Duration::seconds(i)))
        .collect();
    bench.ingest_lines(&fifth);
    let spawn = || {
        let mut command = insights();
        command
            .current_dir(bench.dir.path())
            .args(["export-increment", "--store", TABLE, "--dest", dest])
            .envs(bench.moto.env())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));

    // Nothing new: no data object, and the NoResults metric on stdout.
    let (report, text) = bench.export(&["--dest", dest], &[]);
    assert_eq!(report["status"], "empty");
    let metric: Value = serde_json::from_str(
        text.lines()
            .find(|l| l.contains("CloudWatchMetrics"))
            .expect("an embedded-metric line"),
    )
    .unwrap();
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "DirectoryInsights"
    );
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "NoResults"
    );
    assert_eq!(metric["NoResults"], 1);

    let exported = bench.download("di");
    let manifests = check_manifests(&exported);
    assert_eq!(manifests.len(), 6);
    let table: BTreeSet<String> = bench.table_rows().into_iter().map(|r| r.raw).collect();
    assert_eq!(table.len(), 3000 + 1000 + 50 + 100 + 500 + 1 + 700);
    let lines = exported_lines(&exported);
    assert_eq!(lines.len(), table.len());
    assert!(lines == table, "the increments differ from the table");
    // The checkpoints tell the same story, one per increment.
    let checkpoints = std::fs::read_dir(exported.join("_insights/checkpoints"))
        .unwrap()
        .count();
    assert_eq!(checkpoints, 6);

    // One organization's increments hold its events and no other's; the destination keeps it.
    let (report, _) = bench.export(&["--dest", "s3://archive/one-org", "--org", "org-d"], &[]);
    assert_eq!(report["rows"], 501, "{report}");
    let one = bench.download("one-org");
    let lines = exported_lines(&one);
    let expected: BTreeSet<String> = bench
        .table_rows()
        .into_iter()
        .filter(|r| r.organization == "org-d")
        .map(|r| r.raw)
        .collect();
    assert!(
        lines == expected,
        "the org-d increment differs from org-d's rows"
    );
    let other = bench.cli(
        &[
            "export-increment",
            "--store",
            TABLE,
            "--dest",
            "s3://archive/one-org",
            "--org",
            "org-e",
        ],
        &[],
    );
    assert!(!other.status.success());
    assert!(stderr(&other).contains("--org"), "{}", stderr(&other));
}

#[test]
fn window_increments_wait_for_closed_windows_and_take_late_events_once() {
    let mut bench = Bench::start();
    let dest = "s3://archive/windowed";
    let now = Utc::now();
    let mut events: Vec<String> = (0..300)
        .map(|i| event("org-w", &format!("w{i}"), now - Duration::seconds(30 * i)))
        .collect();
    // Events of windows that have not ended yet wait.
    events.extend((0..20).map(|i| event("org-w", &format!("f{i}"), now + Duration::hours(2 + i))));
    bench.ingest_lines(&events);
    let window = ["--dest", dest, "--window", "1s", "--lag", "0s"];
    let (first, _) = bench.export(&window, &[]);
    assert_eq!(first["status"], "exported");
    let end_of = |report: &Value| {
        chrono::DateTime::parse_from_rfc3339(report["end"].as_str().unwrap())
            .unwrap()
            .timestamp_micros()
    };
    let first_end = end_of(&first);
    assert_eq!(first_end % 1_000_000, 0, "windows are whole seconds");

    // Late events for exported windows, and events of the next window.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut more: Vec<String> = (0..40)
        .map(|i| {
            event(
                "org-w",
                &format!("late{i}"),
                now - Duration::hours(3) - Duration::seconds(i),
            )
        })
        .collect();
    more.extend((0..10).map(|i| {
        event(
            "org-w",
            &format!("n{i}"),
            Utc::now() - Duration::milliseconds(i),
        )
    }));
    bench.ingest_lines(&more);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (second, _) = bench.export(&window, &[]);
    assert_eq!(second["status"], "exported");
    assert_eq!(second["start"], first["end"]);
    let second_end = end_of(&second);
    assert!(second_end > first_end);
    let name = second["objects"][0]["key"].as_str().unwrap();
    assert!(
        name.starts_with("jc_directoryinsights_")
            && !name.contains(':')
            && name.ends_with(".json.gz"),
        "{name}"
    );

    let exported = bench.download("windowed");
    check_manifests(&exported);
    let lines = exported_lines(&exported);
    let expected: BTreeSet<String> = bench
        .table_rows()
        .into_iter()
        .filter(|r| r.timestamp_us < second_end)
        .map(|r| r.raw)
        .collect();
    assert_eq!(lines.len(), expected.len());
    assert!(lines == expected, "window increments differ from the table");
    assert!(lines.iter().any(|l| l.contains("\"late0\"")));
    assert!(
        !lines.iter().any(|l| l.contains("\"f0\"")),
        "a future window was exported"
    );

    // The destination keeps its mode.
    let mismatch = bench.cli(&["export-increment", "--store", TABLE, "--dest", dest], &[]);
    assert!(!mismatch.status.success());
    assert!(
        stderr(&mismatch).contains("--window"),
        "{}",
        stderr(&mismatch)
    );

    // A backfill of a past window: exactly the events of that window, under backfill/, once.
    let from = (now - Duration::minutes(60)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (now - Duration::minutes(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let backfill = |env: &[(&str, &str)]| {
        bench.cli(
            &[
                "export-increment",
                "--store",
                TABLE,
                "--dest",
                dest,
                "--from",
                &from,
                "--to",
                &to,
            ],
            env,
        )
    };
    // The first attempt dies after its objects; the re-run completes the claimed backfill.
    let crashed = backfill(&[("INSIGHTS_FAILPOINT", "export-before-manifest")]);
    assert!(!crashed.status.success());
    let (report, _) = bench.export(&["--dest", dest, "--from", &from, "--to", &to], &[]);
    assert_eq!(report["status"], "backfilled");
    assert_eq!(report["resumed"], true, "{report}");
    let range = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_micros()
    };
    let backfilled = bench.download("windowed/backfill");
    check_manifests(&backfilled);
    let lines = exported_lines(&backfilled);
    let expected: BTreeSet<String> = bench
        .table_rows()
        .into_iter()
        .filter(|r| r.timestamp_us >= range(&from) && r.timestamp_us < range(&to))
        .map(|r| r.raw)
        .collect();
    assert_eq!(expected.len(), 60);
    assert!(
        lines == expected,
        "the backfill differs from the table's window"
    );
    let again = backfill(&[]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already backfilled"),
        "{}",
        stderr(&again)
    );
}
