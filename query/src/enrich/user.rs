//! `enrich_user`: a user's identity, state, sign-ins, places, devices, applications and the
//! admin changes to it and by it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use datafusion::prelude::{Expr, col, in_list, lit};
use serde_json::Value;

use insights_schemas::{column, format_timestamp_us};

use super::rows::{Col, Key, Rows, newest};
use super::{
    Change, Latest, MICROS_PER_DAY, RECENT_CHANGES, SeenAt, ServiceUse, Tallies, UserReport,
    Window, changes_of, is_auth,
};
use crate::case_fold::{matches, matches_any};
use crate::engine::QueryEngine;
use crate::error::{Error, Result};

/// Rounds of identity resolution: each may reveal more ids or names of the same user.
const IDENTITY_ROUNDS: usize = 3;
/// The newest `user_create`/`user_update` events read for renames in each round.
const RENAME_EVENTS: usize = 20;
/// Names (searched, former and current usernames and e-mails) followed at most.
const MAX_NAMES: usize = 8;
/// The newest admin events about the user whose changes make its attributes.
const ATTRIBUTE_EVENTS: usize = 200;

/// What a user is known by: lower-case names and exact ids.
struct Identity {
    names: Vec<String>,
    ids: BTreeSet<String>,
}

impl Identity {
    fn ids(&self) -> Vec<Expr> {
        self.ids.iter().map(|id| lit(id.as_str())).collect()
    }

    /// Admin events about the user.
    fn about(&self) -> Expr {
        col(column::RESOURCE_TYPE).eq(lit("user")).and(
            in_list(col(column::RESOURCE_ID), self.ids(), false)
                .or(matches_any(col(column::RESOURCE_NAME), &self.names)),
        )
    }

    /// Events the user took part in, as actor or as the subject of a change.
    fn any(&self) -> Expr {
        matches_any(col(column::USERNAME), &self.names)
            .or(matches_any(col(column::INITIATED_BY_EMAIL), &self.names))
            .or(in_list(col(column::INITIATED_BY_ID), self.ids(), false))
            .or(self.about())
    }

    fn is_about(&self, rows: &Rows, row: usize) -> bool {
        rows.text(Col::ResourceType, row) == Some("user")
            && (rows
                .text(Col::ResourceId, row)
                .is_some_and(|id| self.ids.contains(id))
                || rows
                    .text(Col::ResourceName, row)
                    .is_some_and(|name| matches(name, &self.names)))
    }

    fn add_name(&mut self, name: &str) -> bool {
        let name = name.to_lowercase();
        if self.names.len() >= MAX_NAMES || self.names.contains(&name) {
            return false;
        }
        self.names.push(name);
        true
    }
}

/// What a round of identity resolution saw in the admin events about the user: resource ids
/// not yet known, and the rename events among them.
#[derive(Default)]
struct Growth {
    ids: BTreeSet<String>,
    renames: Vec<(Key, ())>,
}

impl Growth {
    /// Takes in a row if it is a directory event about the user.
    fn see(&mut self, identity: &Identity, rows: &Rows, row: usize) {
        if rows.text(Col::Service, row) != Some("directory") || !identity.is_about(rows, row) {
            return;
        }
        if let Some(id) = rows.text(Col::ResourceId, row)
            && !identity.ids.contains(id)
            && !self.ids.contains(id)
        {
            self.ids.insert(id.to_owned());
        }
        if rows.text(Col::EventType, row).is_some_and(is_rename_event) {
            self.renames.push((rows.key(row), ()));
        }
    }
}

/// The usernames and e-mails a change list gives the user (both sides of a rename).
fn names_in(changes: &Value) -> Vec<&str> {
    let Value::Array(items) = changes else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|change| {
            matches!(
                change.get("field").and_then(Value::as_str),
                Some("username" | "email")
            )
        })
        .flat_map(|change| ["to", "from"].map(|side| change.get(side).and_then(Value::as_str)))
        .flatten()
        .collect()
}

/// A user-state change in the window.
fn state_of(event_type: &str) -> Option<&'static str> {
    match event_type {
        "user_suspended" => Some("suspended"),
        "user_unsuspended" | "user_create" | "user_unlocked" => Some("active"),
        "user_delete" => Some("deleted"),
        "user_lockout" => Some("locked"),
        _ => None,
    }
}

fn is_rename_event(event_type: &str) -> bool {
    matches!(event_type, "user_create" | "user_update")
}

/// The user's events folded, before the raw details are read.
#[derive(Default)]
struct Fold {
    events: u64,
    id: Latest<String>,
    actor_id: Latest<String>,
    username: Latest<String>,
    email: Latest<String>,
    actor_email: Latest<String>,
    actor_username: Latest<String>,
    mfa_seen: bool,
    states: Vec<(i64, &'static str)>,
    /// Admin events about the user: their type and who made them.
    to_user: Vec<(Key, (String, String))>,
    by_user: Vec<(Key, (String, String))>,
    last_success: HashMap<String, Latest<SeenAt>>,
    last_failure: HashMap<String, Latest<SeenAt>>,
    success_times: Vec<i64>,
    failures_24h: u64,
    failures_7d: u64,
    failure_ips_24h: BTreeSet<String>,
    ips: Tallies,
    countries: Tallies,
    devices: Tallies,
    apps: Tallies,
    countries_last_day: BTreeSet<String>,
    countries_before: BTreeSet<String>,
    radius: (ServiceUse, i64),
    ldap: (ServiceUse, i64),
}

impl Fold {
    fn add(&mut self, who: &Identity, rows: &Rows, row: usize, window: Window) {
        self.events += 1;
        let micros = rows.micros(row);
        let text = |col| rows.text(col, row);
        let service = text(Col::Service).unwrap_or_default();
        let event_type = text(Col::EventType).unwrap_or_default();
        if who.is_about(rows, row) {
            if let Some(id) = text(Col::ResourceId) {
                self.id.offer_text(micros, id);
            }
            if let Some(name) = text(Col::ResourceName) {
                let slot = if name.contains('@') {
                    &mut self.email
                } else {
                    &mut self.username
                };
                slot.offer_text(micros, name);
            }
            if let Some(state) = state_of(event_type) {
                self.states.push((micros, state));
            }
            let party = text(Col::InitiatedByEmail)
                .or(text(Col::Username))
                .unwrap_or("system")
                .to_owned();
            self.to_user
                .push((rows.key(row), (event_type.to_owned(), party)));
            return;
        }
        // The user acted.
        if text(Col::InitiatedByType) == Some("user")
            && let Some(id) = text(Col::InitiatedById)
        {
            self.actor_id.offer_text(micros, id);
        }
        if let Some(email) = text(Col::InitiatedByEmail) {
            self.actor_email.offer_text(micros, email);
        }
        if let Some(name) = text(Col::Username).filter(|u| !u.contains('@')) {
            self.actor_username.offer_text(micros, name);
        }
        if rows.mfa(row) == Some(true) {
            self.mfa_seen = true;
        }
        if service == "directory" && !event_type.contains("login") {
            let target = format!(
                "{} {}",
                text(Col::ResourceType).unwrap_or("?"),
                text(Col::ResourceName)
                    .or(text(Col::ResourceId))
                    .unwrap_or("?")
            );
            self.by_user
                .push((rows.key(row), (event_type.to_owned(), target)));
            return;
        }
        if !is_auth(service, event_type) {
            return;
        }
        let ip = text(Col::ClientIp);
        let country = text(Col::Country);
        if let Some(ip) = ip {
            self.ips.add(ip, micros, country);
        }
        let day_ago = window.at_us - MICROS_PER_DAY;
        if let Some(country) = country {
            self.countries.add(country, micros, None);
            let seen = if micros >= day_ago {
                &mut self.countries_last_day
            } else {
                &mut self.countries_before
            };
            if !seen.contains(country) {
                seen.insert(country.to_owned());
            }
        }
        let success = rows.success(row);
        match success {
            Some(true) => {
                offer_seen(&mut self.last_success, service, micros, event_type, ip);
                self.success_times.push(micros);
                if service == "systems"
                    && let Some(host) = text(Col::SystemHostname)
                {
                    self.devices.add(host, micros, text(Col::SystemId));
                }
                if service == "sso"
                    && let Some(app) = text(Col::ApplicationName)
                {
                    self.apps.add(app, micros, None);
                }
            }
            Some(false) => {
                offer_seen(&mut self.last_failure, service, micros, event_type, ip);
                if micros >= day_ago {
                    self.failures_24h += 1;
                    if let Some(ip) = ip
                        && !self.failure_ips_24h.contains(ip)
                    {
                        self.failure_ips_24h.insert(ip.to_owned());
                    }
                }
                if micros >= window.at_us - 7 * MICROS_PER_DAY {
                    self.failures_7d += 1;
                }
            }
            None => {}
        }
        let usage = match service {
            "radius" => Some(&mut self.radius),
            "ldap" => Some(&mut self.ldap),
            _ => None,
        };
        if let Some((usage, last)) = usage {
            usage.events += 1;
            usage.failures += u64::from(success == Some(false));
            *last = (*last).max(micros);
        }
    }
}

/// Offers a sign-in as the latest of its service.
fn offer_seen(
    map: &mut HashMap<String, Latest<SeenAt>>,
    service: &str,
    micros: i64,
    event_type: &str,
    ip: Option<&str>,
) {
    let latest = match map.get_mut(service) {
        Some(latest) => latest,
        None => map.entry(service.to_owned()).or_default(),
    };
    SeenAt::offer(latest, micros, event_type, ip);
}

fn usage((mut usage, last): (ServiceUse, i64)) -> ServiceUse {
    if usage.events > 0 {
        usage.last = Some(format_timestamp_us(last));
    }
    usage
}

impl QueryEngine {
    /// Enriches a user known by username, e-mail or id.
    pub async fn enrich_user(
        &self,
        organization: &str,
        who: &str,
        window: Window,
    ) -> Result<UserReport> {
        let searched = who.trim().to_owned();
        let mut identity = Identity {
            names: vec![searched.to_lowercase()],
            ids: BTreeSet::from([searched.clone()]),
        };
        // An e-mail is a column only where the user acted; admin events name it in
        // `resource.email`, so resolve it to the user's id first.
        if searched.contains('@')
            && let Some(id) = self
                .resource_id_by(
                    organization,
                    "user",
                    "email",
                    &searched.to_lowercase(),
                    window,
                )
                .await?
        {
            identity.ids.insert(id);
        }
        let started = std::time::Instant::now();
        let mut raw: HashMap<Key, Value> = HashMap::new();
        // The first round reads only the admin events about users. The fold of the user's
        // events reads them as well, so it is the next round: only when it grows the identity
        // do the remaining rounds run and the fold run again.
        self.resolve_identity(organization, window, &mut identity, &mut raw, 1)
            .await?;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            names = identity.names.len(),
            ids = identity.ids.len(),
            "enrichment: identity resolved"
        );
        // Whether the next fold is also the second round.
        let mut round = true;
        let mut fold = loop {
            let mut fold = Fold::default();
            let mut growth = Growth::default();
            self.fold_rows(organization, window, identity.any(), None, |rows, row| {
                if round {
                    growth.see(&identity, rows, row);
                }
                fold.add(&identity, rows, row, window)
            })
            .await?;
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                events = fold.events,
                "enrichment: events folded"
            );
            if !round
                || !self
                    .grow_identity(organization, window, &mut identity, &mut raw, growth)
                    .await?
            {
                break fold;
            }
            // The fold was a round that grew the identity: the rounds left run over the admin
            // events alone (the first round and this fold were two), and the next fold is the last.
            self.resolve_identity(
                organization,
                window,
                &mut identity,
                &mut raw,
                IDENTITY_ROUNDS - 2,
            )
            .await?;
            round = false;
        };
        if fold.events == 0 {
            return Err(Error::NotFound(format!(
                "no user {searched:?} (searched usernames, e-mails and ids) in organization {organization} in the {} days before {}",
                window.days,
                format_timestamp_us(window.at_us)
            )));
        }

        let changes_to_user_total = fold.to_user.len() as u64;
        let changes_by_user_total = fold.by_user.len() as u64;
        let mut to_user = newest(std::mem::take(&mut fold.to_user), ATTRIBUTE_EVENTS);
        let by_user = newest(std::mem::take(&mut fold.by_user), RECENT_CHANGES);
        let keys = to_user.iter().chain(&by_user).map(|(key, _)| key);
        let read = self.read_raw(organization, window, keys, &mut raw).await?;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            events = read,
            "enrichment: raw details read"
        );

        let mut attributes = BTreeMap::new();
        for (key, _) in to_user.iter().rev() {
            if let Value::Array(items) = changes_of(raw.get(key)) {
                for change in items {
                    if let (Some(field), Some(to)) = (
                        change.get("field").and_then(Value::as_str),
                        change.get("to"),
                    ) {
                        attributes.insert(field.to_owned(), to.clone());
                    }
                }
            }
        }
        to_user.truncate(RECENT_CHANGES);
        let change = |(key, (event_type, party)): (Key, (String, String))| Change {
            time: format_timestamp_us(key.micros),
            changes: changes_of(raw.get(&key)),
            event_type,
            party,
        };

        fold.states.sort_unstable();
        let mut logins_while_suspended = 0u64;
        if fold
            .states
            .iter()
            .any(|(_, s)| matches!(*s, "suspended" | "deleted"))
        {
            fold.success_times.sort_unstable();
            let mut states = fold.states.iter().peekable();
            let mut suspended = false;
            for micros in &fold.success_times {
                while let Some((at, state)) = states.peek() {
                    if at > micros {
                        break;
                    }
                    suspended = matches!(*state, "suspended" | "deleted");
                    states.next();
                }
                logins_while_suspended += u64::from(suspended);
            }
        }
        let (state, state_since) = match fold.states.last() {
            Some((micros, state)) => ((*state).to_owned(), Some(format_timestamp_us(*micros))),
            None => ("unknown".to_owned(), None),
        };

        let mut signals = Vec::new();
        if fold.failure_ips_24h.len() >= 3 {
            signals.push(format!(
                "failed logins from {} client IPs in the last 24 hours",
                fold.failure_ips_24h.len()
            ));
        }
        if fold.failures_24h >= 10 {
            signals.push(format!(
                "{} failed logins in the last 24 hours",
                fold.failures_24h
            ));
        }
        let new: Vec<&str> = fold
            .countries_last_day
            .difference(&fold.countries_before)
            .map(String::as_str)
            .collect();
        if !new.is_empty() && !fold.countries_before.is_empty() {
            signals.push(format!(
                "logins from a new country in the last 24 hours: {}",
                new.join(", ")
            ));
        }
        if logins_while_suspended > 0 {
            signals.push(format!(
                "{logins_while_suspended} successful logins after the user was suspended or deleted"
            ));
        }
        let seen = |map: HashMap<String, Latest<SeenAt>>| {
            map.into_iter()
                .filter_map(|(service, latest)| latest.into_value().map(|s| (service, s.report())))
                .collect()
        };
        let (client_ips, ips_total) = std::mem::take(&mut fold.ips).list();
        let (countries, countries_total) = std::mem::take(&mut fold.countries).list();
        let (devices, devices_total) = std::mem::take(&mut fold.devices).list();
        let (applications, applications_total) = std::mem::take(&mut fold.apps).list();
        let totals = BTreeMap::from([
            ("client_ips", ips_total),
            ("countries", countries_total),
            ("devices", devices_total),
            ("applications", applications_total),
            ("changes_to_user", changes_to_user_total),
            ("changes_by_user", changes_by_user_total),
        ]);
        Ok(UserReport {
            searched,
            organization: organization.to_owned(),
            window_days: window.days,
            at: format_timestamp_us(window.at_us),
            id: fold.id.into_value().or(fold.actor_id.into_value()),
            username: fold
                .username
                .into_value()
                .or(fold.actor_username.into_value()),
            email: fold.email.into_value().or(fold.actor_email.into_value()),
            attributes,
            state,
            state_since,
            mfa_seen: fold.mfa_seen,
            events: fold.events,
            last_success: seen(fold.last_success),
            last_failure: seen(fold.last_failure),
            failures_24h: fold.failures_24h,
            failures_7d: fold.failures_7d,
            client_ips,
            countries,
            devices,
            applications,
            radius: usage(fold.radius),
            ldap: usage(fold.ldap),
            changes_to_user: to_user.into_iter().map(change).collect(),
            changes_by_user: by_user.into_iter().map(change).collect(),
            signals,
            totals,
        })
    }

    /// Grows the user's ids and names from the admin events about it: their resource ids, and
    /// both sides of the renames in its newest `user_create`/`user_update` events. Only
    /// directory events are decoded beyond their service and resource type. Runs at most
    /// `rounds` rounds, fewer once one finds nothing new.
    async fn resolve_identity(
        &self,
        organization: &str,
        window: Window,
        identity: &mut Identity,
        raw: &mut HashMap<Key, Value>,
        rounds: usize,
    ) -> Result<()> {
        for _ in 0..rounds {
            let filter = col(column::SERVICE)
                .eq(lit("directory"))
                .and(identity.about());
            let reads = [
                Col::Id,
                Col::Service,
                Col::EventType,
                Col::ResourceId,
                Col::ResourceType,
                Col::ResourceName,
            ];
            let mut growth = Growth::default();
            self.fold_rows(organization, window, filter, Some(&reads), |rows, row| {
                growth.see(identity, rows, row)
            })
            .await?;
            if !self
                .grow_identity(organization, window, identity, raw, growth)
                .await?
            {
                break;
            }
        }
        Ok(())
    }

    /// Adds what a round saw to the identity: the new ids, and the names in its newest
    /// [`RENAME_EVENTS`] renames (their raw events read into `raw`). Answers whether it grew.
    async fn grow_identity(
        &self,
        organization: &str,
        window: Window,
        identity: &mut Identity,
        raw: &mut HashMap<Key, Value>,
        growth: Growth,
    ) -> Result<bool> {
        let mut grew = false;
        for id in growth.ids {
            grew |= identity.ids.insert(id);
        }
        let renames = newest(growth.renames, RENAME_EVENTS);
        let keys = renames.iter().map(|(key, _)| key);
        let read = self.read_raw(organization, window, keys, raw).await?;
        tracing::debug!(about = renames.len(), read, "enrichment: identity round");
        for (key, ()) in &renames {
            if let Some(changes) = raw.get(key).and_then(|event| event.get("changes")) {
                for name in names_in(changes) {
                    grew |= identity.add_name(name);
                }
            }
        }
        Ok(grew)
    }
}
