//! `insights query`, `count`, `distinct`, `interval`, `sql` and `export`: the query layer at the
//! command line. Every request flag becomes a field of a DI request body, so the command line
//! and the HTTP API share one validation.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};

use insights_ingest::StoreLocation;
use insights_query::{Format, QueryConfig, QueryEngine, Scope, export};
use insights_schemas::format_timestamp_us;
use insights_schemas::request::{
    EventQuery, parse_distinct_query_value, parse_event_query_value, parse_interval_query_value,
    parse_relative_range,
};

use crate::StoreArgs;

/// The DI request, as flags or a file.
#[derive(clap::Args, Clone, Default)]
pub struct RequestArgs {
    /// A DI request body (JSON) to start from; flags below override its fields.
    #[arg(long, value_name = "FILE.json")]
    request: Option<PathBuf>,
    /// Services (repeat or separate with commas); default all.
    #[arg(long, value_delimiter = ',')]
    service: Vec<String>,
    /// Inclusive start, RFC 3339 (e.g. 2026-10-01T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// Exclusive end, RFC 3339.
    #[arg(long, value_name = "TIME")]
    end: Option<String>,
    /// A relative window ending now instead of --start/--end: 30m, 24h, 7d, 2w.
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["start", "end"])]
    last: Option<String>,
    /// search_term as JSON, e.g. '{"and": [{"username": "jdoe"}, {"success": false}]}'.
    #[arg(long, value_name = "JSON")]
    search_term: Option<String>,
    /// Full-text search: every word must occur in the event.
    #[arg(long)]
    q: Option<String>,
    /// Fields to return (dot paths, comma-separated) instead of whole events.
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// ASC or DESC on (timestamp, id).
    #[arg(long)]
    sort: Option<String>,
    /// Rows per page (default 1000, at most 10000).
    #[arg(long)]
    limit: Option<u64>,
    /// Rows to skip.
    #[arg(long)]
    skip: Option<u64>,
    /// The X-Search_after of the previous page, e.g. '[1791158400000, "63c2..."]'.
    #[arg(long, value_name = "JSON")]
    search_after: Option<String>,
}

/// Which organizations a command sees.
#[derive(clap::Args, Clone, Default)]
pub struct ScopeArgs {
    /// Organizations to query (repeat or separate with commas); default every organization.
    #[arg(long = "org", value_delimiter = ',')]
    orgs: Vec<String>,
}

impl ScopeArgs {
    fn scope(&self) -> Scope {
        if self.orgs.is_empty() {
            Scope::All
        } else {
            Scope::Organizations(self.orgs.clone())
        }
    }
}

/// How results are written.
#[derive(clap::Args, Clone)]
pub struct OutputArgs {
    /// ndjson, json, csv or table.
    #[arg(long, short = 'f')]
    format: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
}

/// Arguments of `insights query`.
#[derive(clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    #[command(flatten)]
    request: RequestArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Arguments of `insights count`.
#[derive(clap::Args)]
pub struct CountArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    #[command(flatten)]
    request: RequestArgs,
}

/// Arguments of `insights distinct`.
#[derive(clap::Args)]
pub struct DistinctArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    /// The field (dot path) whose distinct values to count.
    #[arg(long)]
    field: Option<String>,
    #[command(flatten)]
    request: RequestArgs,
    /// json or table.
    #[arg(long, short = 'f', default_value = "json")]
    format: String,
}

/// Arguments of `insights interval`.
#[derive(clap::Args)]
pub struct IntervalArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    /// Bucket unit: s, m, h, d or w.
    #[arg(long)]
    interval_unit: Option<String>,
    /// Units per bucket (default 1).
    #[arg(long)]
    interval_value: Option<String>,
    /// UTC offset buckets align to, e.g. -0500 or +05:30.
    #[arg(long, allow_hyphen_values = true)]
    timezone: Option<String>,
    /// Split each bucket's count by this field's values (e.g. service, success).
    #[arg(long)]
    stack_by: Option<String>,
    #[command(flatten)]
    request: RequestArgs,
    /// json or table.
    #[arg(long, short = 'f', default_value = "json")]
    format: String,
}

/// Arguments of `insights sql`.
#[derive(clap::Args)]
pub struct SqlArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    /// A read-only query over the table `events`, e.g.
    /// "SELECT service, count(*) FROM events GROUP BY service".
    query: String,
    #[command(flatten)]
    output: OutputArgs,
}

/// Arguments of `insights export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    /// Export what a saved view matches (needs exactly one --org).
    #[arg(long)]
    view: Option<String>,
    #[command(flatten)]
    request: RequestArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Gzip the output (implied by an --out name ending in .gz).
    #[arg(long)]
    gzip: bool,
}

impl RequestArgs {
    /// The DI request body the flags describe.
    pub fn body(&self) -> anyhow::Result<Value> {
        let mut body = match &self.request {
            Some(path) => {
                let text = std::fs::read(path)
                    .with_context(|| format!("reading the request {}", path.display()))?;
                serde_json::from_slice(&text)
                    .with_context(|| format!("{} is not a JSON request body", path.display()))?
            }
            None => Value::Object(Map::new()),
        };
        let Value::Object(map) = &mut body else {
            bail!("the request must be a JSON object");
        };
        if !self.service.is_empty() {
            map.insert("service".into(), self.service.clone().into());
        }
        map.entry("service").or_insert_with(|| vec!["all"].into());
        if let Some(last) = &self.last {
            let micros = parse_relative_range(&format!("last {last}")).with_context(|| {
                format!("--last {last:?}: use a duration like 30m, 24h, 7d or 2w")
            })?;
            let now = Utc::now().timestamp_micros();
            map.insert(
                "start_time".into(),
                format_timestamp_us(now - micros).into(),
            );
            map.insert("end_time".into(), format_timestamp_us(now + 1000).into());
        }
        if let Some(start) = &self.start {
            map.insert("start_time".into(), start.clone().into());
        }
        if let Some(end) = &self.end {
            map.insert("end_time".into(), end.clone().into());
        }
        if let Some(term) = &self.search_term {
            let term: Value = serde_json::from_str(term)
                .with_context(|| format!("--search-term is not JSON: {term}"))?;
            map.insert("search_term".into(), term);
        }
        if let Some(q) = &self.q {
            map.insert("q".into(), q.clone().into());
        }
        if !self.fields.is_empty() {
            map.insert("fields".into(), self.fields.clone().into());
        }
        if let Some(sort) = &self.sort {
            map.insert("sort".into(), sort.clone().into());
        }
        if let Some(limit) = self.limit {
            map.insert("limit".into(), limit.into());
        }
        if let Some(skip) = self.skip {
            map.insert("skip".into(), skip.into());
        }
        if let Some(after) = &self.search_after {
            let after: Value = serde_json::from_str(after)
                .with_context(|| format!("--search-after is not JSON: {after}"))?;
            map.insert("search_after".into(), after);
        }
        Ok(body)
    }

    /// The validated request.
    fn query(&self) -> anyhow::Result<EventQuery> {
        parse_event_query_value(&self.body()?).map_err(flag_hint)
    }
}

/// Names the flag behind a request field in an error.
fn flag_hint(error: insights_schemas::request::RequestError) -> anyhow::Error {
    let flag = match error.field.as_str() {
        "start_time" => " (--start or --last)",
        "end_time" => " (--end)",
        "service" => " (--service)",
        "fields" => " (--fields)",
        "search_after" => " (--search-after)",
        field if field.starts_with("search_term") => " (--search-term)",
        _ => "",
    };
    anyhow::anyhow!("{error}{flag}")
}

pub(crate) async fn engine(store: &StoreArgs) -> anyhow::Result<Arc<QueryEngine>> {
    engine_with(store, Vec::new()).await
}

/// The engine of a store, with DataFusion settings on top of the engine's own.
pub(crate) async fn engine_with(
    store: &StoreArgs,
    options: Vec<(String, String)>,
) -> anyhow::Result<Arc<QueryEngine>> {
    let location = StoreLocation::parse(&store.store)?;
    let config = QueryConfig {
        options,
        ..QueryConfig::default()
    };
    let engine = QueryEngine::open(&location, config)
        .await
        .with_context(|| format!("opening the store {location}"))?;
    Ok(Arc::new(engine))
}

/// Standard output or a file, buffered.
fn output(out: &Option<PathBuf>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match out {
        Some(path) => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

fn format_of(output: &OutputArgs, default: Format) -> anyhow::Result<Format> {
    Ok(match &output.format {
        Some(text) => Format::parse(text)?,
        None => default,
    })
}

pub async fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let query = args.request.query()?;
    let format = format_of(&args.output, Format::Json)?;
    let engine = engine(&args.store).await?;
    let page = engine
        .events_page(&args.scope.scope(), &query, format)
        .await?;
    let mut out = output(&args.output.out)?;
    out.write_all(&page.body)?;
    if format == Format::Json {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    eprintln!(
        "{} events (limit {}, sort {}); search_after {}",
        page.count,
        page.limit,
        insights_query::sort_header(page.sort),
        page.search_after_header()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn count(args: CountArgs) -> anyhow::Result<ExitCode> {
    let query = args.request.query()?;
    let engine = engine(&args.store).await?;
    let count = engine.count(&args.scope.scope(), &query).await?;
    println!("{}", serde_json::to_string(&count)?);
    Ok(ExitCode::SUCCESS)
}

pub async fn distinct(args: DistinctArgs) -> anyhow::Result<ExitCode> {
    let mut body = args.request.body()?;
    if let Some(field) = &args.field {
        body["field"] = field.clone().into();
    }
    let request = parse_distinct_query_value(&body).map_err(flag_hint)?;
    let engine = engine(&args.store).await?;
    let answer = engine.distinct(&args.scope.scope(), &request).await?;
    if Format::parse(&args.format)? == Format::Table {
        for bucket in &answer.buckets {
            println!("{:>10}  {}", bucket.doc_count, bucket.key);
        }
        if answer.sum_other_doc_count > 0 {
            println!("{:>10}  (other values)", answer.sum_other_doc_count);
        }
    } else {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn interval(args: IntervalArgs) -> anyhow::Result<ExitCode> {
    let mut body = args.request.body()?;
    for (key, value) in [
        ("interval_unit", &args.interval_unit),
        ("interval_value", &args.interval_value),
        ("timezone", &args.timezone),
        ("stack_by", &args.stack_by),
    ] {
        if let Some(value) = value {
            body[key] = value.clone().into();
        }
    }
    let request = parse_interval_query_value(&body).map_err(flag_hint)?;
    let engine = engine(&args.store).await?;
    let answer = engine.interval(&args.scope.scope(), &request).await?;
    if Format::parse(&args.format)? == Format::Table {
        for bucket in &answer.buckets {
            println!("{}  {:>10}", bucket.key_as_string, bucket.doc_count);
        }
    } else {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn sql(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let format = format_of(&args.output, Format::Table)?;
    let engine = engine(&args.store).await?;
    let mut stream = engine.sql(&args.scope.scope(), &args.query).await?;
    let mut out = output(&args.output.out)?;
    let mut writer = insights_query::SqlWriter::new(format, stream.schema());
    while let Some(batch) = stream.try_next().await? {
        writer.write(&batch, &mut out)?;
    }
    let rows = writer.finish(&mut out)?;
    out.flush()?;
    if format == Format::Table {
        eprintln!("{rows} rows");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let format = format_of(&args.output, Format::Ndjson)?;
    let gzip = args.gzip
        || args
            .output
            .out
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "gz"));
    let engine = engine(&args.store).await?;
    let (scope, query) = match &args.view {
        Some(name) => {
            let [org] = args.scope.orgs.as_slice() else {
                bail!("--view needs exactly one --org: views belong to an organization");
            };
            let views = insights_query::ViewStore::open(engine.store())?;
            (
                Scope::one(org.clone()),
                views.get(org, name).await?.query()?,
            )
        }
        None => (args.scope.scope(), args.request.query()?),
    };
    run_export(engine, scope, query, format, gzip, &args.output.out).await
}

/// Streams an export to a file or standard output, with a progress bar on a terminal.
pub(crate) async fn run_export(
    engine: Arc<QueryEngine>,
    scope: Scope,
    query: EventQuery,
    format: Format,
    gzip: bool,
    out: &Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let export = export::export(engine, scope, query, format, gzip).await?;
    let progress = export.progress.clone();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(
            progress
                .days_total
                .load(std::sync::atomic::Ordering::Relaxed) as u64,
        );
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} days  {msg}  {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let ticker = {
        let bar = bar.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                bar.set_position(
                    progress
                        .days_done
                        .load(std::sync::atomic::Ordering::Relaxed) as u64,
                );
                bar.set_message(format!(
                    "{} events",
                    progress.rows.load(std::sync::atomic::Ordering::Relaxed)
                ));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut writer = output(out)?;
    let result = export.write_to(&mut writer).await;
    ticker.abort();
    bar.finish_and_clear();
    let rows = result?;
    let target = out
        .as_ref()
        .map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
    let peak = peak_rss_mib().map_or_else(String::new, |mib| format!(", peak memory {mib} MiB"));
    let spilled = progress
        .spilled_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    let spilled = if spilled > 0 {
        format!(
            ", {} MiB spilled to temporary files by the sort of days larger than its memory",
            spilled.div_ceil(1 << 20)
        )
    } else {
        String::new()
    };
    eprintln!(
        "exported {rows} events to {target} in {:.2} s{peak}{spilled}",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The process's peak resident memory (Linux `VmHWM`), when the platform tells.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
