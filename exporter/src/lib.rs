//! Incremental exports of the events table to object storage: what was committed since the
//! last exported table version, as gzipped JSON objects with manifests and a checkpoint.
//!
//! The crate is part of the workspace so that the dependency direction holds from the start; it
//! has no export code in this version.

pub use insights_query::StoreLocation;
