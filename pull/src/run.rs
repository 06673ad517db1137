//! The pull of each organization: one window per run, page by page, checkpointed.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use insights_schemas::format_timestamp_us;

use crate::client::Page;
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

        let Self {
            client,
            sink,
            checkpoints,
            settings,
            stop,
            ..
        } = self;
        // Slices of the window, each paged by its own reader; pages are stored as they come.
        let slices = slices(start_us, end_us, settings.readers);
        let (pages, mut arriving) = mpsc::channel(1);
        let readers =
            futures::future::join_all(slices.iter().enumerate().map(|(slice, &(from, to))| {
                let body = json!({
                    "service": settings.services,
                    "start_time": format_timestamp_us(from),
                    "end_time": format_timestamp_us(to),
                    "sort": "ASC",
                    "limit": settings.limit,
                });
                read_slice(client, org, body, slice, pages.clone(), stats, stop)
            }));
        drop(pages);
        let storing = async {
            let mut progress = Progress::new(&slices);
            let mut page_numbers = vec![0u64; slices.len()];
            let mut checkpointed = stored_through;
            let mut last_write = Instant::now();
            while let Some(arrived) = arriving.recv().await {
                let Arrived {
                    slice,
                    page,
                    next_after,
                } = arrived?;
                let count = page.count() as u64;
                report.counts.pulled += count;
                report.counts.pages += 1;
                stats.pulled.fetch_add(count, Ordering::Relaxed);
                stats.pages.fetch_add(1, Ordering::Relaxed);
                page_numbers[slice] += 1;
                let source = format!(
                    "pull {org} {} page {}",
                    format_timestamp_us(slices[slice].0),
                    page_numbers[slice]
                );
                let outcome = sink.store_page(&source, org, page.chunk).await?;
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
                // This page is durable.
                let Some(before) = progress.stored(slice, next_after.as_ref()) else {
                    continue;
                };
                if before > checkpointed && last_write.elapsed() >= settings.checkpoint_every {
                    checkpoints
                        .write(org, &service_set, before, &settings.base_url)
                        .await?;
                    checkpointed = before;
                    last_write = Instant::now();
                    stats.through_us.fetch_max(before, Ordering::Relaxed);
                }
            }
            Ok::<(), PullError>(())
        };
        // A reader's error is sent too and ends the storing; the other readers are dropped
        // with it. When the readers are done, the storing drains what they sent.
        {
            let mut readers = std::pin::pin!(readers);
            let mut storing = std::pin::pin!(storing);
            tokio::select! {
                stored = &mut storing => stored?,
                _ = &mut readers => storing.await?,
            }
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

/// A page of one slice of the window, and the cursor after it (`None` after its last page).
struct Arrived {
    slice: usize,
    page: Page,
    next_after: Option<Value>,
}

/// Reads one slice of the window page by page into `pages`, until its last page, an error
/// (sent too), or nobody receiving.
async fn read_slice(
    client: &DiClient,
    org: &str,
    mut body: Value,
    slice: usize,
    pages: mpsc::Sender<Result<Arrived, PullError>>,
    stats: &PullStats,
    stop: &Stop,
) {
    loop {
        let arrived = client.page(org, &body, stats, stop).await.and_then(|page| {
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
            Ok(Arrived {
                slice,
                page,
                next_after,
            })
        });
        let next = arrived.as_ref().ok().and_then(|a| a.next_after.clone());
        if pages.send(arrived).await.is_err() {
            return;
        }
        match next {
            Some(after) => body["search_after"] = after,
            None => return,
        }
    }
}

/// How far a window read in slices is stored: per slice, the instant before which every event
/// of it is (its start until a page of it is), or `None` once the whole slice is.
struct Progress(Vec<Option<i64>>);

impl Progress {
    fn new(slices: &[(i64, i64)]) -> Self {
        Self(slices.iter().map(|&(from, _)| Some(from)).collect())
    }

    /// Records that a page of `slice` is durable; `next_after` is the cursor after it (`None`
    /// after the slice's last page): every event of the slice before its millisecond is
    /// stored. Returns the instant before which every event of the window is: that of the
    /// first slice not yet whole, the ones before it being whole; `None` once all are.
    fn stored(&mut self, slice: usize, next_after: Option<&Value>) -> Option<i64> {
        self.0[slice] = match next_after {
            None => None,
            Some(after) => after
                .get(0)
                .and_then(Value::as_i64)
                .map(|ms| ms.saturating_mul(1000))
                .or(self.0[slice]),
        };
        self.0.iter().find_map(|through| *through)
    }
}

/// `[start, end)` cut into at most `count` slices of whole milliseconds, in time order.
fn slices(start_us: i64, end_us: i64, count: usize) -> Vec<(i64, i64)> {
    let millis = (end_us - start_us).div_euclid(1000).max(1);
    let count = i64::try_from(count.max(1)).unwrap_or(1).min(millis);
    (0..count)
        .map(|n| {
            let from = start_us + millis * n / count * 1000;
            let to = if n + 1 == count {
                end_us
            } else {
                start_us + millis * (n + 1) / count * 1000
            };
            (from, to)
        })
        .collect()
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// DI takes times to the millisecond.
fn floor_ms(us: i64) -> i64 {
    us.div_euclid(1000) * 1000
}

#[cfg(test)]
mod tests {
    use super::{Progress, slices};
    use serde_json::json;

    #[test]
    fn progress_stops_at_the_first_slice_not_yet_whole() {
        let mut progress = Progress::new(&[(0, 10_000), (10_000, 20_000), (20_000, 30_000)]);
        // A later slice's pages do not move the window past an earlier slice's progress.
        assert_eq!(progress.stored(2, Some(&json!([25, "x"]))), Some(0));
        assert_eq!(progress.stored(1, None), Some(0));
        assert_eq!(progress.stored(0, Some(&json!([4, "a"]))), Some(4_000));
        // A cursor without a time keeps what was known.
        assert_eq!(progress.stored(0, Some(&json!(["?"]))), Some(4_000));
        // Slice 0 whole, slice 1 whole: slice 2's progress.
        assert_eq!(progress.stored(0, None), Some(25_000));
        assert_eq!(progress.stored(2, None), None);
    }

    #[test]
    fn slices_cover_the_window_in_whole_milliseconds() {
        for (start, end, count) in [
            (0, 10_000_000, 2),
            (1_000, 8_000, 3),
            (5_000, 7_000, 8),
            (0, 1_000, 4),
            (-3_000, 1_000_000_123_000, 5),
        ] {
            let cut = slices(start, end, count);
            assert!(!cut.is_empty() && cut.len() <= count);
            assert_eq!(cut[0].0, start);
            assert_eq!(cut[cut.len() - 1].1, end);
            for pair in cut.windows(2) {
                assert_eq!(pair[0].1, pair[1].0);
            }
            for &(from, to) in &cut {
                assert!(from < to && from % 1000 == 0 && to % 1000 == 0, "{cut:?}");
            }
        }
        assert_eq!(slices(0, 2_000, 8).len(), 2);
    }
}
