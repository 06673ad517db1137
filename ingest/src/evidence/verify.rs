//! `insights verify`: the digest chain against the table, its log and its files.
//!
//! Checked, in one pass over the digests in version order:
//! - each digest's signature, with the keys the verifier trusts (given, not merely stored);
//! - the chain: each digest names the one before it (version, hash, signature), no version
//!   is missing and none is out of place (a digest file holding another version's digest);
//! - the table's log: each digested version's log entry hashes as its digest says, no commit
//!   lacks a digest and no digest covers a commit the log does not have;
//! - the files: replaying the digests gives the live files, which must be the table's live
//!   files, each with the bytes its digest hashed; a file in the table's directory that no
//!   digest accounts for is reported too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::digest::{DIGESTS_DIR, DigestFile, KEYS_DIR, digest_path, hash_object, version_of};
use super::keys::PublicKey;
use crate::error::{Error, Result};
use crate::store::StoreLocation;
use crate::table::EventTable;

/// Which public keys the verifier trusts.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// These keys (the auditor's own copies).
    Keys(Vec<PublicKey>),
    /// The keys stored in the store whose fingerprints are these.
    Fingerprints(Vec<String>),
    /// Whatever keys the store holds: proves the chain consistent, not who wrote it.
    #[default]
    Stored,
}

/// Where verification starts.
#[derive(Debug, Clone)]
pub enum Start {
    Version(i64),
    /// The first commit at or after this time.
    Time(chrono::DateTime<chrono::Utc>),
}

/// What `insights verify` checks, and against what.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub trust: Trust,
    /// Check the log and file bytes from this version (or time) on; signatures and the chain
    /// are always checked, and the digests before it are read to know the live files.
    pub from: Option<Start>,
    /// Read the digests from this location (a create-only copy) instead of the store's.
    pub digests: Option<StoreLocation>,
    /// Unsigned digests are not problems.
    pub allow_unsigned: bool,
}

/// One thing that does not verify.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The table version it concerns, if one.
    pub version: Option<i64>,
    /// The data file, log entry or digest it concerns, if one.
    pub file: Option<String>,
    pub problem: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// True when nothing is wrong.
    pub verified: bool,
    pub table_version: i64,
    /// The first version the digest chain covers.
    pub first_digest: Option<i64>,
    pub last_digest: Option<i64>,
    pub digests: u64,
    pub signed: u64,
    /// Inclusive ranges of versions whose digests are unsigned.
    pub unsigned: Vec<(i64, i64)>,
    /// The fingerprints of the keys trusted, and where they came from.
    pub trusted_keys: Vec<String>,
    pub files_checked: u64,
    pub bytes_checked: u64,
    pub problems: Vec<Problem>,
    /// What the verifier wants the reader to know that is not a problem.
    pub notes: Vec<String>,
}

impl Report {
    fn problem(&mut self, version: Option<i64>, file: Option<String>, problem: impl Into<String>) {
        self.problems.push(Problem {
            version,
            file,
            problem: problem.into(),
        });
    }
}

/// How long after its commit a version may still lack its digest without that being a
/// problem: the writer digests right after committing.
const DIGEST_WRITING_MS: i64 = 60_000;

/// A file the replayed chain knows.
struct Known {
    sha256: Option<String>,
    version: i64,
}

fn store_error(location: &str, e: impl std::fmt::Display) -> Error {
    Error::Digest {
        location: location.to_owned(),
        message: e.to_string(),
    }
}

/// The public keys stored in a store, by fingerprint (computed from the key, not the name).
pub(crate) async fn stored_keys(
    store: &Arc<dyn ObjectStore>,
    name: &str,
) -> Result<Vec<Result<PublicKey>>> {
    let prefix = Path::from(KEYS_DIR);
    let listed = store
        .list_with_delimiter(Some(&prefix))
        .await
        .map_err(|e| store_error(name, e))?;
    let mut keys = Vec::new();
    for meta in listed.objects {
        if !meta.location.as_ref().ends_with(".pem") {
            continue;
        }
        let bytes = store
            .get(&meta.location)
            .await
            .map_err(|e| store_error(name, e))?
            .bytes()
            .await
            .map_err(|e| store_error(name, e))?;
        let text = String::from_utf8_lossy(&bytes);
        keys.push(PublicKey::from_pem(&text, meta.location.as_ref()));
    }
    Ok(keys)
}

/// Collapses sorted versions into inclusive ranges.
fn ranges(versions: &[i64]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &v in versions {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == v => *end = v,
            _ => out.push((v, v)),
        }
    }
    out
}

fn range_text((first, last): (i64, i64)) -> String {
    if first == last {
        format!("version {first}")
    } else {
        format!("versions {first}–{last}")
    }
}

/// The parsed log entry of `version`; `None` when the log lacks it or it cannot be parsed
/// (verification reports that through the entry's hash).
async fn logged(table: &EventTable, version: i64) -> Result<Option<super::digest::LogEntry>> {
    Ok(table
        .read_log_entry(version)
        .await?
        .and_then(|bytes| super::digest::LogEntry::parse(&bytes).ok()))
}

/// Removes from `strays` the files that the log entries of `versions` add, skipping versions
/// the log lacks, or stopping at the first of them when `stop_at_missing`. Returns how many it
/// removed.
async fn added_by_log(
    table: &EventTable,
    versions: impl Iterator<Item = i64>,
    stop_at_missing: bool,
    strays: &mut BTreeMap<String, u64>,
) -> Result<u64> {
    let mut found = 0;
    for version in versions {
        if strays.is_empty() {
            break;
        }
        match table.read_log_entry(version).await? {
            None if stop_at_missing => break,
            None => {}
            Some(bytes) => {
                if let Ok(entry) = super::digest::LogEntry::parse(&bytes) {
                    for file in entry.added {
                        found += u64::from(strays.remove(&file.path).is_some());
                    }
                }
            }
        }
    }
    Ok(found)
}

/// Applies the log entries of versions without a (readable) digest to the replayed live
/// files, so that one missing digest is reported once, not once per file it covered. Their
/// files have no hash to check.
async fn replay_undigested(
    table: &EventTable,
    versions: std::ops::Range<i64>,
    live: &mut HashMap<String, Known>,
    removed: &mut HashMap<String, Known>,
) -> Result<()> {
    for version in versions {
        let Some(entry) = logged(table, version).await? else {
            continue;
        };
        for file in entry.removed {
            if let Some(known) = live.remove(&file.path) {
                removed.insert(file.path, known);
            }
        }
        for file in entry.added {
            live.insert(
                file.path,
                Known {
                    sha256: None,
                    version,
                },
            );
        }
    }
    Ok(())
}

/// Verifies a store's digest chain against its table, log and files.
pub async fn verify(store: &StoreLocation, options: &VerifyOptions) -> Result<Report> {
    let started = chrono::Utc::now();
    let table = EventTable::open(store).await?;
    let table_store = table.object_store();
    let store_root = store.object_store()?;
    let (digest_store, digest_name) = match &options.digests {
        Some(location) => (location.object_store()?, location.to_string()),
        None => (store_root.clone(), store.to_string()),
    };
    let mut report = Report {
        table_version: table.version(),
        ..Report::default()
    };

    // The keys to trust. A stored key that cannot be read is reported, not fatal.
    let mut stored = Vec::new();
    for key in stored_keys(&digest_store, &digest_name).await? {
        match key {
            Ok(key) => stored.push(key),
            Err(e) => report.problem(None, Some(KEYS_DIR.to_owned()), e.to_string()),
        }
    }
    let trusted: Vec<PublicKey> = match &options.trust {
        Trust::Keys(keys) => keys.clone(),
        Trust::Fingerprints(wanted) => {
            let mut found = Vec::new();
            for fingerprint in wanted {
                let fingerprint = fingerprint.trim().to_ascii_lowercase();
                match stored.iter().find(|k| k.fingerprint() == fingerprint) {
                    Some(key) => found.push(key.clone()),
                    None => report.problem(
                        None,
                        Some(KEYS_DIR.to_owned()),
                        format!("no public key with the fingerprint {fingerprint} is stored"),
                    ),
                }
            }
            found
        }
        Trust::Stored => {
            if !stored.is_empty() {
                report.notes.push(
                    "trusting the public keys stored beside the digests; whoever can rewrite \
                     the store can rewrite those too, so give your own copy with --public-key \
                     (or its fingerprint with --fingerprint)"
                        .to_owned(),
                );
            }
            stored.clone()
        }
    };
    report.trusted_keys = trusted.iter().map(PublicKey::fingerprint).collect();
    let by_fingerprint: HashMap<String, &PublicKey> =
        trusted.iter().map(|k| (k.fingerprint(), k)).collect();

    // The digests, in version order.
    let prefix = Path::from(DIGESTS_DIR);
    let mut versions: Vec<i64> = digest_store
        .list_with_delimiter(Some(&prefix))
        .await
        .map_err(|e| store_error(&digest_name, e))?
        .objects
        .iter()
        .filter_map(|meta| version_of(&meta.location))
        .collect();
    versions.sort_unstable();

    // Digests read; the chain's live files, files removed (not yet deleted), deleted files.
    let mut live: HashMap<String, Known> = HashMap::new();
    let mut removed: HashMap<String, Known> = HashMap::new();
    let mut deleted: HashMap<String, i64> = HashMap::new();
    let mut previous: Option<DigestFile> = None;
    let mut unsigned = Vec::new();
    let mut from_version = match &options.from {
        Some(Start::Version(v)) => Some(*v),
        _ => None,
    };
    let mut expected_next: Option<i64> = None;
    for &version in &versions {
        let path = digest_path(version);
        let file_name = path.to_string();
        let bytes = match digest_store.get(&path).await {
            Ok(result) => result
                .bytes()
                .await
                .map_err(|e| store_error(&file_name, e))?,
            Err(e) => return Err(store_error(&file_name, e)),
        };
        let digest = match DigestFile::parse(&bytes) {
            Ok(digest) => digest,
            Err(message) => {
                report.problem(
                    Some(version),
                    Some(file_name),
                    format!("the digest cannot be read: {message}"),
                );
                continue;
            }
        };
        if version > report.table_version {
            // A writer may have committed (and digested) since the table was opened: the
            // versions after the one verified are left to the next verification. A digest of a
            // version the log does not have at all is a problem.
            if table.read_log_entry(version).await?.is_some() {
                report.notes.push(format!(
                    "versions from {version} on were committed while verifying; this report \
                     covers versions up to {}",
                    report.table_version
                ));
                break;
            }
            report.digests += 1;
            report.problem(
                Some(version),
                Some(file_name),
                format!(
                    "the digest covers version {version}, which the table's log does not have \
                     (its newest is {})",
                    report.table_version
                ),
            );
            continue;
        }
        report.digests += 1;
        if digest.body.version != version {
            report.problem(
                Some(version),
                Some(file_name),
                format!(
                    "the digest file of version {version} holds the digest of version {} (a \
                     digest replayed or moved)",
                    digest.body.version
                ),
            );
            continue;
        }
        if let (Some(Start::Time(time)), None) = (&options.from, from_version)
            && let Some(committed) = digest
                .body
                .committed_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            && committed >= *time
        {
            from_version = Some(version);
        }
        let checked = from_version.is_some_and(|from| version >= from) || options.from.is_none();
        if report.first_digest.is_none() {
            report.first_digest = Some(version);
        }
        report.last_digest = Some(version);

        // The chain; the files of versions without a digest come from the log.
        let undigested = match expected_next {
            Some(expected) => expected..version,
            None if digest.body.kind != "baseline" => 0..version,
            None => 0..0,
        };
        replay_undigested(&table, undigested, &mut live, &mut removed).await?;
        // The chain and the signatures are checked from the first digest on, whatever `from`
        // says: they are cheap, and `from` itself is found through digests.
        if let Some(expected) = expected_next
            && version > expected
        {
            report.problem(
                Some(expected),
                None,
                format!(
                    "{} of the table {} no digest (deleted, or never written)",
                    range_text((expected, version - 1)),
                    if version - 1 > expected {
                        "have"
                    } else {
                        "has"
                    }
                ),
            );
        }
        match (&digest.body.previous, &previous) {
            (None, None) if digest.body.kind == "baseline" || version == 0 => {}
            (None, None) => report.problem(
                Some(version),
                Some(file_name.clone()),
                "the chain starts here without a baseline: the digests before it are missing",
            ),
            (Some(named), None) => report.problem(
                Some(version),
                Some(file_name.clone()),
                format!(
                    "the digest names version {} as the one before it, which is missing",
                    named.version
                ),
            ),
            (None, Some(before)) => report.problem(
                Some(version),
                Some(file_name.clone()),
                format!(
                    "the digest starts a new chain although the digest of version {} \
                     comes before it",
                    before.body.version
                ),
            ),
            (Some(named), Some(before)) => {
                if named.version != before.body.version
                    || named.sha256 != before.sha256
                    || named.signature != before.signature
                {
                    report.problem(
                        Some(version),
                        Some(file_name.clone()),
                        format!(
                            "the digest does not follow the digest of version {}: it names \
                             version {} with hash {}, the digest there hashes to {}",
                            before.body.version, named.version, named.sha256, before.sha256
                        ),
                    );
                }
            }
        }
        expected_next = Some(version + 1);

        // The signature. Unsigned digests are tolerated (`--allow-unsigned`) only before the
        // first signed one: a digest that names a key but carries no signature, or an unsigned
        // digest after a signed one, is a stripped signature or a removed key.
        match (&digest.signature, &digest.body.key) {
            (None, Some(fingerprint)) => report.problem(
                Some(version),
                Some(file_name.clone()),
                format!(
                    "the digest names the key {fingerprint} but has no signature (the \
                     signature was removed)"
                ),
            ),
            (None, None) if report.signed > 0 => report.problem(
                Some(version),
                Some(file_name.clone()),
                "the digest is unsigned although digests before it are signed (the \
                 signature was stripped, or the signing key was removed from the writers)",
            ),
            (None, None) => unsigned.push(version),
            (Some(signature), Some(fingerprint)) => {
                report.signed += 1;
                if digest.signature_key.as_ref() != Some(fingerprint) {
                    report.problem(
                        Some(version),
                        Some(file_name.clone()),
                        "the signature line names another key than the digest",
                    );
                } else if let Some(key) = by_fingerprint.get(fingerprint) {
                    if !key.verifies(&digest.body_bytes, signature) {
                        report.problem(
                            Some(version),
                            Some(file_name.clone()),
                            format!(
                                "the signature does not verify with the key {fingerprint}: \
                                 the digest was altered after it was signed"
                            ),
                        );
                    }
                } else {
                    report.problem(
                        Some(version),
                        Some(file_name.clone()),
                        format!(
                            "the digest is signed by the key {fingerprint}, which is not trusted"
                        ),
                    );
                }
            }
            (Some(_), None) => report.problem(
                Some(version),
                Some(file_name.clone()),
                "the digest has a signature but names no key",
            ),
        }

        // The log entry.
        if checked {
            let entry = &digest.body.log_entry;
            match table.read_log_entry(version).await? {
                None => report.problem(
                    Some(version),
                    Some(entry.path.clone()),
                    "the table's log entry of this version is missing",
                ),
                Some(bytes) => {
                    let found = hex::encode(Sha256::digest(&bytes));
                    if found != entry.sha256 {
                        report.problem(
                            Some(version),
                            Some(entry.path.clone()),
                            format!(
                                "the log entry was rewritten: its digest says sha256 {}, it is {found} now",
                                entry.sha256
                            ),
                        );
                    }
                }
            }
        }

        // Replay the files.
        if digest.body.kind == "baseline" {
            live.clear();
        }
        for file in &digest.body.removed {
            match live.remove(&file.path) {
                Some(known) => {
                    if checked && known.sha256.is_some() && file.sha256 != known.sha256 {
                        report.problem(
                            Some(version),
                            Some(file.path.clone()),
                            format!(
                                "the file changed between version {} (which added it) and \
                                 version {version} (which removed it): sha256 {} then, {} at removal",
                                known.version,
                                known.sha256.as_deref().unwrap_or("-"),
                                file.sha256.as_deref().unwrap_or("(gone)")
                            ),
                        );
                    }
                    removed.insert(
                        file.path.clone(),
                        Known {
                            sha256: known.sha256,
                            version,
                        },
                    );
                }
                None if checked => report.problem(
                    Some(version),
                    Some(file.path.clone()),
                    "the commit removes a file that no digest added",
                ),
                None => {}
            }
        }
        for file in &digest.body.added {
            if checked && file.sha256.is_none() {
                report.problem(
                    Some(version),
                    Some(file.path.clone()),
                    format!("the file was already missing when version {version} was digested"),
                );
            }
            live.insert(
                file.path.clone(),
                Known {
                    sha256: file.sha256.clone(),
                    version,
                },
            );
        }
        for file in &digest.body.deleted {
            if live.contains_key(&file.path) {
                report.problem(
                    Some(version),
                    Some(file.path.clone()),
                    "a vacuum deleted a file that was still live",
                );
            }
            removed.remove(&file.path);
            deleted.insert(file.path.clone(), version);
        }
        previous = Some(digest);
    }

    // Commits after the last digest, and versions before the first.
    match (report.first_digest, report.last_digest) {
        (None, _) | (_, None) => {
            if report.table_version >= 0 {
                report.problem(
                    None,
                    Some(DIGESTS_DIR.to_owned()),
                    format!(
                        "the store has no digests; versions 0–{} are not covered (a writer \
                         of this engine writes them when it next opens the store)",
                        report.table_version
                    ),
                );
            }
        }
        (Some(first), Some(last)) => {
            if last < report.table_version {
                replay_undigested(
                    &table,
                    last + 1..report.table_version + 1,
                    &mut live,
                    &mut removed,
                )
                .await?;
                // Commits of the last moments may still be having their digests written.
                let oldest_undigested = logged(&table, last + 1)
                    .await?
                    .and_then(|entry| entry.timestamp_ms);
                let recent = oldest_undigested
                    .is_some_and(|ms| started.timestamp_millis() - ms < DIGEST_WRITING_MS);
                let text = format!(
                    "{} of the table {} no digest",
                    range_text((last + 1, report.table_version)),
                    if report.table_version > last + 1 {
                        "have"
                    } else {
                        "has"
                    }
                );
                if recent {
                    report.notes.push(format!(
                        "{text} yet: committed in the last minute, their digests are being \
                         written (verify again to check them)"
                    ));
                } else {
                    report.problem(Some(last + 1), None, text);
                }
            }
            if first > 0 {
                report.notes.push(format!(
                    "versions 0–{} predate the digest chain; its first digest (version {first}) \
                     is a baseline of the files live then",
                    first - 1
                ));
            }
        }
    }
    report.unsigned = ranges(&unsigned);
    if !options.allow_unsigned {
        for range in report.unsigned.clone() {
            report.problem(
                Some(range.0),
                None,
                format!(
                    "{} {} unsigned: no signing key was configured when written",
                    range_text(range),
                    if range.0 == range.1 { "is" } else { "are" }
                ),
            );
        }
    }

    // The table's live files against the chain's.
    let table_live: Vec<_> = table.live_files(None).await?;
    let table_paths: HashSet<String> = table_live.iter().map(|f| f.path.to_string()).collect();
    if report.first_digest.is_some() {
        let mut unknown: Vec<&String> = table_paths
            .iter()
            .filter(|p| !live.contains_key(*p))
            .collect();
        unknown.sort();
        for path in unknown {
            report.problem(
                None,
                Some(path.clone()),
                "the file is live in the table but no digest added it",
            );
        }
        let mut gone: Vec<(&String, &Known)> = live
            .iter()
            .filter(|(p, _)| !table_paths.contains(*p))
            .collect();
        gone.sort_by_key(|(p, _)| *p);
        for (path, known) in gone {
            report.problem(
                Some(known.version),
                Some(path.clone()),
                format!(
                    "the file, added in version {}, is no longer live in the table, yet no \
                     digest removed it",
                    known.version
                ),
            );
        }
    }

    // The bytes of every live file the chain knows.
    let mut to_hash: Vec<(&String, &Known)> = live
        .iter()
        .filter(|(_, known)| known.sha256.is_some())
        .filter(|(_, known)| match (&options.from, from_version) {
            (None, _) => true,
            (Some(_), Some(from)) => known.version >= from,
            // A time after every commit: nothing to check.
            (Some(_), None) => false,
        })
        .collect();
    to_hash.sort_by_key(|(p, _)| *p);
    for (path, known) in to_hash {
        let location = Path::from(path.as_str());
        match hash_object(&table_store, &location).await {
            Err(e) => report.problem(
                Some(known.version),
                Some(path.clone()),
                format!("the file cannot be read: {e}"),
            ),
            Ok(None) => report.problem(
                Some(known.version),
                Some(path.clone()),
                format!("the file, added in version {}, is missing", known.version),
            ),
            Ok(Some((sha256, size))) => {
                report.files_checked += 1;
                report.bytes_checked += size;
                if known.sha256.as_deref() != Some(sha256.as_str()) {
                    report.problem(
                        Some(known.version),
                        Some(path.clone()),
                        format!(
                            "the file's bytes differ from its digest (version {}): sha256 {} \
                             expected, {sha256} found",
                            known.version,
                            known.sha256.as_deref().unwrap_or("(none recorded)")
                        ),
                    );
                }
            }
        }
    }

    // Files in the table's directory that no digest accounts for.
    if report.first_digest.is_some() {
        let mut listing = table_store.list(None);
        let mut strays: BTreeMap<String, u64> = BTreeMap::new();
        let mut lingering = 0u64;
        let mut in_progress = 0u64;
        while let Some(meta) = listing
            .try_next()
            .await
            .map_err(|e| store_error(table.name(), e))?
        {
            let path = meta.location.to_string();
            if path.starts_with("_delta_log/") {
                continue;
            }
            if live.contains_key(&path) || removed.contains_key(&path) {
                continue;
            }
            if deleted.contains_key(&path) {
                lingering += 1;
                continue;
            }
            // Written while verifying: a write in progress, for the next verification.
            if meta.last_modified >= started {
                in_progress += 1;
                continue;
            }
            // Files of versions before a baseline were removed before digests existed.
            strays.insert(path, meta.size);
        }
        // Files removed before the chain began are accounted for by the log before it.
        if let Some(first) = report.first_digest
            && first > 0
            && !strays.is_empty()
        {
            let predating = added_by_log(&table, 0..first, false, &mut strays).await?;
            if predating > 0 {
                report.notes.push(format!(
                    "{predating} file(s) removed before the digest chain began are still in \
                     storage (`insights vacuum` deletes them)"
                ));
            }
        }
        // Files committed after the version verified (written before verification began).
        in_progress += added_by_log(&table, report.table_version + 1.., true, &mut strays).await?;
        if in_progress > 0 {
            report.notes.push(format!(
                "{in_progress} file(s) were written or committed while verifying; the next \
                 verification checks them"
            ));
        }
        for path in strays.into_keys() {
            report.problem(
                None,
                Some(path),
                "the file is in the table's directory but no digest added it (slipped in, or \
                 left by an interrupted write; `insights vacuum` removes such files)",
            );
        }
        if lingering > 0 {
            report.notes.push(format!(
                "{lingering} file(s) a vacuum recorded as deleted are still in storage (an \
                 interrupted vacuum; the next one deletes them)"
            ));
        }
    }
    report.verified = report.problems.is_empty();
    Ok(report)
}
