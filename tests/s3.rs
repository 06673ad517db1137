//! The same events ingested into a local store and into a store on a real S3-compatible server
//! (moto, on loopback) give the same rows.

use crate::support::moto::Moto;
use crate::support::{generate, insights, read_table, stderr, stdout};

#[test]
fn s3_store_holds_the_same_rows_as_a_local_store() {
    let moto = Moto::start();
    moto.create_bucket("audit");
    let dir = tempfile::tempdir().unwrap();
    generate(
        dir.path(),
        "events.ndjson",
        &["--events", "5000", "--days", "2", "--orgs", "2"],
    );

    let local = insights()
        .current_dir(dir.path())
        .args(["ingest", "--store", "local", "events.ndjson"])
        .output()
        .unwrap();
    assert!(local.status.success(), "{}", stderr(&local));

    let s3 = |args: &[&str]| {
        let mut command = insights();
        command.current_dir(dir.path()).args(args).envs(moto.env());
        command.output().unwrap()
    };
    let first = s3(&[
        "ingest",
        "--store",
        "s3://audit/di",
        "--flush-rows",
        "2000",
        "events.ndjson",
    ]);
    assert!(
        first.status.success(),
        "{}\n{}",
        stdout(&first),
        stderr(&first)
    );
    // Dedup across restarts works against the remote table too.
    let again = s3(&["ingest", "--store", "s3://audit/di", "events.ndjson"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("duplicates          5000"),
        "{}",
        stdout(&again)
    );
    // The log and quarantine of a remote store live in the user's state directory (XDG), not
    // in the directory the command ran in.
    assert!(
        moto.state_home
            .path()
            .join("insights/audit_di/_wal")
            .is_dir()
    );
    assert!(!dir.path().join("insights-state").exists());

    let stats = s3(&["stats", "--store", "s3://audit/di", "--json"]);
    assert!(stats.status.success(), "{}", stderr(&stats));
    let stats: serde_json::Value = serde_json::from_str(&stdout(&stats)).unwrap();
    assert_eq!(stats["rows"], 5000);

    let local_rows = read_table(
        dir.path().join("local").to_str().unwrap(),
        Default::default(),
    );
    let s3_rows = read_table("s3://audit/di", moto.storage_options());
    assert_eq!(local_rows.len(), 5000);
    let strip = |rows: Vec<crate::support::StoredRow>| {
        rows.into_iter()
            .map(|mut r| {
                // ingest_seq is per store; everything else must match.
                r.columns.retain(|(name, _)| name != "ingest_seq");
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(local_rows), strip(s3_rows));
}
