//! The Ed25519 key pair that signs digests and export manifests.
//!
//! The private key is a PKCS#8 PEM file kept outside the store (`insights keys signing init
//! --out FILE`); writers find it through [`SIGNING_KEY_FILE_ENV`] or, for hosts that pass
//! secrets as variables, [`SIGNING_KEY_ENV`] holding the PEM text itself. The public key is an
//! SPKI PEM, stored in the store under `_digests/keys/<fingerprint>.pem` and handed to
//! auditors, whose `insights verify --public-key` trusts their own copy rather than the
//! store's. Both are standard formats: `openssl pkey -pubin -in KEY.pem -text` reads them.

use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The environment variable naming the private key file.
pub const SIGNING_KEY_FILE_ENV: &str = "INSIGHTS_SIGNING_KEY_FILE";
/// The environment variable holding the private key's PEM text.
pub const SIGNING_KEY_ENV: &str = "INSIGHTS_SIGNING_KEY";

fn key_error(source: &str, message: impl std::fmt::Display) -> Error {
    Error::Key {
        source_name: source.to_owned(),
        message: message.to_string(),
    }
}

/// A public key trusted to have signed digests, with its fingerprint.
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PublicKey {
    /// Reads an SPKI PEM public key; `source` names it in errors.
    pub fn from_pem(text: &str, source: &str) -> Result<Self> {
        let key = VerifyingKey::from_public_key_pem(text.trim())
            .map_err(|e| key_error(source, format!("not an Ed25519 public key PEM: {e}")))?;
        Ok(Self { key })
    }

    /// Reads a public key file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading the public key {}", path.display()), e))?;
        Self::from_pem(&text, &path.display().to_string())
    }

    /// The key's fingerprint: the hex SHA-256 of its 32 bytes.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.key.to_bytes()))
    }

    /// The SPKI PEM text.
    pub fn to_pem(&self) -> Result<String> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| key_error("public key", e))
    }

    /// Whether `signature` (base64) is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        use base64::Engine as _;
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        self.key
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// The private key of a store's writer.
pub struct SigningKeyPair {
    key: SigningKey,
}

impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeyPair({})", self.public().fingerprint())
    }
}

impl SigningKeyPair {
    /// A new key pair from the operating system's randomness.
    pub fn generate() -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| key_error("new key", format!("no randomness: {e}")))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads a PKCS#8 PEM private key; `source` names it in errors.
    pub fn from_pem(text: &str, source: &str) -> Result<Self> {
        let key = SigningKey::from_pkcs8_pem(text.trim())
            .map_err(|e| key_error(source, format!("not an Ed25519 private key PEM: {e}")))?;
        Ok(Self { key })
    }

    /// The key configured for this process: [`SIGNING_KEY_FILE_ENV`] or [`SIGNING_KEY_ENV`],
    /// or `None` when neither is set.
    pub fn from_env() -> Result<Option<Self>> {
        if let Some(path) = std::env::var_os(SIGNING_KEY_FILE_ENV).filter(|p| !p.is_empty()) {
            let path = Path::new(&path);
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::io(
                    format!(
                        "reading the signing key {} ({SIGNING_KEY_FILE_ENV})",
                        path.display()
                    ),
                    e,
                )
            })?;
            return Self::from_pem(&text, &path.display().to_string()).map(Some);
        }
        match std::env::var(SIGNING_KEY_ENV) {
            Ok(text) if !text.trim().is_empty() => Self::from_pem(&text, SIGNING_KEY_ENV).map(Some),
            _ => Ok(None),
        }
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String> {
        Ok(self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| key_error("private key", e))?
            .to_string())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The base64 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.key.sign(message).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem_and_signatures_check() {
        let pair = SigningKeyPair::generate().unwrap();
        let again = SigningKeyPair::from_pem(&pair.to_pem().unwrap(), "test").unwrap();
        let public = PublicKey::from_pem(&pair.public().to_pem().unwrap(), "test").unwrap();
        assert_eq!(public.fingerprint(), again.public().fingerprint());
        assert_eq!(public.fingerprint().len(), 64);
        let signature = again.sign(b"digest");
        assert!(public.verifies(b"digest", &signature));
        assert!(!public.verifies(b"digest!", &signature));
        assert!(!public.verifies(b"digest", "not base64"));
        let other = SigningKeyPair::generate().unwrap();
        assert!(!other.public().verifies(b"digest", &signature));
    }

    #[test]
    fn bad_key_text_names_its_source() {
        let error = SigningKeyPair::from_pem("hello", "/etc/key.pem").unwrap_err();
        assert!(error.to_string().contains("/etc/key.pem"), "{error}");
        let error = PublicKey::from_pem("hello", "trusted.pem").unwrap_err();
        assert!(error.to_string().contains("trusted.pem"), "{error}");
    }
}
