//! Evidence: the signed digest chain stays clean through ingest, compaction, retention and
//! vacuum, and every kind of tampering is caught with its own message; retention removes
//! exactly the expired partitions of the organization with a policy, never under a legal
//! hold; an exported increment verifies offline.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::moto::Moto;
use crate::support::{generate, insights, stderr, stdout};

const ORG_A: &str = "5c15780bb2f8c51427d4e32b";
const ORG_B: &str = "5c6104d91824723debbd8121";

/// Runs the binary in `dir`, signing with `key` when given.
fn run_signed(dir: &Path, key: Option<&Path>, args: &[&str]) -> Output {
    let mut command = insights();
    command.current_dir(dir).args(args);
    if let Some(key) = key {
        command.env("INSIGHTS_SIGNING_KEY_FILE", key);
    }
    command.output().unwrap()
}

fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// Makes a signing key pair: the private key at `dir/name.pem`, the public at `dir/name.pub`.
fn key_pair(dir: &Path, store: &str, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let out = ok(run_signed(
        dir,
        None,
        &[
            "keys",
            "signing",
            "init",
            "--store",
            store,
            "--out",
            private.to_str().unwrap(),
        ],
    ));
    let public = dir.join(format!("{name}.pub"));
    std::fs::write(&public, &out.stdout).unwrap();
    assert!(
        stdout(&out).starts_with("-----BEGIN PUBLIC KEY-----"),
        "{}",
        stdout(&out)
    );
    (private, public)
}

/// `insights verify` of `store` trusting `public`: (success, stdout).
fn verify(dir: &Path, store: &str, public: &Path) -> (bool, String) {
    let output = verify_with(dir, store, public, &[]);
    (output.status.success(), stdout(&output))
}

/// `insights verify` of `store` trusting `public`, with more arguments.
fn verify_with(dir: &Path, store: &str, public: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "verify",
        "--store",
        store,
        "--public-key",
        public.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    run_signed(dir, None, &args)
}

fn assert_verifies(dir: &Path, store: &str, public: &Path, after: &str) {
    let (verified, out) = verify(dir, store, public);
    assert!(
        verified && out.starts_with("verified "),
        "after {after}: {out}"
    );
}

/// Asserts that `store` fails verification with a problem containing `expected`.
fn assert_caught(dir: &Path, store: &str, public: &Path, tamper: &str, expected: &str) {
    let (verified, out) = verify(dir, store, public);
    assert!(!verified, "{tamper} was not caught:\n{out}");
    assert!(
        out.contains(expected) && out.contains("NOT VERIFIED"),
        "{tamper}: expected {expected:?} in:\n{out}"
    );
}

fn copy_store(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .args(["-a", from.to_str().unwrap(), to.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn parquet_files(store: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&store.join("events"), &mut out);
    out.sort();
    out
}

/// The digest files of a store, in version order.
fn digests(store: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(store.join("_digests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    out
}

fn digest_body(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// Partition dates per organization, from `insights stats --json`.
fn partitions(dir: &Path, store: &str) -> Vec<(String, String)> {
    let out = ok(run_signed(
        dir,
        None,
        &[
            "sql",
            "--store",
            store,
            "--format",
            "csv",
            "SELECT DISTINCT organization, CAST(date AS VARCHAR) AS d FROM events ORDER BY 1, 2",
        ],
    ));
    stdout(&out)
        .lines()
        .skip(1)
        .map(|line| {
            let (org, date) = line.split_once(',').unwrap();
            (org.to_owned(), date.to_owned())
        })
        .collect()
}

#[test]
fn the_digest_chain_stays_clean_through_every_write_and_catches_each_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Ten days that straddle a 60-day policy: the first five are wholly older than 60 days.
    let today = chrono::Utc::now().date_naive();
    let start = (today - chrono::Duration::days(65)).to_string();
    generate(
        d,
        "events.ndjson",
        &[
            "--events", "6000", "--days", "10", "--orgs", "2", "--start", &start,
        ],
    );
    let store = "store";
    let (key, public) = key_pair(d, store, "signing");
    let key = Some(key.as_path());

    ok(run_signed(
        d,
        key,
        &[
            "ingest",
            "--store",
            store,
            "--flush-rows",
            "1500",
            "events.ndjson",
        ],
    ));
    assert_verifies(d, store, &public, "ingest");
    ok(run_signed(d, key, &["compact", "--store", store]));
    assert_verifies(d, store, &public, "compaction");
    let kinds: Vec<String> = digests(&d.join(store))
        .iter()
        .map(|p| digest_body(p)["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("create"));
    assert!(
        kinds.contains(&"ingest".to_owned()) && kinds.last().unwrap() == "compaction",
        "{kinds:?}"
    );

    // Retention: A keeps 60 days; B would keep 1 day but is under a legal hold.
    let before = partitions(d, store);
    ok(run_signed(
        d,
        key,
        &[
            "retention",
            "set",
            "--store",
            store,
            "--org",
            ORG_A,
            "--days",
            "60",
        ],
    ));
    ok(run_signed(
        d,
        key,
        &[
            "retention",
            "set",
            "--store",
            store,
            "--org",
            ORG_B,
            "--days",
            "1",
        ],
    ));
    ok(run_signed(
        d,
        key,
        &[
            "retention",
            "hold",
            "--store",
            store,
            "--org",
            ORG_B,
            "--reason",
            "case 7",
        ],
    ));
    let applied = ok(run_signed(
        d,
        key,
        &["retention", "apply", "--store", store],
    ));
    assert!(
        stdout(&applied).contains(&format!("{ORG_B}: under a legal hold")),
        "{}",
        stdout(&applied)
    );
    let cutoff = (chrono::Utc::now() - chrono::Duration::days(60))
        .date_naive()
        .to_string();
    let expected: Vec<_> = before
        .iter()
        .filter(|(org, date)| !(org == ORG_A && date.as_str() < cutoff.as_str()))
        .cloned()
        .collect();
    let removed = before.len() - expected.len();
    assert!((4..=6).contains(&removed), "{removed} of {before:?}");
    assert_eq!(
        partitions(d, store),
        expected,
        "exactly A's expired days are gone"
    );
    assert_verifies(d, store, &public, "retention");
    let last = digests(&d.join(store)).pop().unwrap();
    let body = digest_body(&last);
    assert_eq!(body["kind"], "retention");
    assert_eq!(body["details"]["organization"], ORG_A);
    assert_eq!(body["removed"].as_array().unwrap().len(), removed);

    // Vacuum keeps what the hold covers and deletes the rest of what is no longer live; a file
    // no commit names yet (a write about to be committed) stays whatever the grace.
    let in_flight = d
        .join(store)
        .join(format!("events/organization={ORG_A}/date=2026-01-01"));
    std::fs::create_dir_all(&in_flight).unwrap();
    let in_flight = in_flight.join("part-in-flight.zstd.parquet");
    std::fs::write(&in_flight, b"PAR1").unwrap();
    let vacuumed = ok(run_signed(
        d,
        key,
        &["vacuum", "--store", store, "--grace", "0s"],
    ));
    assert!(
        in_flight.exists(),
        "vacuum deleted a file not yet committed"
    );
    std::fs::remove_file(&in_flight).unwrap();
    assert!(
        stderr(&vacuumed).contains("kept: their organization is under a legal hold"),
        "{}",
        stderr(&vacuumed)
    );
    assert!(
        parquet_files(&d.join(store))
            .iter()
            .any(|p| p.to_str().unwrap().contains(ORG_B))
    );
    assert_verifies(d, store, &public, "vacuum");
    assert_eq!(
        digest_body(&digests(&d.join(store)).pop().unwrap())["kind"],
        "vacuum"
    );

    // Released, B's days all expire; a second vacuum deletes everything not live.
    ok(run_signed(
        d,
        key,
        &["retention", "release", "--store", store, "--org", ORG_B],
    ));
    ok(run_signed(
        d,
        key,
        &["retention", "apply", "--store", store],
    ));
    assert!(partitions(d, store).iter().all(|(org, _)| org == ORG_A));
    ok(run_signed(
        d,
        key,
        &["vacuum", "--store", store, "--grace", "0s"],
    ));
    assert_verifies(
        d,
        store,
        &public,
        "retention and vacuum of the released organization",
    );
    let live = parquet_files(&d.join(store));
    assert!(!live.is_empty() && live.iter().all(|p| p.to_str().unwrap().contains(ORG_A)));

    // Each tampering on its own copy of the clean store.
    let tampered = |name: &str| -> (String, PathBuf) {
        let copy = d.join(name);
        copy_store(&d.join(store), &copy);
        (name.to_owned(), copy)
    };

    let (name, copy) = tampered("flipped");
    let file = &parquet_files(&copy)[0];
    let mut bytes = std::fs::read(file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(file, bytes).unwrap();
    assert_caught(
        d,
        &name,
        &public,
        "a flipped byte",
        "the file's bytes differ from its digest",
    );

    let (name, copy) = tampered("deleted");
    std::fs::remove_file(&parquet_files(&copy)[0]).unwrap();
    assert_caught(d, &name, &public, "a deleted file", "is missing");

    let (name, copy) = tampered("added");
    let source = parquet_files(&copy)[0].clone();
    std::fs::copy(
        &source,
        source.with_file_name("part-99999-slipped-in.zstd.parquet"),
    )
    .unwrap();
    assert_caught(
        d,
        &name,
        &public,
        "an added file",
        "slipped-in.zstd.parquet: the file is in the table's directory but no digest added it",
    );

    let (name, copy) = tampered("log");
    let entry = copy.join("events/_delta_log/00000000000000000001.json");
    let text = std::fs::read_to_string(&entry).unwrap();
    std::fs::write(
        &entry,
        text.replacen("\"timestamp\":", "\"timestamp\":1", 1),
    )
    .unwrap();
    assert_caught(
        d,
        &name,
        &public,
        "a rewritten log entry",
        "the log entry was rewritten",
    );

    let (name, copy) = tampered("digest-deleted");
    let chain = digests(&copy);
    std::fs::remove_file(&chain[2]).unwrap();
    assert_caught(
        d,
        &name,
        &public,
        "a deleted digest",
        "version 2 of the table has no digest",
    );

    let (name, copy) = tampered("digest-replayed");
    let chain = digests(&copy);
    std::fs::copy(&chain[1], &chain[3]).unwrap();
    assert_caught(
        d,
        &name,
        &public,
        "an old digest replayed",
        "the digest file of version 3 holds the digest of version 1",
    );

    // The newest digest's signature stripped: caught even when unsigned digests are allowed,
    // with the key's name left in the body or taken out of it too.
    for (tamper, strip_key, expected) in [
        (
            "signature-stripped",
            false,
            "but has no signature (the signature was removed)",
        ),
        (
            "signature-and-key-stripped",
            true,
            "the digest is unsigned although digests before it are signed",
        ),
    ] {
        let (name, copy) = tampered(tamper);
        let newest = digests(&copy).pop().unwrap();
        let text = std::fs::read_to_string(&newest).unwrap();
        let mut body: serde_json::Value =
            serde_json::from_str(text.lines().next().unwrap()).unwrap();
        if strip_key {
            body["key"] = serde_json::Value::Null;
        }
        std::fs::write(
            &newest,
            format!("{body}\n{{\"signature\":null,\"key\":null}}\n"),
        )
        .unwrap();
        let out = run_signed(
            d,
            None,
            &[
                "verify",
                "--store",
                &name,
                "--public-key",
                public.to_str().unwrap(),
                "--allow-unsigned",
            ],
        );
        assert!(!out.status.success(), "{tamper}: {}", stdout(&out));
        assert!(
            stdout(&out).contains(expected),
            "{tamper}: {}",
            stdout(&out)
        );
    }

    // Someone with write access but without the key adds events with a key of their own: the
    // store then holds their public key too, so only the auditor's own copy catches it.
    let (name, _) = tampered("other-key");
    let (other, _) = key_pair(d, &name, "other");
    generate(
        d,
        "more.ndjson",
        &[
            "--events",
            "50",
            "--days",
            "1",
            "--seed",
            "7",
            "--start",
            &today.to_string(),
        ],
    );
    ok(run_signed(
        d,
        Some(&other),
        &["ingest", "--store", &name, "more.ndjson"],
    ));
    assert_caught(
        d,
        &name,
        &public,
        "a digest signed with another key",
        "which is not trusted",
    );
    let trusting_the_store = ok(run_signed(d, None, &["verify", "--store", &name]));
    assert!(stderr(&trusting_the_store).contains("give your own copy with --public-key"));
}

#[test]
fn unsigned_and_pre_digest_stores_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "events.ndjson", &["--events", "2000", "--days", "3"]);
    ok(run_signed(
        d,
        None,
        &[
            "ingest",
            "--store",
            "store",
            "--flush-rows",
            "700",
            "events.ndjson",
        ],
    ));
    let out = run_signed(d, None, &["verify", "--store", "store"]);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("versions 0–3 are unsigned: no signing key was configured"),
        "{}",
        stdout(&out)
    );
    ok(run_signed(
        d,
        None,
        &["verify", "--store", "store", "--allow-unsigned"],
    ));

    // A store written before digests existed: the next writer digests its live files as a
    // baseline, and verify says what the chain does not cover.
    std::fs::remove_dir_all(d.join("store/_digests")).unwrap();
    let (key, public) = key_pair(d, "store", "signing");
    ok(run_signed(d, Some(&key), &["compact", "--store", "store"]));
    let chain = digests(&d.join("store"));
    let first = digest_body(&chain[0]);
    assert_eq!(first["kind"], "baseline");
    assert_eq!(first["version"], 3);
    assert!(first["previous"].is_null());
    let out = ok(run_signed(
        d,
        None,
        &[
            "verify",
            "--store",
            "store",
            "--public-key",
            public.to_str().unwrap(),
        ],
    ));
    assert!(
        stderr(&out).contains("versions 0–2 predate the digest chain"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_exported_increment_verifies_offline_and_one_altered_byte_fails() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "events.ndjson", &["--events", "3000", "--days", "2"]);
    let (key, public) = key_pair(d, "store", "signing");
    ok(run_signed(
        d,
        Some(&key),
        &["ingest", "--store", "store", "events.ndjson"],
    ));
    ok(run_signed(
        d,
        Some(&key),
        &["export-increment", "--store", "store", "--dest", "out"],
    ));
    // Away from the store: only the exported objects and the auditor's public key.
    let away = d.join("auditor");
    std::fs::rename(d.join("out"), &away).unwrap();
    std::fs::remove_dir_all(d.join("store")).unwrap();
    let manifest = std::fs::read_dir(&away)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().ends_with(".manifest.json"))
        .unwrap();
    let check = |manifest: &Path| {
        run_signed(
            d,
            None,
            &[
                "verify-export",
                manifest.to_str().unwrap(),
                "--public-key",
                public.to_str().unwrap(),
            ],
        )
    };
    let clean = ok(check(&manifest));
    assert!(
        stdout(&clean).starts_with("verified ") && stdout(&clean).contains("3000 events"),
        "{}",
        stdout(&clean)
    );

    let object = std::fs::read_dir(&away)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().ends_with(".json.gz"))
        .unwrap();
    let original = std::fs::read(&object).unwrap();
    let mut altered = original.clone();
    altered[original.len() / 2] ^= 0x20;
    std::fs::write(&object, &altered).unwrap();
    let out = check(&manifest);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("the object differs from its manifest"),
        "{}",
        stdout(&out)
    );
    std::fs::write(&object, &original).unwrap();

    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen("\"rows\": 3000", "\"rows\": 2999", 1),
    )
    .unwrap();
    let out = check(&manifest);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("the manifest was altered after it was signed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_store_on_s3_verifies_clean_and_catches_tampering_with_a_create_only_digest_copy() {
    let moto = Moto::start();
    moto.create_bucket("audit");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(
        d,
        "events.ndjson",
        &["--events", "3000", "--days", "3", "--orgs", "2"],
    );
    let store = "s3://audit/di";
    let s3 = |key: Option<&Path>, args: &[&str]| {
        let mut command = insights();
        command.current_dir(d).args(args).envs(moto.env());
        command.env("INSIGHTS_DIGEST_COPY", "s3://audit/worm");
        if let Some(key) = key {
            command.env("INSIGHTS_SIGNING_KEY_FILE", key);
        }
        command.output().unwrap()
    };
    let init = ok(s3(
        None,
        &[
            "keys",
            "signing",
            "init",
            "--store",
            store,
            "--out",
            d.join("k.pem").to_str().unwrap(),
        ],
    ));
    let public = d.join("k.pub");
    std::fs::write(&public, &init.stdout).unwrap();
    let key = d.join("k.pem");
    ok(s3(
        Some(&key),
        &[
            "ingest",
            "--store",
            store,
            "--flush-rows",
            "1000",
            "events.ndjson",
        ],
    ));
    ok(s3(Some(&key), &["compact", "--store", store]));
    ok(s3(
        Some(&key),
        &["vacuum", "--store", store, "--grace", "0s"],
    ));
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--store",
            store,
            "--public-key",
            public.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        s3(None, &args)
    };
    let clean = ok(verify(&[]));
    assert!(
        stdout(&clean).starts_with("verified s3://audit/di"),
        "{}",
        stdout(&clean)
    );
    // The copy holds the same chain.
    ok(verify(&["--digests", "s3://audit/worm"]));

    // A file slipped into the table and the newest digest deleted from the store: both caught,
    // and the copy still has the digest the store lost.
    let python = |code: &str| {
        let status = std::process::Command::new("python3")
            .args(["-c", &format!(
                "import boto3\nc = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', \
                 aws_access_key_id='test', aws_secret_access_key='test')\n{code}",
                moto.endpoint
            )])
            .status()
            .unwrap();
        assert!(status.success(), "{code}");
    };
    python(&format!(
        "c.put_object(Bucket='audit', Key='di/events/organization={ORG_A}/date=2026-10-01/part-x.parquet', Body=b'PAR1')"
    ));
    python(
        "keys = sorted(o['Key'] for o in c.list_objects_v2(Bucket='audit', Prefix='di/_digests/0')['Contents'])\n\
            c.delete_object(Bucket='audit', Key=keys[-2])",
    );
    let out = verify(&[]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(
            "part-x.parquet: the file is in the table's directory but no digest added it"
        ),
        "{text}"
    );
    assert!(text.contains("has no digest"), "{text}");
    let from_copy = verify(&["--digests", "s3://audit/worm"]);
    let text = stdout(&from_copy);
    assert!(
        !text.contains("has no digest") && text.contains("part-x.parquet"),
        "{text}"
    );
}

#[test]
fn serve_applies_the_retention_policy_at_start_and_on_its_interval() {
    let (dir, store) = crate::support::server::fresh_store();
    let d = dir.path();
    let today = chrono::Utc::now().date_naive();
    let start = (today - chrono::Duration::days(10)).to_string();
    generate(
        d,
        "events.ndjson",
        &["--events", "1000", "--days", "4", "--start", &start],
    );
    let store_arg = store.to_str().unwrap();
    ok(run_signed(
        d,
        None,
        &["ingest", "--store", store_arg, "events.ndjson"],
    ));
    let before = partitions(d, store_arg);
    assert_eq!(before.len(), 4);
    let mut server = crate::support::server::Server::start(&store, &["--retention-every", "1s"]);
    // Set after the start: the interval, not only the start, applies it.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    ok(run_signed(
        d,
        None,
        &[
            "retention",
            "set",
            "--store",
            store_arg,
            "--org",
            ORG_A,
            "--days",
            "8",
        ],
    ));
    let cutoff = (chrono::Utc::now() - chrono::Duration::days(8))
        .date_naive()
        .to_string();
    let expected: Vec<_> = before
        .iter()
        .filter(|(_, date)| date.as_str() >= cutoff.as_str())
        .cloned()
        .collect();
    assert_eq!(expected.len(), 2, "{before:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while partitions(d, store_arg) != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not apply the policy: {:?}",
            partitions(d, store_arg)
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    server.terminate();
    let out = ok(run_signed(
        d,
        None,
        &["verify", "--store", store_arg, "--allow-unsigned"],
    ));
    assert!(stdout(&out).starts_with("verified "), "{}", stdout(&out));
    assert!(
        digests(&store)
            .iter()
            .any(|p| digest_body(p)["kind"] == "retention")
    );
}

#[test]
fn a_store_verifies_clean_while_it_is_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let store = "store";
    let (key, public) = key_pair(&d, store, "signing");
    generate(&d, "first.ndjson", &["--events", "3000", "--days", "3"]);
    ok(run_signed(
        &d,
        Some(&key),
        &["ingest", "--store", store, "first.ndjson"],
    ));
    for seed in 1..=8 {
        generate(
            &d,
            &format!("more-{seed}.ndjson"),
            &[
                "--events",
                "400",
                "--days",
                "3",
                "--seed",
                &seed.to_string(),
            ],
        );
    }
    // Small commits one after another, each with its digest, while verify runs again and again.
    let writer = {
        let (d, key) = (d.clone(), key.clone());
        std::thread::spawn(move || {
            for seed in 1..=8 {
                ok(run_signed(
                    &d,
                    Some(&key),
                    &[
                        "ingest",
                        "--store",
                        store,
                        "--flush-rows",
                        "100",
                        &format!("more-{seed}.ndjson"),
                    ],
                ));
            }
        })
    };
    let mut verifications = 0;
    while !writer.is_finished() || verifications < 2 {
        let (verified, out) = verify(&d, store, &public);
        assert!(
            verified && out.starts_with("verified "),
            "verification {verifications} while writing:\n{out}"
        );
        verifications += 1;
    }
    writer.join().unwrap();
    assert_verifies(&d, store, &public, "the writes");
}

#[test]
fn from_a_later_time_still_checks_signatures_and_a_junk_stored_key_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = "store";
    let (key, public) = key_pair(d, store, "signing");
    generate(d, "events.ndjson", &["--events", "500", "--days", "2"]);
    ok(run_signed(
        d,
        Some(&key),
        &["ingest", "--store", store, "events.ndjson"],
    ));

    // A file under the stored keys that is no key: a problem named, not an aborted run.
    let junk = d.join(store).join("_digests/keys/junk.pem");
    std::fs::write(&junk, "not a key").unwrap();
    assert_caught(d, store, &public, "a junk stored key", "junk.pem");
    std::fs::remove_file(&junk).unwrap();

    // From a time after every commit: no bytes to check, but every signature still is.
    let later = |store: &str| verify_with(d, store, &public, &["--from", "2100-01-01"]);
    let out = ok(later(store));
    assert!(
        stdout(&out).starts_with("verified ") && stdout(&out).contains("0 live files"),
        "{}",
        stdout(&out)
    );
    let (other, _) = key_pair(d, store, "other");
    generate(
        d,
        "more.ndjson",
        &["--events", "50", "--days", "1", "--seed", "7"],
    );
    ok(run_signed(
        d,
        Some(&other),
        &["ingest", "--store", store, "more.ndjson"],
    ));
    let out = later(store);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("which is not trusted"),
        "{}",
        stdout(&out)
    );
}
