use super::*;
use crate::test_support::{chunk, events, open, table_rows, table_version};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_when_the_buffer_reaches_its_row_or_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut ingester = open(dir.path(), |c| c.flush_rows = 10).await;
    ingester
        .ingest("t", &chunk(&events(25)), None)
        .await
        .unwrap();
    ingester.settle(true).await.unwrap();
    assert_eq!(
        ingester.commits(),
        2,
        "25 events with a 10-row budget: two full batches"
    );
    assert_eq!(ingester.builder.len(), 5);

    let dir = tempfile::tempdir().unwrap();
    let mut ingester = open(dir.path(), |c| c.flush_bytes = 300).await;
    ingester
        .ingest("t", &chunk(&events(6)), None)
        .await
        .unwrap();
    ingester.settle(true).await.unwrap();
    assert_eq!(
        ingester.commits(),
        2,
        "three ~115-byte events fill a 300-byte budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_buffered_events_once_they_are_old_enough() {
    let dir = tempfile::tempdir().unwrap();
    let mut ingester = open(dir.path(), |c| c.flush_age = Duration::from_millis(50)).await;
    ingester
        .ingest("t", &chunk(&events(3)), None)
        .await
        .unwrap();
    ingester.flush_if_due().await.unwrap();
    ingester.settle(true).await.unwrap();
    assert_eq!(ingester.commits(), 0, "not due yet");
    tokio::time::sleep(Duration::from_millis(80)).await;
    ingester.flush_if_due().await.unwrap();
    ingester.settle(true).await.unwrap();
    assert_eq!(ingester.commits(), 1);
    assert_eq!(table_version(dir.path()).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unflushed_events_are_replayed_on_the_next_open_with_their_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let mut ingester = open(dir.path(), |_| {}).await;
    let outcome = ingester
        .ingest("t", &chunk(&events(4)), None)
        .await
        .unwrap();
    assert_eq!((outcome.accepted, outcome.last_seq), (4, 4));
    drop(ingester); // no flush: the events are only in the log
    let mut reopened = open(dir.path(), |_| {}).await;
    assert_eq!(reopened.builder.len(), 4, "replayed into the buffer");
    let again = reopened
        .ingest("t", &chunk(&events(5)), None)
        .await
        .unwrap();
    assert_eq!(
        (again.accepted, again.duplicates, again.last_seq),
        (1, 4, 5)
    );
    reopened.close().await.unwrap();
    assert_eq!(table_version(dir.path()).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_spans_several_commits_loses_nothing_when_it_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let mut ingester = open(dir.path(), |_| {}).await;
    ingester
        .ingest("t", &chunk(&events(45)), None)
        .await
        .unwrap();
    drop(ingester); // a crash: the 45 events are only in the log

    // The replay fills four commits of ten and buffers the last five; then another crash.
    let mut replaying = open(dir.path(), |c| c.flush_rows = 10).await;
    replaying.settle(true).await.unwrap();
    assert_eq!(replaying.commits(), 4);
    assert_eq!(replaying.builder.len(), 5);
    assert_eq!(
        replaying.table.committed_lsn().await.unwrap(),
        40,
        "the watermark is the last LSN the commits hold, not the last in the log"
    );
    drop(replaying);

    let reopened = open(dir.path(), |_| {}).await;
    assert_eq!(
        reopened.builder.len(),
        5,
        "the last five are replayed again"
    );
    reopened.close().await.unwrap();
    assert_eq!(table_rows(dir.path()).await, 45);
}

/// A regular file where a partition's directory must go: writing that partition fails, even
/// for a user whom file permissions do not stop.
fn obstruct_partition(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("store/events/organization=o1");
    std::fs::write(&path, b"in the way").unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_retried_and_nothing_after_it_is_committed_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut ingester = open(dir.path(), |c| c.flush_rows = 10).await;
    let obstruction = obstruct_partition(dir.path());
    let all = events(40);
    // The first commit (events 1-10) fails; ingest goes on into the buffer...
    let outcome = ingester
        .ingest("t", &chunk(&all[..20]), None)
        .await
        .unwrap();
    assert_eq!(outcome.accepted, 20);
    ingester.settle(true).await.unwrap_err();
    assert!(
        ingester.trouble().unwrap().contains("has failed"),
        "{:?}",
        ingester.trouble()
    );
    // ...until the buffer is full: then new events are refused, not acknowledged.
    let refused = ingester
        .ingest("t", &chunk(&all[20..30]), None)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Backlogged { waiting: 20, .. }),
        "{refused}"
    );
    assert_eq!(ingester.commits(), 0);
    assert_eq!(
        table_rows(dir.path()).await,
        0,
        "nothing later landed first"
    );

    // Once the store can be written again, the retry lands, then the rest.
    std::fs::remove_file(&obstruction).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    ingester.flush_if_due().await.unwrap();
    assert!(ingester.trouble().is_none());
    let outcome = ingester
        .ingest("t", &chunk(&all[20..]), None)
        .await
        .unwrap();
    assert_eq!(outcome.accepted, 20);
    ingester.close().await.unwrap();
    assert_eq!(table_rows(dir.path()).await, 40);
    let wal_bytes: u64 = std::fs::read_dir(dir.path().join("store/_wal"))
        .unwrap()
        .filter_map(|e| e.unwrap().metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    assert_eq!(
        wal_bytes, 0,
        "the log is released once the table holds everything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_a_failed_commit_survive_a_crash_and_a_failed_close() {
    let dir = tempfile::tempdir().unwrap();
    let mut ingester = open(dir.path(), |c| c.flush_rows = 10).await;
    let obstruction = obstruct_partition(dir.path());
    ingester
        .ingest("t", &chunk(&events(15)), None)
        .await
        .unwrap();
    // Closing cannot commit: it says so, and the log keeps the events.
    let error = ingester.close().await.unwrap_err();
    assert!(error.to_string().contains("write-ahead log"), "{error}");
    // A crash while the commit still fails.
    let mut reopened = open(dir.path(), |c| c.flush_rows = 1000).await;
    assert_eq!(reopened.builder.len(), 15);
    reopened
        .ingest("t", &chunk(&events(18)), None)
        .await
        .unwrap();
    drop(reopened);
    std::fs::remove_file(&obstruction).unwrap();
    let reopened = open(dir.path(), |_| {}).await;
    reopened.close().await.unwrap();
    assert_eq!(table_rows(dir.path()).await, 18);
}
