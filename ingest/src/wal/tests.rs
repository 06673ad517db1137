use super::*;

type Records = Vec<(u64, String, Vec<u8>)>;

/// Opens the log in `dir/wal` (quarantine in `dir/q`) and reads every record to replay.
fn collect(dir: &Path, committed: u64) -> (Wal, Records) {
    let (wal, mut replay) = Wal::open(&dir.join("wal"), committed, &dir.join("q")).unwrap();
    let mut seen = Vec::new();
    while let Some(r) = replay.next_record().unwrap() {
        seen.push((r.lsn, r.org.to_owned(), r.raw.to_vec()));
    }
    (wal, seen)
}

fn lsns(records: &Records) -> Vec<u64> {
    records.iter().map(|r| r.0).collect()
}

fn payloads(records: &Records) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.2.clone()).collect()
}

/// The segment files of the log, oldest first.
fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    list_segments(&dir.join("wal"))
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect()
}

#[test]
fn replays_synced_records_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, seen) = collect(dir.path(), 0);
    assert!(seen.is_empty());
    assert_eq!(wal.append("", b"{\"a\":1}"), 1);
    assert_eq!(wal.append("org9", b"{\"b\":2}"), 2);
    wal.sync().unwrap();
    drop(wal);
    let (wal, seen) = collect(dir.path(), 0);
    assert_eq!(
        seen,
        vec![
            (1, String::new(), b"{\"a\":1}".to_vec()),
            (2, "org9".into(), b"{\"b\":2}".to_vec())
        ]
    );
    assert_eq!(wal.last_lsn(), 2);
    assert!(wal.recovered().is_empty());
}

#[test]
fn skips_committed_records_and_continues_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    for i in 0..5 {
        wal.append("", format!("{i}").as_bytes());
    }
    wal.sync().unwrap();
    drop(wal);
    let (mut wal, seen) = collect(dir.path(), 3);
    assert_eq!(lsns(&seen), vec![4, 5]);
    assert_eq!(wal.append("", b"x"), 6);
}

#[test]
fn unsynced_records_are_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    wal.append("", b"lost");
    drop(wal);
    assert!(collect(dir.path(), 0).1.is_empty());
}

#[test]
fn cuts_a_torn_tail_keeps_what_precedes_it_and_a_copy_of_the_cut_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    wal.append("", b"first");
    wal.append("", b"second");
    wal.sync().unwrap();
    let path = wal.current.path.clone();
    drop(wal);
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let (mut wal, seen) = collect(dir.path(), 0);
    assert_eq!(payloads(&seen), vec![b"first".to_vec()]);
    let [found] = wal.recovered() else {
        panic!("one damage expected: {:?}", wal.recovered())
    };
    assert_eq!(found.damage.before_lsn, None);
    assert_eq!(found.damage.after_lsn, 1);
    assert_eq!(
        fs::read(&found.kept_in).unwrap().len() as u64,
        found.damage.bytes.end - found.damage.bytes.start
    );
    assert_eq!(wal.append("", b"third"), 2);
    wal.sync().unwrap();
    drop(wal);
    let (wal, seen) = collect(dir.path(), 0);
    assert_eq!(payloads(&seen), vec![b"first".to_vec(), b"third".to_vec()]);
    assert!(
        wal.recovered().is_empty(),
        "the cut tail is not found again"
    );
}

#[test]
fn damage_in_the_middle_of_a_segment_costs_only_the_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    for i in 0..5 {
        wal.append("o", format!("event number {i}").as_bytes());
    }
    wal.sync().unwrap();
    let path = wal.current.path.clone();
    drop(wal);
    // Flip a bit inside the third record's event.
    let mut bytes = fs::read(&path).unwrap();
    let record = scan::HEADER + 2 + 1 + "event number 0".len();
    bytes[2 * record + scan::HEADER + 5] ^= 0x40;
    fs::write(&path, &bytes).unwrap();

    let (mut wal, seen) = collect(dir.path(), 0);
    assert_eq!(lsns(&seen), vec![1, 2, 4, 5]);
    let [found] = wal.recovered() else {
        panic!("one damage expected: {:?}", wal.recovered())
    };
    assert_eq!(found.damage.bytes, 2 * record as u64..3 * record as u64);
    assert_eq!((found.unreadable.clone(), found.lost), (3..4, 1));
    assert_eq!(
        fs::read(&found.kept_in).unwrap(),
        bytes[2 * record..3 * record]
    );
    // New records go after the highest LSN found.
    assert_eq!(wal.append("", b"next"), 6);
}

#[test]
fn damage_in_a_closed_segment_does_not_stop_the_log_from_opening() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    wal.append("", b"one");
    wal.append("", b"two");
    wal.rotate().unwrap();
    wal.append("", b"three");
    wal.sync().unwrap();
    drop(wal);
    let oldest = segment_paths(dir.path())[0].clone();
    let mut bytes = fs::read(&oldest).unwrap();
    bytes[scan::HEADER + 3] ^= 0xff; // the first record's body
    fs::write(&oldest, &bytes).unwrap();

    let (wal, seen) = collect(dir.path(), 0);
    assert_eq!(payloads(&seen), vec![b"two".to_vec(), b"three".to_vec()]);
    let [found] = wal.recovered() else {
        panic!("one damage expected: {:?}", wal.recovered())
    };
    assert_eq!((found.unreadable.clone(), found.lost), (1..2, 1));

    // Once the table holds every record of the damaged segment, it is not read again.
    drop(wal);
    let (wal, _) = collect(dir.path(), 2);
    assert!(
        wal.recovered().is_empty(),
        "a segment the table holds whole is not read"
    );
}

#[test]
fn a_torn_record_followed_by_its_rewrite_is_read_once() {
    // What a failed append used to leave: part of a record, then the same records written
    // again by the next, successful, write.
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    wal.append("", b"kept");
    wal.sync().unwrap();
    wal.append("", b"retried one");
    wal.append("", b"retried two");
    let torn = wal.pending[..wal.pending.len() - 7].to_vec();
    wal.file.write_all(&torn).unwrap();
    wal.sync().unwrap();
    drop(wal);
    let (wal, seen) = collect(dir.path(), 0);
    assert_eq!(lsns(&seen), vec![1, 2, 3]);
    assert_eq!(
        payloads(&seen),
        vec![
            b"kept".to_vec(),
            b"retried one".to_vec(),
            b"retried two".to_vec()
        ]
    );
    let [found] = wal.recovered() else {
        panic!("one damage expected: {:?}", wal.recovered())
    };
    assert_eq!(
        found.damage.bytes.end - found.damage.bytes.start,
        torn.len() as u64
    );
    assert_eq!(found.lost, 0, "no LSN is missing");
}

#[test]
fn a_failed_write_is_cut_off_before_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    wal.append("", b"before");
    wal.sync().unwrap();
    // A write that stopped half way, as on a full disk.
    wal.append("", b"failed then retried");
    let half = wal.pending[..wal.pending.len() / 2].to_vec();
    wal.file.write_all(&half).unwrap();
    wal.torn = true;
    wal.append("", b"after");
    wal.sync().unwrap();
    assert!(!wal.torn);
    let path = wal.current.path.clone();
    drop(wal);
    let (wal, seen) = collect(dir.path(), 0);
    assert_eq!(lsns(&seen), vec![1, 2, 3]);
    assert!(wal.recovered().is_empty(), "nothing torn was left behind");
    assert_eq!(
        fs::read(&path).unwrap().len(),
        3 * scan::HEADER + 3 * 2 + "before".len() + "failed then retried".len() + "after".len()
    );
}

#[test]
fn a_write_that_fails_keeps_its_records_for_the_next_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    wal.append("", b"one");
    wal.sync().unwrap();
    let writable = std::mem::replace(&mut wal.file, File::open(&wal.current.path).unwrap());
    wal.append("", b"two");
    let error = wal.sync().unwrap_err();
    assert!(
        error.to_string().contains("writing"),
        "the error names the write: {error}"
    );
    assert!(
        !wal.pending.is_empty(),
        "the records wait for the next attempt"
    );
    // The read-only handle could not be cut either: the log moved to a fresh segment.
    assert_eq!(wal.closed.len(), 1);
    drop(writable);
    wal.append("", b"three");
    wal.sync().unwrap();
    assert!(wal.pending.is_empty());
    drop(wal);
    let (_, seen) = collect(dir.path(), 0);
    assert_eq!(
        payloads(&seen),
        vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
}

#[test]
fn release_deletes_only_fully_committed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    wal.append("", b"1");
    wal.append("", b"2");
    wal.rotate().unwrap();
    wal.append("", b"3");
    wal.rotate().unwrap();
    wal.append("", b"4");
    wal.sync().unwrap();
    wal.release(1).unwrap();
    assert_eq!(wal.closed.len(), 2);
    wal.release(2).unwrap();
    assert_eq!(wal.closed.len(), 1);
    wal.release(4).unwrap();
    assert!(wal.closed.is_empty());
    drop(wal);
    let seen = collect(dir.path(), 3).1;
    assert_eq!(lsns(&seen), vec![4]);
}

/// A small deterministic generator for the damage cases below.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn every_record_outside_random_damage_is_found_once_in_order() {
    let mut state = 0x9e37_79b9_7f4a_7c15;
    for case in 0..3000 {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = collect(dir.path(), 0);
        let count = 1 + next(&mut state) % 40;
        let mut starts = Vec::new();
        let mut bodies = Vec::new();
        let mut offset = 0;
        for i in 0..count {
            let pad = "x".repeat((next(&mut state) % 90) as usize);
            let body = format!("{{\"id\":\"{i}\",\"pad\":\"{pad}\"}}");
            starts.push(offset);
            offset += scan::HEADER + 2 + body.len();
            wal.append("", body.as_bytes());
            bodies.push(body);
        }
        starts.push(offset);
        wal.sync().unwrap();
        let path = wal.current.path.clone();
        drop(wal);
        let mut bytes = fs::read(&path).unwrap();
        // Damage a random span: overwrite with noise, zeros, or a copy of other records.
        let from = (next(&mut state) as usize) % bytes.len();
        let len = 1 + (next(&mut state) as usize) % 200;
        let to = (from + len).min(bytes.len());
        let kind = next(&mut state) % 3;
        for i in from..to {
            bytes[i] = match kind {
                0 => next(&mut state) as u8,
                1 => 0,
                _ => bytes[i % 64],
            };
        }
        fs::write(&path, &bytes).unwrap();
        let (wal, seen) = collect(dir.path(), 0);
        let intact: Vec<u64> = (0..count as usize)
            .filter(|&i| starts[i + 1] <= from || starts[i] >= to)
            .map(|i| i as u64 + 1)
            .collect();
        let found = lsns(&seen);
        assert!(
            found.windows(2).all(|w| w[0] < w[1]),
            "case {case}: out of order {found:?}"
        );
        for lsn in &intact {
            assert!(
                found.contains(lsn),
                "case {case}: intact record {lsn} lost; damage {from}..{to}, found {found:?}, {:?}",
                wal.recovered()
            );
        }
        for (lsn, _, payload) in &seen {
            assert_eq!(
                payload,
                bodies[*lsn as usize - 1].as_bytes(),
                "case {case}: record {lsn} replayed altered"
            );
        }
    }
}
