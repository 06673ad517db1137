//! Digests: one signed record per table commit, chained, as CloudTrail's digest files are.
//!
//! The digest of version `v` is the object `_digests/<v, 20 digits>.json` beside the table. It
//! holds two JSON lines: the body ([`DigestBody`]: the commit's log entry hash, each data file
//! the commit added or removed with its SHA-256, rows and event-time range, and the previous
//! digest's version, hash and signature) and the Ed25519 signature of the body line's exact
//! bytes. A digest's hash is the SHA-256 of its whole file, so each digest seals the one
//! before it, signature included.
//!
//! Everything a digest says is read from the table's log entry and the files it names, so a
//! digest written late (after a crash between a commit and its digest, or by another writer
//! of the same store) is the same as one written at once, apart from `digested_at`. Digests
//! are written create-only: of two writers digesting the same commit, one wins and the other
//! continues from the winner's digest.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::keys::SigningKeyPair;
use crate::error::{Error, Result};
use crate::store::StoreLocation;
use crate::table::EventTable;

/// The directory of digests in a store (and in a copy destination).
pub const DIGESTS_DIR: &str = "_digests";
/// The directory of the public keys that signed a store's digests.
pub const KEYS_DIR: &str = "_digests/keys";
/// The format tag of a digest body.
pub const FORMAT: &str = "insights-digest/1";
/// The environment variable naming a second, create-only destination for digests: a
/// directory or `s3://bucket/prefix`.
pub const DIGEST_COPY_ENV: &str = "INSIGHTS_DIGEST_COPY";
/// How many files are hashed at once.
const HASHING_AT_ONCE: usize = 4;

/// A data file a commit added, removed, or (vacuum) deleted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileDigest {
    /// The file's path relative to the table (`organization=…/date=…/part-….parquet`).
    pub path: String,
    /// The SHA-256 of the file's bytes (hex); `None` when the file was gone when digested.
    pub sha256: Option<String>,
    /// Bytes.
    pub size: u64,
    /// Rows, from the file's statistics in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The first and last event time (RFC 3339, milliseconds) from the same statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
}

/// The table log entry a digest covers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntryDigest {
    /// Relative to the table: `_delta_log/<version, 20 digits>.json`.
    pub path: String,
    pub sha256: String,
}

/// The digest before this one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PreviousDigest {
    pub version: i64,
    /// The SHA-256 of the previous digest file.
    pub sha256: String,
    /// Its signature, `None` if it was unsigned.
    pub signature: Option<String>,
}

/// The signed part of a digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DigestBody {
    pub format: String,
    /// The table version (commit) this digest covers.
    pub version: i64,
    /// What the commit did: `create`, `ingest`, `compaction`, `schema`, `retention`,
    /// `vacuum`, `other`; or `baseline` for the first digest of a table written before
    /// digests existed, which lists every live file.
    pub kind: String,
    /// The Delta operation recorded in the commit.
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub committed_at: Option<String>,
    pub digested_at: String,
    pub log_entry: LogEntryDigest,
    #[serde(default)]
    pub added: Vec<FileDigest>,
    #[serde(default)]
    pub removed: Vec<FileDigest>,
    /// Files a vacuum deleted from storage (no longer part of the table before it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<FileDigest>,
    /// What the engine recorded about the commit (a retention commit's policy, a vacuum's
    /// grace period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    pub previous: Option<PreviousDigest>,
    /// The fingerprint of the signing key, `None` when unsigned.
    pub key: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SignatureLine {
    signature: Option<String>,
    key: Option<String>,
}

/// A digest file, parsed.
#[derive(Debug, Clone)]
pub struct DigestFile {
    pub body: DigestBody,
    /// The exact bytes of the body line (what the signature covers).
    pub body_bytes: Vec<u8>,
    pub signature: Option<String>,
    /// The fingerprint the signature line names.
    pub signature_key: Option<String>,
    /// The SHA-256 of the whole file.
    pub sha256: String,
}

impl DigestFile {
    /// Parses a digest file's bytes.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let mut lines = text.splitn(2, |b| *b == b'\n');
        let body_bytes = lines.next().unwrap_or_default();
        let signature_bytes = lines
            .next()
            .ok_or("it has no signature line (two JSON lines expected)")?;
        let body: DigestBody = serde_json::from_slice(body_bytes)
            .map_err(|e| format!("its body is not a digest: {e}"))?;
        if body.format != FORMAT {
            return Err(format!("its format is {:?}, not {FORMAT:?}", body.format));
        }
        let signature: SignatureLine = serde_json::from_slice(signature_bytes)
            .map_err(|e| format!("its signature line is not valid: {e}"))?;
        Ok(Self {
            body,
            body_bytes: body_bytes.to_vec(),
            signature: signature.signature,
            signature_key: signature.key,
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// Encodes a body, signed with `signer` when there is one.
    pub fn encode(
        mut body: DigestBody,
        signer: Option<&SigningKeyPair>,
    ) -> std::result::Result<Vec<u8>, serde_json::Error> {
        let fingerprint = signer.map(|s| s.public().fingerprint());
        body.key = fingerprint.clone();
        let mut bytes = serde_json::to_vec(&body)?;
        let signature = signer.map(|s| s.sign(&bytes));
        bytes.push(b'\n');
        serde_json::to_writer(
            &mut bytes,
            &SignatureLine {
                signature,
                key: fingerprint,
            },
        )?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// The object name of version `version`'s digest.
pub fn digest_path(version: i64) -> Path {
    Path::from(format!("{DIGESTS_DIR}/{version:020}.json"))
}

/// The version a digest object's name says, if it is one.
pub fn version_of(path: &Path) -> Option<i64> {
    let name = path.filename()?;
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The log entry of `version`, relative to the table.
pub fn log_entry_path(version: i64) -> String {
    format!("_delta_log/{version:020}.json")
}

/// Milliseconds since the epoch as RFC 3339.
fn millis_text(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The SHA-256 (hex) and size of an object, streamed; `None` if it does not exist.
pub async fn hash_object(
    store: &Arc<dyn ObjectStore>,
    path: &Path,
) -> object_store::Result<Option<(String, u64)>> {
    let result = match store.get(path).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut stream = result.into_stream();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.try_next().await? {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok(Some((hex::encode(hasher.finalize()), size)))
}

/// What a commit's log entry says, as far as digests need it.
#[derive(Debug, Default)]
pub(crate) struct LogEntry {
    pub operation: Option<String>,
    pub timestamp_ms: Option<i64>,
    /// The `insights` object the engine puts in its own commits' commitInfo.
    pub details: Option<serde_json::Value>,
    pub added: Vec<LoggedFile>,
    pub removed: Vec<LoggedFile>,
}

/// A file named by an add or remove action.
#[derive(Debug)]
pub(crate) struct LoggedFile {
    pub path: String,
    pub size: u64,
    pub rows: Option<u64>,
    pub first_ms: Option<String>,
    pub last_ms: Option<String>,
}

impl LogEntry {
    /// Parses a log entry (newline-delimited actions).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct FileAction {
            path: String,
            #[serde(default)]
            size: Option<u64>,
            #[serde(default)]
            stats: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Stats {
            num_records: Option<u64>,
            #[serde(default)]
            min_values: serde_json::Map<String, serde_json::Value>,
            #[serde(default)]
            max_values: serde_json::Map<String, serde_json::Value>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Line {
            commit_info: Option<serde_json::Map<String, serde_json::Value>>,
            add: Option<FileAction>,
            remove: Option<FileAction>,
        }
        let file = |action: FileAction| -> std::result::Result<LoggedFile, String> {
            let path = Path::from_url_path(&action.path)
                .map_err(|e| format!("a file path {:?} is not valid: {e}", action.path))?;
            let stats: Option<Stats> = action
                .stats
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok());
            let time = |values: Option<&serde_json::Map<String, serde_json::Value>>| {
                values?
                    .get(insights_schemas::column::TIMESTAMP)?
                    .as_str()
                    .map(str::to_owned)
            };
            Ok(LoggedFile {
                path: path.to_string(),
                size: action.size.unwrap_or(0),
                rows: stats.as_ref().and_then(|s| s.num_records),
                first_ms: time(stats.as_ref().map(|s| &s.min_values)),
                last_ms: time(stats.as_ref().map(|s| &s.max_values)),
            })
        };
        let mut entry = Self::default();
        for (number, line) in bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        {
            let line: Line = serde_json::from_slice(line)
                .map_err(|e| format!("line {} is not a log action: {e}", number + 1))?;
            if let Some(info) = line.commit_info {
                entry.operation = info
                    .get("operation")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                entry.timestamp_ms = info.get("timestamp").and_then(serde_json::Value::as_i64);
                entry.details = info.get("insights").cloned();
            }
            if let Some(add) = line.add {
                entry.added.push(file(add)?);
            }
            if let Some(remove) = line.remove {
                entry.removed.push(file(remove)?);
            }
        }
        Ok(entry)
    }

    /// The kind of commit, for the digest.
    pub fn kind(&self) -> String {
        if let Some(kind) = self
            .details
            .as_ref()
            .and_then(|d| d.get("kind"))
            .and_then(|k| k.as_str())
        {
            return kind.to_owned();
        }
        match self.operation.as_deref() {
            Some("CREATE TABLE") => "create",
            Some("WRITE") => "ingest",
            Some("OPTIMIZE") => "compaction",
            Some("ADD COLUMN") => "schema",
            Some("DELETE") => "retention",
            Some(op) if op.starts_with("VACUUM") => "vacuum",
            _ => "other",
        }
        .to_owned()
    }

    /// The paths a vacuum commit says it deletes.
    pub fn deleted_paths(&self) -> Vec<String> {
        self.details
            .as_ref()
            .and_then(|d| d.get("deleted"))
            .and_then(|d| d.as_array())
            .map(|paths| {
                paths
                    .iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The newest digest a writer knows of.
#[derive(Debug, Clone)]
struct Tip {
    version: i64,
    sha256: String,
    signature: Option<String>,
}

impl Tip {
    fn of(file: &DigestFile) -> Self {
        Self {
            version: file.body.version,
            sha256: file.sha256.clone(),
            signature: file.signature.clone(),
        }
    }
}

/// A create-only destination for digests.
#[derive(Clone)]
struct Destination {
    store: Arc<dyn ObjectStore>,
    name: String,
}

impl Destination {
    fn open(location: &StoreLocation) -> Result<Self> {
        if let StoreLocation::Local(dir) = location {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(Self {
            store: location.object_store()?,
            name: location.to_string(),
        })
    }

    fn error(&self, path: &Path, message: impl std::fmt::Display) -> Error {
        Error::Digest {
            location: format!("{}/{path}", self.name.trim_end_matches('/')),
            message: message.to_string(),
        }
    }

    /// Writes `bytes` at `path` unless an object is there; says whether it wrote.
    async fn put_new(&self, path: &Path, bytes: Vec<u8>) -> Result<bool> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(path, PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(e) => Err(self.error(path, e)),
        }
    }

    async fn get(&self, path: &Path) -> Result<Option<bytes::Bytes>> {
        match self.store.get(path).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(|e| self.error(path, e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(path, e)),
        }
    }
}

/// The digest chain of a store, as one writer extends it.
pub(crate) struct Chain {
    store: Destination,
    copy: Option<Destination>,
    signer: Option<Arc<SigningKeyPair>>,
    tip: Option<Tip>,
    published_key: bool,
}

impl Chain {
    /// The chain of `store`, signed with the key configured in the environment (if any) and
    /// copied to [`DIGEST_COPY_ENV`] (if set).
    pub fn open(store: &StoreLocation) -> Result<Self> {
        let signer = SigningKeyPair::from_env()?.map(Arc::new);
        let copy = match std::env::var(DIGEST_COPY_ENV) {
            Ok(text) if !text.trim().is_empty() => {
                Some(Destination::open(&StoreLocation::parse(text.trim())?)?)
            }
            _ => None,
        };
        Ok(Self {
            store: Destination::open(store)?,
            copy,
            signer,
            tip: None,
            published_key: false,
        })
    }

    /// Stores the signing key's public half beside the digests, once.
    async fn publish_key(&mut self) -> Result<()> {
        if self.published_key {
            return Ok(());
        }
        if let Some(signer) = &self.signer {
            let public = signer.public();
            let path = Path::from(format!("{KEYS_DIR}/{}.pem", public.fingerprint()));
            let pem = public.to_pem()?.into_bytes();
            self.store.put_new(&path, pem.clone()).await?;
            if let Some(copy) = &self.copy {
                copy.put_new(&path, pem).await?;
            }
        }
        self.published_key = true;
        Ok(())
    }

    /// Reads the digest of `version`, if there is one.
    async fn read(&self, version: i64) -> Result<Option<DigestFile>> {
        let path = digest_path(version);
        let Some(bytes) = self.store.get(&path).await? else {
            return Ok(None);
        };
        DigestFile::parse(&bytes)
            .map(Some)
            .map_err(|message| self.store.error(&path, message))
    }

    /// The newest digest at or below `newest`: a few versions are probed, then the
    /// directory is listed.
    async fn find_tip(&self, newest: i64) -> Result<Option<Tip>> {
        let lowest = (newest - 16).max(0);
        for version in (lowest..=newest).rev() {
            if let Some(file) = self.read(version).await? {
                return Ok(Some(Tip::of(&file)));
            }
        }
        if lowest == 0 {
            return Ok(None);
        }
        let prefix = Path::from(DIGESTS_DIR);
        let versions: Vec<i64> = self
            .store
            .store
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(|e| self.store.error(&prefix, e))?
            .objects
            .iter()
            .filter_map(|meta| version_of(&meta.location))
            .filter(|v| *v <= newest)
            .collect();
        match versions.into_iter().max() {
            Some(version) => Ok(self.read(version).await?.map(|f| Tip::of(&f))),
            None => Ok(None),
        }
    }

    /// Writes the digests of every commit of `table` not digested yet; returns how many this
    /// writer wrote. A table written before digests gets a baseline digest of its live files.
    pub async fn catch_up(&mut self, table: &EventTable) -> Result<usize> {
        let newest = table.version();
        if newest < 0 {
            return Ok(0);
        }
        self.publish_key().await?;
        if self.tip.is_none() {
            self.tip = self.find_tip(newest).await?;
        }
        let mut written = 0;
        let first = match &self.tip {
            Some(tip) => tip.version + 1,
            None if newest == 0 => 0,
            None => {
                written += usize::from(self.baseline(table).await?);
                newest + 1
            }
        };
        for version in first..=newest {
            written += usize::from(self.digest_commit(table, version).await?);
        }
        Ok(written)
    }

    /// Writes one digest (create-only) and moves the tip to whichever digest of that version
    /// stands; says whether this writer's was the one written.
    async fn write(&mut self, body: DigestBody) -> Result<bool> {
        let version = body.version;
        let path = digest_path(version);
        let bytes = DigestFile::encode(body, self.signer.as_deref())
            .map_err(|e| self.store.error(&path, e))?;
        let file = DigestFile::parse(&bytes).map_err(|m| self.store.error(&path, m))?;
        let wrote = self.store.put_new(&path, bytes.clone()).await?;
        let standing = if wrote {
            file
        } else {
            self.read(version).await?.ok_or_else(|| {
                self.store
                    .error(&path, "vanished after a conflicting write")
            })?
        };
        if let Some(copy) = &self.copy {
            let standing_bytes = if wrote {
                Some(bytes)
            } else {
                self.store.get(&path).await?.map(|b| b.to_vec())
            };
            let copied = match standing_bytes {
                Some(bytes) => copy.put_new(&path, bytes).await,
                None => Ok(false),
            };
            if let Err(e) = copied {
                tracing::warn!(error = %e, version, "could not copy a digest to the second destination");
            }
        }
        self.tip = Some(Tip::of(&standing));
        Ok(wrote)
    }

    fn previous(&self) -> Option<PreviousDigest> {
        self.tip.as_ref().map(|tip| PreviousDigest {
            version: tip.version,
            sha256: tip.sha256.clone(),
            signature: tip.signature.clone(),
        })
    }

    /// Hashes the data files a commit names (relative to the table), at most a few at once.
    async fn hash_files(table: &EventTable, files: Vec<LoggedFile>) -> Result<Vec<FileDigest>> {
        let store = table.object_store();
        futures::stream::iter(files)
            .map(|file| {
                let store = store.clone();
                async move {
                    let path = Path::from(file.path.as_str());
                    let hashed = hash_object(&store, &path)
                        .await
                        .map_err(|e| Error::Digest {
                            location: path.to_string(),
                            message: format!("hashing the data file: {e}"),
                        })?;
                    Ok(FileDigest {
                        size: hashed.as_ref().map_or(file.size, |(_, size)| *size),
                        sha256: hashed.map(|(sha, _)| sha),
                        path: file.path,
                        rows: file.rows,
                        first_event: file.first_ms,
                        last_event: file.last_ms,
                    })
                }
            })
            .buffered(HASHING_AT_ONCE)
            .try_collect()
            .await
    }

    async fn log_entry(table: &EventTable, version: i64) -> Result<(LogEntry, LogEntryDigest)> {
        let bytes = table
            .read_log_entry(version)
            .await?
            .ok_or_else(|| Error::Digest {
                location: table.name().to_owned(),
                message: format!("the log entry of version {version} is missing"),
            })?;
        let entry = LogEntry::parse(&bytes).map_err(|message| Error::Digest {
            location: format!(
                "{}/{}",
                table.name().trim_end_matches('/'),
                log_entry_path(version)
            ),
            message,
        })?;
        let digest = LogEntryDigest {
            path: log_entry_path(version),
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        Ok((entry, digest))
    }

    async fn digest_commit(&mut self, table: &EventTable, version: i64) -> Result<bool> {
        let (entry, log_entry) = Self::log_entry(table, version).await?;
        let deleted = entry
            .deleted_paths()
            .into_iter()
            .map(|path| LoggedFile {
                path,
                size: 0,
                rows: None,
                first_ms: None,
                last_ms: None,
            })
            .collect();
        let body = DigestBody {
            format: FORMAT.to_owned(),
            version,
            kind: entry.kind(),
            operation: entry.operation.clone(),
            committed_at: entry.timestamp_ms.and_then(millis_text),
            digested_at: now_text(),
            log_entry,
            added: Self::hash_files(table, entry.added).await?,
            removed: Self::hash_files(table, entry.removed).await?,
            deleted: Self::hash_files(table, deleted).await?,
            details: entry.details,
            previous: self.previous(),
            key: None,
        };
        self.write(body).await
    }

    /// The first digest of a table written before digests existed: its live files at the
    /// current version.
    async fn baseline(&mut self, table: &EventTable) -> Result<bool> {
        let version = table.version();
        let (entry, log_entry) = Self::log_entry(table, version).await?;
        let live = table
            .live_files(None)
            .await?
            .into_iter()
            .map(|file| LoggedFile {
                path: file.path.to_string(),
                size: file.size,
                rows: file.rows,
                first_ms: file
                    .timestamps_us
                    .and_then(|(first, _)| millis_text(first / 1000)),
                last_ms: file
                    .timestamps_us
                    .and_then(|(_, last)| millis_text(last / 1000)),
            })
            .collect();
        tracing::info!(
            version,
            "the table has no digests yet: writing a baseline digest of its live files"
        );
        let body = DigestBody {
            format: FORMAT.to_owned(),
            version,
            kind: "baseline".to_owned(),
            operation: entry.operation,
            committed_at: entry.timestamp_ms.and_then(millis_text),
            digested_at: now_text(),
            log_entry,
            added: Self::hash_files(table, live).await?,
            removed: Vec::new(),
            deleted: Vec::new(),
            details: None,
            previous: None,
            key: None,
        };
        self.write(body).await
    }
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_files_round_trip_and_the_signature_covers_the_body_line() {
        let pair = SigningKeyPair::generate().unwrap();
        let body = DigestBody {
            format: FORMAT.into(),
            version: 3,
            kind: "ingest".into(),
            operation: Some("WRITE".into()),
            committed_at: None,
            digested_at: now_text(),
            log_entry: LogEntryDigest {
                path: log_entry_path(3),
                sha256: "ab".into(),
            },
            added: vec![],
            removed: vec![],
            deleted: vec![],
            details: None,
            previous: None,
            key: None,
        };
        let bytes = DigestFile::encode(body, Some(&pair)).unwrap();
        let file = DigestFile::parse(&bytes).unwrap();
        assert_eq!(file.body.version, 3);
        assert_eq!(
            file.body.key.as_deref(),
            Some(pair.public().fingerprint().as_str())
        );
        let signature = file.signature.as_deref().unwrap();
        assert!(pair.public().verifies(&file.body_bytes, signature));
        assert_eq!(version_of(&digest_path(3)), Some(3));
        assert_eq!(version_of(&Path::from("_digests/keys/x.pem")), None);
        assert!(DigestFile::parse(b"{}\n").is_err());
    }

    #[test]
    fn log_entries_give_files_rows_times_and_kind() {
        let entry = br#"{"commitInfo":{"timestamp":1796622407637,"operation":"WRITE"}}
{"add":{"path":"organization=o1/date=2026-10-06/part-1%20a.parquet","size":10,"dataChange":true,"stats":"{\"numRecords\":5,\"minValues\":{\"timestamp\":\"2026-10-06T01:00:00.000Z\"},\"maxValues\":{\"timestamp\":\"2026-10-06T02:00:00.000Z\"}}"}}
{"remove":{"path":"organization=o1/date=2026-10-06/part-0.parquet","dataChange":false,"size":7}}
"#;
        let parsed = LogEntry::parse(entry).unwrap();
        assert_eq!(parsed.kind(), "ingest");
        assert_eq!(
            parsed.added[0].path,
            "organization=o1/date=2026-10-06/part-1 a.parquet"
        );
        assert_eq!(parsed.added[0].rows, Some(5));
        assert_eq!(
            parsed.added[0].first_ms.as_deref(),
            Some("2026-10-06T01:00:00.000Z")
        );
        assert_eq!(parsed.removed[0].size, 7);
        assert!(
            LogEntry::parse(b"not json\n")
                .unwrap_err()
                .contains("line 1")
        );
    }
}
