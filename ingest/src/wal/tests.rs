use super::*;

fn collect(dir: &Path, committed: u64) -> (Wal, Vec<(u64, String, Vec<u8>)>) {
    let mut seen = Vec::new();
    let wal = Wal::open(dir, committed, |r| {
        seen.push((r.lsn, r.org.to_owned(), r.raw.to_vec()));
        Ok(())
    })
    .unwrap();
    (wal, seen)
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
    assert_eq!(seen.iter().map(|r| r.0).collect::<Vec<_>>(), vec![4, 5]);
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
fn cuts_a_torn_tail_and_keeps_what_precedes_it() {
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
    assert_eq!(
        seen.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
        vec![b"first".to_vec()]
    );
    assert_eq!(wal.append("", b"third"), 2);
    wal.sync().unwrap();
    drop(wal);
    let seen = collect(dir.path(), 0).1;
    assert_eq!(
        seen.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
        vec![b"first".to_vec(), b"third".to_vec()]
    );
}

#[test]
fn detects_a_flipped_bit_in_the_newest_segment_as_torn() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = collect(dir.path(), 0);
    wal.append("", b"first");
    wal.append("", b"second");
    wal.sync().unwrap();
    let path = wal.current.path.clone();
    drop(wal);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    fs::write(&path, bytes).unwrap();
    let seen = collect(dir.path(), 0).1;
    assert_eq!(seen.len(), 1);
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
    assert_eq!(seen.iter().map(|r| r.0).collect::<Vec<_>>(), vec![4]);
}
