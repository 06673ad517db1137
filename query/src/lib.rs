//! The query layer over the events table: DataFusion sessions scoped to an organization, the DI
//! request model turned into plans, SQL, saved views, count/distinct/interval aggregations,
//! streaming exports and enrichment.
//!
//! The crate is part of the workspace so that the dependency direction (schemas <- ingest <-
//! query <- exporter <- lambda) holds from the start; it has no query code in this version.

pub use insights_ingest::StoreLocation;
