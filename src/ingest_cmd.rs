//! `insights ingest`: files or stdin into the store, with a summary at the end.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use insights_ingest::{BatchOutcome, IngestConfig, Ingester, StoreLocation};

use crate::StoreArgs;

/// Rejection reasons shown in the summary.
const SHOWN_REJECTIONS: usize = 5;

/// Arguments of `insights ingest`.
#[derive(clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Input files: NDJSON or a JSON array, plain or gzip (detected from content); `-` for stdin.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Bind the ingest to one organization: events without `organization` get it, events of
    /// another organization are rejected.
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
    /// After each durable group of records, print a JSON line on stdout saying through which
    /// input line events are acknowledged.
    #[arg(long)]
    acks: bool,
    /// Print the final summary as JSON.
    #[arg(long)]
    json: bool,
    /// Flush buffered events to the table after this many.
    #[arg(long, value_name = "N")]
    flush_rows: Option<usize>,
    /// Flush buffered events to the table once their raw JSON takes this many bytes.
    #[arg(long, value_name = "BYTES")]
    flush_bytes: Option<usize>,
    /// Flush buffered events to the table once the oldest has waited this long.
    #[arg(long, value_name = "MS")]
    flush_age_ms: Option<u64>,
    /// Reject records longer than this many bytes.
    #[arg(long, value_name = "BYTES")]
    max_record_bytes: Option<usize>,
}

#[derive(Default, serde::Serialize)]
struct Summary {
    files: usize,
    accepted: u64,
    duplicates: u64,
    rejected: u64,
    first_rejections: Vec<SourceRejection>,
    seconds: f64,
    events_per_second: f64,
    quarantine: Option<String>,
    table_commits: u64,
}

#[derive(serde::Serialize)]
struct SourceRejection {
    source: String,
    line: u64,
    reason: String,
}

impl Summary {
    fn add(&mut self, input: &str, outcome: &BatchOutcome) {
        self.accepted += outcome.accepted;
        self.duplicates += outcome.duplicates;
        self.rejected += outcome.rejected.len() as u64;
        let room = SHOWN_REJECTIONS.saturating_sub(self.first_rejections.len());
        self.first_rejections
            .extend(outcome.rejected.iter().take(room).map(|r| SourceRejection {
                source: input.to_owned(),
                line: r.line,
                reason: r.reason.clone(),
            }));
    }
}

pub async fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let location = StoreLocation::parse(&args.store.store)?;
    // Open every input first, so a typo fails before anything is ingested.
    let mut inputs = Vec::with_capacity(args.files.len());
    for name in &args.files {
        let input: Box<dyn Read + Send> = if name == "-" {
            Box::new(std::io::stdin())
        } else {
            let path = PathBuf::from(name);
            Box::new(File::open(&path).with_context(|| format!("cannot open input file {name}"))?)
        };
        inputs.push((name.clone(), input));
    }
    let state_dir = args.store.state_dir(&location)?;
    let mut config = IngestConfig::new(location.clone(), &state_dir);
    if let Some(rows) = args.flush_rows {
        config.flush_rows = rows.max(1);
    }
    if let Some(bytes) = args.flush_bytes {
        config.flush_bytes = bytes.max(1);
    }
    if let Some(ms) = args.flush_age_ms {
        config.flush_age = Duration::from_millis(ms);
    }
    if let Some(limit) = args.max_record_bytes {
        config.max_record_bytes = limit;
    }
    let mut ingester = Ingester::open(config)
        .await
        .with_context(|| format!("opening the store {location}"))?;

    let progress = progress_bar();
    let started = Instant::now();
    let mut summary = Summary {
        files: inputs.len(),
        ..Default::default()
    };
    for (name, input) in inputs {
        let org = args.org.as_deref();
        ingester
            .ingest_stream(&name, input, org, |chunk, outcome| {
                summary.add(&name, &outcome);
                let through_line = chunk.records.last().map_or(0, |r| r.line);
                if args.acks {
                    let ack = serde_json::json!({
                        "ack": name, "through_line": through_line, "accepted": outcome.accepted,
                        "duplicates": outcome.duplicates, "last_seq": outcome.last_seq,
                    });
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "{ack}").and_then(|()| stdout.flush())?;
                }
                progress.inc(chunk.records.len() as u64);
                let seconds = progress.elapsed().as_secs_f64().max(1e-3);
                progress.set_message(format!(
                    "{:.0} events/s",
                    progress.position() as f64 / seconds
                ));
                Ok(())
            })
            .await?;
    }
    let wal_dir = ingester.wal_dir().to_path_buf();
    ingester.flush().await.with_context(|| {
        format!(
            "committing the last events to the table failed; every acknowledged event is kept \
             in the write-ahead log {} and committed by the next ingest or serve on this store",
            wal_dir.display()
        )
    })?;
    progress.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    summary.events_per_second = (summary.accepted + summary.duplicates + summary.rejected) as f64
        / summary.seconds.max(1e-9);
    summary.table_commits = ingester.commits();
    if summary.rejected > 0 {
        summary.quarantine = Some(ingester.quarantine_path().display().to_string());
    }
    ingester.close().await?;
    print_summary(&summary, args.json)?;
    Ok(if summary.rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {human_pos} events  {msg}  {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn print_summary(summary: &Summary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
        return Ok(());
    }
    println!(
        "ingested {} file(s) in {:.2} s ({:.0} events/s)",
        summary.files, summary.seconds, summary.events_per_second
    );
    println!("  accepted    {:>12}", summary.accepted);
    println!("  duplicates  {:>12}", summary.duplicates);
    println!("  rejected    {:>12}", summary.rejected);
    for r in &summary.first_rejections {
        println!("    {}:{}: {}", r.source, r.line, r.reason);
    }
    if summary.rejected > summary.first_rejections.len() as u64 {
        println!(
            "    ... and {} more",
            summary.rejected - summary.first_rejections.len() as u64
        );
    }
    if let Some(path) = &summary.quarantine {
        println!("  rejected records are kept in {path}");
    }
    Ok(())
}
