//! Responder enrichment: everything the events say about one user or one host of one
//! organization, in one call.
//!
//! The reads are arranged so that an answer costs about one scan of a few narrow columns of the
//! organization's window, however busy the subject is:
//! - a user's identity (its ids, and the names a rename gave it) is resolved first from the
//!   admin events about users, a scan that decodes its other columns only for directory events;
//! - one scan of the subject's events reads only typed columns, never `raw`, and folds them into
//!   counts, first/last times and tallies in any order;
//! - the raw JSON is read only for the few events whose details the report shows (the latest
//!   admin changes, commands, MDM results, attribute changes), fetched by id.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use insights_schemas::format_timestamp_us;

mod host;
mod rows;
mod user;

pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Recent admin changes, commands and MDM results listed per kind.
const RECENT_CHANGES: usize = 10;
/// Rows of each list (IPs, countries, devices, ...) at most.
const LIST_LIMIT: usize = 25;

/// The time window of an enrichment: `days` before `at`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub at_us: i64,
    pub days: u32,
}

impl Window {
    /// The most days a window may span.
    pub const MAX_DAYS: u32 = 3660;

    /// `days` (1 to [`Window::MAX_DAYS`]) before `at` (RFC 3339; default now). The error names
    /// the parameter (`days`, `at`) and the problem.
    pub fn ending(days: u32, at: Option<&str>) -> Result<Self, String> {
        let at_us = match at {
            Some(text) => insights_schemas::parse_timestamp_us(text)
                .ok_or_else(|| format!("at {text:?} is not an RFC 3339 date-time"))?,
            None => chrono::Utc::now().timestamp_micros(),
        };
        if !(1..=Self::MAX_DAYS).contains(&days) {
            return Err(format!("days must be between 1 and {}", Self::MAX_DAYS));
        }
        Ok(Self { at_us, days })
    }

    fn start_us(&self) -> i64 {
        self.at_us - i64::from(self.days) * MICROS_PER_DAY
    }
}

/// When something was last seen, and how.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Seen {
    pub time: String,
    pub event_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// A value seen with a count and first/last times.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Tally {
    pub value: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One admin change.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub time: String,
    pub event_type: String,
    /// Who made it (for changes to the subject) or what it touched (for changes by it).
    pub party: String,
    pub changes: Value,
}

/// Use of one service: events, failures, the last one.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ServiceUse {
    pub events: u64,
    pub failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// What the events say about a user.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserReport {
    pub searched: String,
    pub organization: String,
    pub window_days: u32,
    pub at: String,
    pub id: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    /// Attributes as last set by `user_create`/`user_update` changes.
    pub attributes: BTreeMap<String, Value>,
    /// `active`, `suspended`, `deleted`, `locked` or `unknown` (no state change in the window).
    pub state: String,
    pub state_since: Option<String>,
    pub mfa_seen: bool,
    pub events: u64,
    pub last_success: BTreeMap<String, Seen>,
    pub last_failure: BTreeMap<String, Seen>,
    pub failures_24h: u64,
    pub failures_7d: u64,
    pub client_ips: Vec<Tally>,
    pub countries: Vec<Tally>,
    pub devices: Vec<Tally>,
    pub applications: Vec<Tally>,
    pub radius: ServiceUse,
    pub ldap: ServiceUse,
    pub changes_to_user: Vec<Change>,
    pub changes_by_user: Vec<Change>,
    pub signals: Vec<String>,
    /// How many entries each list above has in all; a list shows at most its newest or
    /// busiest few ([`LIST_LIMIT`] tallies, [`RECENT_CHANGES`] changes).
    pub totals: BTreeMap<&'static str, u64>,
}

/// What the events say about a host.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostReport {
    pub searched: String,
    pub organization: String,
    pub window_days: u32,
    pub at: String,
    pub id: Option<String>,
    pub hostname: Option<String>,
    pub display_name: Option<String>,
    pub os: Option<String>,
    pub events: u64,
    pub users: Vec<Tally>,
    pub source_ips: Vec<Tally>,
    pub failed_logins: u64,
    pub last_failed_login: Option<Seen>,
    pub commands: Vec<Change>,
    pub mdm_results: Vec<Change>,
    pub admin_changes: Vec<Change>,
    pub last_activity: Option<String>,
    /// How many entries each list above has in all (see [`UserReport::totals`]).
    pub totals: BTreeMap<&'static str, u64>,
}

/// The latest of something by event time, whatever order rows come in.
#[derive(Debug)]
struct Latest<T> {
    at: i64,
    value: Option<T>,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Self {
            at: i64::MIN,
            value: None,
        }
    }
}

impl<T> Latest<T> {
    /// Keeps `make()` if `micros` is later than what is kept (ties keep the first).
    fn offer(&mut self, micros: i64, make: impl FnOnce() -> T) {
        if self.value.is_none() || micros > self.at {
            self.at = micros;
            self.value = Some(make());
        }
    }

    /// Like [`Latest::offer`], but a later offer overwrites the kept value in place, reusing
    /// its allocations: a subject's rows mostly come in time order, so nearly every row is
    /// the latest so far.
    fn offer_into(&mut self, micros: i64, make: impl FnOnce() -> T, set: impl FnOnce(&mut T)) {
        if self.value.is_none() || micros > self.at {
            self.at = micros;
            match &mut self.value {
                Some(value) => set(value),
                None => self.value = Some(make()),
            }
        }
    }

    fn into_value(self) -> Option<T> {
        self.value
    }
}

impl Latest<String> {
    /// Offers a text, copied into the kept string's buffer.
    fn offer_text(&mut self, micros: i64, text: &str) {
        self.offer_into(
            micros,
            || text.to_owned(),
            |kept| {
                kept.clear();
                kept.push_str(text);
            },
        );
    }
}

/// When something was last seen, before formatting.
#[derive(Debug, Clone)]
struct SeenAt {
    micros: i64,
    event_type: String,
    client_ip: Option<String>,
}

impl SeenAt {
    fn new(micros: i64, event_type: &str, client_ip: Option<&str>) -> Self {
        Self {
            micros,
            event_type: event_type.to_owned(),
            client_ip: client_ip.map(str::to_owned),
        }
    }

    /// Becomes another sign-in, reusing its strings' buffers.
    fn set(&mut self, micros: i64, event_type: &str, client_ip: Option<&str>) {
        self.micros = micros;
        self.event_type.clear();
        self.event_type.push_str(event_type);
        match (&mut self.client_ip, client_ip) {
            (Some(kept), Some(ip)) => {
                kept.clear();
                kept.push_str(ip);
            }
            (kept, ip) => *kept = ip.map(str::to_owned),
        }
    }

    /// Offers a sign-in as the latest of `latest`.
    fn offer(latest: &mut Latest<SeenAt>, micros: i64, event_type: &str, client_ip: Option<&str>) {
        latest.offer_into(
            micros,
            || SeenAt::new(micros, event_type, client_ip),
            |kept| kept.set(micros, event_type, client_ip),
        );
    }

    fn report(self) -> Seen {
        Seen {
            time: format_timestamp_us(self.micros),
            event_type: self.event_type,
            client_ip: self.client_ip,
        }
    }
}

#[derive(Debug)]
struct TallyEntry {
    count: u64,
    first: i64,
    last: i64,
    detail: Option<String>,
    detail_at: i64,
}

/// Counts with first/last times, ordered by count; rows may come in any order. Hashed with
/// foldhash: a busy subject's fold looks up a value or two for each of its events.
#[derive(Default)]
struct Tallies(foldhash::HashMap<String, TallyEntry>);

impl Tallies {
    fn add(&mut self, value: &str, micros: i64, detail: Option<&str>) {
        let entry = match self.0.get_mut(value) {
            Some(entry) => entry,
            None => self.0.entry(value.to_owned()).or_insert(TallyEntry {
                count: 0,
                first: micros,
                last: micros,
                detail: None,
                detail_at: i64::MIN,
            }),
        };
        entry.count += 1;
        entry.first = entry.first.min(micros);
        entry.last = entry.last.max(micros);
        if let Some(detail) = detail
            && micros >= entry.detail_at
        {
            entry.detail_at = micros;
            if entry.detail.as_deref() != Some(detail) {
                entry.detail = Some(detail.to_owned());
            }
        }
    }

    /// The [`LIST_LIMIT`] most frequent values, and how many values there are in all.
    fn list(self) -> (Vec<Tally>, u64) {
        let mut list: Vec<(String, TallyEntry)> = self.0.into_iter().collect();
        let total = list.len() as u64;
        list.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        list.truncate(LIST_LIMIT);
        let list = list
            .into_iter()
            .map(|(value, entry)| Tally {
                value,
                count: entry.count,
                first_seen: format_timestamp_us(entry.first),
                last_seen: format_timestamp_us(entry.last),
                detail: entry.detail,
            })
            .collect();
        (list, total)
    }
}

/// Whether an event is a sign-in (as opposed to an admin change or a device event).
fn is_auth(service: &str, event_type: &str) -> bool {
    matches!(service, "sso" | "radius" | "ldap" | "systems") && !event_type.starts_with("system_")
        || event_type.contains("login")
}

/// The `changes` of a raw event, or null.
fn changes_of(event: Option<&Value>) -> Value {
    event
        .and_then(|event| event.get("changes").cloned())
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_keep_first_last_and_latest_detail_in_any_order() {
        let mut tallies = Tallies::default();
        tallies.add("1.1.1.1", 30, Some("DE"));
        tallies.add("1.1.1.1", 10, Some("US"));
        tallies.add("2.2.2.2", 20, None);
        let (list, total) = tallies.list();
        assert_eq!(total, 2);
        assert_eq!(list[0].value, "1.1.1.1");
        assert_eq!(list[0].count, 2);
        assert_eq!(list[0].first_seen, format_timestamp_us(10));
        assert_eq!(list[0].last_seen, format_timestamp_us(30));
        assert_eq!(list[0].detail.as_deref(), Some("DE"));
        assert_eq!(list[1].detail, None);
    }

    #[test]
    fn tallies_list_the_busiest_and_count_them_all() {
        let mut tallies = Tallies::default();
        for user in 0..LIST_LIMIT + 5 {
            for at in 0..=user {
                tallies.add(&format!("user{user:03}"), i64::try_from(at).unwrap(), None);
            }
        }
        let (list, total) = tallies.list();
        assert_eq!(list.len(), LIST_LIMIT);
        assert_eq!(total, LIST_LIMIT as u64 + 5);
        assert_eq!(list[0].value, format!("user{:03}", LIST_LIMIT + 4));
    }

    #[test]
    fn latest_keeps_the_newest_offer() {
        let mut latest = Latest::default();
        latest.offer(5, || "b");
        latest.offer(3, || "a");
        latest.offer(7, || "c");
        latest.offer(7, || "d");
        assert_eq!(latest.into_value(), Some("c"));
    }
}
