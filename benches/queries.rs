//! The query benchmarks of `docs/benchmarks.md`, run in one warm process over an existing store:
//! `cargo bench --bench queries -- --store DIR [--runs N] [--only TEXT] [--set key=value]
//! [--sql QUERY]` (`scripts/bench-query.sh` builds the store and runs it). Each figure is the
//! median of several runs after one warm-up run.
//!
//! Run it as `insights serve` runs (mimalloc keeping freed memory 10 s, 16 MiB query stacks):
//! the figures are what the long-running server answers.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use anyhow::Context;
use futures::TryStreamExt;
use serde_json::json;

use insights_ingest::StoreLocation;
use insights_query::{Format, QueryConfig, QueryEngine, Scope, export};
use insights_schemas::format_timestamp_us;
use insights_schemas::request::{parse_distinct_query_value, parse_event_query_value};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The query benchmarks over an existing store.
#[derive(Parser)]
#[command(name = "queries")]
struct BenchArgs {
    /// The store: a local directory or s3://bucket/prefix.
    #[arg(long, env = "INSIGHTS_STORE")]
    store: String,
    /// Timed runs per query (after one warm-up run).
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Run only the queries whose name contains this text.
    #[arg(long)]
    only: Option<String>,
    /// A DataFusion setting for every query, as `key=value` (repeatable).
    #[arg(long = "set", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Also time this SQL query over the busiest organization (repeatable); `{user}`, `{host}`
    /// and `{id}` stand for the busy user, the busy host and the event id the benchmarks use.
    /// With `--sql` and no `--only`, only these queries run.
    #[arg(long = "sql")]
    queries: Vec<String>,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}

/// How the benchmarks of `--sql` queries are named.
const SQL_PREFIX: &str = "sql: ";

const DAY_US: i64 = 86_400_000_000;

async fn first_value(
    engine: &insights_query::QueryEngine,
    scope: &Scope,
    sql: &str,
) -> anyhow::Result<String> {
    let batches: Vec<_> = engine.sql(scope, sql).await?.try_collect().await?;
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .with_context(|| format!("no rows for {sql}"))?;
    let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
    Ok(arrow::array::AsArray::as_string::<i32>(&column)
        .value(0)
        .to_owned())
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to every bench target; it means nothing here.
    let args = BenchArgs::parse_from(std::env::args_os().filter(|arg| arg != "--bench"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 << 20)
        .build()
        .expect("starting the async runtime");
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let location = StoreLocation::parse(&args.store)?;
    let config = QueryConfig {
        options: args.settings.clone(),
        ..QueryConfig::default()
    };
    let engine = Arc::new(
        QueryEngine::open(&location, config)
            .await
            .with_context(|| format!("opening the store {location}"))?,
    );
    let all = Scope::All;
    let org = first_value(
        &engine,
        &all,
        "SELECT organization FROM events GROUP BY organization ORDER BY count(*) DESC LIMIT 1",
    )
    .await?;
    let scope = Scope::one(org.clone());
    let first_day: i64 = first_value(
        &engine,
        &scope,
        "SELECT CAST(min(timestamp) AS BIGINT) FROM events",
    )
    .await?
    .parse()?;
    let first_day = first_day.div_euclid(DAY_US) * DAY_US;
    let user = first_value(
        &engine,
        &scope,
        "SELECT username FROM events WHERE success = false AND username IS NOT NULL GROUP BY username ORDER BY count(*) DESC LIMIT 1",
    )
    .await?;
    let host = first_value(
        &engine,
        &scope,
        "SELECT system_hostname FROM events WHERE system_hostname IS NOT NULL GROUP BY system_hostname ORDER BY count(*) DESC LIMIT 1",
    )
    .await?;
    let id = first_value(
        &engine,
        &scope,
        "SELECT id FROM events ORDER BY timestamp DESC LIMIT 1 OFFSET 12345",
    )
    .await?;
    let t = |days: i64| format_timestamp_us(first_day + days * DAY_US);
    println!(
        "organization {org}, busy user {user}, busy host {host}, id {id}, first day {}",
        t(0)
    );
    println!(
        "{:<62} {:>10} {:>10} {:>8}",
        "query", "median ms", "min ms", "target"
    );

    let failed_user = parse_event_query_value(&json!({
        "service": ["all"], "start_time": t(10), "end_time": t(17), "sort": "DESC", "limit": 1000,
        "search_term": {"and": [{"username": user}, {"success": false}]}
    }))?;
    let by_id = parse_event_query_value(&json!({
        "service": ["all"], "start_time": t(0), "search_term": {"id": id}
    }))?;
    let host_users = parse_distinct_query_value(&json!({
        "service": ["all"], "start_time": t(0), "end_time": t(30), "field": "username",
        "search_term": {"and": [{"system.hostname": host}, {"success": true}]}
    }))?;
    let sso_day = parse_event_query_value(&json!({
        "service": ["sso"], "start_time": t(14), "end_time": t(15)
    }))?;
    let ip_window = (first_day + 14 * DAY_US, first_day + 15 * DAY_US);
    let top_ips = format!(
        "SELECT client_ip, count(*) AS failures FROM events \
         WHERE success = false AND timestamp >= to_timestamp_micros({}) AND timestamp < to_timestamp_micros({}) \
         GROUP BY client_ip ORDER BY failures DESC LIMIT 20",
        ip_window.0, ip_window.1
    );

    let mut rows = Vec::new();
    let only = match (&args.only, args.queries.is_empty()) {
        (None, false) => Some("\0".to_owned()),
        (only, _) => only.clone(),
    };
    macro_rules! bench {
        ($name:expr, $target:expr, $body:expr) => {{
            let name: &str = $name;
            if name.starts_with(SQL_PREFIX)
                || only.as_deref().is_none_or(|only| name.contains(only))
            {
                let mut samples = Vec::new();
                for round in 0..=args.runs {
                    let started = Instant::now();
                    let produced: u64 = $body;
                    let elapsed = started.elapsed();
                    if round == 0 {
                        anyhow::ensure!(produced > 0, "{} produced nothing", $name);
                    } else {
                        samples.push(elapsed);
                    }
                }
                samples.sort();
                let median = samples[samples.len() / 2];
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                println!(
                    "{:<62} {:>10.1} {:>10.1} {:>8}",
                    $name,
                    ms(median),
                    ms(samples[0]),
                    $target
                );
                rows.push((name.to_owned(), ms(median)));
            }
        }};
    }
    let nothing = parse_event_query_value(&json!({
        "service": ["all"], "start_time": "2000-01-01T00:00:00Z", "end_time": "2000-01-02T00:00:00Z"
    }))?;
    bench!(
        "fixed cost: a request whose time range holds no partition",
        "-",
        {
            1 + engine
                .events_page(&scope, &nothing, Format::Json)
                .await?
                .count as u64
        }
    );
    bench!(
        "failed auth of a busy user, 7 days, newest first, limit 1000",
        "117",
        {
            engine
                .events_page(&scope, &failed_user, Format::Json)
                .await?
                .count as u64
        }
    );
    bench!("count by service and event_type, everything", "40", {
        let batches: Vec<_> = engine
            .sql(
                &scope,
                "SELECT service, event_type, count(*) FROM events GROUP BY service, event_type",
            )
            .await?
            .try_collect()
            .await?;
        batches.iter().map(|b| b.num_rows() as u64).sum()
    });
    bench!("top 20 client IPs by failed auth, 24 hours", "9", {
        let batches: Vec<_> = engine.sql(&scope, &top_ips).await?.try_collect().await?;
        batches.iter().map(|b| b.num_rows() as u64).sum()
    });
    bench!("hourly histogram per service, 30 days", "169", {
        let batches: Vec<_> = engine
            .sql(&scope, "SELECT service, date_bin(INTERVAL '1 hour', timestamp) AS hour, count(*) FROM events GROUP BY service, hour")
            .await?
            .try_collect()
            .await?;
        batches.iter().map(|b| b.num_rows() as u64).sum()
    });
    bench!("distinct users who logged in to one host, 30 days", "64", {
        engine.distinct(&scope, &host_users).await?.buckets.len() as u64
    });
    bench!("one day of sso events to CSV", "90", {
        let export = export::export(
            engine.clone(),
            scope.clone(),
            sso_day.clone(),
            Format::Csv,
            false,
        )
        .await?;
        export.write_to(&mut std::io::sink()).await?
    });
    bench!("one day of sso events to NDJSON", "131", {
        let export = export::export(
            engine.clone(),
            scope.clone(),
            sso_day.clone(),
            Format::Ndjson,
            false,
        )
        .await?;
        export.write_to(&mut std::io::sink()).await?
    });
    bench!("one event by id over everything", "41", {
        engine
            .events_page(&scope, &by_id, Format::Json)
            .await?
            .count as u64
    });
    let window = insights_query::enrich::Window {
        at_us: first_day + 30 * DAY_US,
        days: 30,
    };
    bench!("enrich a busy user, 30 days", "150", {
        engine.enrich_user(&org, &user, window).await?.events
    });
    bench!("enrich a busy host, 30 days", "150", {
        engine.enrich_host(&org, &host, window).await?.events
    });
    for query in &args.queries {
        let sql = query
            .replace("{user}", &user)
            .replace("{host}", &host)
            .replace("{id}", &id);
        let name = format!("{SQL_PREFIX}{sql}");
        bench!(name.as_str(), "-", {
            let batches: Vec<_> = engine.sql(&scope, &sql).await?.try_collect().await?;
            1 + batches.iter().map(|b| b.num_rows() as u64).sum::<u64>()
        });
    }
    let _ = rows;
    Ok(ExitCode::SUCCESS)
}
