//! `insights verify-export`: checks an exported increment offline, away from the store — the
//! manifest's signature with the key the auditor trusts, and each object it lists (bytes,
//! SHA-256, events).

use insights_ingest::StoreLocation;
use insights_ingest::evidence::PublicKey;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::state::Manifest;

/// What `verify-export` found.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ExportReport {
    pub verified: bool,
    pub manifest: String,
    pub increment: u64,
    pub rows: u64,
    pub objects: u64,
    /// The fingerprint of the key that signed the manifest, when it verified.
    pub signed_by: Option<String>,
    pub problems: Vec<String>,
}

/// A location split into its directory (as a store location) and object name.
fn split(location: &str) -> Result<(StoreLocation, String)> {
    let (dir, name) = location
        .trim_end_matches('/')
        .rsplit_once('/')
        .unwrap_or((".", location));
    let dir = if dir.is_empty() { "/" } else { dir };
    let store = StoreLocation::parse(dir).map_err(|e| Error::Config {
        setting: location.to_owned(),
        message: e.to_string(),
    })?;
    Ok((store, name.to_owned()))
}

/// Counts the lines written to it.
struct LineCounter(u64);

impl std::io::Write for LineCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.iter().filter(|b| **b == b'\n').count() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An exported object read once, as a stream: its hash, size and (gzip) lines.
struct Streamed {
    sha256: String,
    size: u64,
    lines: u64,
    gzip_error: Option<std::io::Error>,
}

async fn stream_object(store: &StoreLocation, name: &str) -> Result<Option<Streamed>> {
    use futures::TryStreamExt;
    use std::io::Write;
    let Some(result) = open(store, name).await? else {
        return Ok(None);
    };
    let mut chunks = result.into_stream();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut decoder = Some(flate2::write::MultiGzDecoder::new(LineCounter(0)));
    let mut gzip_error = None;
    while let Some(chunk) = chunks
        .try_next()
        .await
        .map_err(|e| cannot_read(store, name, e))?
    {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        if let Some(d) = decoder.as_mut()
            && let Err(e) = d.write_all(&chunk)
        {
            gzip_error = Some(e);
            decoder = None;
        }
    }
    let lines = match decoder {
        Some(d) => match d.finish() {
            Ok(counter) => counter.0,
            Err(e) => {
                gzip_error = Some(e);
                0
            }
        },
        None => 0,
    };
    Ok(Some(Streamed {
        sha256: hex::encode(hasher.finalize()),
        size,
        lines,
        gzip_error,
    }))
}

fn cannot_read(store: &StoreLocation, name: &str, e: object_store::Error) -> Error {
    Error::Destination {
        destination: format!("{store}/{name}"),
        message: "cannot be read".into(),
        source: Some(Box::new(e)),
    }
}

/// The object `name` of `store`, `None` if it does not exist.
async fn open(store: &StoreLocation, name: &str) -> Result<Option<object_store::GetResult>> {
    let objects = store.object_store().map_err(|e| Error::Config {
        setting: store.to_string(),
        message: e.to_string(),
    })?;
    match objects.get(&Path::from(name)).await {
        Ok(result) => Ok(Some(result)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(cannot_read(store, name, e)),
    }
}

async fn read(store: &StoreLocation, name: &str) -> Result<Option<bytes::Bytes>> {
    match open(store, name).await? {
        Some(result) => Ok(Some(
            result
                .bytes()
                .await
                .map_err(|e| cannot_read(store, name, e))?,
        )),
        None => Ok(None),
    }
}

/// Checks the manifest at `manifest` (a file or `s3://` object) and the objects it lists,
/// found beside it (or in `objects_dir`), trusting `keys`.
pub async fn verify_export(
    manifest: &str,
    objects_dir: Option<&str>,
    keys: &[PublicKey],
) -> Result<ExportReport> {
    let (dir, name) = split(manifest)?;
    let bytes = read(&dir, &name).await?.ok_or_else(|| Error::Config {
        setting: manifest.to_owned(),
        message: "no such manifest".into(),
    })?;
    let parsed: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Config {
        setting: manifest.to_owned(),
        message: format!("not an increment manifest: {e}"),
    })?;
    let mut report = ExportReport {
        manifest: manifest.to_owned(),
        increment: parsed.increment,
        rows: parsed.rows,
        objects: parsed.objects.len() as u64,
        ..ExportReport::default()
    };
    match &parsed.signature {
        None => report.problems.push(
            "the manifest is not signed (no signing key was configured for the export)".into(),
        ),
        Some(signature) => match keys.iter().find(|k| k.fingerprint() == signature.key) {
            None if keys.is_empty() => report.problems.push(format!(
                "no public key was given to check the signature (key {}); pass --public-key",
                signature.key
            )),
            None => report.problems.push(format!(
                "the manifest is signed by the key {}, which is not trusted",
                signature.key
            )),
            Some(key) => {
                if key.verifies(&parsed.signed_bytes(), &signature.value) {
                    report.signed_by = Some(signature.key.clone());
                } else {
                    report.problems.push(format!(
                        "the signature does not verify with the key {}: the manifest was altered \
                         after it was signed",
                        signature.key
                    ));
                }
            }
        },
    }
    let objects = match objects_dir {
        Some(dir) => StoreLocation::parse(dir).map_err(|e| Error::Config {
            setting: dir.to_owned(),
            message: e.to_string(),
        })?,
        None => dir,
    };
    let mut rows = 0u64;
    for entry in &parsed.objects {
        let file = entry.key.rsplit('/').next().unwrap_or(&entry.key);
        let Some(streamed) = stream_object(&objects, file).await? else {
            report.problems.push(format!(
                "{}: the object is missing from {objects}",
                entry.key
            ));
            continue;
        };
        let Streamed {
            sha256,
            size,
            lines,
            gzip_error,
        } = streamed;
        if sha256 != entry.sha256 || size != entry.bytes {
            report.problems.push(format!(
                "{}: the object differs from its manifest: {size} bytes with sha256 {sha256}, \
                 the manifest says {} bytes with sha256 {}",
                entry.key, entry.bytes, entry.sha256
            ));
            continue;
        }
        if let Some(e) = gzip_error {
            report
                .problems
                .push(format!("{}: the object is not valid gzip: {e}", entry.key));
        }
        if lines != entry.rows {
            report.problems.push(format!(
                "{}: the object holds {lines} events, the manifest says {}",
                entry.key, entry.rows
            ));
        }
        rows += lines;
    }
    if rows != parsed.rows && report.problems.is_empty() {
        report.problems.push(format!(
            "the objects hold {rows} events, the manifest says {}",
            parsed.rows
        ));
    }
    report.verified = report.problems.is_empty();
    Ok(report)
}
