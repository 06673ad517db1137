//! `insights verify`: proves the store unaltered against its signed digest chain;
//! `insights retention` and `insights vacuum`: what leaves the store, and when.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use insights_ingest::evidence::PublicKey;
use insights_ingest::evidence::verify::{Report, Start, Trust, VerifyOptions, verify};
use insights_ingest::retention::{Policy, apply_retention, vacuum};
use insights_ingest::{EventTable, StoreLocation};

use crate::StoreArgs;

/// Arguments of `insights verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Check log entries and file bytes from this table version, or from the first commit at
    /// or after this time (RFC 3339 or YYYY-MM-DD); signatures and the chain are always checked.
    #[arg(long, value_name = "VERSION|TIME")]
    from: Option<String>,
    /// Trust this public key (PEM, repeatable): your own copy, not the one stored beside the
    /// data, since whoever can rewrite the store can rewrite that too.
    #[arg(long, value_name = "FILE")]
    public_key: Vec<PathBuf>,
    /// Trust the stored public key with this fingerprint (repeatable).
    #[arg(long, value_name = "HEX")]
    fingerprint: Vec<String>,
    /// Read the digests from this copy (a directory or s3://, see INSIGHTS_DIGEST_COPY)
    /// instead of the store's.
    #[arg(long, value_name = "LOCATION")]
    digests: Option<String>,
    /// Do not count unsigned digests as problems.
    #[arg(long)]
    allow_unsigned: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_from(text: &str) -> anyhow::Result<Start> {
    if let Ok(version) = text.parse::<i64>() {
        return Ok(Start::Version(version));
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Start::Time(time.with_timezone(&chrono::Utc)));
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Start::Time(day.and_time(chrono::NaiveTime::MIN).and_utc()));
    }
    anyhow::bail!("--from {text:?}: expected a table version, an RFC 3339 time or YYYY-MM-DD")
}

pub async fn verify_cmd(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let store = StoreLocation::parse(&args.store.store)?;
    let trust = if !args.public_key.is_empty() {
        Trust::Keys(
            args.public_key
                .iter()
                .map(|path| PublicKey::read(path))
                .collect::<Result<_, _>>()?,
        )
    } else if !args.fingerprint.is_empty() {
        Trust::Fingerprints(args.fingerprint.clone())
    } else {
        Trust::Stored
    };
    let options = VerifyOptions {
        trust,
        from: args.from.as_deref().map(parse_from).transpose()?,
        digests: args
            .digests
            .as_deref()
            .map(StoreLocation::parse)
            .transpose()?,
        allow_unsigned: args.allow_unsigned,
    };
    let report = verify(&store, &options)
        .await
        .with_context(|| format!("verifying the store {store}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&store, &report);
    }
    Ok(if report.verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_report(store: &StoreLocation, report: &Report) {
    for problem in &report.problems {
        let version = problem
            .version
            .map_or_else(|| "-".to_owned(), |v| v.to_string());
        match &problem.file {
            Some(file) => println!("version {version:<6} {file}: {}", problem.problem),
            None => println!("version {version:<6} {}", problem.problem),
        }
    }
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    let span = match (report.first_digest, report.last_digest) {
        (Some(first), Some(last)) => format!("versions {first}–{last}"),
        _ => "no versions".to_owned(),
    };
    let keys = if report.trusted_keys.is_empty() {
        "no trusted key".to_owned()
    } else {
        format!("key {}", report.trusted_keys.join(", "))
    };
    let summary = format!(
        "{store}: table version {}, digests of {span} ({} digests, {} signed with {keys}), {} \
         live files ({} bytes) hashed",
        report.table_version,
        report.digests,
        report.signed,
        report.files_checked,
        report.bytes_checked
    );
    if report.verified {
        println!("verified {summary}");
    } else {
        println!(
            "NOT VERIFIED: {} problem(s); {summary}",
            report.problems.len()
        );
    }
}

/// Arguments of `insights retention`.
#[derive(clap::Args)]
pub struct RetentionArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: RetentionCommand,
}

#[derive(clap::Subcommand)]
enum RetentionCommand {
    /// Keep an organization's events N days (by default everything is kept for ever).
    Set {
        #[arg(long)]
        org: String,
        #[arg(long)]
        days: u32,
    },
    /// Keep an organization's events for ever again.
    Unset {
        #[arg(long)]
        org: String,
    },
    /// The policy: days per organization and legal holds.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Remove the expired whole day partitions of every organization with a policy and no
    /// legal hold, one digested commit per organization (`serve` does this once a day).
    Apply {
        #[arg(long)]
        json: bool,
    },
    /// Put an organization under a legal hold: nothing of it is removed (by retention or
    /// vacuum) until it is released.
    Hold {
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Release an organization's legal hold.
    Release {
        #[arg(long)]
        org: String,
    },
}

pub async fn retention_cmd(args: RetentionArgs) -> anyhow::Result<ExitCode> {
    let store = StoreLocation::parse(&args.store.store)?;
    let mut policy = Policy::load(&store).await?;
    match args.command {
        RetentionCommand::Set { org, days } => {
            policy.set(&org, days);
            policy.save(&store).await?;
            println!(
                "{org}: events kept {days} days (applied by `insights retention apply` and daily by `insights serve`)"
            );
        }
        RetentionCommand::Unset { org } => {
            if policy.organizations.remove(&org).is_none() {
                anyhow::bail!("--org {org}: has no retention policy");
            }
            policy.save(&store).await?;
            println!("{org}: events kept for ever");
        }
        RetentionCommand::Show { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&policy)?);
            } else {
                if policy.organizations.is_empty() && policy.holds.is_empty() {
                    println!("no policy: every event is kept for ever");
                }
                for (org, rule) in &policy.organizations {
                    println!("{org:<26} {:>6} days  (set {})", rule.days, rule.set_at);
                }
                for (org, hold) in &policy.holds {
                    println!("{org:<26} legal hold since {}: {}", hold.since, hold.reason);
                }
            }
        }
        RetentionCommand::Apply { json } => {
            let mut table = EventTable::open_for_writing(&store)
                .await
                .with_context(|| format!("opening the store {store}"))?;
            let summary = apply_retention(&mut table, &policy, chrono::Utc::now()).await?;
            table.write_digests().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                for r in &summary.removed {
                    println!(
                        "{}: removed {} day partitions before {} ({} files, {} events; {} days kept), table version {}",
                        r.organization, r.partitions, r.before, r.files, r.rows, r.days, r.version
                    );
                }
                for org in &summary.held {
                    println!("{org}: under a legal hold, nothing removed");
                }
                if summary.removed.is_empty() && summary.held.is_empty() {
                    println!("nothing has expired");
                }
            }
        }
        RetentionCommand::Hold { org, reason } => {
            policy.hold(&org, &reason);
            policy.save(&store).await?;
            println!(
                "{org}: under a legal hold; retention and vacuum remove nothing of it until released"
            );
        }
        RetentionCommand::Release { org } => {
            if policy.holds.remove(&org).is_none() {
                anyhow::bail!("--org {org}: is not under a legal hold");
            }
            policy.save(&store).await?;
            println!("{org}: legal hold released");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `insights vacuum`.
#[derive(clap::Args)]
pub struct VacuumArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Delete only files removed from the table (by compaction or retention), or written and
    /// never committed, longer ago than this (readers of older versions may still need newer
    /// ones): a duration such as 7d, 24h, 0s. Files never committed stay at least an hour.
    #[arg(long, default_value = "7d", value_name = "DURATION")]
    grace: String,
    /// List what would be deleted, deleting nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn vacuum_cmd(args: VacuumArgs) -> anyhow::Result<ExitCode> {
    let store = StoreLocation::parse(&args.store.store)?;
    let grace =
        insights_pull::parse_duration(&args.grace).map_err(|e| anyhow::anyhow!("--grace: {e}"))?;
    let grace = chrono::Duration::from_std(grace).map_err(|e| anyhow::anyhow!("--grace: {e}"))?;
    let policy = Policy::load(&store).await?;
    let mut table = EventTable::open_for_writing(&store)
        .await
        .with_context(|| format!("opening the store {store}"))?;
    let summary = vacuum(&mut table, &policy, grace, args.dry_run).await?;
    if args.dry_run {
        for path in &summary.would_delete {
            println!("{path}");
        }
        eprintln!("{} file(s) would be deleted", summary.would_delete.len());
    } else {
        match summary.version {
            Some(version) => println!(
                "deleted {} file(s), recorded in table version {version}",
                summary.files_deleted
            ),
            None => println!("nothing to delete"),
        }
    }
    if summary.files_held > 0 {
        eprintln!(
            "{} file(s) kept: their organization is under a legal hold",
            summary.files_held
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `insights verify-export`.
#[derive(clap::Args)]
pub struct VerifyExportArgs {
    /// The increment's manifest: a file or an s3:// object.
    manifest: String,
    /// Trust this public key (PEM, repeatable).
    #[arg(long, value_name = "FILE")]
    public_key: Vec<PathBuf>,
    /// Where the objects are, if not beside the manifest (a directory or s3://).
    #[arg(long, value_name = "LOCATION")]
    objects: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn verify_export_cmd(args: VerifyExportArgs) -> anyhow::Result<ExitCode> {
    let keys: Vec<PublicKey> = args
        .public_key
        .iter()
        .map(|path| PublicKey::read(path))
        .collect::<Result<_, _>>()?;
    let report =
        insights_exporter::verify_export(&args.manifest, args.objects.as_deref(), &keys).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for problem in &report.problems {
            println!("{problem}");
        }
        let summary = format!(
            "{}: increment {}, {} objects, {} events",
            report.manifest, report.increment, report.objects, report.rows
        );
        match (&report.signed_by, report.verified) {
            (Some(key), true) => println!("verified {summary}, signed by {key}"),
            _ => println!(
                "NOT VERIFIED: {} problem(s); {summary}",
                report.problems.len()
            ),
        }
    }
    Ok(if report.verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
