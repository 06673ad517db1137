//! `insights generate`: synthetic events for demos, tests and benchmarks.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use insights_generate::{GenerateOptions, generate};

/// Arguments of `insights generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// How many events.
    #[arg(long, value_name = "N")]
    events: u64,
    /// Days the events span, from --start (by default the D whole days before today, UTC).
    #[arg(long, value_name = "D", default_value_t = 30)]
    days: u32,
    /// Number of organizations (the first is the busiest).
    #[arg(long, value_name = "K", default_value_t = 1)]
    orgs: u32,
    /// Seed: the same options (with --start) give the same bytes.
    #[arg(long, value_name = "S", default_value_t = 42)]
    seed: u64,
    /// First day (UTC), YYYY-MM-DD [default: D days before today, so that the events end
    /// where today begins and `insights count --last 7d` finds a week of them].
    #[arg(long, value_name = "DATE")]
    start: Option<chrono::NaiveDate>,
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    if args.days == 0 || args.orgs == 0 {
        anyhow::bail!("--days and --orgs must be at least 1");
    }
    let options = GenerateOptions {
        events: args.events,
        days: args.days,
        orgs: args.orgs,
        seed: args.seed,
        start: match args.start {
            Some(start) => start,
            None => {
                let today = chrono::Utc::now().date_naive();
                today
                    .checked_sub_days(chrono::Days::new(u64::from(args.days)))
                    .context("--days reaches back before the calendar starts")?
            }
        },
    };
    match &args.out {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            generate(&options, &mut file).with_context(|| format!("writing {}", path.display()))?;
            file.flush()?;
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            match generate(&options, &mut stdout) {
                // A closed pipe (`| head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => {
                    other.context("writing to stdout")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
