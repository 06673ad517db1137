//! The HTTP service of the Directory Insights engine, `insights serve`: one process that ingests
//! and queries over HTTP — the DI-compatible routes under `/insights/directory/v1/`, the
//! engine's own under `/api/v1/`, `/oauth2/token`, `/healthz` and `/metrics` — with API keys and
//! service accounts ([`keys`]), per-organization isolation and limits on body size, record
//! size, request time and concurrent queries.
//!
//! Every route that reads or writes events sits behind its role's authentication layer
//! ([`auth`]); the handlers of a router of one role receive the checked [`auth::Caller`].

mod auth;
mod error;
mod ingest;
pub mod keys;
mod metrics;
mod oauth;
mod pull;
mod retention;
mod routes;
mod runtime;

pub use runtime::shutdown_signal;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Semaphore, mpsc};

use insights_ingest::{IngestConfig, Ingester, StoreLocation};
use insights_query::{QueryConfig, QueryEngine, ViewStore};

/// How `insights serve` runs: the store, the address and every limit. [`ServeConfig::new`]
/// gives the defaults `insights serve --help` lists.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The store (local directory or s3://).
    pub store: StoreLocation,
    /// Where the write-ahead log and quarantine of a remote store live.
    pub state_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body, in bytes (compressed size for gzip bodies).
    pub max_body_bytes: usize,
    /// Largest single event, in bytes; longer ones are rejected (and quarantined).
    pub max_record_bytes: usize,
    /// Longest time a query may take before it is answered 503.
    pub request_timeout: Duration,
    /// Queries run at once; more are answered 503 with Retry-After.
    pub max_concurrent_queries: usize,
    /// Queries one key (or service account) runs at once; more are answered 503.
    pub max_queries_per_key: usize,
    /// Ingest requests waiting for the ingester; more are answered 429 with Retry-After.
    pub max_queued_ingests: usize,
    /// Commit buffered events once the oldest has waited this long.
    pub flush_age: Duration,
    /// Commit buffered events once this many are buffered.
    pub flush_rows: usize,
    /// Commit buffered events once their raw JSON takes this many bytes.
    pub flush_bytes: usize,
    /// Memory that query sorts and aggregations share before spilling, in bytes.
    pub query_memory_bytes: usize,
    /// How much lower than the queries' the scheduling priority of the ingest threads is (a
    /// nice increment, 0-19; Linux only).
    pub ingest_nice: u8,
    /// Pull from a DI API in the background (`--pull FILE`).
    pub pull: Option<insights_pull::PullSettings>,
    /// How often the store's retention policy is applied (and once at start).
    pub retention_every: Duration,
}

impl ServeConfig {
    /// The defaults, for `store` with its state in `state_dir`.
    pub fn new(store: StoreLocation, state_dir: PathBuf) -> Self {
        Self {
            store,
            state_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 64 << 20,
            max_record_bytes: 16 << 20,
            request_timeout: Duration::from_secs(30),
            max_concurrent_queries: 8,
            max_queries_per_key: 4,
            max_queued_ingests: 64,
            flush_age: Duration::from_secs(2),
            flush_rows: 200_000,
            flush_bytes: 64 << 20,
            query_memory_bytes: 256 << 20,
            ingest_nice: 10,
            pull: None,
            retention_every: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// How the service stopped after SIGTERM or SIGINT.
#[derive(Debug)]
pub enum Stopped {
    /// Every buffered event was committed to the table.
    Flushed,
    /// The last events could not be committed; they are kept in the write-ahead log
    /// `wal_dir`, and the next start on the store commits them.
    Uncommitted {
        /// Why the last commit failed.
        error: insights_ingest::Error,
        /// Where the acknowledged events are kept.
        wal_dir: PathBuf,
    },
}

/// What every handler shares.
struct App {
    engine: Arc<QueryEngine>,
    views: ViewStore,
    keys: keys::KeyStore,
    ingest: mpsc::Sender<ingest::IngestJob>,
    queries: Arc<Semaphore>,
    /// Each key's query slots, made on its first query.
    key_queries: std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>,
    max_queries_per_key: usize,
    metrics: Arc<metrics::Metrics>,
    wal_dir: PathBuf,
    /// Each pulled organization's counters (empty without `--pull`).
    pull: pull::PullStatsMap,
    max_body_bytes: usize,
    max_record_bytes: usize,
    request_timeout: Duration,
    /// Export download links waiting for their download, by token.
    downloads: std::sync::Mutex<std::collections::HashMap<String, routes::Ticket>>,
}

impl App {
    /// The query slots of one key.
    fn key_queries(&self, key_id: &str) -> Arc<Semaphore> {
        let mut slots = self
            .key_queries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots
            .entry(key_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.max_queries_per_key)))
            .clone()
    }
}

/// Serves until SIGTERM or SIGINT, then stops taking requests and commits what ingest
/// buffered. Prints `listening on http://ADDRESS` on stdout once it accepts connections.
pub async fn serve(config: ServeConfig) -> anyhow::Result<Stopped> {
    let location = config.store.clone();
    let mut ingest_config = IngestConfig::new(location.clone(), &config.state_dir);
    ingest_config.flush_age = config.flush_age;
    ingest_config.flush_rows = config.flush_rows.max(1);
    ingest_config.flush_bytes = config.flush_bytes.max(1);
    ingest_config.max_record_bytes = config.max_record_bytes;
    let wal_dir = ingest_config.wal_dir.clone();
    let ingest_runtime = runtime::ingest_runtime(config.ingest_nice)?;
    let ingester = ingest_runtime
        .handle
        .spawn(Ingester::open(ingest_config))
        .await
        .context("the ingest runtime stopped")?
        .with_context(|| format!("opening the store {location} for ingest"))?;
    let engine = QueryEngine::open(
        &location,
        QueryConfig {
            memory_limit: config.query_memory_bytes,
            ..QueryConfig::default()
        },
    )
    .await
    .with_context(|| format!("opening the store {location} for queries"))?;
    let metrics = Arc::new(metrics::Metrics::default());
    let (sender, receiver) = mpsc::channel(config.max_queued_ingests.max(1));
    let ingest_task = ingest_runtime
        .handle
        .spawn(ingest::run(ingester, receiver, metrics.clone()));
    let (raise_stop, stop) = insights_pull::Stop::new();
    let (pull_stats, pull_task) = match config.pull {
        Some(settings) => {
            let (stats, task) =
                pull::start(settings, location.object_store()?, sender.clone(), stop)?;
            (stats, Some(task))
        }
        None => (pull::PullStatsMap::new(), None),
    };
    let retention_task = retention::start(
        location.clone(),
        config.retention_every.max(Duration::from_secs(1)),
        raise_stop.subscribe(),
    );
    let app = Arc::new(App {
        engine: Arc::new(engine),
        views: ViewStore::open(&location)?,
        keys: keys::KeyStore::open(&location)?,
        ingest: sender,
        queries: Arc::new(Semaphore::new(config.max_concurrent_queries.max(1))),
        key_queries: std::sync::Mutex::default(),
        max_queries_per_key: config.max_queries_per_key.max(1),
        metrics,
        wal_dir: wal_dir.clone(),
        pull: pull_stats,
        max_body_bytes: config.max_body_bytes,
        max_record_bytes: config.max_record_bytes,
        request_timeout: config.request_timeout.max(Duration::from_secs(1)),
        downloads: std::sync::Mutex::default(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    let signal = runtime::shutdown_signal();
    let shutdown = async move {
        signal.await;
        let _ = raise_stop.send(true);
    };
    // One line on stdout that scripts (and tests) wait for.
    println!("listening on http://{address}");
    tracing::info!(%address, store = %location, "serving");
    axum::serve(listener, routes::router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
    // Stop the pull (between pages) and ingest requests, let the ingester flush what it
    // buffered, then exit.
    if let Some(task) = pull_task {
        let _ = task.await;
    }
    let _ = retention_task.await;
    drop(app);
    match ingest_task.await.context("the ingest task failed")? {
        Ok(()) => Ok(Stopped::Flushed),
        Err(error) => Ok(Stopped::Uncommitted { error, wal_dir }),
    }
}
