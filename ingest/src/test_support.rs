//! Helpers of the crate's unit tests: chunks of records, generated events, a store in a
//! temporary directory.

use std::path::Path;

use crate::framing::{Chunk, RecordSpan};
use crate::{EventTable, IngestConfig, Ingester, StoreLocation};

/// A chunk holding `lines`, one record each.
pub fn chunk(lines: &[String]) -> Chunk {
    let mut chunk = Chunk::default();
    for (i, line) in lines.iter().enumerate() {
        let start = chunk.data.len();
        chunk.data.extend_from_slice(line.as_bytes());
        chunk.records.push(RecordSpan {
            line: i as u64 + 1,
            start,
            end: chunk.data.len(),
            too_long: None,
        });
    }
    chunk
}

/// `count` SSO events of organization `o1`, ids `e0`, `e1`, ..., all on 2026-10-01.
pub fn events(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            format!(
                r#"{{"id":"e{i}","timestamp":"2026-10-01T10:00:{:02}Z","service":"sso","event_type":"sso_auth","organization":"o1"}}"#,
                i % 60
            )
        })
        .collect()
}

/// An ingester of the store `dir/store`, its configuration tuned by `tune`.
pub async fn open(dir: &Path, tune: impl FnOnce(&mut IngestConfig)) -> Ingester {
    let mut config = IngestConfig::new(StoreLocation::Local(dir.join("store")), dir);
    tune(&mut config);
    Ingester::open(config).await.unwrap()
}

/// The version of the table of `dir/store`.
pub async fn table_version(dir: &Path) -> i64 {
    EventTable::open(&StoreLocation::Local(dir.join("store")))
        .await
        .unwrap()
        .version()
}

/// Rows of the store's table, from its files' statistics.
pub async fn table_rows(dir: &Path) -> u64 {
    let table = EventTable::open(&StoreLocation::Local(dir.join("store")))
        .await
        .unwrap();
    crate::maintenance::stats(&table).await.unwrap().rows
}
