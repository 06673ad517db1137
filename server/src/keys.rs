//! API keys and service accounts: a random secret shown once, stored only as a SHA-256 hash in
//! the store under `keys/<id>.json`, bound to one organization (or all, for a provider's admin
//! key) and to a role.
//!
//! A service account signs in as JumpCloud's do (OAuth 2.0 client credentials,
//! `POST /oauth2/token`) and receives a short-lived bearer token: `it_<id>_<expiry>_<mac>`, an
//! HMAC-SHA256 over the account id and the expiry with a signing key kept in the store
//! (`keys/token-signing.key`), so tokens survive a restart and hold for every server of the
//! store. Each request with a token reads the account's record, so revocation takes effect at
//! once.

use std::sync::Arc;

use anyhow::Context;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use insights_ingest::StoreLocation;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// How a credential is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `x-api-key: ik_<id>_<secret>`.
    #[default]
    ApiKey,
    /// A client id and secret exchanged at `POST /oauth2/token` for bearer tokens.
    ServiceAccount,
}

/// How long a bearer token holds.
pub const TOKEN_LIFETIME_SECONDS: u64 = 3600;

/// A stored key: everything but its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    #[serde(default)]
    pub kind: KeyKind,
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
    /// The key that signs bearer tokens, read (or made) on first use.
    signing_key: Arc<tokio::sync::OnceCell<Vec<u8>>>,
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
            signing_key: Arc::default(),
        })
    }

    /// Creates a key and returns it with its full secret, shown once: `ik_<id>_<secret>` for an
    /// API key, `sa_<id>:<secret>` (client id and client secret) for a service account.
    pub async fn create(
        &self,
        organization: &str,
        role: Role,
        name: &str,
        kind: KeyKind,
    ) -> anyhow::Result<(KeyRecord, String)> {
        anyhow::ensure!(
            !organization.trim().is_empty(),
            "--org must name an organization (or * for all)"
        );
        let id = random_hex(8)?;
        let secret = random_hex(24)?;
        let record = KeyRecord {
            id: id.clone(),
            kind,
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
        let shown = match kind {
            KeyKind::ApiKey => format!("ik_{id}_{secret}"),
            KeyKind::ServiceAccount => format!("sa_{id}:{secret}"),
        };
        Ok((record, shown))
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
        self.check_secret(id, secret, KeyKind::ApiKey).await
    }

    /// The live record of a service account whose client id and secret are these.
    pub async fn verify_client(
        &self,
        client_id: &str,
        secret: &str,
    ) -> anyhow::Result<Option<KeyRecord>> {
        let Some(id) = client_id.trim().strip_prefix("sa_") else {
            return Ok(None);
        };
        self.check_secret(id, secret.trim(), KeyKind::ServiceAccount)
            .await
    }

    async fn check_secret(
        &self,
        id: &str,
        secret: &str,
        kind: KeyKind,
    ) -> anyhow::Result<Option<KeyRecord>> {
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
        Ok((matches && record.kind == kind && record.revoked.is_none()).then_some(record))
    }

    /// A bearer token for a service account, valid for [`TOKEN_LIFETIME_SECONDS`].
    pub async fn issue_token(&self, record: &KeyRecord) -> anyhow::Result<String> {
        let expires = chrono::Utc::now().timestamp().max(0) as u64 + TOKEN_LIFETIME_SECONDS;
        let mac = hmac_sha256(
            self.signing_key().await?,
            format!("{}.{expires}", record.id).as_bytes(),
        );
        Ok(format!("it_{}_{expires}_{}", record.id, hex::encode(mac)))
    }

    /// The live service account behind a bearer token, or `None` when the token is malformed,
    /// forged, expired, or its account revoked.
    pub async fn verify_token(&self, token: &str) -> anyhow::Result<Option<KeyRecord>> {
        let mut parts = token.trim().splitn(4, '_');
        let (Some("it"), Some(id), Some(expires), Some(mac)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let Ok(expires_at) = expires.parse::<u64>() else {
            return Ok(None);
        };
        let expected = hmac_sha256(
            self.signing_key().await?,
            format!("{id}.{expires}").as_bytes(),
        );
        if !constant_time_eq(hex::encode(expected).as_bytes(), mac.as_bytes())
            || expires_at <= chrono::Utc::now().timestamp().max(0) as u64
            || !id.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Ok(None);
        }
        Ok(self
            .get(id)
            .await?
            .filter(|r| r.kind == KeyKind::ServiceAccount && r.revoked.is_none()))
    }

    /// The store's token signing key, made on first use (create-only, so two servers that
    /// start together agree on one).
    async fn signing_key(&self) -> anyhow::Result<&[u8]> {
        let key = self
            .signing_key
            .get_or_try_init(|| async {
                let path = Path::from_iter(["keys", "token-signing.key"]);
                let fresh = random_hex(32)?;
                let created = self
                    .store
                    .put_opts(
                        &path,
                        PutPayload::from(fresh.clone().into_bytes()),
                        PutOptions::from(PutMode::Create),
                    )
                    .await;
                match created {
                    Ok(_) => Ok::<_, anyhow::Error>(fresh.into_bytes()),
                    Err(object_store::Error::AlreadyExists { .. }) => {
                        let stored = self.store.get(&path).await?.bytes().await?;
                        Ok(stored.to_vec())
                    }
                    Err(e) => Err(anyhow::Error::new(e).context("saving the token signing key")),
                }
            })
            .await?;
        Ok(key)
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

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
