//! `GET|POST /api/v1/export`: every event of a DI request or a saved view, streamed as
//! NDJSON, JSON or CSV, optionally gzipped.
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::Value;

use insights_query::{Format, export};
use insights_schemas::request::{EventQuery, parse_event_query, parse_event_query_value};

use super::answer::{header_value, json_response, request_id};
use super::body::read_body;
use super::limits::query_permits;
use crate::App;
use crate::auth::Caller;
use crate::error::ApiError;

type Shared = State<Arc<App>>;

#[derive(Deserialize, Clone)]
pub(super) struct ExportParams {
    /// A saved view to export.
    view: Option<String>,
    /// An inline DI request (JSON), for GET.
    request: Option<String>,
    format: Option<String>,
    gzip: Option<bool>,
}

pub(super) async fn get(
    State(app): Shared,
    caller: Caller,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
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

pub(super) async fn post(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    Query(params): Query<ExportParams>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&app, &headers, body).await?;
    let query = parse_event_query(&bytes)?;
    stream_export(&app, &caller, query, &params).await
}

/// How long a download link may wait for its download.
const LINK_LIFE: Duration = Duration::from_secs(60);
/// Download links waiting at once (each holds a request of at most 1 MiB); more are refused.
const MAX_LINKS: usize = 256;
/// Download links of one key waiting at once; a new one replaces the key's oldest.
const MAX_LINKS_PER_KEY: usize = 4;

/// An export waiting for its download: who asked, and for what.
pub(crate) struct Ticket {
    caller: Caller,
    query: EventQuery,
    params: ExportParams,
    expires: Instant,
}

/// `POST /api/v1/export/link`: the same request as `POST /api/v1/export`, checked now and
/// answered with a single-use link that downloads it within a minute without a credential.
/// A browser cannot send `x-api-key` with a navigation, and a fetched body would be held in
/// memory before it is saved; a link streams to disk through the browser's own download.
pub(super) async fn link(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    Query(params): Query<ExportParams>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&app, &headers, body).await?;
    let query = parse_event_query(&bytes)?;
    Format::parse(params.format.as_deref().unwrap_or("ndjson"))?;
    export::check(&query)?;
    let mut token = [0u8; 32];
    getrandom::fill(&mut token)
        .map_err(|e| ApiError::internal(format!("no randomness for a download link: {e}")))?;
    let token = hex::encode(token);
    let now = Instant::now();
    {
        let mut links = app.downloads.lock().unwrap_or_else(|e| e.into_inner());
        links.retain(|_, ticket| ticket.expires > now);
        let mut own: Vec<(Instant, String)> = links
            .iter()
            .filter(|(_, ticket)| ticket.caller.key_id == caller.key_id)
            .map(|(token, ticket)| (ticket.expires, token.clone()))
            .collect();
        own.sort();
        if own.len() >= MAX_LINKS_PER_KEY {
            links.remove(&own[0].1);
        }
        if links.len() >= MAX_LINKS {
            return Err(ApiError::busy(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{MAX_LINKS} download links wait already; retry in a minute"),
                60,
            ));
        }
        links.insert(
            token.clone(),
            Ticket {
                caller,
                query,
                params,
                expires: now + LINK_LIFE,
            },
        );
    }
    let mut response = json_response(&serde_json::json!({
        "url": format!("/api/v1/export/download/{token}"),
        "expires_in_seconds": LINK_LIFE.as_secs(),
    }));
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// `GET /api/v1/export/download/{token}`: the export of a link, once. A link refused for want
/// of a query slot (503) is kept for a retry within its minute.
pub(super) async fn download(
    State(app): Shared,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let ticket = app
        .downloads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&token)
        .filter(|ticket| ticket.expires > Instant::now())
        .ok_or_else(|| {
            ApiError::not_found(
                "this download link is unknown, used or expired (a link lasts a minute and works \
                 once); start the export again",
            )
        })?;
    let started = stream_export(&app, &ticket.caller, ticket.query.clone(), &ticket.params).await;
    if matches!(&started, Err(error) if error.status == StatusCode::SERVICE_UNAVAILABLE) {
        app.downloads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, ticket);
    }
    started
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
    let filename = format!(
        "events-{}.{}{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        format.extension(),
        if gzip { ".gz" } else { "" }
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(&format!("attachment; filename=\"{filename}\"")),
    );
    headers.insert("x-request-id", header_value(&request_id()));
    Ok(response)
}
