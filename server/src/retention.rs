//! The retention policy applied inside `insights serve`: at start and then every
//! `ServeConfig::retention_every` (a day by default), as `insights retention apply` does.

use std::time::Duration;

use insights_ingest::retention::{Policy, apply_retention};
use insights_ingest::{EventTable, StoreLocation};

/// Applies the store's retention policy once; logs what it removed.
async fn apply_once(location: &StoreLocation) -> anyhow::Result<()> {
    let policy = Policy::load(location).await?;
    if policy.organizations.is_empty() {
        return Ok(());
    }
    let mut table = EventTable::open_for_writing(location).await?;
    let summary = apply_retention(&mut table, &policy, chrono::Utc::now()).await?;
    for removal in &summary.removed {
        tracing::info!(
            organization = %removal.organization,
            days = removal.days,
            before = %removal.before,
            partitions = removal.partitions,
            rows = removal.rows,
            version = removal.version,
            "retention removed expired partitions"
        );
    }
    for organization in &summary.held {
        tracing::info!(%organization, "retention skipped: under a legal hold");
    }
    Ok(())
}

/// Runs the policy at start and every `every` until `stop` is raised.
pub fn start(
    location: StoreLocation,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = apply_once(&location).await {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "applying the retention policy failed; it is tried again at the next interval"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    })
}
