//! Incremental exports of the events table to object storage: what was committed since the
//! last exported table version (optionally cut to an event-time window with a lag), as gzipped
//! JSON objects of raw events with a manifest per increment, and create-only claims and
//! checkpoints beside them.
//!
//! Every event lands in exactly one increment:
//! - versions mode: increment `n` holds the rows added by the commits after the version that
//!   increment `n-1` read, up to the version it reads itself;
//! - window mode: increment `n` holds the events of its window `[start, end)` as of the version
//!   it reads, plus the events that arrived since the previous increment for earlier windows
//!   (late events), so nothing is skipped and nothing is exported twice.
//!
//! A run claims its increment before writing (a create-only claim object holding the plan), writes
//! the data objects and the manifest create-only, and only then creates the checkpoint. A run
//! that finds a claim without a checkpoint (after a crash, or beside a concurrent run) carries out
//! that same plan, keeping whatever objects already exist.
//!
//! With a signing key configured, each manifest is signed; [`verify_export`] checks a manifest
//! and its objects offline.

mod dest;
mod error;
mod run;
mod source;
mod state;
mod verify;

pub use dest::{Created, Destination, ObjectStoreDestination};
pub use error::{Error, Result};
pub use run::{
    DEFAULT_GZIP_LEVEL, DEFAULT_OBJECT_BYTES, IncrementConfig, Report, last_checkpoint,
    run_backfill, run_increment,
};
pub use state::{
    Checkpoint, Manifest, ManifestSignature, Mode, OBJECT_PREFIX, ObjectEntry, Plan, STATE_DIR,
    name_time, no_results_metric, parse_duration, unit_seconds,
};
pub use verify::{ExportReport, verify_export};
