//! `insights serve --pull FILE`: the pull runs in the background and stores its pages through
//! the same ingest task as `POST /api/v1/ingest`.
use std::collections::BTreeMap;
use std::sync::Arc;

use insights_ingest::framing::Chunk;
use insights_pull::{PageOutcome, PullError, PullSettings, PullStats, Puller, Sink, Stop};
use tokio::sync::{mpsc, oneshot};

use crate::ingest::{IngestJob, JobBody};

/// Hands pages to the ingest task and waits until they are durable.
struct ChannelSink {
    jobs: mpsc::Sender<IngestJob>,
}

impl Sink for ChannelSink {
    async fn store_page(
        &mut self,
        source: &str,
        organization: &str,
        chunk: Chunk,
    ) -> Result<PageOutcome, PullError> {
        let (reply, answer) = oneshot::channel();
        let job = IngestJob {
            body: JobBody::Page {
                source: source.to_owned(),
                chunk,
            },
            organization: organization.to_owned(),
            reply,
        };
        let gone = || {
            PullError::Store(insights_ingest::Error::Stopped(
                "the ingest task has stopped".into(),
            ))
        };
        // A full queue waits here: the pull slows down instead of being refused.
        self.jobs.send(job).await.map_err(|_| gone())?;
        let reply = answer
            .await
            .map_err(|_| gone())?
            .map_err(|e| PullError::Store(insights_ingest::Error::Unavailable(e.message)))?;
        Ok(PageOutcome {
            accepted: reply.accepted,
            duplicates: reply.duplicates,
            rejected: reply.errors,
        })
    }
}

/// Each organization's pull counters.
pub type PullStatsMap = BTreeMap<String, Arc<PullStats>>;

/// Starts the pull; it runs until `stop` is raised. Its errors are logged and shown by
/// `/healthz` and `/metrics`; the next run tries again.
pub fn start(
    settings: PullSettings,
    store: Arc<dyn object_store::ObjectStore>,
    jobs: mpsc::Sender<IngestJob>,
    stop: Stop,
) -> Result<(PullStatsMap, tokio::task::JoinHandle<()>), PullError> {
    let mut puller = Puller::new(settings, store, ChannelSink { jobs }, stop)?;
    let stats = puller.stats().clone();
    let task = tokio::spawn(async move {
        let _ = puller
            .run_forever(
                |_| false,
                |org, result| {
                    if let Ok(report) = result {
                        tracing::info!(
                            organization = org,
                            pulled = report.counts.pulled,
                            stored = report.counts.stored,
                            duplicates = report.counts.duplicates,
                            quarantined = report.counts.quarantined,
                            "pull run done"
                        );
                    }
                },
            )
            .await;
    });
    Ok((stats, task))
}
