//! Running an increment (or a backfill): plan, claim, write the objects, the manifest, then the
//! checkpoint.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use insights_ingest::{EventTable, StoreLocation};

use crate::dest::{Created, Destination};
use crate::error::{Error, Result};
use crate::source::{Chunk, read_rows};
use crate::state::{
    Checkpoint, Manifest, Mode, ObjectEntry, Plan, STATE_DIR, checkpoint_key, checkpoint_number,
    claim_key, decode, encode, no_results_metric, now_rfc3339, rfc3339,
};

/// Raw bytes per data object before the next part begins.
pub const DEFAULT_OBJECT_BYTES: u64 = 256 << 20;

/// gzip level of the data objects by default: level 1 exports 1,000,000 events in about 2.5 s on
/// two cores, level 6 in about 6 s for objects 40 % smaller (docs/exports-and-lambda.md › Performance).
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// How increments are cut and written.
#[derive(Debug, Clone)]
pub struct IncrementConfig {
    /// Export one organization only; `None` exports all.
    pub organization: Option<String>,
    /// `Some((window, lag))` in seconds cuts increments by event time; `None` by table version.
    pub window: Option<(u64, u64)>,
    /// Uncompressed bytes per data object (a larger increment is cut into parts).
    pub object_bytes: u64,
    /// gzip level, 0-9.
    pub gzip_level: u32,
}

impl Default for IncrementConfig {
    fn default() -> Self {
        Self {
            organization: None,
            window: None,
            object_bytes: DEFAULT_OBJECT_BYTES,
            gzip_level: DEFAULT_GZIP_LEVEL,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `exported`, `empty` (an increment without rows), or `backfilled`.
    pub status: &'static str,
    pub destination: String,
    pub increment: u64,
    /// True when the run completed an increment that an earlier (crashed or concurrent) run had
    /// claimed.
    pub resumed: bool,
    pub rows: u64,
    pub from_version: i64,
    pub to_version: i64,
    pub start: String,
    pub end: String,
    pub objects: Vec<ObjectEntry>,
    pub manifest: Option<String>,
    pub seconds: f64,
}

/// Stops the process at a named point when `INSIGHTS_FAILPOINT` names it: how the tests crash a
/// run after its data objects, before its manifest and checkpoint.
fn failpoint(name: &str) {
    if std::env::var("INSIGHTS_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

/// Where the first increment starts: 0000-01-01T00:00:00Z, the earliest time an event may carry,
/// so that the first increment holds the whole history.
pub const FIRST_START_US: i64 = -62_167_219_200_000_000;

fn epoch_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

async fn open_table(store: &StoreLocation) -> Result<EventTable> {
    EventTable::open(store)
        .await
        .map_err(|e| Error::table(store.to_string(), "cannot be opened", e))
}

/// The latest checkpoint of a destination, if any.
pub async fn last_checkpoint<D: Destination>(dest: &D) -> Result<Option<Checkpoint>> {
    let keys = dest.list(&format!("{STATE_DIR}/checkpoints/")).await?;
    let Some(latest) = keys.iter().filter_map(|k| checkpoint_number(k)).max() else {
        return Ok(None);
    };
    let key = checkpoint_key(latest);
    let bytes = dest.get(&key).await?.ok_or_else(|| Error::State {
        key: key.clone(),
        message: "listed but not readable".into(),
        source: None,
    })?;
    decode(&key, &bytes).map(Some)
}

/// Exports the next increment of `store`'s table to `dest`: everything committed since the last
/// checkpoint (cut to the event-time window in window mode). Prints the `NoResults` metric line
/// when the increment has no rows.
pub async fn run_increment<D: Destination>(
    store: &StoreLocation,
    dest: &D,
    config: &IncrementConfig,
) -> Result<Report> {
    let started = Instant::now();
    // The checkpoint first: a table opened after it is at least at its version, so a plan never
    // reads an older version than the last increment did.
    let last = last_checkpoint(dest).await?;
    let table = open_table(store).await?;
    let mode = match config.window {
        Some((window_secs, lag_secs)) => {
            if window_secs == 0 {
                return Err(Error::config("--window", "must be longer than 0s"));
            }
            Mode::Window {
                window_secs,
                lag_secs,
            }
        }
        None => Mode::Versions,
    };
    if let Some(last) = &last {
        if std::mem::discriminant(&last.mode) != std::mem::discriminant(&mode) {
            return Err(Error::config(
                "--window",
                format!(
                    "{} holds increments cut {}; keep that mode or use another destination",
                    dest.describe(),
                    if matches!(last.mode, Mode::Versions) {
                        "by table version (no --window)"
                    } else {
                        "by event-time window (--window)"
                    }
                ),
            ));
        }
        if last.organization != config.organization {
            return Err(Error::config(
                "--org",
                format!(
                    "{} holds increments of {}; use another destination for {}",
                    dest.describe(),
                    last.organization.as_deref().unwrap_or("all organizations"),
                    config
                        .organization
                        .as_deref()
                        .unwrap_or("all organizations"),
                ),
            ));
        }
    }
    let increment = last.as_ref().map_or(1, |c| c.increment + 1);
    let from_version = last.as_ref().map_or(-1, |c| c.version);
    let previous_end = last.as_ref().map_or(FIRST_START_US, |c| c.end_us);
    if table.version() < from_version {
        return Err(Error::Table {
            table: store.to_string(),
            message: format!(
                "is at version {} but {} already exported up to version {from_version}; is this \
                 the table the destination's increments came from?",
                table.version(),
                dest.describe()
            ),
            source: None,
        });
    }

    let claim = claim_key(increment);
    let (plan, resumed) = match dest.get(&claim).await? {
        Some(bytes) => (decode::<Plan>(&claim, &bytes)?, true),
        None => {
            let to_version = table.version();
            let now = epoch_us();
            let end_us = match mode {
                Mode::Window {
                    window_secs,
                    lag_secs,
                } => {
                    let micros = |secs: u64| {
                        i64::try_from(secs)
                            .ok()
                            .and_then(|s| s.checked_mul(1_000_000))
                    };
                    let too_long = |setting: &str| {
                        Error::config(setting, "is longer than the time since year 0")
                    };
                    let window = micros(window_secs).ok_or_else(|| too_long("--window"))?;
                    let lag = micros(lag_secs).ok_or_else(|| too_long("--lag"))?;
                    let closed = now.checked_sub(lag).ok_or_else(|| too_long("--lag"))?;
                    closed.div_euclid(window).saturating_mul(window)
                }
                _ => (now / 1000 * 1000).max(previous_end + 1000),
            };
            let nothing_new = match mode {
                Mode::Window { .. } => end_us <= previous_end,
                _ => to_version <= from_version,
            };
            if nothing_new {
                println!(
                    "{}",
                    no_results_metric(&dest.describe(), config.organization.as_deref())
                );
                return Ok(Report {
                    status: "empty",
                    destination: dest.describe(),
                    increment,
                    resumed: false,
                    rows: 0,
                    from_version,
                    to_version: from_version,
                    start: rfc3339(previous_end),
                    end: rfc3339(previous_end),
                    objects: Vec::new(),
                    manifest: None,
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
            let plan = Plan {
                increment,
                organization: config.organization.clone(),
                mode,
                from_version,
                to_version,
                start_us: previous_end,
                end_us,
                object_bytes: config.object_bytes.max(1),
                gzip_level: config.gzip_level.min(9),
                claimed_at: now_rfc3339(),
            };
            claim_plan(dest, &claim, plan).await?
        }
    };

    let written = write_plan(&table, &plan, dest).await?;
    let checkpoint = Checkpoint {
        increment: plan.increment,
        organization: plan.organization.clone(),
        mode: plan.mode,
        version: plan.to_version,
        end_us: plan.end_us,
        rows: written.rows,
        manifest: written.manifest.clone(),
        completed_at: now_rfc3339(),
    };
    // AlreadyExists: a concurrent run completed the same plan; the increment is done either way.
    dest.put_new(&checkpoint_key(plan.increment), vec![encode(&checkpoint)])
        .await?;
    Ok(report(dest, &plan, written, resumed, "exported", started))
}

/// Exports the events of `[start_us, end_us)` at the table's latest version under `backfill/`,
/// without touching the checkpoint. A window already backfilled is refused.
pub async fn run_backfill<D: Destination>(
    store: &StoreLocation,
    dest: &D,
    config: &IncrementConfig,
    start_us: i64,
    end_us: i64,
) -> Result<Report> {
    let started = Instant::now();
    if end_us <= start_us {
        return Err(Error::config(
            "--to",
            format!(
                "{} is not after --from {}",
                rfc3339(end_us),
                rfc3339(start_us)
            ),
        ));
    }
    let table = open_table(store).await?;
    let plan = Plan {
        increment: 0,
        organization: config.organization.clone(),
        mode: Mode::Backfill,
        from_version: -1,
        to_version: table.version(),
        start_us,
        end_us,
        object_bytes: config.object_bytes.max(1),
        gzip_level: config.gzip_level.min(9),
        claimed_at: now_rfc3339(),
    };
    if dest.get(&plan.manifest_key()).await?.is_some() {
        return Err(Error::Destination {
            destination: format!("{}/{}", dest.describe(), plan.manifest_key()),
            message: "this window was already backfilled; exported objects are never overwritten"
                .into(),
            source: None,
        });
    }
    // Like an increment, a backfill claims its plan first, so that a re-run after a crash reads
    // the same table version and cuts the same objects.
    let claim = plan.backfill_claim_key();
    let (plan, resumed) = match dest.get(&claim).await? {
        Some(bytes) => (decode::<Plan>(&claim, &bytes)?, true),
        None => claim_plan(dest, &claim, plan).await?,
    };
    let written = write_plan(&table, &plan, dest).await?;
    Ok(report(dest, &plan, written, resumed, "backfilled", started))
}

/// Claims `plan` at `claim` (create-only). When another run claimed it a moment before, returns
/// that run's plan instead, to be carried out again: it writes the same objects (create-only),
/// never a second copy of the rows. True when the plan is another run's.
async fn claim_plan<D: Destination>(dest: &D, claim: &str, plan: Plan) -> Result<(Plan, bool)> {
    match dest.put_new(claim, vec![encode(&plan)]).await? {
        Created::Written => Ok((plan, false)),
        Created::AlreadyExists => {
            let bytes = dest.get(claim).await?.ok_or_else(|| Error::State {
                key: format!("{}/{claim}", dest.describe()),
                message: "claimed by another run but not readable".into(),
                source: None,
            })?;
            Ok((decode::<Plan>(claim, &bytes)?, true))
        }
    }
}

/// The report of a run that wrote `written` for `plan`; prints the `NoResults` metric line when
/// the plan had no rows.
fn report<D: Destination>(
    dest: &D,
    plan: &Plan,
    written: Written,
    resumed: bool,
    status: &'static str,
    started: Instant,
) -> Report {
    if written.rows == 0 {
        println!(
            "{}",
            no_results_metric(&dest.describe(), plan.organization.as_deref())
        );
    }
    Report {
        status: if written.rows == 0 { "empty" } else { status },
        destination: dest.describe(),
        increment: plan.increment,
        resumed,
        rows: written.rows,
        from_version: plan.from_version,
        to_version: plan.to_version,
        start: rfc3339(plan.start_us),
        end: rfc3339(plan.end_us),
        objects: written.objects,
        manifest: written.manifest,
        seconds: started.elapsed().as_secs_f64(),
    }
}

struct Written {
    rows: u64,
    objects: Vec<ObjectEntry>,
    manifest: Option<String>,
}

/// The members of one data object, with its digest so far.
#[derive(Default)]
struct Part {
    members: Vec<Bytes>,
    digest: Sha256,
    bytes: u64,
    raw_bytes: u64,
    rows: u64,
}

impl Part {
    fn add(&mut self, member: Member) {
        self.digest.update(&member.data);
        self.bytes += member.data.len() as u64;
        self.raw_bytes += member.raw_bytes;
        self.rows += member.rows;
        self.members.push(Bytes::from(member.data));
    }
}

/// One compressed chunk: a complete gzip member.
struct Member {
    data: Vec<u8>,
    raw_bytes: u64,
    rows: u64,
}

fn compress(chunk: Chunk, level: u32) -> std::io::Result<Member> {
    let raw_bytes = chunk.data.len() as u64;
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(chunk.data.len() / 4),
        Compression::new(level),
    );
    encoder.write_all(&chunk.data)?;
    Ok(Member {
        data: encoder.finish()?,
        raw_bytes,
        rows: chunk.rows,
    })
}

/// Writes the data objects and the manifest of a plan (create-only; objects an earlier run of the
/// same plan left are kept and listed as they are).
async fn write_plan<D: Destination>(table: &EventTable, plan: &Plan, dest: &D) -> Result<Written> {
    let at_version = if table.version() == plan.to_version {
        table.clone()
    } else {
        table.at_version(plan.to_version).await.map_err(|e| {
            Error::table(
                table.name(),
                format!("loading version {}", plan.to_version),
                e,
            )
        })?
    };
    let (sender, receiver) = mpsc::channel::<Chunk>(2);
    let mut reader = AbortOnDrop({
        let plan = plan.clone();
        tokio::spawn(async move { read_rows(&at_version, &plan, sender).await })
    });
    let level = plan.gzip_level;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut members = tokio_stream_of(receiver)
        .map(move |chunk| tokio::task::spawn_blocking(move || compress(chunk, level)))
        .buffered(workers);

    // One object uploads while the next one is compressed; objects complete in order.
    let mut objects = Vec::new();
    let mut upload: Option<Pin<Box<dyn Future<Output = Result<ObjectEntry>> + Send + '_>>> = None;
    let mut part = Part::default();
    let mut rows = 0u64;
    loop {
        let next = match upload.as_mut() {
            Some(pending) => tokio::select! {
                done = pending => {
                    objects.push(done?);
                    upload = None;
                    continue;
                }
                member = members.next() => member,
            },
            None => members.next().await,
        };
        let Some(member) = next else { break };
        let member = member
            .map_err(|e| Error::io("compressing events", std::io::Error::other(e)))?
            .map_err(|e| Error::io("compressing events", e))?;
        rows += member.rows;
        part.add(member);
        if part.raw_bytes >= plan.object_bytes {
            if let Some(pending) = upload.take() {
                objects.push(pending.await?);
            }
            let full = std::mem::take(&mut part);
            upload = Some(Box::pin(put_object(dest, plan, objects.len(), full)));
        }
    }
    if let Some(pending) = upload.take() {
        objects.push(pending.await?);
    }
    (&mut reader.0)
        .await
        .map_err(|e| Error::table(table.name(), "the reading task failed", e))??;
    if part.rows > 0 {
        objects.push(put_object(dest, plan, objects.len(), part).await?);
    }
    if rows == 0 {
        return Ok(Written {
            rows,
            objects,
            manifest: None,
        });
    }
    let manifest = Manifest {
        increment: plan.increment,
        organization: plan.organization.clone(),
        mode: plan.mode,
        start: rfc3339(plan.start_us),
        end: rfc3339(plan.end_us),
        from_version: plan.from_version,
        to_version: plan.to_version,
        rows,
        objects: objects.clone(),
        created_at: now_rfc3339(),
        signature: None,
    };
    let mut manifest = manifest;
    if let Some(key) =
        insights_ingest::evidence::SigningKeyPair::from_env().map_err(|e| Error::Config {
            setting: "signing key".into(),
            message: e.to_string(),
        })?
    {
        manifest.sign(&key);
    }
    failpoint("export-before-manifest");
    let key = plan.manifest_key();
    dest.put_new(&key, vec![encode(&manifest)]).await?;
    Ok(Written {
        rows,
        objects,
        manifest: Some(key),
    })
}

/// Stops the table reader when the export returns early (an upload failed), instead of letting
/// it read on in the background.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn tokio_stream_of<T: Send + 'static>(
    mut receiver: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Creates one data object; when an earlier run of the same plan created it already, keeps that
/// object and describes it as it is.
async fn put_object<D: Destination>(
    dest: &D,
    plan: &Plan,
    index: usize,
    part: Part,
) -> Result<ObjectEntry> {
    let key = plan.object_key(index);
    let Part {
        members,
        digest,
        bytes,
        rows,
        ..
    } = part;
    match dest.put_new(&key, members).await? {
        Created::Written => Ok(ObjectEntry {
            key,
            rows,
            bytes,
            sha256: hex::encode(digest.finalize()),
        }),
        Created::AlreadyExists => {
            let existing = dest.get(&key).await?.ok_or_else(|| Error::Destination {
                destination: format!("{}/{key}", dest.describe()),
                message: "exists but is not readable".into(),
                source: None,
            })?;
            let existing_rows = count_lines(&existing).map_err(|e| {
                Error::destination(
                    format!("{}/{key}", dest.describe()),
                    "an earlier run left an object that is not gzip",
                    e,
                )
            })?;
            if existing_rows != rows {
                return Err(Error::Destination {
                    destination: format!("{}/{key}", dest.describe()),
                    message: format!(
                        "an earlier run left {existing_rows} events here where this increment has \
                         {rows}; refusing to go on"
                    ),
                    source: None,
                });
            }
            tracing::info!(object = %key, "kept the object an earlier run of this increment wrote");
            Ok(ObjectEntry {
                key,
                rows,
                bytes: existing.len() as u64,
                sha256: hex::encode(Sha256::digest(&existing)),
            })
        }
    }
}

fn count_lines(gz: &[u8]) -> std::io::Result<u64> {
    use std::io::Read;
    let mut decoder = flate2::read::MultiGzDecoder::new(gz);
    let mut buffer = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = decoder.read(&mut buffer)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
}
