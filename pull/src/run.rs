//! The pull of each organization: one window per run, page by page, checkpointed.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use insights_schemas::format_timestamp_us;

use crate::{Checkpoints, DiClient, PullCounts, PullError, PullSettings, PullStats, Sink, Stop};

/// Rejections kept for a run's report.
const SHOWN_REJECTIONS: usize = 5;

/// What one run of one organization did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub organization: String,
    /// The window read, `[start, end)`; empty when there was nothing to read yet.
    pub window_start: String,
    pub window_end: String,
    #[serde(flatten)]
    pub counts: PullCounts,
    pub seconds: f64,
    /// The first events that were quarantined: the page, the event's place in it, the reason.
    pub first_rejections: Vec<PageRejection>,
}

impl RunReport {
    /// Adds another run's counts (for a summary of several organizations or runs).
    pub fn add(&mut self, other: &RunReport) {
        self.counts.add(&other.counts);
        self.seconds += other.seconds;
        let room = SHOWN_REJECTIONS.saturating_sub(self.first_rejections.len());
        self.first_rejections
            .extend(other.first_rejections.iter().take(room).cloned());
    }
}

/// An event of a page that was quarantined.
#[derive(Debug, Clone, Serialize)]
pub struct PageRejection {
    pub page: String,
    pub position: u64,
    pub reason: String,
}

/// Pulls organizations into a sink.
pub struct Puller<S: Sink> {
    settings: PullSettings,
    client: DiClient,
    checkpoints: Checkpoints,
    sink: S,
    stats: BTreeMap<String, Arc<PullStats>>,
    stop: Stop,
}

impl<S: Sink> Puller<S> {
    /// A puller for `settings`, keeping checkpoints in `store` (the store's root) and storing
    /// pages in `sink`.
    pub fn new(
        settings: PullSettings,
        store: Arc<dyn object_store::ObjectStore>,
        sink: S,
        stop: Stop,
    ) -> Result<Self, PullError> {
        settings.validate()?;
        let client = DiClient::new(&settings)?;
        let stats = settings
            .organizations
            .iter()
            .map(|org| (org.clone(), Arc::new(PullStats::default())))
            .collect();
        Ok(Self {
            settings,
            client,
            checkpoints: Checkpoints::new(store),
            sink,
            stats,
            stop,
        })
    }

    /// Each organization's counters.
    pub fn stats(&self) -> &BTreeMap<String, Arc<PullStats>> {
        &self.stats
    }

    /// The settings it pulls with.
    pub fn settings(&self) -> &PullSettings {
        &self.settings
    }

    /// The sink, for closing it.
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// Runs every organization once; each one's report or error.
    pub async fn run_once(&mut self) -> Vec<(String, Result<RunReport, PullError>)> {
        let mut results = Vec::new();
        for org in self.settings.organizations.clone() {
            if self.stop.is_raised() {
                break;
            }
            let result = self.run_org(&org).await;
            results.push((org, result));
        }
        results
    }

    /// Runs every organization every `settings.every` until stopped. `fatal` decides which
    /// errors end the loop (the others are recorded and the next run tries again);
    /// `report` sees every run's outcome.
    pub async fn run_forever(
        &mut self,
        fatal: impl Fn(&PullError) -> bool,
        mut report: impl FnMut(&str, &Result<RunReport, PullError>),
    ) -> Result<(), PullError> {
        loop {
            let started = Instant::now();
            for (org, result) in self.run_once().await {
                report(&org, &result);
                match result {
                    Err(PullError::Stopped) => return Ok(()),
                    Err(e) if fatal(&e) => return Err(e),
                    _ => {}
                }
            }
            let wait = self.settings.every.saturating_sub(started.elapsed());
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.wait() => return Ok(()),
            }
        }
    }

    /// One run of `org`: the window `[checkpoint - overlap, now - lag)` (or from `since`),
    /// every page of it stored, then the checkpoint moved to the window's end.
    pub async fn run_org(&mut self, org: &str) -> Result<RunReport, PullError> {
        let stats = self.stats.get(org).cloned().unwrap_or_default();
        let result = self.pull_window(org, &stats).await;
        match &result {
            Ok(_) => {
                stats
                    .last_success_us
                    .store(chrono::Utc::now().timestamp_micros(), Ordering::Relaxed);
                stats.set_error(None);
            }
            Err(PullError::Stopped) => {}
            Err(e) => {
                stats.failed_runs.fetch_add(1, Ordering::Relaxed);
                stats.set_error(Some(e.to_string()));
                tracing::error!(organization = org, error = %e, "pull run failed");
            }
        }
        result
    }

    async fn pull_window(&mut self, org: &str, stats: &PullStats) -> Result<RunReport, PullError> {
        let started = Instant::now();
        let retries_before = stats.retries.load(Ordering::Relaxed);
        let service_set = self.settings.service_set();
        let now_us = chrono::Utc::now().timestamp_micros();
        let end_us = floor_ms(now_us - micros(self.settings.lag));
        let checkpoint = self.checkpoints.read(org, &service_set).await?;
        let stored_through = checkpoint.as_ref().map_or(i64::MIN, |c| c.through_us);
        if let Some(c) = &checkpoint {
            stats.through_us.fetch_max(c.through_us, Ordering::Relaxed);
        }
        let start_us = floor_ms(match &checkpoint {
            Some(c) if !self.settings.force_since => c.through_us - micros(self.settings.overlap),
            _ => self.settings.since.at(now_us),
        });
        let mut report = RunReport {
            organization: org.to_owned(),
            ..RunReport::default()
        };
        if start_us >= end_us {
            return Ok(report);
        }
        report.window_start = format_timestamp_us(start_us);
        report.window_end = format_timestamp_us(end_us);
        stats.window_start_us.store(start_us, Ordering::Relaxed);
        stats.window_end_us.store(end_us, Ordering::Relaxed);
        tracing::info!(organization = org, start = %report.window_start, end = %report.window_end, "pulling");

        let mut body = json!({
            "service": self.settings.services,
            "start_time": report.window_start,
            "end_time": report.window_end,
            "sort": "ASC",
            "limit": self.settings.limit,
        });
        let Self {
            client,
            sink,
            checkpoints,
            settings,
            stop,
            ..
        } = self;
        let mut fetched = client.page(org, &body, stats, stop).await;
        let mut checkpointed = stored_through;
        let mut last_write = Instant::now();
        for page_no in 1u64.. {
            let page = fetched?;
            let next_after = if page.is_last() {
                None
            } else {
                let after = page.search_after.clone().ok_or_else(|| {
                    PullError::Protocol("a full page came without X-Search_after".into())
                })?;
                if body.get("search_after") == Some(&after) {
                    return Err(PullError::Protocol(format!(
                        "X-Search_after did not move past {after}"
                    )));
                }
                Some(after)
            };
            let count = page.count() as u64;
            report.counts.pulled += count;
            report.counts.pages += 1;
            stats.pulled.fetch_add(count, Ordering::Relaxed);
            stats.pages.fetch_add(1, Ordering::Relaxed);
            let source = format!("pull {org} {} page {page_no}", report.window_start);
            // Store this page while the next one is on its way.
            let store = sink.store_page(&source, org, page.chunk);
            let (stored, next) = match &next_after {
                Some(after) => {
                    body["search_after"] = after.clone();
                    let (stored, next) = tokio::join!(store, client.page(org, &body, stats, stop));
                    (stored, Some(next))
                }
                None => (store.await, None),
            };
            let outcome = stored?;
            report.counts.stored += outcome.accepted;
            report.counts.duplicates += outcome.duplicates;
            report.counts.quarantined += outcome.rejected.len() as u64;
            stats.stored.fetch_add(outcome.accepted, Ordering::Relaxed);
            stats
                .duplicates
                .fetch_add(outcome.duplicates, Ordering::Relaxed);
            stats
                .quarantined
                .fetch_add(outcome.rejected.len() as u64, Ordering::Relaxed);
            let room = SHOWN_REJECTIONS.saturating_sub(report.first_rejections.len());
            report
                .first_rejections
                .extend(
                    outcome
                        .rejected
                        .into_iter()
                        .take(room)
                        .map(|r| PageRejection {
                            page: source.clone(),
                            position: r.line,
                            reason: r.reason,
                        }),
                );
            let Some(next) = next else { break };
            // This page is durable: every event before its last one's millisecond is stored.
            let through = next_after
                .as_ref()
                .and_then(|after| after.get(0)?.as_i64())
                .map(|ms| ms.saturating_mul(1000));
            if let Some(through) = through
                && through > checkpointed
                && last_write.elapsed() >= settings.checkpoint_every
            {
                checkpoints
                    .write(org, &service_set, through, &settings.base_url)
                    .await?;
                checkpointed = through;
                last_write = Instant::now();
                stats.through_us.fetch_max(through, Ordering::Relaxed);
            }
            fetched = next;
        }
        // The whole window is durable.
        let through = end_us.max(stored_through);
        checkpoints
            .write(org, &service_set, through, &settings.base_url)
            .await?;
        stats.through_us.fetch_max(through, Ordering::Relaxed);
        report.counts.retries = stats.retries.load(Ordering::Relaxed) - retries_before;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// DI takes times to the millisecond.
fn floor_ms(us: i64) -> i64 {
    us.div_euclid(1000) * 1000
}
