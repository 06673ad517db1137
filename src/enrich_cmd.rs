//! `insights enrich user X` / `insights enrich host X`: what the events say about a user or a
//! host, in one call.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::Value;

use insights_query::enrich::Window;

use crate::StoreArgs;
use crate::query_cmds::engine;

/// Arguments of `insights enrich`.
#[derive(clap::Args)]
pub struct EnrichArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The organization of the user or host.
    #[arg(long, global = true)]
    org: Option<String>,
    /// Days of events to look back.
    #[arg(long, global = true, default_value_t = 30)]
    days: u32,
    /// The moment to look back from (RFC 3339); default now.
    #[arg(long, global = true)]
    at: Option<String>,
    /// json or table.
    #[arg(long, short = 'f', global = true, default_value = "table")]
    format: String,
    #[command(subcommand)]
    subject: Subject,
}

#[derive(Subcommand)]
enum Subject {
    /// A user, by username, e-mail or user id.
    User { who: String },
    /// A host, by hostname, display name or system id.
    Host { which: String },
}

pub async fn run(args: EnrichArgs) -> anyhow::Result<ExitCode> {
    let org = args
        .org
        .clone()
        .context("--org is required: users and hosts belong to an organization")?;
    let window =
        Window::ending(args.days, args.at.as_deref()).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let engine = engine(&args.store).await?;
    let report = match &args.subject {
        Subject::User { who } => {
            serde_json::to_value(engine.enrich_user(&org, who, window).await?)?
        }
        Subject::Host { which } => {
            serde_json::to_value(engine.enrich_host(&org, which, window).await?)?
        }
    };
    if args.format.eq_ignore_ascii_case("json") {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report, 0);
    }
    Ok(ExitCode::SUCCESS)
}

/// An indented outline of a report, for people at a terminal. A list that shows fewer entries
/// than the report's `totals` count says so in its heading ("users (25 of 280)").
fn print_table(value: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    let Value::Object(map) = value else {
        println!("{pad}{value}");
        return;
    };
    let totals = map.get("totals").filter(|_| depth == 0);
    for (key, value) in map {
        match value {
            Value::Null => {}
            Value::Array(items) if items.is_empty() => {}
            Value::Object(inner) if inner.is_empty() => {}
            // The totals are told in the lists' headings.
            Value::Object(_) if totals.is_some() && key == "totals" => {}
            Value::Array(items) => {
                match totals.and_then(|t| t.get(key)).and_then(Value::as_u64) {
                    Some(total) if total > items.len() as u64 => {
                        println!("{pad}{key} ({} of {total}):", items.len());
                    }
                    _ => println!("{pad}{key}:"),
                }
                for item in items {
                    match item {
                        Value::Object(fields) => {
                            let line: Vec<String> = fields
                                .iter()
                                .filter(|(_, v)| !v.is_null())
                                .map(|(k, v)| match v {
                                    Value::String(s) => format!("{k}={s}"),
                                    other => format!("{k}={other}"),
                                })
                                .collect();
                            println!("{pad}  - {}", line.join("  "));
                        }
                        Value::String(text) => println!("{pad}  - {text}"),
                        other => println!("{pad}  - {other}"),
                    }
                }
            }
            Value::Object(_) => {
                println!("{pad}{key}:");
                print_table(value, depth + 1);
            }
            Value::String(text) => println!("{pad}{key}: {text}"),
            other => println!("{pad}{key}: {other}"),
        }
    }
}
