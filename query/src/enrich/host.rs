//! `enrich_host`: a host's identity, who signed in to it and from where, its commands, MDM
//! results and admin changes.

use std::collections::{BTreeMap, HashMap};

use datafusion::prelude::{Expr, col, lit};
use serde_json::Value;

use insights_schemas::{column, format_timestamp_us};

use super::rows::{Col, Key, Rows, at_times, newest};
use super::{
    Change, HostReport, Latest, RECENT_CHANGES, SeenAt, Tallies, Window, changes_of, is_auth,
};
use crate::case_fold::matches_any;
use crate::engine::QueryEngine;
use crate::error::{Error, Result};

/// Kinds of host events whose details the report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Detail {
    Command,
    Mdm,
    Admin,
    /// Other device events (upgrades, disk keys, sessions): read only for the OS and names.
    Device,
}

/// The columns [`Fold::add`] reads over the whole window: every column a scan decodes costs
/// time for every page that holds some of the host's events. The unique `id` is not among
/// them (decoding it cost as much as the other columns together): the details' ids are read
/// afterwards, at the details' times only (`identify_details`).
const READS: [Col; 10] = [
    Col::Service,
    Col::EventType,
    Col::ClientIp,
    Col::Username,
    Col::InitiatedByEmail,
    Col::ResourceId,
    Col::ResourceType,
    Col::SystemId,
    Col::SystemHostname,
    Col::Country,
];

type Details = HashMap<Detail, Vec<(Key, (String, String))>>;

#[derive(Default)]
struct Fold {
    events: u64,
    last_activity: Latest<()>,
    id: Latest<String>,
    hostname: Latest<String>,
    users: Tallies,
    ips: Tallies,
    failed_logins: u64,
    last_failed: Latest<SeenAt>,
    /// The newest items of each kind (their keys hold no id when the scan read none).
    details: Details,
    /// How many items of each kind there are in all.
    detail_totals: HashMap<Detail, u64>,
}

impl Fold {
    fn add(&mut self, rows: &Rows, row: usize) {
        self.events += 1;
        let micros = rows.micros(row);
        let text = |col| rows.text(col, row);
        self.last_activity.offer(micros, || ());
        let service = text(Col::Service).unwrap_or_default();
        let event_type = text(Col::EventType).unwrap_or_default();
        if let Some(id) = text(Col::SystemId)
            .or(text(Col::ResourceId).filter(|_| text(Col::ResourceType) == Some("system")))
        {
            self.id.offer_text(micros, id);
        }
        if let Some(host) = text(Col::SystemHostname) {
            self.hostname.offer_text(micros, host);
        }
        let party = || {
            text(Col::InitiatedByEmail)
                .or(text(Col::Username))
                .unwrap_or("system")
                .to_owned()
        };
        let detail = if event_type.starts_with("command")
            || event_type.contains("command_result") && service != "mdm"
        {
            Some((Detail::Command, party()))
        } else if service == "mdm" {
            Some((Detail::Mdm, "mdm".to_owned()))
        } else if service == "directory" && text(Col::ResourceType) == Some("system") {
            Some((Detail::Admin, party()))
        } else if !is_auth(service, event_type) {
            Some((Detail::Device, party()))
        } else {
            None
        };
        if let Some((kind, party)) = detail {
            *self.detail_totals.entry(kind).or_default() += 1;
            let items = self.details.entry(kind).or_default();
            items.push((rows.key(row), (event_type.to_owned(), party)));
            // Only the newest few are listed: keep the list short as it grows.
            if items.len() >= 4 * RECENT_CHANGES {
                *items = newest(std::mem::take(items), RECENT_CHANGES);
            }
            return;
        }
        let ip = text(Col::ClientIp);
        if let Some(ip) = ip {
            self.ips.add(ip, micros, text(Col::Country));
        }
        match rows.success(row) {
            Some(true) => {
                if let Some(user) = text(Col::Username) {
                    self.users.add(user, micros, None);
                }
            }
            Some(false) => {
                self.failed_logins += 1;
                SeenAt::offer(&mut self.last_failed, micros, event_type, ip);
            }
            None => {}
        }
    }
}

/// The events of a host known by hostname (any case) or system id.
fn host_filter(name: &str, id: &str) -> Expr {
    matches_any(col(column::SYSTEM_HOSTNAME), [name])
        .or(col(column::SYSTEM_ID).eq(lit(id.to_owned())))
        .or(col(column::RESOURCE_TYPE).eq(lit("system")).and(
            matches_any(col(column::RESOURCE_NAME), [name])
                .or(col(column::RESOURCE_ID).eq(lit(id.to_owned()))),
        ))
}

impl QueryEngine {
    async fn fold_host(&self, organization: &str, window: Window, filter: Expr) -> Result<Fold> {
        let mut fold = Fold::default();
        self.fold_rows(organization, window, filter, Some(&READS), |rows, row| {
            fold.add(rows, row)
        })
        .await?;
        Ok(fold)
    }

    /// The newest [`RECENT_CHANGES`] details of each kind, with their ids, and their events.
    /// `found` holds the newest items by time as a scan without ids kept them (ties in any
    /// order); the host's rows at exactly those times are read again with their ids and JSON
    /// and ranked by (time, id), which gives the same items as a scan that had read every id.
    async fn identify_details(
        &self,
        organization: &str,
        window: Window,
        filter: &Expr,
        found: Details,
    ) -> Result<(Details, HashMap<Key, Value>)> {
        let mut times: Vec<i64> = found
            .into_values()
            .flat_map(|items| newest(items, RECENT_CHANGES))
            .map(|(key, _)| key.micros)
            .collect();
        times.sort_unstable();
        times.dedup();
        // The look reads the id and the event's JSON besides the scan's columns.
        let reads: Vec<Col> = [Col::Id, Col::Raw].into_iter().chain(READS).collect();
        // One look at all the times.
        let Some(at) = at_times(&times) else {
            return Ok((Details::new(), HashMap::new()));
        };
        let mut look = Fold::default();
        let mut events = HashMap::new();
        self.fold_rows(
            organization,
            window,
            filter.clone().and(at),
            Some(&reads),
            |rows, row| {
                look.add(rows, row);
                if let Some(event) = rows
                    .text(Col::Raw, row)
                    .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
                {
                    events.insert(rows.key(row), event);
                }
            },
        )
        .await?;
        let details: Details = look
            .details
            .into_iter()
            .map(|(kind, items)| (kind, newest(items, RECENT_CHANGES)))
            .collect();
        let shown: std::collections::HashSet<&Key> =
            details.values().flatten().map(|(key, _)| key).collect();
        events.retain(|key, _| shown.contains(key));
        Ok((details, events))
    }

    /// Enriches a host known by hostname, display name or system id.
    pub async fn enrich_host(
        &self,
        organization: &str,
        which: &str,
        window: Window,
    ) -> Result<HostReport> {
        let searched = which.trim().to_owned();
        let name = searched.to_lowercase();
        let mut filter = host_filter(&name, &searched);
        let mut fold = self.fold_host(organization, window, filter.clone()).await?;
        if fold.events == 0
            && let Some(id) = self
                .resource_id_by(organization, "system", "displayName", &name, window)
                .await?
        {
            filter = col(column::SYSTEM_ID)
                .eq(lit(id.as_str()))
                .or(col(column::RESOURCE_TYPE)
                    .eq(lit("system"))
                    .and(col(column::RESOURCE_ID).eq(lit(id.as_str()))));
            fold = self.fold_host(organization, window, filter.clone()).await?;
        }
        if fold.events == 0 {
            return Err(Error::NotFound(format!(
                "no host {searched:?} (searched hostnames, display names and system ids) in organization {organization} in the {} days before {}",
                window.days,
                format_timestamp_us(window.at_us)
            )));
        }
        let (mut details, raw) = self
            .identify_details(
                organization,
                window,
                &filter,
                std::mem::take(&mut fold.details),
            )
            .await?;
        // The display name and OS as the newest read event that carries them tells.
        let mut read: Vec<(&Key, &Value)> = raw.iter().collect();
        read.sort_by(|a, b| b.0.cmp(a.0));
        let newest_text = |pointers: &[&str]| {
            read.iter().find_map(|(_, event)| {
                pointers
                    .iter()
                    .find_map(|pointer| event.pointer(pointer).and_then(Value::as_str))
                    .map(str::to_owned)
            })
        };
        let display_name = newest_text(&["/resource/displayName", "/system/displayName"]);
        let os = newest_text(&["/system/os", "/resource/os", "/os"]);

        let mut list = |kind: Detail, value: &dyn Fn(Option<&Value>) -> Value| -> Vec<Change> {
            details
                .remove(&kind)
                .unwrap_or_default()
                .into_iter()
                .map(|(key, (event_type, party))| Change {
                    time: format_timestamp_us(key.micros),
                    changes: value(raw.get(&key)),
                    event_type,
                    party,
                })
                .collect()
        };
        let commands = list(Detail::Command, &|event| {
            event
                .and_then(|e| {
                    e.get("command_result")
                        .or(e.get("result"))
                        .or(e.get("exit_code"))
                        .cloned()
                })
                .unwrap_or(Value::Null)
        });
        let mdm_results = list(Detail::Mdm, &|event| {
            event
                .and_then(|e| e.get("status").cloned())
                .unwrap_or(Value::Null)
        });
        let admin_changes = list(Detail::Admin, &changes_of);
        let (users, users_total) = std::mem::take(&mut fold.users).list();
        let (source_ips, ips_total) = std::mem::take(&mut fold.ips).list();
        let detail_total = |kind| fold.detail_totals.get(&kind).copied().unwrap_or(0);
        let totals = BTreeMap::from([
            ("users", users_total),
            ("source_ips", ips_total),
            ("commands", detail_total(Detail::Command)),
            ("mdm_results", detail_total(Detail::Mdm)),
            ("admin_changes", detail_total(Detail::Admin)),
        ]);
        Ok(HostReport {
            searched,
            organization: organization.to_owned(),
            window_days: window.days,
            at: format_timestamp_us(window.at_us),
            id: fold.id.into_value(),
            hostname: fold.hostname.into_value(),
            display_name,
            os,
            events: fold.events,
            users,
            source_ips,
            failed_logins: fold.failed_logins,
            last_failed_login: fold.last_failed.into_value().map(SeenAt::report),
            commands,
            mdm_results,
            admin_changes,
            last_activity: (fold.last_activity.at > i64::MIN)
                .then(|| format_timestamp_us(fold.last_activity.at)),
            totals,
        })
    }
}
