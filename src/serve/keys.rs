//! API keys: a random secret shown once, stored only as a SHA-256 hash in the store under
//! `keys/<id>.json`, bound to one organization (or all, for a provider's admin key) and to a
//! role.

use std::sync::Arc;

use anyhow::Context;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use insights_query::StoreLocation;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Only `POST /api/v1/ingest`.
    Ingest,
    /// Only queries, exports, views and enrichment.
    Read,
    /// Everything.
    Admin,
}

/// The organization a key of every organization is stored with.
pub const ALL_ORGS: &str = "*";

/// A stored key: everything but its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The organization, or `*` for all.
    pub organization: String,
    pub role: Role,
    /// Hex SHA-256 of the secret.
    pub secret_sha256: String,
    pub created: String,
    #[serde(default)]
    pub revoked: Option<String>,
}

/// The keys of a store.
#[derive(Clone)]
pub struct KeyStore {
    store: Arc<dyn ObjectStore>,
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    Ok(hex::encode(buffer))
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn path(id: &str) -> Path {
    Path::from_iter(["keys", &format!("{id}.json")])
}

impl KeyStore {
    pub fn open(location: &StoreLocation) -> anyhow::Result<Self> {
        Ok(Self {
            store: location.object_store()?,
        })
    }

    /// Creates a key and returns it with its full secret (`ik_<id>_<secret>`), shown once.
    pub async fn create(
        &self,
        organization: &str,
        role: Role,
        name: &str,
    ) -> anyhow::Result<(KeyRecord, String)> {
        anyhow::ensure!(
            !organization.trim().is_empty(),
            "--org must name an organization (or * for all)"
        );
        let id = random_hex(8)?;
        let secret = random_hex(24)?;
        let record = KeyRecord {
            id: id.clone(),
            name: name.to_owned(),
            organization: organization.to_owned(),
            role,
            secret_sha256: sha256_hex(&secret),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            revoked: None,
        };
        let body = serde_json::to_vec_pretty(&record)?;
        self.store
            .put_opts(
                &path(&id),
                PutPayload::from(body),
                PutOptions::from(PutMode::Create),
            )
            .await
            .with_context(|| format!("saving key {id}"))?;
        Ok((record, format!("ik_{id}_{secret}")))
    }

    async fn get(&self, id: &str) -> anyhow::Result<Option<KeyRecord>> {
        let bytes = match self.store.get(&path(id)).await {
            Ok(found) => found.bytes().await,
            Err(e) => Err(e),
        };
        match bytes {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("key {id} is unreadable"))?,
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading key {id}"))),
        }
    }

    /// The live record of a presented key, or `None` when it is unknown, wrong or revoked.
    pub async fn verify(&self, presented: &str) -> anyhow::Result<Option<KeyRecord>> {
        let Some((id, secret)) = presented
            .trim()
            .strip_prefix("ik_")
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(record) = self.get(id).await? else {
            return Ok(None);
        };
        let matches = constant_time_eq(
            sha256_hex(secret).as_bytes(),
            record.secret_sha256.as_bytes(),
        );
        Ok((matches && record.revoked.is_none()).then_some(record))
    }

    pub async fn list(&self) -> anyhow::Result<Vec<KeyRecord>> {
        use futures::TryStreamExt;
        let metas: Vec<_> = self
            .store
            .list(Some(&Path::from("keys")))
            .try_collect()
            .await?;
        let mut records = Vec::new();
        for meta in metas {
            if let Some(id) = meta
                .location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                && let Some(record) = self.get(id).await?
            {
                records.push(record);
            }
        }
        records.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(records)
    }

    /// Revokes a key by id; requests with it fail from then on.
    pub async fn revoke(&self, id: &str) -> anyhow::Result<KeyRecord> {
        let mut record = self
            .get(id)
            .await?
            .with_context(|| format!("no key with id {id}"))?;
        if record.revoked.is_none() {
            record.revoked =
                Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let body = serde_json::to_vec_pretty(&record)?;
            self.store
                .put(&path(id), PutPayload::from(body))
                .await
                .with_context(|| format!("saving key {id}"))?;
        }
        Ok(record)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
