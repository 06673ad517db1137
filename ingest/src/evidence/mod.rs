//! Evidence that the table was not altered: the signed digest chain ([`digest`]), its keys
//! ([`keys`]) and the checks of `insights verify` ([`verify`]).

pub mod digest;
pub mod keys;
pub mod verify;

pub(crate) use digest::Chain;
pub use keys::{PublicKey, SigningKeyPair};

use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::error::{Error, Result};
use crate::store::StoreLocation;

/// Stores a public key beside the store's digests (`_digests/keys/<fingerprint>.pem`), where
/// `insights verify` finds it when not given one; returns its object name.
pub async fn publish_public_key(store: &StoreLocation, key: &PublicKey) -> Result<String> {
    let objects = store.object_store()?;
    let path = Path::from(format!("{}/{}.pem", digest::KEYS_DIR, key.fingerprint()));
    objects
        .put(&path, key.to_pem()?.into_bytes().into())
        .await
        .map_err(|e| Error::Digest {
            location: format!("{store}/{path}"),
            message: e.to_string(),
        })?;
    Ok(path.to_string())
}

/// The public keys stored beside a store's digests.
pub async fn stored_public_keys(store: &StoreLocation) -> Result<Vec<PublicKey>> {
    verify::stored_keys(&store.object_store()?, &store.to_string())
        .await?
        .into_iter()
        .collect()
}
