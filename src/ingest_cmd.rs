//! `insights ingest`: files or stdin into the store, with a summary at the end.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use insights_ingest::framing::{Chunk, RecordReader};
use insights_ingest::{IngestConfig, Ingester, Rejection, StoreLocation};

use crate::StoreArgs;

/// Records per group commit (one fsync acknowledges them all).
const CHUNK_RECORDS: usize = 8192;
const CHUNK_BYTES: usize = 8 << 20;
/// How often an idle input is checked for buffered events due for a commit.
const IDLE_CHECK: Duration = Duration::from_secs(1);
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

enum Message {
    Chunk(Chunk),
    Failed(std::io::Error),
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
    let max_record = config.max_record_bytes;
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
        let (sender, receiver) = sync_channel(2);
        let reader = std::thread::spawn(move || read_chunks(input, max_record, &sender));
        ingest_source(
            &mut ingester,
            &name,
            receiver,
            args.org.as_deref(),
            args.acks,
            &mut summary,
            &progress,
        )
        .await?;
        let _ = reader.join();
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

fn read_chunks(input: Box<dyn Read + Send>, max_record: usize, sender: &SyncSender<Message>) {
    let mut reader = match RecordReader::new(input, max_record) {
        Ok(reader) => reader,
        Err(e) => {
            let _ = sender.send(Message::Failed(e));
            return;
        }
    };
    loop {
        // Room for a full chunk plus one record that overshoots it.
        let mut chunk = Chunk::with_capacity(CHUNK_RECORDS, CHUNK_BYTES + (1 << 20));
        match reader.next_chunk(&mut chunk, CHUNK_RECORDS, CHUNK_BYTES) {
            Ok(true) => {
                if sender.send(Message::Chunk(chunk)).is_err() {
                    return;
                }
            }
            Ok(false) => return,
            Err(e) => {
                let _ = sender.send(Message::Failed(e));
                return;
            }
        }
    }
}

async fn ingest_source(
    ingester: &mut Ingester,
    name: &str,
    receiver: Receiver<Message>,
    org: Option<&str>,
    acks: bool,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    loop {
        // The reader thread blocks on I/O; wait for it off the async workers.
        let message = tokio::task::block_in_place(|| receiver.recv_timeout(IDLE_CHECK));
        let chunk = match message {
            Ok(Message::Chunk(chunk)) => chunk,
            Ok(Message::Failed(e)) => {
                return Err(anyhow::anyhow!("reading {name}: {e}"));
            }
            // A slow producer: commit what has waited long enough, then keep waiting.
            Err(RecvTimeoutError::Timeout) => {
                flush_if_due(ingester).await?;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let outcome = ingester.ingest(name, &chunk, org).await.with_context(|| {
            format!(
                "ingesting {name} stopped before line {}; every event acknowledged before is \
                 kept in the write-ahead log {} and committed by the next ingest or serve on \
                 this store",
                chunk.records.first().map_or(0, |r| r.line),
                ingester.wal_dir().display()
            )
        })?;
        flush_if_due(ingester).await?;
        summary.accepted += outcome.accepted;
        summary.duplicates += outcome.duplicates;
        summary.rejected += outcome.rejected.len() as u64;
        for Rejection { line, reason } in outcome.rejected {
            if summary.first_rejections.len() < SHOWN_REJECTIONS {
                summary.first_rejections.push(SourceRejection {
                    source: name.to_owned(),
                    line,
                    reason,
                });
            }
        }
        let through_line = chunk.records.last().map_or(0, |r| r.line);
        if acks {
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
    }
}

/// Commits what has waited long enough. A failed commit is retried by the ingester (and
/// logged where it failed); ingest stops only when the buffer is full behind it.
async fn flush_if_due(ingester: &mut Ingester) -> anyhow::Result<()> {
    match ingester.flush_if_due().await {
        Ok(()) | Err(insights_ingest::Error::Commit { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
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
