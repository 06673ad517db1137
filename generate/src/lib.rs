//! Synthetic JumpCloud Directory Insights events for `insights generate`.
//!
//! [`generate`] writes NDJSON shaped like what the DI API returns, for demos, load tests and
//! benchmarks. Sign-ins (User Portal, SSO applications, devices, RADIUS, LDAP) dominate; admin
//! changes, MDM command results, software and the smaller services fill in the rest. The output
//! keeps the quirks of real events that the DI API reference leaves out: `sso_auth` carries
//! `sso_token_success` and no `success`, `radius_auth_attempt` ids are upper-case UUIDs,
//! timestamps have 0, 3, 6, 8 or 9 fractional digits, `changes[].from/to` take any JSON type,
//! MDM events use `mdm_device_id` and the misspelled `payload_verion` (some are several KB),
//! `provider` is `null` in some services and `""` in others, `user_agent` replaces `useragent`
//! in some services, and `auth_method` includes `"api key"` and `"other"`.
//!
//! Users, hosts and client IPs are Zipf-distributed per organization; their attributes are
//! derived by hashing (organization, rank), so no per-organization tables are kept. Events are
//! spread evenly over the days and emitted in time order, except ~1% that arrive 1–30 minutes
//! late. Brute-force bursts (20–200 failed sign-ins from 185.220.101.x within ~2 minutes) are
//! merged into the stream.
//!
//! The output is a pure function of [`GenerateOptions`]: a self-contained xoshiro256**
//! generator, Zipf weights computed with `sqrt` only (correctly rounded, so the same bits on
//! every platform) and hand-written formatting keep the bytes identical across runs and
//! releases. Changing a table or the order of draws here changes the output; treat such an
//! edit like a format change.

mod auth;
mod catalogue;
mod device;
mod directory;
mod entities;
mod generator;
mod json;
mod rng;
mod services;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

use chrono::NaiveDate;

use generator::Generator;

/// Options of `insights generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of events (lines) to write.
    pub events: u64,
    /// Days covered from `start` 00:00 UTC (taken as at least 1 and at most 36,500).
    pub days: u32,
    /// Distinct organizations (taken as at least 1 and at most 100,000); the first is busiest.
    pub orgs: u32,
    /// Seed of the pseudo-random generator.
    pub seed: u64,
    /// First day covered.
    pub start: NaiveDate,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            events: 10_000,
            days: 30,
            orgs: 1,
            seed: 42,
            start: DEFAULT_START,
        }
    }
}

const DEFAULT_START: NaiveDate = match NaiveDate::from_ymd_opt(2026, 10, 1) {
    Some(date) => date,
    None => panic!("invalid default start date"),
};

/// Writes `opts.events` NDJSON lines (one DI event per line, '\n'-terminated) to `out`; returns
/// how many were written.
pub fn generate(opts: &GenerateOptions, out: &mut dyn Write) -> io::Result<u64> {
    let mut generator = Generator::new(opts)?;
    let mut chunk = Vec::with_capacity(CHUNK + 64 * 1024);
    for _ in 0..opts.events {
        generator.event(&mut chunk);
        if chunk.len() >= CHUNK {
            out.write_all(&chunk)?;
            chunk.clear();
        }
    }
    out.write_all(&chunk)?;
    out.flush()?;
    Ok(opts.events)
}

const NS: i64 = 1_000_000_000;
/// Bytes collected before each write to the caller's writer.
const CHUNK: usize = 1 << 20;
const MAX_DAYS: u32 = 36_500;
const MAX_ORGS: u32 = 100_000;
const USERS: usize = 2_000;
const HOSTS: usize = 500;
const IPS: usize = 3_000;
/// Share of events that arrive 1–30 minutes late, per 10,000.
const LATE_PER_10K: u64 = 100;
/// Share of ordinary sign-ins that fail, per 10,000 (bursts add their own failures).
const FAIL_PER_10K: u64 = 380;
