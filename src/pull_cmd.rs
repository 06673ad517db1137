//! `insights pull`: events from a DI API into the store, once or continuously.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use insights_ingest::{IngestConfig, Ingester, StoreLocation};
use insights_pull::{PullError, PullSettings, Puller, RunReport, Since, Stop, parse_duration};

use crate::StoreArgs;

/// Events buffered before a table commit.
const PULL_FLUSH_ROWS: usize = 100_000;
/// Raw JSON buffered before a table commit.
const PULL_FLUSH_BYTES: usize = 16 << 20;

/// Arguments of `insights pull`.
#[derive(clap::Args)]
pub struct PullArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Organization to pull (repeat for several); each keeps its own checkpoint.
    #[arg(long = "org", value_name = "ORG", required = true)]
    orgs: Vec<String>,
    /// The DI API: JumpCloud's, an EU/IN region, a proxy, or another `insights serve`.
    #[arg(long, value_name = "URL", default_value = insights_pull::DEFAULT_BASE_URL)]
    base_url: String,
    /// Services to pull: `all`, or a comma-separated list (radius,ldap,...).
    #[arg(
        long,
        value_name = "all|LIST",
        default_value = "all",
        value_delimiter = ','
    )]
    service: Vec<String>,
    /// Where to start when there is no checkpoint: a duration before now (90d) or an RFC 3339
    /// instant. Given explicitly, the run starts there even past a checkpoint (a backfill).
    #[arg(long, value_name = "T|90d")]
    since: Option<String>,
    /// Pull once and stop, with a summary.
    #[arg(long, conflicts_with = "every")]
    once: bool,
    /// Time between runs in continuous mode.
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    every: String,
    /// How far before the checkpoint each run re-reads, for events DI shows late.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    overlap: String,
    /// How far behind now each run stops.
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    lag: String,
    /// A file holding the API key (first line). Without it, the key comes from JC_API_KEY.
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// Events per page (1 to 10,000).
    #[arg(long, value_name = "N", default_value_t = insights_pull::MAX_PAGE_LIMIT)]
    limit: usize,
    /// How often, at most, a long window's progress is checkpointed between pages (a restart
    /// resumes there instead of at the window's start).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    checkpoint_every: String,
    /// Slices of a window read at once, each with its own cursor (1 to 8): the server finds
    /// one slice's next page while another's is being stored.
    #[arg(long, value_name = "N", default_value_t = 2)]
    readers: usize,
    /// Print the summary (and, continuously, each run's report) as JSON.
    #[arg(long)]
    json: bool,
}

impl PullArgs {
    fn settings(&self) -> anyhow::Result<PullSettings> {
        let api_key = match &self.api_key_file {
            Some(path) => insights_pull::read_key_file(path)?,
            None => std::env::var("JC_API_KEY").map_err(|_| {
                anyhow::anyhow!(
                    "no API key: set JC_API_KEY or pass --api-key-file FILE (a key is never \
                     taken from the command line)"
                )
            })?,
        };
        let mut settings = PullSettings::new(api_key, self.orgs.clone());
        settings.base_url = self.base_url.clone();
        settings.services = self.service.clone();
        if let Some(since) = &self.since {
            settings.since = Since::parse(since).map_err(|e| anyhow::anyhow!("--since {e}"))?;
            settings.force_since = true;
        }
        let duration = |flag: &str, text: &str| {
            parse_duration(text).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
        };
        settings.every = duration("every", &self.every)?;
        settings.overlap = duration("overlap", &self.overlap)?;
        settings.lag = duration("lag", &self.lag)?;
        settings.limit = self.limit;
        settings.readers = self.readers;
        settings.checkpoint_every = duration("checkpoint-every", &self.checkpoint_every)?;
        settings.validate()?;
        Ok(settings)
    }
}

pub async fn run(args: PullArgs) -> anyhow::Result<ExitCode> {
    let settings = args.settings()?;
    let location = StoreLocation::parse(&args.store.store)?;
    let state_dir = args.store.state_dir(&location)?;
    let mut config = IngestConfig::new(location.clone(), &state_dir);
    // Lower commit thresholds than `ingest`'s: a pull runs at the API's pace, and smaller
    // commits keep the puller's memory near 420 MiB however much it pulls.
    config.flush_rows = PULL_FLUSH_ROWS;
    config.flush_bytes = PULL_FLUSH_BYTES;
    let ingester = Ingester::open(config)
        .await
        .with_context(|| format!("opening the store {location}"))?;
    let (raise, stop) = Stop::new();
    let signal = insights_server::shutdown_signal();
    tokio::spawn(async move {
        signal.await;
        let _ = raise.send(true);
    });
    let store = location.object_store()?;
    let mut puller = Puller::new(settings, store, ingester, stop)?;
    let progress = progress_line(&puller);
    let mut totals = RunReport::default();
    let outcome = if args.once {
        let mut first_error = None;
        for (org, result) in puller.run_once().await {
            match result {
                Ok(report) => totals.add(&report),
                Err(e) => {
                    first_error.get_or_insert_with(|| anyhow::anyhow!("organization {org}: {e}"));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    } else {
        let json = args.json;
        puller
            .run_forever(
                |e| !e.is_transient(),
                |org, result| {
                    if let Ok(report) = result {
                        totals.add(report);
                    }
                    print_run(org, result, json);
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    progress.finish_and_clear();
    let mut ingester = puller.into_sink();
    let wal_dir = ingester.wal_dir().to_path_buf();
    let flushed = ingester.flush().await.with_context(|| {
        format!(
            "committing the last events to the table failed; every acknowledged event is kept \
             in the write-ahead log {} and committed by the next ingest, pull or serve",
            wal_dir.display()
        )
    });
    let closed = ingester.close().await;
    outcome?;
    flushed?;
    closed?;
    print_summary(&totals, args.json)?;
    Ok(if totals.counts.quarantined > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line per run in continuous mode, on stderr (or JSON on stdout).
fn print_run(org: &str, result: &Result<RunReport, PullError>, json: bool) {
    match (result, json) {
        (Ok(report), true) => println!("{}", serde_json::to_string(report).unwrap_or_default()),
        (Ok(report), false) => eprintln!(
            "{org}: {} pulled, {} stored, {} duplicates, {} quarantined in {:.1} s ({} → {})",
            report.counts.pulled,
            report.counts.stored,
            report.counts.duplicates,
            report.counts.quarantined,
            report.seconds,
            report.window_start,
            report.window_end
        ),
        (Err(PullError::Stopped), _) => {}
        (Err(e), true) => println!(
            "{}",
            serde_json::json!({"organization": org, "error": e.to_string()})
        ),
        (Err(e), false) => eprintln!("{org}: {e}"),
    }
}

fn print_summary(totals: &RunReport, json: bool) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(totals)?;
        if let Some(map) = value.as_object_mut() {
            for key in ["organization", "window_start", "window_end"] {
                map.remove(key);
            }
        }
        println!("{value}");
        return Ok(());
    }
    println!(
        "pulled {} events in {} pages: {} stored, {} duplicates, {} quarantined, {} retries, \
         {:.2} s ({:.0} events/s)",
        totals.counts.pulled,
        totals.counts.pages,
        totals.counts.stored,
        totals.counts.duplicates,
        totals.counts.quarantined,
        totals.counts.retries,
        totals.seconds,
        totals.counts.pulled as f64 / totals.seconds.max(1e-9)
    );
    for rejection in &totals.first_rejections {
        println!(
            "  quarantined: {} event {}: {}",
            rejection.page, rejection.position, rejection.reason
        );
    }
    Ok(())
}

/// A progress line on a terminal: events, rate, the window being read.
fn progress_line<S: insights_pull::Sink>(puller: &Puller<S>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let stats: Vec<_> = puller
        .stats()
        .iter()
        .map(|(org, s)| (org.clone(), s.clone()))
        .collect();
    let ticker = bar.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        while !ticker.is_finished() {
            let pulled: u64 = stats
                .iter()
                .map(|(_, s)| s.pulled.load(Ordering::Relaxed))
                .sum();
            let window = stats
                .iter()
                .find(|(_, s)| s.window_end_us.load(Ordering::Relaxed) > 0)
                .map(|(org, s)| {
                    format!(
                        "{org} {} → {}",
                        insights_schemas::format_timestamp_us(
                            s.window_start_us.load(Ordering::Relaxed)
                        ),
                        insights_schemas::format_timestamp_us(
                            s.window_end_us.load(Ordering::Relaxed)
                        )
                    )
                })
                .unwrap_or_default();
            ticker.set_message(format!(
                "{pulled} events, {:.0}/s, {window}",
                pulled as f64 / started.elapsed().as_secs_f64().max(1e-3)
            ));
            ticker.tick();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    bar
}
