//! `insights`: the command-line entry point of the Directory Insights engine.
//!
//! The binary only wires the crates together: `insights-schemas` (the event model),
//! `insights-ingest` (durable ingest, the table), `insights-query` (queries, views, exports)
//! and the commands below.

mod enrich_cmd;
mod evidence_cmds;
mod generate_cmd;
mod increment_cmd;
mod ingest_cmd;
mod keys_cmd;
mod pull_cmd;
mod query_cmds;
mod serve_cmd;
mod table_cmds;
mod views_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Self-hosted engine for Directory Insights audit events: ingest, store, query, export.
#[derive(Parser)]
#[command(name = "insights", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives; shared by every command that touches a store.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// The store: a local directory or s3://bucket/prefix (S3 settings from the standard AWS_*
    /// environment variables, e.g. AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID).
    #[arg(long, env = "INSIGHTS_STORE", default_value = insights_ingest::DEFAULT_STORE, global = true)]
    store: String,
    /// Local directory for the write-ahead log and quarantine of a remote (s3://) store
    /// [default: $XDG_STATE_HOME/insights, or ~/.local/state/insights]; a local store keeps
    /// them inside itself.
    #[arg(long, env = "INSIGHTS_STATE_DIR", value_name = "DIR", global = true)]
    state_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// The local state directory of `store`: `--state-dir`, or the user's state directory
    /// (XDG). Each remote store has a folder of its own in it; a local store keeps its state
    /// inside itself and ignores this.
    pub fn state_dir(&self, store: &insights_ingest::StoreLocation) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.state_dir {
            return Ok(dir.clone());
        }
        if let insights_ingest::StoreLocation::Local(dir) = store {
            return Ok(dir.clone());
        }
        let from_env = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        if let Some(state_home) = from_env("XDG_STATE_HOME") {
            return Ok(state_home.join("insights"));
        }
        match from_env("HOME") {
            Some(home) => Ok(home.join(".local/state/insights")),
            None => anyhow::bail!(
                "the store {store} needs a local directory for its write-ahead log: set \
                 --state-dir (or INSIGHTS_STATE_DIR), XDG_STATE_HOME or HOME"
            ),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Ingest DI events from NDJSON or JSON-array files (optionally gzipped) or stdin.
    Ingest(ingest_cmd::IngestArgs),
    /// Pull events from JumpCloud's DI API (or any DI-compatible server), once or
    /// continuously, with no gaps and no duplicates.
    Pull(pull_cmd::PullArgs),
    /// Write deterministic, realistic synthetic DI events as NDJSON.
    Generate(generate_cmd::GenerateArgs),
    /// Merge small files of each partition into large, time-sorted ones (data-neutral commit).
    Compact(table_cmds::CompactArgs),
    /// Show the table's version, rows, files, partitions and bytes, in all and per organization.
    Stats(table_cmds::StatsArgs),
    /// One page of events for a DI request (service, time range, search_term, q, fields, sort,
    /// limit, skip, search_after).
    Query(query_cmds::QueryArgs),
    /// Count the events a DI request matches.
    Count(query_cmds::CountArgs),
    /// Distinct values of a field among the matching events, with counts.
    Distinct(query_cmds::DistinctArgs),
    /// A histogram of the matching events by interval (s, m, h, d, w) in a time zone.
    Interval(query_cmds::IntervalArgs),
    /// Read-only SQL over the table `events` (only the --org organizations' events).
    Sql(query_cmds::SqlArgs),
    /// Export every event a DI request or a saved view matches, streaming, optionally gzipped.
    Export(query_cmds::ExportArgs),
    /// Saved views: create, list, show, delete, run, export.
    Views(views_cmd::ViewsArgs),
    /// Export the next increment of the table (everything committed since the last one, or by
    /// event-time window with --window/--lag) as gzipped JSON objects with a manifest, to a
    /// directory or s3://; or backfill a past window with --from/--to.
    ExportIncrement(increment_cmd::IncrementArgs),
    /// What the events say about a user or a host: attributes, state, logins, failures, IPs,
    /// countries, devices, applications, admin changes, signals.
    Enrich(enrich_cmd::EnrichArgs),
    /// Serve the DI-compatible API and the engine's own routes over HTTP (ingest and query).
    Serve(serve_cmd::ServeArgs),
    /// API keys of the HTTP service (create, list, revoke) and the key pair that signs the
    /// table's digests (`keys signing init`).
    Keys(keys_cmd::KeysArgs),
    /// Prove the store unaltered: every digest's signature, the chain's order, the table's log
    /// against the digests, every live file's bytes. Exits non-zero on any problem.
    Verify(evidence_cmds::VerifyArgs),
    /// Check an exported increment offline: the manifest's signature with the key you trust,
    /// and each object's bytes, SHA-256 and event count. Exits non-zero on any problem.
    VerifyExport(evidence_cmds::VerifyExportArgs),
    /// Retention per organization (set, unset, show, apply) and legal holds (hold, release).
    Retention(evidence_cmds::RetentionArgs),
    /// Delete the files no table version needs any more (removed by compaction or retention
    /// longer ago than --grace), in a digested commit; never those of an organization on hold.
    Vacuum(evidence_cmds::VacuumArgs),
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc settings for commands that run queries: freed memory goes back to the OS at once,
/// and arenas are committed as they are used.
///
/// `export-increment` keeps mimalloc's defaults: its memory is bounded by its object size and
/// it runs ~20 % faster with them (fewer page faults on the per-batch buffers). `serve`, `pull`
/// and `ingest` (and the query benchmark, which measures queries as the long-running server
/// answers them) keep freed memory longer still ([`SERVE_ALLOCATOR_ENV`]; returning every
/// freed page at once costs a warm process a quarter of its query time in page faults). Queries and exports run many
/// short plans whose freed pages mimalloc would otherwise keep, which nearly doubles an
/// export's peak resident memory. mimalloc reads these settings from the environment when the
/// process starts, before `main`, so a command sets them and re-executes itself once; a
/// setting already in the environment is kept.
const QUERY_ALLOCATOR_ENV: &[(&str, &str)] = &[
    ("MIMALLOC_PURGE_DELAY", "0"),
    ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
];

/// mimalloc settings for `serve` and `pull`: freed memory is kept 10 s (mimalloc's default is
/// 1 s) before it goes back to the OS. Under continuous ingest each commit frees a batch of up to 64 MiB of
/// events (and its encoding buffers) about a second before the next batch needs as much; with a
/// 1 s delay that memory had often gone back already, and the kernel zeroed fresh pages for
/// every batch: in `scripts/bench-http.sh` the server took 266,000 minor page faults in 25 s,
/// and 60,000 with this setting, for ~200 MiB more peak resident memory (still bounded: what
/// stays unused for 10 s is returned). A pull frees a 10,000-event page and its buffers as
/// often: in `scripts/bench-pull.sh` the puller took 10.3 CPU-s for 1M events with the default,
/// 8.5 with this (peak resident memory 420 -> 470 MiB). `ingest` frees and reallocates its
/// batches the same way: 2,000,000 events took 113,000-126,000 minor page faults and 4.0-6.6 s
/// of system time with the default, 20,000-21,000 and 2.6-3.1 s with this, at the same peak.
const SERVE_ALLOCATOR_ENV: &[(&str, &str)] = &[("MIMALLOC_PURGE_DELAY", "10000")];

#[cfg(target_os = "linux")]
fn reexec_with_allocator_settings(settings: &[(&str, &str)]) {
    use std::os::unix::process::CommandExt;
    if settings
        .iter()
        .all(|(name, _)| std::env::var_os(name).is_some())
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command.args(std::env::args_os().skip(1));
    for (name, value) in settings {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    // Only returns on failure; then the command runs with the default settings.
    let error = command.exec();
    tracing::debug!("re-executing with allocator settings failed: {error}");
}

#[cfg(not(target_os = "linux"))]
fn reexec_with_allocator_settings(_settings: &[(&str, &str)]) {}

/// Warnings and errors; the table library logs a missing table as an error while we create it,
/// and a commit that meets another writer's (an append beside a compaction) as a warning
/// although it resolves it.
const DEFAULT_LOG: &str =
    "warn,buoyant_kernel::snapshot=off,deltalake_core::kernel::transaction=error";

/// The stack of the threads that run queries (tokio's default is 2 MiB); only the pages a
/// thread touches take memory.
const QUERY_STACK_BYTES: usize = 16 << 20;

/// A write past the file-size limit (`ulimit -f`) is an error the write-ahead log handles (it
/// cuts the partial record off and answers 503), not a signal that kills the process.
#[cfg(unix)]
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to "ignore" runs no handler code.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

#[cfg(not(unix))]
fn ignore_file_size_signal() {}

fn main() -> ExitCode {
    ignore_file_size_signal();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INSIGHTS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(_) | Command::Pull(_) | Command::Ingest(_) => {
            reexec_with_allocator_settings(SERVE_ALLOCATOR_ENV)
        }
        Command::Generate(_) | Command::ExportIncrement(_) => {}
        _ => reexec_with_allocator_settings(QUERY_ALLOCATOR_ENV),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Planning and evaluating a query recurse through its expressions; the request limits
        // keep them shallow, and this stack keeps a wide margin beyond them.
        .thread_stack_size(QUERY_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Ingest(args) => ingest_cmd::run(args).await,
            Command::Generate(args) => generate_cmd::run(args),
            Command::Compact(args) => table_cmds::compact(args).await,
            Command::Stats(args) => table_cmds::stats(args).await,
            Command::Query(args) => query_cmds::query(args).await,
            Command::Count(args) => query_cmds::count(args).await,
            Command::Distinct(args) => query_cmds::distinct(args).await,
            Command::Interval(args) => query_cmds::interval(args).await,
            Command::Sql(args) => query_cmds::sql(args).await,
            Command::Export(args) => query_cmds::export(args).await,
            Command::Views(args) => views_cmd::run(args).await,
            Command::ExportIncrement(args) => increment_cmd::run(args).await,
            Command::Serve(args) => serve_cmd::run(args).await,
            Command::Enrich(args) => enrich_cmd::run(args).await,
            Command::Keys(args) => keys_cmd::run(args).await,
            Command::Pull(args) => pull_cmd::run(args).await,
            Command::Verify(args) => evidence_cmds::verify_cmd(args).await,
            Command::VerifyExport(args) => evidence_cmds::verify_export_cmd(args).await,
            Command::Retention(args) => evidence_cmds::retention_cmd(args).await,
            Command::Vacuum(args) => evidence_cmds::vacuum_cmd(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
