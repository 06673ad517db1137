//! `insights views`: saved views (a name, a description and a DI request with an absolute or
//! relative time range), kept in the store per organization.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use insights_query::{Format, Scope, View, ViewStore};

use crate::StoreArgs;
use crate::query_cmds::{RequestArgs, engine, run_export};

/// Arguments of `insights views`.
#[derive(clap::Args)]
pub struct ViewsArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The organization the views belong to.
    #[arg(long, global = true)]
    org: Option<String>,
    #[command(subcommand)]
    command: ViewsCommand,
}

#[derive(Subcommand)]
enum ViewsCommand {
    /// Save a view: a DI request (flags or --request FILE) with an absolute or relative range.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// A range relative to each run, e.g. "last 24h" or "last 7d" (instead of --start).
        #[arg(long)]
        range: Option<String>,
        /// Overwrite a view of the same name.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        request: Box<RequestArgs>,
    },
    /// List the organization's views.
    List,
    /// Show one view as JSON.
    Show { name: String },
    /// Delete a view.
    Delete { name: String },
    /// Run a view: one page of events, like `insights query`.
    Run {
        name: String,
        /// ndjson, json, csv or table.
        #[arg(long, short = 'f', default_value = "json")]
        format: String,
        /// Rows per page instead of the view's own limit.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Export everything a view matches.
    Export {
        name: String,
        /// ndjson, json, csv or table.
        #[arg(long, short = 'f', default_value = "ndjson")]
        format: String,
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        #[arg(long)]
        gzip: bool,
    },
}

pub async fn run(args: ViewsArgs) -> anyhow::Result<ExitCode> {
    let org = args
        .org
        .clone()
        .context("--org is required: views belong to an organization")?;
    let location = insights_ingest::StoreLocation::parse(&args.store.store)?;
    let views = ViewStore::open(&location)?;
    match args.command {
        ViewsCommand::Create {
            name,
            description,
            range,
            replace,
            request,
        } => {
            let mut body = request.body()?;
            if range.is_some() {
                // The range sets the times at each run.
                if let Some(map) = body.as_object_mut() {
                    map.remove("start_time");
                    map.remove("end_time");
                }
            }
            let view = View {
                name,
                description,
                range,
                request: body,
                created: String::new(),
            };
            let saved = views.create(&org, view, replace).await?;
            println!("saved view {:?} of organization {org}", saved.name);
        }
        ViewsCommand::List => {
            for view in views.list(&org).await? {
                let range = view.range.as_deref().unwrap_or("fixed range");
                println!("{:<24} {:<12} {}", view.name, range, view.description);
            }
        }
        ViewsCommand::Show { name } => {
            let view = views.get(&org, &name).await?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        ViewsCommand::Delete { name } => {
            views.delete(&org, &name).await?;
            println!("deleted view {name:?} of organization {org}");
        }
        ViewsCommand::Run {
            name,
            format,
            limit,
        } => {
            let mut query = views.get(&org, &name).await?.query()?;
            if let Some(limit) = limit {
                query.limit = limit.clamp(1, insights_schemas::request::MAX_LIMIT);
            }
            let format = Format::parse(&format)?;
            let engine = engine(&args.store).await?;
            let page = engine.events_page(&Scope::one(org), &query, format).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(&page.body)?;
            if format == Format::Json {
                out.write_all(b"\n")?;
            }
            eprintln!(
                "{} events (limit {}); search_after {}",
                page.count,
                page.limit,
                page.search_after_header()
            );
        }
        ViewsCommand::Export {
            name,
            format,
            out,
            gzip,
        } => {
            let query = views.get(&org, &name).await?.query()?;
            let engine = engine(&args.store).await?;
            let gzip = gzip
                || out
                    .as_ref()
                    .is_some_and(|p| p.extension().is_some_and(|e| e == "gz"));
            return run_export(
                engine,
                Scope::one(org),
                query,
                Format::parse(&format)?,
                gzip,
                &out,
            )
            .await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
