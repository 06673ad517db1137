//! `insights serve`: one process that ingests and queries over HTTP — the DI-compatible routes
//! under `/insights/directory/v1/`, the engine's own under `/api/v1/`, `/healthz` and
//! `/metrics` — with API keys, per-organization isolation and limits on body size, record size,
//! request time and concurrent queries.

mod auth;
mod error;
mod ingest;
pub mod keys;
mod metrics;
mod oauth;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Semaphore, mpsc};

use insights_ingest::{IngestConfig, Ingester};
use insights_query::{QueryConfig, QueryEngine, StoreLocation, ViewStore};

use crate::StoreArgs;

/// Arguments of `insights serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "INSIGHTS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Largest request body, in bytes (compressed size for gzip bodies).
    #[arg(long, default_value_t = 64 << 20)]
    max_body_bytes: usize,
    /// Largest single event, in bytes; longer ones are rejected (and quarantined).
    #[arg(long, default_value_t = 16 << 20)]
    max_record_bytes: usize,
    /// Longest time a query may take, in seconds, before it is answered 503.
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    /// Queries run at once; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 8)]
    max_concurrent_queries: usize,
    /// Queries one key (or service account) runs at once; more are answered 503.
    #[arg(long, default_value_t = 4)]
    max_queries_per_key: usize,
    /// Ingest requests waiting for the ingester; more are answered 429 with Retry-After.
    #[arg(long, default_value_t = 64)]
    max_queued_ingests: usize,
    /// Commit buffered events to the table once the oldest has waited this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    flush_age_ms: u64,
    /// Commit buffered events to the table once this many are buffered.
    #[arg(long, default_value_t = 200_000)]
    flush_rows: usize,
    /// Commit buffered events to the table once their raw JSON takes this many bytes.
    #[arg(long, default_value_t = 64 << 20)]
    flush_bytes: usize,
    /// Memory that query sorts and aggregations share before spilling, in MiB.
    #[arg(long, default_value_t = 256)]
    query_memory_mib: usize,
    /// How much lower than the queries' the scheduling priority of the ingest threads is (a
    /// nice increment, 0-19; Linux only): under a full CPU, queries keep their latency and
    /// ingest takes the rest, queueing and then answering 429 when it cannot keep up.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=19))]
    ingest_nice: u8,
}

/// What every handler shares.
pub struct App {
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
    max_body_bytes: usize,
    max_record_bytes: usize,
    request_timeout: Duration,
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

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let location = StoreLocation::parse(&args.store.store)?;
    let mut config = IngestConfig::new(location.clone(), &args.store.state_dir);
    config.flush_age = Duration::from_millis(args.flush_age_ms);
    config.flush_rows = args.flush_rows.max(1);
    config.flush_bytes = args.flush_bytes.max(1);
    config.max_record_bytes = args.max_record_bytes;
    let wal_dir = config.wal_dir.clone();
    let ingest_runtime = ingest_runtime(args.ingest_nice)?;
    let ingester = ingest_runtime
        .handle
        .spawn(Ingester::open(config))
        .await
        .context("the ingest runtime stopped")?
        .with_context(|| format!("opening the store {location} for ingest"))?;
    let engine = QueryEngine::open(
        &location,
        QueryConfig {
            memory_limit: args.query_memory_mib << 20,
            ..QueryConfig::default()
        },
    )
    .await
    .with_context(|| format!("opening the store {location} for queries"))?;
    let metrics = Arc::new(metrics::Metrics::default());
    let (sender, receiver) = mpsc::channel(args.max_queued_ingests.max(1));
    let ingest_task = ingest_runtime
        .handle
        .spawn(ingest::run(ingester, receiver, metrics.clone()));
    let app = Arc::new(App {
        engine: Arc::new(engine),
        views: ViewStore::open(&location)?,
        keys: keys::KeyStore::open(&location)?,
        ingest: sender,
        queries: Arc::new(Semaphore::new(args.max_concurrent_queries.max(1))),
        key_queries: std::sync::Mutex::default(),
        max_queries_per_key: args.max_queries_per_key.max(1),
        metrics,
        wal_dir: wal_dir.clone(),
        max_body_bytes: args.max_body_bytes,
        max_record_bytes: args.max_record_bytes,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let shutdown = shutdown_signal();
    // One line on stdout that scripts (and tests) wait for.
    println!("listening on http://{address}");
    tracing::info!(%address, store = %location, "serving");
    axum::serve(listener, routes::router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
    // Stop taking ingest requests, let the ingester flush what it buffered, then exit.
    drop(app);
    match ingest_task.await.context("the ingest task failed")? {
        Ok(()) => {
            eprintln!("stopped; buffered events were committed");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "stopped, but the last events could not be committed to the table: {e}\n\
                 every acknowledged event is kept in the write-ahead log {}; the next \
                 `insights serve` or `insights ingest` on this store commits them",
                wal_dir.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The runtime ingest runs on: decoding, the write-ahead log and the Parquet encoding of
/// commits are CPU-bound and long (a commit encodes up to `--flush-rows` events at once), and on
/// the runtime that serves queries they would hold its worker threads while queries wait. Here
/// they have threads of their own, at a lower priority than the queries' (`nice`), so that
/// the kernel gives a query the CPU as soon as it needs it.
fn ingest_runtime(nice: u8) -> anyhow::Result<IngestRuntime> {
    let nice = (thread_nice() + i32::from(nice)).min(19);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // The ingest loop and the commit it started run side by side.
        .worker_threads(2)
        .thread_name("ingest")
        .enable_all()
        // An absolute value: a thread started from an ingest thread has its nice value already.
        .on_thread_start(move || set_thread_nice(nice))
        .build()
        .context("starting the ingest runtime")?;
    Ok(IngestRuntime {
        handle: runtime.handle().clone(),
        runtime: Some(runtime),
    })
}

/// The ingest runtime, shut down without waiting when `run` returns: its task has finished by
/// then, or `run` failed and the write-ahead log keeps what was acknowledged. (Dropping a
/// runtime would wait, which an async context must not.)
struct IngestRuntime {
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for IngestRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The nice value of the calling thread.
#[cfg(target_os = "linux")]
fn thread_nice() -> i32 {
    // On Linux the nice value belongs to each thread, and PRIO_PROCESS with 0 names the
    // calling thread. (-1 is also a valid value; it would only mean a base of -1.)
    // SAFETY: getpriority only reads the calling thread's nice value.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(not(target_os = "linux"))]
fn thread_nice() -> i32 {
    0
}

/// Sets the calling thread's nice value to `nice`, leaving the other threads alone.
#[cfg(target_os = "linux")]
fn set_thread_nice(nice: i32) {
    // SAFETY: setpriority only sets the calling thread's nice value.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "cannot lower the priority of an ingest thread"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn set_thread_nice(_nice: i32) {}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when the
/// future is first polled: a SIGTERM that arrives right after "listening" must not find the
/// default action (an exit without flushing) still in place.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    async move {
        #[cfg(unix)]
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("cannot listen for SIGTERM and SIGINT: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
