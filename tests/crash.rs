//! `kill -9` at random points: every acknowledged event is found exactly once afterwards.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::support::{generate, identity, insights, lines, read_table, run, stderr};

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(
        dir.path(),
        "events.ndjson",
        &[
            "--events", "40000", "--days", "4", "--orgs", "2", "--seed", "7",
        ],
    );
    let mut all = lines(&events);
    // Retries inside the input too.
    all.extend(all[..500].to_vec());
    std::fs::write(&events, all.join("\n")).unwrap();
    let identities: Vec<_> = all.iter().map(|l| identity(l)).collect();
    let store = dir.path().join("insights-data");

    // A fixed sequence of kill delays, spread from "during the first group commit" to "while a
    // table commit is under way".
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut acked_through = 0usize;
    for round in 0..6 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_millis(400 + state % 2600);
        let mut child = insights()
            .current_dir(dir.path())
            .args(["ingest", "--acks", "--flush-rows", "7000", "events.ndjson"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut through = 0usize;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(ack) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(n) = ack["through_line"].as_u64()
                {
                    through = through.max(n as usize);
                }
            }
            through
        });
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let through = reader.join().unwrap();
        acked_through = acked_through.max(through);

        // Restart: opening the store replays the log. Then check what the table holds.
        std::fs::write(dir.path().join("empty.ndjson"), "").unwrap();
        let restart = run(dir.path(), &["ingest", "empty.ndjson"]);
        assert!(
            restart.status.success(),
            "round {round}: {}",
            stderr(&restart)
        );
        let rows = read_table(store.to_str().unwrap(), HashMap::new());
        let stored: Vec<_> = rows
            .iter()
            .map(|r| (r.organization.clone(), r.id.clone(), r.timestamp_us))
            .collect();
        let unique: HashSet<_> = stored.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            stored.len(),
            "round {round}: an event is stored twice"
        );
        for (line, key) in identities.iter().enumerate().take(acked_through) {
            assert!(
                unique.contains(key),
                "round {round}: acknowledged line {} lost",
                line + 1
            );
        }
        eprintln!(
            "round {round}: killed after {delay:?}, acked through line {through}, table holds {}",
            stored.len()
        );
    }
    assert!(
        acked_through > 0,
        "no run got as far as an acknowledgement; the delays are too short"
    );

    // Finally a complete run: everything exactly once.
    let done = run(dir.path(), &["ingest", "events.ndjson"]);
    assert!(done.status.success(), "{}", stderr(&done));
    let rows = read_table(store.to_str().unwrap(), HashMap::new());
    let unique: HashSet<_> = rows
        .iter()
        .map(|r| (r.organization.clone(), r.id.clone(), r.timestamp_us))
        .collect();
    assert_eq!(rows.len(), unique.len());
    assert_eq!(unique, identities.into_iter().collect::<HashSet<_>>());
}
