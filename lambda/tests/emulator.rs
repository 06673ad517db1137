//! The built `bootstrap` under the Lambda runtime API emulator of cargo-lambda
//! (`cargo lambda watch --only-lambda-apis`), invoked with `cargo lambda invoke`, reading the
//! table from and writing the increment to a real S3-compatible server (moto, on loopback).
//!
//! This is the workspace's second test binary: Cargo builds the `bootstrap` executable (and
//! gives its path) only for tests of its own package.

// A test target: its helpers unwrap, and a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../../tests/support/moto.rs"]
mod moto;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use moto::Moto;

/// The `insights` CLI, built by the same `cargo test --workspace` (the root package's tests need
/// it), beside this test's own directory.
fn insights() -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let cli = dir.join("insights");
    assert!(
        cli.exists(),
        "{} is missing: run the workspace's tests (cargo test --workspace)",
        cli.display()
    );
    Command::new(cli)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Emulator {
    _server: Running,
    port: u16,
}

impl Emulator {
    fn start() -> Self {
        let port = free_port();
        let server = Command::new("cargo")
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "cargo-lambda must be installed (pip install cargo-lambda); .ci/run installs it",
            );
        let server = Running(server);
        wait_for_port(port, "cargo lambda watch");
        Self {
            _server: server,
            port,
        }
    }

    /// Starts the function against this emulator with `env`; its stdout goes to `log`.
    fn function(&self, env: &[(&str, String)], log: &Path) -> Running {
        let child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt", self.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .envs(env.iter().map(|(k, v)| (*k, v.clone())))
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Running(child)
    }

    fn invoke(&self, payload: &Value) -> Output {
        Command::new("cargo")
            .args(["lambda", "invoke", "_", "-A", "127.0.0.1", "-P"])
            .arg(self.port.to_string())
            .args(["--output-format", "json", "--data-ascii"])
            .arg(payload.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-23T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/insights-export"],
        "detail": {}
    })
}

fn gunzip_lines(path: &Path) -> Vec<String> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_owned).collect()
}

fn data_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        if path.to_str().unwrap().ends_with(".json.gz") {
            lines.extend(gunzip_lines(&path));
        }
    }
    lines
}

#[test]
fn scheduled_and_manual_invocations_under_the_runtime_emulator() {
    let moto = Moto::start();
    moto.create_bucket("audit");
    moto.create_bucket("archive");
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let out = insights()
            .current_dir(dir.path())
            .args(args)
            .envs(moto.env())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    };
    cli(&[
        "generate",
        "--events",
        "3000",
        "--days",
        "3",
        "--orgs",
        "2",
        "--start",
        "2026-11-01",
        "-o",
        "events.ndjson",
    ]);
    cli(&["ingest", "--store", "s3://audit/di", "events.ndjson"]);
    let public_key = cli(&[
        "keys",
        "signing",
        "init",
        "--store",
        "s3://audit/di",
        "--out",
        "signing.pem",
    ])
    .stdout;
    std::fs::write(dir.path().join("signing.pub"), public_key).unwrap();

    let emulator = Emulator::start();
    let mut env: Vec<(&str, String)> = moto.env();
    env.extend([
        ("INSIGHTS_TABLE_URI", "s3://audit/di".to_owned()),
        ("DESTINATION_BUCKET", "archive".to_owned()),
        ("DESTINATION_PREFIX", "lambda/exports".to_owned()),
        ("INCREMENT_AMOUNT", "1".to_owned()),
        ("INCREMENT_TYPE", "hour".to_owned()),
        ("INCREMENT_LAG", "5m".to_owned()),
        (
            "INSIGHTS_SIGNING_KEY",
            std::fs::read_to_string(dir.path().join("signing.pem")).unwrap(),
        ),
    ]);
    let log = dir.path().join("function.log");
    let function = emulator.function(&env, &log);

    // A scheduled event: one increment, every event of the closed windows.
    let out = emulator.invoke(&scheduled_event());
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "exported", "{report}");
    assert_eq!(report["rows"], 3000);
    let name = report["objects"][0]["key"].as_str().unwrap();
    assert!(
        name.starts_with("jc_directoryinsights_0000-01-01T00-00-00Z_"),
        "{name}"
    );
    assert!(
        name.ends_with("-00-00Z.json.gz"),
        "windows end on the hour: {name}"
    );

    let exported = dir.path().join("exported");
    moto.download("archive", "lambda/exports", &exported);
    let lines = data_lines(&exported);
    let events: BTreeSet<String> = std::fs::read_to_string(dir.path().join("events.ndjson"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3000);
    assert_eq!(lines.into_iter().collect::<BTreeSet<_>>(), events);
    let manifest = std::fs::read_dir(&exported)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().ends_with(".manifest.json"))
        .expect("a manifest");
    // Signed with the key the function was given: it verifies offline, beside its objects.
    let verified = cli(&[
        "verify-export",
        manifest.to_str().unwrap(),
        "--public-key",
        "signing.pub",
    ]);
    assert!(
        text(&verified.stdout).starts_with("verified")
            && text(&verified.stdout).contains("signed by"),
        "{}",
        text(&verified.stdout)
    );
    let manifest: Value = serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
    assert_eq!(manifest["rows"], 3000);
    assert!(manifest["signature"]["value"].is_string(), "{manifest}");

    // The same hour again: nothing new, and the NoResults metric in the function's output.
    let out = emulator.invoke(&scheduled_event());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "empty", "{report}");

    // A manual backfill of a past window.
    let out =
        emulator.invoke(&json!({"start": "2026-11-02T00:00:00Z", "end": "2026-11-02T06:00:00Z"}));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "backfilled", "{report}");
    assert!(report["rows"].as_u64().unwrap() > 0);
    let backfill = dir.path().join("backfill");
    moto.download("archive", "lambda/exports/backfill", &backfill);
    assert_eq!(
        data_lines(&backfill).len() as u64,
        report["rows"].as_u64().unwrap()
    );

    // A payload that is neither: a failed invocation naming the problem.
    let out = emulator.invoke(&json!({"hello": "world"}));
    assert!(!out.status.success());
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(said.contains("EventBridge scheduled event"), "{said}");
    drop(function);

    let logged = std::fs::read_to_string(&log).unwrap();
    let metric = logged
        .lines()
        .find(|l| l.contains("CloudWatchMetrics"))
        .expect("the NoResults metric line");
    let metric: Value = serde_json::from_str(metric).unwrap();
    assert_eq!(
        metric["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "DirectoryInsights"
    );
    assert_eq!(metric["NoResults"], 1);
    // Structured logs: every other line is a JSON object.
    for line in logged.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }

    // An unreachable table: a failed invocation with a clear error, and nothing written.
    let mut broken = env.clone();
    broken.retain(|(k, _)| *k != "INSIGHTS_TABLE_URI" && *k != "DESTINATION_PREFIX");
    broken.push(("INSIGHTS_TABLE_URI", "s3://no-such-bucket/di".to_owned()));
    broken.push(("DESTINATION_PREFIX", "broken".to_owned()));
    let broken_log = dir.path().join("broken.log");
    let function = emulator.function(&broken, &broken_log);
    let out = emulator.invoke(&scheduled_event());
    assert!(!out.status.success());
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(said.contains("no-such-bucket"), "{said}");
    drop(function);
    let nothing = dir.path().join("broken");
    moto.download("archive", "broken", &nothing);
    assert!(
        !nothing.exists() || std::fs::read_dir(&nothing).unwrap().next().is_none(),
        "a failed run wrote objects"
    );
}
