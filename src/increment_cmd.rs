//! `insights export-increment`: the next increment of the table, or a backfill of a past window,
//! to a local directory or `s3://bucket/prefix`.

use std::process::ExitCode;

use anyhow::Context;
use insights_exporter::{
    DEFAULT_GZIP_LEVEL, DEFAULT_OBJECT_BYTES, IncrementConfig, ObjectStoreDestination,
    parse_duration, run_backfill, run_increment,
};
use insights_ingest::StoreLocation;
use insights_schemas::parse_timestamp_us;

use crate::StoreArgs;

/// Arguments of `insights export-increment`.
#[derive(clap::Args)]
pub struct IncrementArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Where the objects go: a directory or s3://bucket/prefix.
    #[arg(long)]
    dest: String,
    /// Cut increments by event time: each holds the events of one or more whole windows of this
    /// length (e.g. 1h, 15m, 1d), plus late events for windows already exported. Without it an
    /// increment is everything committed since the last one.
    #[arg(long)]
    window: Option<String>,
    /// With --window: a window is exported only once it ended this long ago (e.g. 5m).
    #[arg(long)]
    lag: Option<String>,
    /// Export only this organization's events.
    #[arg(long)]
    org: Option<String>,
    /// Backfill: the start (inclusive, RFC 3339) of a past window to export under backfill/,
    /// at the table's latest version, without touching the increments' checkpoint.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Backfill: the end (exclusive, RFC 3339).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Uncompressed bytes per data object; a larger increment is cut into parts.
    #[arg(long, default_value_t = DEFAULT_OBJECT_BYTES)]
    object_bytes: u64,
    /// gzip level of the data objects, 0-9 (6 gives ~40% smaller objects at ~40% of the speed).
    #[arg(long, default_value_t = DEFAULT_GZIP_LEVEL, value_parser = clap::value_parser!(u32).range(0..=9))]
    gzip_level: u32,
}

pub async fn run(args: IncrementArgs) -> anyhow::Result<ExitCode> {
    let store = StoreLocation::parse(&args.store.store)?;
    let dest = ObjectStoreDestination::open(&args.dest)?;
    let window = match (&args.window, &args.lag) {
        (Some(window), lag) => Some((
            parse_duration("--window", window)?,
            lag.as_deref()
                .map(|l| parse_duration("--lag", l))
                .transpose()?
                .unwrap_or(0),
        )),
        (None, Some(_)) => anyhow::bail!("--lag: only applies with --window"),
        (None, None) => None,
    };
    let config = IncrementConfig {
        organization: args.org.clone(),
        window,
        object_bytes: args.object_bytes,
        gzip_level: args.gzip_level,
    };
    let report = match (&args.from, &args.to) {
        (Some(from), Some(to)) => {
            if args.window.is_some() {
                anyhow::bail!(
                    "--window: a backfill (--from/--to) takes its window from --from and --to"
                );
            }
            let start = parse_timestamp_us(from).with_context(|| format!("--from {from:?}"))?;
            let end = parse_timestamp_us(to).with_context(|| format!("--to {to:?}"))?;
            run_backfill(&store, &dest, &config, start, end).await?
        }
        _ => run_increment(&store, &dest, &config).await?,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
