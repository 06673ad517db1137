//! `insights serve`: the command-line face of `insights-server`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use insights_ingest::StoreLocation;
use insights_server::{ServeConfig, Stopped};

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
    /// Pull from a DI API in the background, as this file says (TOML or JSON: organizations,
    /// key_file, base_url, services, since, every, overlap, lag; see docs/pull.md).
    #[arg(long, value_name = "FILE")]
    pull: Option<std::path::PathBuf>,
    /// How often the store's retention policy (`insights retention`) is applied, besides once
    /// at start: a duration such as 24h, 30m.
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    retention_every: String,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = StoreLocation::parse(&args.store.store)?;
    let state_dir = args.store.state_dir(&store)?;
    let pull = match &args.pull {
        Some(path) => Some(insights_pull::read_pull_file(path)?),
        None => None,
    };
    let retention_every = insights_pull::parse_duration(&args.retention_every)
        .map_err(|e| anyhow::anyhow!("--retention-every: {e}"))?;
    let config = ServeConfig {
        pull,
        retention_every,
        listen: args.listen,
        max_body_bytes: args.max_body_bytes,
        max_record_bytes: args.max_record_bytes,
        request_timeout: Duration::from_secs(args.request_timeout),
        max_concurrent_queries: args.max_concurrent_queries,
        max_queries_per_key: args.max_queries_per_key,
        max_queued_ingests: args.max_queued_ingests,
        flush_age: Duration::from_millis(args.flush_age_ms),
        flush_rows: args.flush_rows,
        flush_bytes: args.flush_bytes,
        query_memory_bytes: args.query_memory_mib << 20,
        ingest_nice: args.ingest_nice,
        ..ServeConfig::new(store, state_dir)
    };
    match insights_server::serve(config).await? {
        Stopped::Flushed => {
            eprintln!("stopped; buffered events were committed");
            Ok(ExitCode::SUCCESS)
        }
        Stopped::Uncommitted { error, wal_dir } => {
            eprintln!(
                "stopped, but the last events could not be committed to the table: {error}\n\
                 every acknowledged event is kept in the write-ahead log {}; the next \
                 `insights serve` or `insights ingest` on this store commits them",
                wal_dir.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
