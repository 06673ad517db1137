//! `GET|POST /api/v1/export`: every event of a DI request or a saved view, streamed as
//! NDJSON, JSON or CSV, optionally gzipped.
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::Value;

use insights_query::{Format, export};
use insights_schemas::request::{EventQuery, parse_event_query, parse_event_query_value};

use super::answer::{header_value, request_id};
use super::body::read_body;
use super::limits::query_permits;
use crate::App;
use crate::auth::Caller;
use crate::error::ApiError;

type Shared = State<Arc<App>>;

#[derive(Deserialize)]
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
