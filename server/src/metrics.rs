//! Prometheus text metrics: events ingested, rejected and duplicated; queries per route and
//! their latencies; the write-ahead log's size and the commit lag. Labels are fixed route names,
//! never values from requests.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The routes whose latencies are kept.
pub const ROUTES: [&str; 9] = [
    "events", "count", "distinct", "interval", "sql", "export", "views", "enrich", "ingest",
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    errors: AtomicU64,
}

/// The service's counters.
#[derive(Default)]
pub struct Metrics {
    pub ingested: AtomicU64,
    pub rejected: AtomicU64,
    pub duplicates: AtomicU64,
    /// Events accepted but not yet in a table commit.
    pub buffered: AtomicU64,
    /// Age of the oldest of them, in milliseconds.
    pub commit_lag_ms: AtomicU64,
    pub commits_failed: AtomicU64,
    /// Why ingest cannot go on, while it cannot.
    ingest_trouble: std::sync::Mutex<Option<String>>,
    routes: [Histogram; ROUTES.len()],
}

impl Metrics {
    /// Records why ingest cannot go on (`None` once it can).
    pub fn set_ingest_trouble(&self, trouble: Option<String>) {
        if let Ok(mut slot) = self.ingest_trouble.lock() {
            *slot = trouble;
        }
    }

    /// Why ingest cannot go on, if it cannot.
    pub fn ingest_trouble(&self) -> Option<String> {
        self.ingest_trouble
            .lock()
            .ok()
            .and_then(|slot| slot.clone())
    }

    /// Records one request of `route`.
    pub fn observe(&self, route: &str, elapsed: Duration, ok: bool) {
        let Some(index) = ROUTES.iter().position(|r| *r == route) else {
            return;
        };
        let histogram = &self.routes[index];
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        histogram.count.fetch_add(1, Ordering::Relaxed);
        histogram
            .sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        if !ok {
            histogram.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, wal_bytes: u64) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "insights_events_ingested_total",
            "Events accepted and made durable.",
            self.ingested.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "insights_events_rejected_total",
            "Records rejected and quarantined.",
            self.rejected.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "insights_events_duplicate_total",
            "Events already stored, not stored again.",
            self.duplicates.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "insights_commits_failed_total",
            "Table commit attempts that failed (events stay in the log; the commit is retried).",
            self.commits_failed.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "insights_ingest_degraded",
            "1 while ingest cannot go on (the log cannot be written or a commit keeps failing).",
            if self.ingest_trouble().is_some() {
                1.0
            } else {
                0.0
            },
        );
        gauge(
            &mut out,
            "insights_wal_bytes",
            "Bytes in the write-ahead log.",
            wal_bytes as f64,
        );
        gauge(
            &mut out,
            "insights_buffered_events",
            "Durable events not yet committed to the table.",
            self.buffered.load(Ordering::Relaxed) as f64,
        );
        gauge(
            &mut out,
            "insights_commit_lag_seconds",
            "Age of the oldest event not yet committed to the table.",
            self.commit_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        );
        let _ = writeln!(
            out,
            "# HELP insights_request_duration_seconds Latency of requests by route.\n# TYPE insights_request_duration_seconds histogram"
        );
        for (route, histogram) in ROUTES.iter().zip(&self.routes) {
            for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
                let _ = writeln!(
                    out,
                    "insights_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = histogram.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "insights_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "insights_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "insights_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP insights_requests_failed_total Requests answered with an error, by route.\n# TYPE insights_requests_failed_total counter"
        );
        for (route, histogram) in ROUTES.iter().zip(&self.routes) {
            let _ = writeln!(
                out,
                "insights_requests_failed_total{{route=\"{route}\"}} {}",
                histogram.errors.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// The pull's counters and gauges, one series per organization.
pub fn render_pull(pull: &crate::pull::PullStatsMap) -> String {
    let mut out = String::new();
    if pull.is_empty() {
        return out;
    }
    let now_us = chrono::Utc::now().timestamp_micros();
    let statuses: Vec<_> = pull
        .iter()
        .map(|(org, s)| (org, s.status(now_us), s))
        .collect();
    type Value = fn(&insights_pull::OrgStatus, &insights_pull::PullStats) -> f64;
    let series: [(&str, &str, &str, Value); 9] = [
        (
            "insights_pull_events_total",
            "counter",
            "Events received from the DI API.",
            |s, _| s.counts.pulled as f64,
        ),
        (
            "insights_pull_stored_total",
            "counter",
            "Pulled events stored for the first time.",
            |s, _| s.counts.stored as f64,
        ),
        (
            "insights_pull_duplicates_total",
            "counter",
            "Pulled events already stored (the overlap), dropped.",
            |s, _| s.counts.duplicates as f64,
        ),
        (
            "insights_pull_quarantined_total",
            "counter",
            "Pulled events that did not decode, quarantined.",
            |s, _| s.counts.quarantined as f64,
        ),
        (
            "insights_pull_retries_total",
            "counter",
            "DI API requests retried (429, 5xx, resets, timeouts, broken pages).",
            |s, _| s.counts.retries as f64,
        ),
        (
            "insights_pull_failed_runs_total",
            "counter",
            "Pull runs that ended in an error.",
            |s, _| s.failed_runs as f64,
        ),
        (
            "insights_pull_last_success_timestamp_seconds",
            "gauge",
            "When the last pull run completed (0 before the first).",
            |_, s| s.last_success_us.load(Ordering::Relaxed) as f64 / 1e6,
        ),
        (
            "insights_pull_lag_seconds",
            "gauge",
            "How far the checkpoint (events before it are stored) is behind now.",
            |s, _| s.lag_seconds.unwrap_or(-1.0),
        ),
        (
            "insights_pull_error",
            "gauge",
            "1 while the last run of the organization failed.",
            |s, _| f64::from(u8::from(s.last_error.is_some())),
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (org, status, stats) in &statuses {
            let _ = writeln!(
                out,
                "{name}{{organization=\"{org}\"}} {}",
                value(status, stats)
            );
        }
    }
    out
}
