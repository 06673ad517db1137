//! The routes: handlers that authorize, read the body within limits, and answer.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::Value;

use insights_query::{Format, Scope, View, export, sort_header};
use insights_schemas::request::{
    EventQuery, parse_distinct_query, parse_event_query, parse_event_query_value,
    parse_interval_query,
};

use super::App;
use super::auth::{Caller, authorize};
use super::error::ApiError;
use super::ingest::{IngestJob, respond};
use super::keys::Role;

const OPENAPI: &str = include_str!("openapi.json");

type Shared = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/insights/directory/v1/events", post(di_events))
        .route("/insights/directory/v1/events/count", post(di_count))
        .route("/insights/directory/v1/events/distinct", post(di_distinct))
        .route("/insights/directory/v1/events/interval", post(di_interval))
        .route("/api/v1/ingest", post(ingest))
        .route("/api/v1/sql", post(sql))
        .route("/api/v1/views", get(views_list).post(views_create))
        .route("/api/v1/views/{name}", get(views_show).delete(views_delete))
        .route("/api/v1/views/{name}/run", post(views_run))
        .route("/api/v1/export", get(export_get).post(export_post))
        .route("/api/v1/enrich/user/{who}", get(enrich_user))
        .route("/api/v1/enrich/host/{which}", get(enrich_host))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/oauth2/token", post(oauth_token))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read with the service's own limit, which answers 413 in JSON.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(with_request_id))
        .with_state(app)
}

/// Every answer carries an `X-Request-Id`, errors included, for a client to quote.
async fn with_request_id(mut response: Response) -> Response {
    if !response.headers().contains_key("x-request-id") {
        response
            .headers_mut()
            .insert("x-request-id", header_value(&request_id()));
    }
    response
}

async fn oauth_token(State(app): Shared, headers: HeaderMap, body: Body) -> Response {
    // Token requests are short forms: read at most a little more than one.
    match axum::body::to_bytes(body, 16 << 10).await {
        Ok(bytes) => super::oauth::token(&app, &headers, bytes).await,
        Err(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "a token request is a short form",
        )
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /api/v1/openapi.json")
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on this route; see /api/v1/openapi.json"),
    )
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `ok`, or 503 `degraded` with the reason while ingest cannot go on (queries still work).
async fn healthz(State(app): Shared) -> Response {
    let version = app.engine.version();
    match app.metrics.ingest_trouble() {
        None => axum::Json(serde_json::json!({"status": "ok", "table_version": version}))
            .into_response(),
        Some(trouble) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "degraded", "table_version": version, "ingest": trouble,
            })),
        )
            .into_response(),
    }
}

async fn metrics(State(app): Shared) -> Response {
    let wal_bytes = std::fs::read_dir(&app.wal_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(wal_bytes),
    )
        .into_response()
}

/// How much of an over-limit body is read and discarded before the 413 answer, so that a client
/// still sending receives the answer instead of a reset connection.
const DRAIN_BYTES: usize = 64 << 20;

/// Reads a body up to the service's limit.
/// The largest body of a query request (a DI request, SQL, a view): far more than any real
/// request, far less than what parsing it into a tree would cost in memory.
const MAX_QUERY_BODY_BYTES: usize = 1 << 20;

/// Reads a query request's body, up to [`MAX_QUERY_BODY_BYTES`].
async fn read_body(app: &App, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    read_body_within(headers, body, MAX_QUERY_BODY_BYTES.min(app.max_body_bytes)).await
}

/// Reads a body up to `limit` bytes, answering 413 beyond.
async fn read_body_within(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut stream = body.into_data_stream();
    let mut over = declared.is_some_and(|n| n > limit);
    // Room for the declared length at once: growing by doubling copies the body repeatedly.
    let mut collected = bytes::BytesMut::with_capacity(match declared {
        Some(n) if !over => n,
        _ => 0,
    });
    let mut seen = 0usize;
    loop {
        let frame = match stream.try_next().await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) if over => {
                tracing::debug!(error = %e, "over-limit body ended early");
                break;
            }
            Err(e) => return Err(ApiError::bad_request(format!("reading the body: {e:#}"))),
        };
        seen = seen.saturating_add(frame.len());
        if !over && collected.len() + frame.len() > limit {
            over = true;
            collected = bytes::BytesMut::new();
        }
        if over {
            if seen > DRAIN_BYTES {
                break;
            }
        } else {
            collected.extend_from_slice(&frame);
        }
    }
    if over {
        return Err(too_large());
    }
    Ok(collected.freeze())
}

/// The permits a running query holds: one of the service's, one of its key's.
pub(super) struct QueryPermits {
    _service: tokio::sync::OwnedSemaphorePermit,
    _key: tokio::sync::OwnedSemaphorePermit,
}

/// Takes a query slot of the service and one of the caller's key, or answers 503: one reader
/// cannot take every slot, so others (and `/healthz`) keep being answered.
fn query_permits(app: &App, caller: &Caller) -> Result<QueryPermits, ApiError> {
    let service = app.queries.clone().try_acquire_owned().map_err(|_| {
        ApiError::busy(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many queries at once; retry shortly",
            1,
        )
    })?;
    let key = app
        .key_queries(&caller.key_id)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::busy(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "this key runs {} queries already, as many as one key may at once; retry \
                 when one has finished",
                    app.max_queries_per_key
                ),
                1,
            )
        })?;
    Ok(QueryPermits {
        _service: service,
        _key: key,
    })
}

/// Runs a query under the concurrency limits and the request timeout, refreshing the table
/// first so that every commit made so far is visible. When the timeout passes or the client
/// goes away, the query's future is dropped, and with it every task of its plan.
async fn limited<T>(
    app: &App,
    caller: &Caller,
    route: &str,
    work: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let started = Instant::now();
    let result = async {
        let _permits = query_permits(app, caller)?;
        tokio::time::timeout(app.request_timeout, async {
            app.engine.refresh().await?;
            work.await
        })
        .await
        .map_err(|_| {
            ApiError::busy(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the query took longer than {} s; narrow it or retry",
                    app.request_timeout.as_secs()
                ),
                5,
            )
        })?
    }
    .await;
    app.metrics
        .observe(route, started.elapsed(), result.is_ok());
    result
}

fn request_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return format!("{:x}", Instant::now().elapsed().as_nanos());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn json_response(value: &impl serde::Serialize) -> Response {
    let mut response = axum::Json(value).into_response();
    response
        .headers_mut()
        .insert("x-request-id", header_value(&request_id()));
    response
}

/// A page of events with the DI paging headers.
fn page_response(page: insights_query::EventsPage) -> Response {
    let headers = [
        ("x-result-count", HeaderValue::from(page.count)),
        ("x-limit", HeaderValue::from(page.limit)),
        ("x-sort", HeaderValue::from_static(sort_header(page.sort))),
        ("x-search_after", header_value(&page.search_after_header())),
        ("x-request-id", header_value(&request_id())),
    ];
    let mut response = Response::new(Body::from(page.body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    response
}

async fn di_events(
    State(app): Shared,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let bytes = read_body(&app, &headers, body).await?;
    let query = parse_event_query(&bytes)?;
    let page = limited(&app, &caller, "events", async {
        Ok(app
            .engine
            .events_page(&caller.scope(), &query, Format::Json)
            .await?)
    })
    .await?;
    Ok(page_response(page))
}

/// A DI aggregate route: a read key, the request body parsed by `parse`, one query under the
/// service's limits, its answer as JSON.
async fn di_aggregate<Q, A, E, Fut>(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    route: &str,
    parse: fn(&[u8]) -> Result<Q, E>,
    run: impl FnOnce(Scope, Q) -> Fut,
) -> Result<Response, ApiError>
where
    ApiError: From<E> + From<insights_query::Error>,
    Fut: std::future::Future<Output = Result<A, insights_query::Error>>,
    A: serde::Serialize,
{
    let caller = authorize(app, headers, Role::Read).await?;
    let bytes = read_body(app, headers, body).await?;
    let query = parse(&bytes)?;
    let answer = limited(app, &caller, route, async {
        Ok(run(caller.scope(), query).await?)
    })
    .await?;
    Ok(json_response(&answer))
}

async fn di_count(
    State(app): Shared,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let engine = &app.engine;
    di_aggregate(
        &app,
        &headers,
        body,
        "count",
        parse_event_query,
        |scope, query| async move { engine.count(&scope, &query).await },
    )
    .await
}

async fn di_distinct(
    State(app): Shared,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let engine = &app.engine;
    di_aggregate(
        &app,
        &headers,
        body,
        "distinct",
        parse_distinct_query,
        |scope, query| async move { engine.distinct(&scope, &query).await },
    )
    .await
}

async fn di_interval(
    State(app): Shared,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let engine = &app.engine;
    di_aggregate(
        &app,
        &headers,
        body,
        "interval",
        parse_interval_query,
        |scope, query| async move { engine.interval(&scope, &query).await },
    )
    .await
}

/// Content types an ingest body may declare (or none).
fn ingest_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    const ACCEPTED: [&str; 8] = [
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/json",
        "application/gzip",
        "application/x-gzip",
        "application/octet-stream",
        "text/plain",
    ];
    if media.is_empty() || ACCEPTED.contains(&media.as_str()) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "{media} is not accepted; send NDJSON or a JSON array (application/x-ndjson or application/json), optionally gzipped"
        ),
    ))
}

async fn ingest(State(app): Shared, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = async {
        let caller = authorize(&app, &headers, Role::Ingest).await?;
        let organization = caller.organization()?.to_owned();
        ingest_content_type(&headers)?;
        let body = read_body_within(&headers, body, app.max_body_bytes).await?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = IngestJob {
            body,
            organization,
            max_record: app.max_record_bytes,
            reply,
        };
        app.ingest.try_send(job).map_err(|e| match e {
            tokio::sync::mpsc::error::TrySendError::Full(_) => ApiError::busy(
                StatusCode::TOO_MANY_REQUESTS,
                "the ingest queue is full; retry shortly",
                1,
            ),
            tokio::sync::mpsc::error::TrySendError::Closed(_) => ApiError::busy(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is shutting down",
                5,
            ),
        })?;
        let reply = answer
            .await
            .map_err(|_| ApiError::internal("the ingester stopped before answering"))??;
        Ok::<_, ApiError>(respond(reply).into_response())
    }
    .await;
    app.metrics
        .observe("ingest", started.elapsed(), result.is_ok());
    result
}

#[derive(Deserialize)]
struct SqlBody {
    query: String,
}

async fn sql(State(app): Shared, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let bytes = read_body(&app, &headers, body).await?;
    let text = match serde_json::from_slice::<SqlBody>(&bytes) {
        Ok(body) => body.query,
        Err(_) => String::from_utf8(bytes.to_vec()).map_err(|_| {
            ApiError::bad_request("the body must be {\"query\": \"SELECT ...\"} or SQL text")
        })?,
    };
    let rows = limited(&app, &caller, "sql", async {
        Ok(app.engine.sql_json(&caller.scope(), &text).await?)
    })
    .await?;
    let mut response = Response::new(Body::from(rows));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn views_list(State(app): Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let views = app.views.list(caller.organization()?).await?;
    Ok(json_response(&views))
}

async fn views_create(
    State(app): Shared,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let bytes = read_body(&app, &headers, body).await?;
    let mut view: View = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be a view {{\"name\", \"description\", \"range\"?, \"request\"}}: {e}"
        ))
    })?;
    view.created = String::new();
    let replace = headers
        .get("x-replace")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let saved = app
        .views
        .create(caller.organization()?, view, replace)
        .await?;
    let mut response = json_response(&saved);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

async fn views_show(
    State(app): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    Ok(json_response(
        &app.views.get(caller.organization()?, &name).await?,
    ))
}

async fn views_delete(
    State(app): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    app.views.delete(caller.organization()?, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn views_run(
    State(app): Shared,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let query = app
        .views
        .get(caller.organization()?, &name)
        .await?
        .query()?;
    let page = limited(&app, &caller, "views", async {
        Ok(app
            .engine
            .events_page(&caller.scope(), &query, Format::Json)
            .await?)
    })
    .await?;
    Ok(page_response(page))
}

#[derive(Deserialize)]
struct ExportParams {
    /// A saved view to export.
    view: Option<String>,
    /// An inline DI request (JSON), for GET.
    request: Option<String>,
    format: Option<String>,
    gzip: Option<bool>,
}

async fn export_get(
    State(app): Shared,
    headers: HeaderMap,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let query = match (&params.view, &params.request) {
        (Some(name), None) => app.views.get(caller.organization()?, name).await?.query()?,
        (None, Some(request)) => {
            let value: Value = serde_json::from_str(request)
                .map_err(|e| ApiError::bad_request(format!("`request` is not JSON: {e}")))?;
            parse_event_query_value(&value)?
        }
        _ => {
            return Err(ApiError::bad_request(
                "give either `view` or `request` (a DI request as JSON)",
            ));
        }
    };
    stream_export(&app, &caller, query, &params).await
}

async fn export_post(
    State(app): Shared,
    headers: HeaderMap,
    Query(params): Query<ExportParams>,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let bytes = read_body(&app, &headers, body).await?;
    let query = parse_event_query(&bytes)?;
    stream_export(&app, &caller, query, &params).await
}

async fn stream_export(
    app: &App,
    caller: &Caller,
    query: EventQuery,
    params: &ExportParams,
) -> Result<Response, ApiError> {
    let format = Format::parse(params.format.as_deref().unwrap_or("ndjson"))?;
    let gzip = params.gzip.unwrap_or(false);
    let started = Instant::now();
    let permit = query_permits(app, caller)?;
    app.engine.refresh().await.map_err(ApiError::from)?;
    let running = export::export(app.engine.clone(), caller.scope(), query, format, gzip).await;
    app.metrics
        .observe("export", started.elapsed(), running.is_ok());
    let running = running?;
    // The permit lives as long as the body streams.
    let stream = running.into_stream().map_ok(move |chunk| {
        let _ = &permit;
        chunk
    });
    let mut response = Response::new(Body::from_stream(stream.map_err(std::io::Error::other)));
    let headers = response.headers_mut();
    let content_type = if gzip {
        "application/gzip"
    } else {
        format.content_type()
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-request-id", header_value(&request_id()));
    Ok(response)
}

#[derive(Deserialize)]
struct EnrichParams {
    days: Option<u32>,
    at: Option<String>,
}

fn enrich_window(params: &EnrichParams) -> Result<insights_query::enrich::Window, ApiError> {
    crate::enrich_cmd::window(params.days.unwrap_or(30), params.at.as_deref())
        .map_err(|e| ApiError::bad_request(e.to_string().replace("--", "")))
}

async fn enrich_user(
    State(app): Shared,
    headers: HeaderMap,
    Path(who): Path<String>,
    Query(params): Query<EnrichParams>,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let organization = caller.organization()?.to_owned();
    let window = enrich_window(&params)?;
    let report = limited(&app, &caller, "enrich", async {
        Ok(app.engine.enrich_user(&organization, &who, window).await?)
    })
    .await?;
    Ok(json_response(&report))
}

async fn enrich_host(
    State(app): Shared,
    headers: HeaderMap,
    Path(which): Path<String>,
    Query(params): Query<EnrichParams>,
) -> Result<Response, ApiError> {
    let caller = authorize(&app, &headers, Role::Read).await?;
    let organization = caller.organization()?.to_owned();
    let window = enrich_window(&params)?;
    let report = limited(&app, &caller, "enrich", async {
        Ok(app
            .engine
            .enrich_host(&organization, &which, window)
            .await?)
    })
    .await?;
    Ok(json_response(&report))
}
