//! The Directory Insights event model.
//!
//! A DI event is kept twice: verbatim, as the `raw` JSON text that a producer sent (the canonical
//! record, returned byte for byte by exports and the API), and as typed columns derived from it
//! for filtering, sorting and pruning. This crate decodes and validates one event
//! ([`decode_event`]), describes the table's Arrow schema ([`event_schema`]), builds Arrow
//! batches from decoded events ([`EventBatchBuilder`]) and lists the services and event types
//! the DI API documents ([`catalogue`]).
//!
//! ```
//! use insights_schemas::decode_event;
//!
//! let line = br#"{"id":"63c264c6c1bd55c1b7e901a4","timestamp":"2023-01-14T08:16:06.495Z",
//!   "service":"sso","event_type":"sso_auth","organization":"org1","sso_token_success":false}"#;
//! let event = decode_event(line, None).unwrap();
//! assert_eq!(event.service, "sso");
//! assert_eq!(event.success, Some(false));
//! assert_eq!(event.timestamp_us, 1_673_684_166_495_000);
//! ```

pub mod catalogue;
mod columns;
mod decode;
mod error;
#[cfg(test)]
mod generated;
mod record_batch;
pub mod request;
mod timestamp;

pub use columns::{
    COLUMNS, Column, ColumnType, TextOf, added_later, column, column_named, derive_added_later,
    flat_columns, optional_texts,
};
pub use decode::{DecodedEvent, MAX_TIMESTAMP_US, MIN_TIMESTAMP_US, decode_event};
pub use error::{RejectReason, Result};
pub use record_batch::{EventBatchBuilder, PARTITION_COLUMNS, day_of, event_schema};
pub use timestamp::{format_timestamp_us, parse_timestamp_us};
