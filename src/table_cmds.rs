//! `insights compact` and `insights stats`.

use std::process::ExitCode;

use anyhow::Context;
use insights_ingest::{EventTable, StoreLocation, maintenance};

use crate::StoreArgs;

/// Arguments of `insights compact`.
#[derive(clap::Args)]
pub struct CompactArgs {
    #[command(flatten)]
    store: StoreArgs,
}

/// Arguments of `insights stats`.
#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

async fn open(store: &str) -> anyhow::Result<EventTable> {
    let location = StoreLocation::parse(store)?;
    EventTable::open(&location)
        .await
        .with_context(|| format!("opening the store {location}"))
}

pub async fn compact(args: CompactArgs) -> anyhow::Result<ExitCode> {
    let location = StoreLocation::parse(&args.store.store)?;
    let mut table = EventTable::open_for_writing(&location)
        .await
        .with_context(|| format!("opening the store {location}"))?;
    let summary = maintenance::compact(&mut table).await?;
    table.write_digests().await?;
    println!(
        "compacted {} partitions: {} files merged into {}; table version {}",
        summary.partitions_compacted, summary.files_removed, summary.files_added, summary.version
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let table = open(&args.store.store).await?;
    let stats = maintenance::stats(&table).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("table       {}", stats.table);
    println!("version     {}", stats.version);
    println!("rows        {}", stats.rows);
    println!("files       {}", stats.files);
    println!("partitions  {}", stats.partitions);
    println!("bytes       {}", stats.bytes);
    if !stats.organizations.is_empty() {
        println!();
        println!(
            "{:<26} {:>12} {:>7} {:>10} {:>14}  {:<10} {:<10}",
            "organization", "rows", "files", "partitions", "bytes", "first day", "last day"
        );
        for (org, s) in &stats.organizations {
            println!(
                "{:<26} {:>12} {:>7} {:>10} {:>14}  {:<10} {:<10}",
                org,
                s.rows,
                s.files,
                s.partitions,
                s.bytes,
                s.first_date.as_deref().unwrap_or("-"),
                s.last_date.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
