//! The query layer over the events table.
//!
//! A [`QueryEngine`] opens a store's Delta table and answers, for a [`Scope`] of organizations:
//! DI requests as pages of events ([`QueryEngine::events_page`]), counts, distinct-value
//! buckets and date histograms ([`QueryEngine::count`], [`QueryEngine::distinct`],
//! [`QueryEngine::interval`]), read-only SQL over a table named `events` ([`QueryEngine::sql`])
//! and streaming exports ([`export::export`]). Saved views live in the store ([`ViewStore`]).
//!
//! Every plan is built with DataFusion `Expr` builders from the validated request, never by
//! pasting user text into SQL, and every scan is filtered to the scope's organizations before
//! anything else sees it; the `organization` and `date` partition values prune files before
//! any is opened.
//!
//! ```no_run
//! # async fn run() -> insights_query::Result<()> {
//! use insights_ingest::StoreLocation;
//! use insights_query::{Format, QueryConfig, QueryEngine, Scope};
//! use insights_schemas::request::parse_event_query;
//!
//! let store = StoreLocation::parse("./insights-data")?;
//! let engine = QueryEngine::open(&store, QueryConfig::default()).await?;
//! let query = parse_event_query(br#"{"service": ["sso"], "start_time": "2026-10-01T00:00:00Z",
//!     "search_term": {"and": [{"success": false}]}, "sort": "DESC", "limit": 100}"#)?;
//! let page = engine.events_page(&Scope::one("org1"), &query, Format::Json).await?;
//! println!("{} events, next page after {}", page.count, page.search_after_header());
//! # Ok(())
//! # }
//! ```

/// The methods of a `ScalarUDFImpl` that wraps another function, `self.inner`, and keeps its
/// name, signature and types (the guarded functions, the UTC `date_trunc`).
macro_rules! delegate_to_inner {
    () => {
        fn name(&self) -> &str {
            self.inner.name()
        }

        fn aliases(&self) -> &[String] {
            self.inner.aliases()
        }

        fn signature(&self) -> &Signature {
            self.inner.signature()
        }

        fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
            self.inner.return_type(arg_types)
        }

        fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
            self.inner.return_field_from_args(args)
        }

        fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
            self.inner.coerce_types(arg_types)
        }
    };
}

mod added_columns;
mod aggregate;
mod capped_pool;
mod case_fold;
mod date_trunc;
mod dictionary_count;
mod encode;
mod engine;
pub mod enrich;
mod error;
mod events;
pub mod export;
pub mod fields;
mod filter;
mod limits;
mod paths;
mod scan;
mod sql;
mod sql_output;
mod views;

pub use aggregate::{
    CountResponse, DateBucket, DistinctResponse, IntervalResponse, MAX_DISTINCT_BUCKETS,
    MAX_INTERVAL_BUCKETS, TermsBucket,
};
pub use encode::{Encoder, Format};
pub use engine::{QueryConfig, QueryEngine, Scope};
pub use error::{Error, Result};
pub use events::{EventsPage, check_fields, sort_header};
pub use sql::EVENTS_TABLE;
pub use sql_output::SqlWriter;
pub use views::{View, ViewStore};
