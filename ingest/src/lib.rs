//! Durable ingest of Directory Insights events into a Delta table of Parquet partitions.
//!
//! An [`Ingester`] takes records (NDJSON lines or JSON array elements, see [`framing`]),
//! validates them ([`insights_schemas::decode_event`]), drops the ones the table already holds
//! ([`dedup`]), quarantines the rejected ones ([`quarantine`]) and appends the rest to a
//! write-ahead log ([`wal`]) before acknowledging. Buffered events are flushed by rows, bytes or
//! age into commits of the events table ([`table`]). [`maintenance`] compacts small files and
//! reports statistics. [`evidence`] keeps the signed digest chain over every commit and checks
//! it.

mod dedup;
mod error;
pub mod evidence;
pub mod framing;
mod ingester;
pub mod maintenance;
mod quarantine;
pub mod retention;
mod store;
mod stream;
mod table;
#[cfg(test)]
mod test_support;
mod wal;

pub use error::{Error, Result};
pub use ingester::{BatchOutcome, IngestConfig, Ingester, Rejection};
pub use store::{DEFAULT_STORE, StoreLocation};
pub use table::{BLOOM_FILTER_COLUMNS, CommitSummary, EventTable, TableFile};
