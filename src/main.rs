//! `insights`: the command-line entry point of the Directory Insights engine.
//!
//! The binary only wires the crates together: `insights-schemas` (the event model),
//! `insights-ingest` (durable ingest, the table), and the commands below.

mod generate_cmd;
mod ingest_cmd;
mod table_cmds;

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
    #[arg(long, env = "INSIGHTS_STORE", default_value = insights_ingest::DEFAULT_STORE)]
    store: String,
    /// Local directory for the write-ahead log and quarantine of a remote (s3://) store; a
    /// local store keeps them inside itself.
    #[arg(long, env = "INSIGHTS_STATE_DIR", default_value = "./insights-state")]
    state_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest DI events from NDJSON or JSON-array files (optionally gzipped) or stdin.
    Ingest(ingest_cmd::IngestArgs),
    /// Write deterministic, realistic synthetic DI events as NDJSON.
    Generate(generate_cmd::GenerateArgs),
    /// Merge small files of each partition into large, time-sorted ones (data-neutral commit).
    Compact(table_cmds::CompactArgs),
    /// Show the table's version, rows, files, partitions and bytes, in all and per organization.
    Stats(table_cmds::StatsArgs),
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Warnings and errors; the table library logs a missing table as an error while we create it.
const DEFAULT_LOG: &str = "warn,buoyant_kernel::snapshot=off";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INSIGHTS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
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
