//! Where increments go: any object store (a local directory, `s3://bucket/prefix`), or another
//! writer of the same three operations (the Lambda writes with aws-sdk-s3).
//!
//! The exporter only ever creates objects (`put_new`): data objects, manifests, claims and
//! checkpoints are all create-only, so nothing it wrote is ever overwritten, and a conditional
//! create is what decides between two runs that race for the same increment.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{Error, Result};

/// What a create-only write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The object is new and holds exactly the bytes given.
    Written,
    /// An object of that key existed already; it was left as it was.
    AlreadyExists,
}

/// The operations the exporter needs from a destination. Keys are relative to the
/// destination's prefix and use `/` as separator.
pub trait Destination: Send + Sync {
    /// The destination as a user names it (for messages).
    fn describe(&self) -> String;

    /// Writes the concatenation of `body` at `key` unless an object exists there.
    fn put_new(&self, key: &str, body: Vec<Bytes>) -> impl Future<Output = Result<Created>> + Send;

    /// Reads an object; `None` when there is none.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>>> + Send;

    /// The keys under `prefix` (relative to the destination), in any order.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
}

/// A destination on an [`ObjectStore`] rooted at the destination itself.
#[derive(Clone)]
pub struct ObjectStoreDestination {
    store: Arc<dyn ObjectStore>,
    name: String,
}

impl ObjectStoreDestination {
    pub fn new(store: Arc<dyn ObjectStore>, name: impl Into<String>) -> Self {
        Self {
            store,
            name: name.into(),
        }
    }

    /// Opens `dest` (a directory, created if missing, or `s3://bucket/prefix`).
    pub fn open(dest: &str) -> Result<Self> {
        let location = insights_ingest::StoreLocation::parse(dest)
            .map_err(|e| Error::destination(dest, "not a directory or s3:// URL", e))?;
        if let insights_ingest::StoreLocation::Local(dir) = &location {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating the destination {}", dir.display()), e))?;
        }
        let store = location
            .object_store()
            .map_err(|e| Error::destination(dest, "cannot be opened", e))?;
        Ok(Self::new(store, location.to_string()))
    }

    fn error(&self, key: &str, e: object_store::Error) -> Error {
        let destination = format!("{}/{key}", self.name.trim_end_matches('/'));
        Error::destination(destination, "object store request failed", e)
    }
}

impl Destination for ObjectStoreDestination {
    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn put_new(&self, key: &str, body: Vec<Bytes>) -> Result<Created> {
        let location = Path::from(key);
        let payload: PutPayload = body.into_iter().collect();
        let mut attempt = 0u64;
        loop {
            let options = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            match self
                .store
                .put_opts(&location, payload.clone(), options)
                .await
            {
                Ok(_) => return Ok(Created::Written),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => {
                    // S3 also answers 409 while a concurrent create of the key is in flight; the
                    // object is then not there yet. Try again until one of the writes won.
                    match self.store.head(&location).await {
                        Ok(_) => return Ok(Created::AlreadyExists),
                        Err(object_store::Error::NotFound { .. }) if attempt < 5 => {
                            attempt += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(200 * attempt))
                                .await;
                        }
                        Err(object_store::Error::NotFound { .. }) => {
                            return Err(self.error(
                                key,
                                object_store::Error::Generic {
                                    store: "destination",
                                    source: "a create-only write kept conflicting with another \
                                             write that never completed"
                                        .into(),
                                },
                            ));
                        }
                        Err(e) => return Err(self.error(key, e)),
                    }
                }
                Err(e) => return Err(self.error(key, e)),
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match self.store.get(&Path::from(key)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(|e| self.error(key, e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix_path = Path::from(prefix);
        self.store
            .list(Some(&prefix_path))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(|e| self.error(prefix, e))
    }
}
