//! Where pulled pages go: the same ingester as `insights ingest` (write-ahead log, dedup,
//! quarantine), directly or through the server's ingest task.
use std::future::Future;

use insights_ingest::framing::Chunk;
use insights_ingest::{Ingester, Rejection};

use crate::PullError;

/// What storing one page did. When it is returned, every accepted event is durable.
#[derive(Debug, Default)]
pub struct PageOutcome {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<Rejection>,
}

/// Stores pages of events durably, deduplicated, with undecodable events quarantined.
pub trait Sink: Send {
    /// Stores `chunk`, the events of one page of `organization`; `source` names the page in
    /// the quarantine.
    fn store_page(
        &mut self,
        source: &str,
        organization: &str,
        chunk: Chunk,
    ) -> impl Future<Output = Result<PageOutcome, PullError>> + Send;
}

impl Sink for Ingester {
    async fn store_page(
        &mut self,
        source: &str,
        organization: &str,
        chunk: Chunk,
    ) -> Result<PageOutcome, PullError> {
        let outcome = self
            .ingest(source, &chunk, Some(organization))
            .await
            .map_err(PullError::Store)?;
        self.commit_if_due().await.map_err(PullError::Store)?;
        Ok(PageOutcome {
            accepted: outcome.accepted,
            duplicates: outcome.duplicates,
            rejected: outcome.rejected,
        })
    }
}
