//! `POST /api/v1/ingest`: NDJSON or a JSON array, plain or gzip, for the caller's organization.
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::read_body_within;
use crate::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ingest::{IngestJob, JobBody, respond};

type Shared = State<Arc<App>>;

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

pub(super) async fn ingest(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = async {
        let organization = caller.organization()?.to_owned();
        ingest_content_type(&headers)?;
        let body = read_body_within(&headers, body, app.max_body_bytes).await?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = IngestJob {
            body: JobBody::Request {
                body,
                max_record: app.max_record_bytes,
            },
            organization,
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
