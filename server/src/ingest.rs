//! `POST /api/v1/ingest`: one task owns the ingester; requests queue for it on a bounded
//! channel (a full queue answers 429), and every request the task finds waiting is ingested and
//! then made durable with one fsync, the group commit, before any of them is answered.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use insights_ingest::Ingester;
use insights_ingest::framing::{Chunk, RecordReader};

use super::error::ApiError;
use super::metrics::Metrics;

/// Records per chunk handed to the ingester.
const CHUNK_RECORDS: usize = 8192;
const CHUNK_BYTES: usize = 8 << 20;
/// Requests one group commit takes at most.
const GROUP_REQUESTS: usize = 64;
/// The `Retry-After` of an ingest that could not be made durable.
const RETRY_SECONDS: u32 = 2;

/// The answer to an ingest request, sent once every accepted event is durable.
#[derive(Debug, Serialize)]
pub struct IngestReply {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub errors: Vec<insights_ingest::Rejection>,
}

/// What an ingest job brings.
pub enum JobBody {
    /// A request body: NDJSON or a JSON array, plain or gzip, framed by the ingest task.
    Request { body: Bytes, max_record: usize },
    /// A page the pull framed already, one record per event; `source` names it in the
    /// quarantine.
    Page { source: String, chunk: Chunk },
}

/// An ingest request waiting for the ingester.
pub struct IngestJob {
    pub body: JobBody,
    pub organization: String,
    pub reply: oneshot::Sender<Result<IngestReply, ApiError>>,
}

/// Runs the ingester until every sender is gone, then flushes it. The error says why the last
/// events could not be committed (they stay in the write-ahead log for the next start).
pub async fn run(
    mut ingester: Ingester,
    mut jobs: mpsc::Receiver<IngestJob>,
    metrics: Arc<Metrics>,
) -> Result<(), insights_ingest::Error> {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    // One chunk for every request: a fresh 8 MiB buffer each time would be fresh pages, which
    // the kernel zeroes on first touch.
    let mut chunk = Chunk::with_capacity(CHUNK_RECORDS, CHUNK_BYTES);
    loop {
        let first = tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => job,
                None => break,
            },
            _ = tick.tick() => {
                flush_if_due(&mut ingester).await;
                publish(&ingester, &metrics);
                continue;
            }
        };
        let mut group = vec![first];
        while group.len() < GROUP_REQUESTS {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(group.len());
        for job in &group {
            answers.push(ingest_one(&mut ingester, job, &mut chunk).await);
        }
        let synced = ingester.sync();
        for (job, answer) in group.into_iter().zip(answers) {
            let answer = match (&synced, answer) {
                (Err(e), _) => Err(ApiError::busy(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the events could not be made durable ({e}); nothing of this request \
                         is acknowledged; retrying is safe (events stored meanwhile count as \
                         duplicates)"
                    ),
                    RETRY_SECONDS,
                )),
                (Ok(()), answer) => answer,
            };
            if let Ok(reply) = &answer {
                metrics
                    .ingested
                    .fetch_add(reply.accepted, Ordering::Relaxed);
                metrics
                    .duplicates
                    .fetch_add(reply.duplicates, Ordering::Relaxed);
                metrics
                    .rejected
                    .fetch_add(reply.rejected, Ordering::Relaxed);
            }
            // The client may have gone; its events are stored all the same.
            let _ = job.reply.send(answer);
        }
        flush_if_due(&mut ingester).await;
        publish(&ingester, &metrics);
    }
    let closed = ingester.close().await;
    if let Err(e) = &closed {
        tracing::error!(error = %e, "flushing on shutdown failed; the write-ahead log keeps the events");
    }
    closed
}

/// Commits what has waited long enough and retries a failed commit when due. A failed commit
/// is logged where it fails and shows in `/healthz` and `/metrics`.
async fn flush_if_due(ingester: &mut Ingester) {
    match ingester.flush_if_due().await {
        Ok(()) | Err(insights_ingest::Error::Commit { .. }) => {}
        Err(e) => tracing::error!(error = %e, "committing buffered events failed"),
    }
}

fn publish(ingester: &Ingester, metrics: &Metrics) {
    metrics
        .buffered
        .store(ingester.buffered() as u64, Ordering::Relaxed);
    metrics.commit_lag_ms.store(
        ingester.buffered_age().as_millis() as u64,
        Ordering::Relaxed,
    );
    metrics
        .commits_failed
        .store(ingester.commit_failures(), Ordering::Relaxed);
    metrics.set_ingest_trouble(ingester.trouble());
}

async fn ingest_one(
    ingester: &mut Ingester,
    job: &IngestJob,
    chunk: &mut Chunk,
) -> Result<IngestReply, ApiError> {
    let mut reply = IngestReply {
        accepted: 0,
        duplicates: 0,
        rejected: 0,
        errors: Vec::new(),
    };
    let (body, max_record) = match &job.body {
        JobBody::Request { body, max_record } => (body, *max_record),
        JobBody::Page { source, chunk } => {
            let outcome = ingester
                .ingest_unsynced(source, chunk, Some(&job.organization))
                .await
                .map_err(unavailable)?;
            reply.add(outcome);
            return Ok(reply);
        }
    };
    // The body is in memory already: read straight from it.
    let mut reader = RecordReader::buffered(Cursor::new(body.clone()), max_record)
        .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
    loop {
        let more = reader
            .next_chunk(chunk, CHUNK_RECORDS, CHUNK_BYTES)
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "reading the body after {} stored events: {e}",
                    reply.accepted
                ))
            })?;
        if !more {
            break;
        }
        let outcome = ingester
            .ingest_unsynced("request", chunk, Some(&job.organization))
            .await
            .map_err(unavailable)?;
        reply.add(outcome);
    }
    Ok(reply)
}

fn unavailable(error: insights_ingest::Error) -> ApiError {
    ApiError::busy(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("ingest is unavailable: {error}"),
        RETRY_SECONDS,
    )
}

impl IngestReply {
    fn add(&mut self, outcome: insights_ingest::BatchOutcome) {
        self.accepted += outcome.accepted;
        self.duplicates += outcome.duplicates;
        self.rejected += outcome.rejected.len() as u64;
        self.errors.extend(outcome.rejected);
    }
}

/// The JSON answer.
pub fn respond(reply: IngestReply) -> (StatusCode, Json<IngestReply>) {
    (StatusCode::OK, Json(reply))
}
