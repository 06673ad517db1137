//! Where the last complete pull of an organization (and service set) ended, kept in the store
//! (local or S3) beside the table: `pull/<organization>/<services>.json`.
//!
//! A checkpoint says: every event with a timestamp before `through` that the API showed when it
//! was read is durable in the store. It is written only after those events are in the
//! write-ahead log, and never moves back.
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::PullError;

/// One organization's checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Events before this instant are stored (microseconds since the epoch).
    pub through_us: i64,
    /// The same instant, for people reading the file.
    pub through: String,
    /// The API it was pulled from.
    pub base_url: String,
    /// When it was written.
    pub written: String,
}

/// The checkpoints of a store.
pub struct Checkpoints {
    store: Arc<dyn ObjectStore>,
}

impl Checkpoints {
    /// The checkpoints kept in `store` (the store's root).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    fn path(organization: &str, service_set: &str) -> Path {
        Path::from_iter(["pull", organization, &format!("{service_set}.json")])
    }

    /// The checkpoint of `organization`, if it has one. One that cannot be read is reported
    /// and treated as none: the pull then re-reads from `since`, and dedup drops what is stored.
    pub async fn read(
        &self,
        organization: &str,
        service_set: &str,
    ) -> Result<Option<Checkpoint>, PullError> {
        let path = Self::path(organization, service_set);
        let bytes = match self.store.get(&path).await {
            Ok(found) => found.bytes().await,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => Err(e),
        }
        .map_err(|e| PullError::Checkpoint(format!("reading {path}: {e}")))?;
        match serde_json::from_slice::<Checkpoint>(&bytes) {
            Ok(checkpoint) => Ok(Some(checkpoint)),
            Err(e) => {
                tracing::warn!(%path, error = %e, "the pull checkpoint cannot be read; pulling from --since again");
                Ok(None)
            }
        }
    }

    /// Records that events before `through_us` are stored.
    pub async fn write(
        &self,
        organization: &str,
        service_set: &str,
        through_us: i64,
        base_url: &str,
    ) -> Result<(), PullError> {
        let checkpoint = Checkpoint {
            through_us,
            through: insights_schemas::format_timestamp_us(through_us),
            base_url: base_url.to_owned(),
            written: insights_schemas::format_timestamp_us(chrono::Utc::now().timestamp_micros()),
        };
        let path = Self::path(organization, service_set);
        let body = serde_json::to_vec_pretty(&checkpoint)
            .map_err(|e| PullError::Checkpoint(format!("encoding {path}: {e}")))?;
        self.store
            .put(&path, PutPayload::from(body))
            .await
            .map_err(|e| PullError::Checkpoint(format!("writing {path}: {e}")))?;
        Ok(())
    }
}
