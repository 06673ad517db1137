//! Responder enrichment: everything the events say about one user or one host of one
//! organization, in one call.
//!
//! One scan of the organization's window (the `username`, `initiated_by_*`, `resource_*` and
//! `system_*` columns, so the `raw` JSON is read only for admin changes) finds the subject's
//! events; a user renamed inside the window is followed under every name and id the changes
//! reveal. The rows are then folded in memory into the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::functions::expr_fn::lower;
use datafusion::prelude::{Expr, col, in_list, lit, when};
use futures::TryStreamExt;
use serde::Serialize;
use serde_json::Value;

use insights_schemas::{column, format_timestamp_us};

use crate::engine::{QueryEngine, Scope};
use crate::error::{Error, Result};
use crate::fields::timestamp_lit;
use crate::filter;

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Recent admin changes listed per direction.
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
}

/// The columns an enrichment reads; `raw` only for directory (admin) and MDM events.
/// The column the subject's admin and MDM events carry their raw event in.
const DETAILS: &str = "details";

fn columns() -> Vec<Expr> {
    let mut columns: Vec<Expr> = [column::TIMESTAMP, column::SUCCESS, "mfa"]
        .into_iter()
        .chain(TEXT_COLUMNS.into_iter().filter(|name| *name != DETAILS))
        .map(col)
        .collect();
    columns.push(
        when(
            in_list(
                col(column::SERVICE),
                vec![lit("directory"), lit("mdm"), lit("systems")],
                false,
            ),
            col(column::RAW),
        )
        .end()
        .unwrap_or_else(|_| lit(datafusion::scalar::ScalarValue::Utf8(None)))
        .alias(DETAILS),
    );
    columns
}

fn lowered(values: &BTreeSet<String>) -> Vec<Expr> {
    values.iter().map(|v| lit(v.to_lowercase())).collect()
}

/// Plain string columns of a batch, by name.
struct Row<'a> {
    columns: &'a HashMap<&'static str, ArrayRef>,
    timestamps: &'a arrow::array::PrimitiveArray<TimestampMicrosecondType>,
    index: usize,
}

impl Row<'_> {
    fn text(&self, name: &str) -> Option<&str> {
        let array = self.columns.get(name)?;
        array
            .is_valid(self.index)
            .then(|| array.as_string::<i32>().value(self.index))
    }

    fn flag(&self, name: &str) -> Option<bool> {
        let array = self.columns.get(name)?;
        array
            .is_valid(self.index)
            .then(|| array.as_boolean().value(self.index))
    }

    fn micros(&self) -> i64 {
        self.timestamps.value(self.index)
    }
}

const TEXT_COLUMNS: [&str; 15] = [
    column::SERVICE,
    column::EVENT_TYPE,
    column::CLIENT_IP,
    column::USERNAME,
    "initiated_by_id",
    "initiated_by_type",
    "initiated_by_email",
    "resource_id",
    "resource_type",
    "resource_name",
    "system_id",
    "system_hostname",
    "application_name",
    "geoip_country_code",
    DETAILS,
];

/// Calls `visit` for every row of the batches, oldest first.
fn each_row(batches: &[RecordBatch], mut visit: impl FnMut(&Row<'_>)) -> Result<()> {
    for batch in batches {
        let mut columns = HashMap::new();
        for name in TEXT_COLUMNS {
            if let Some(array) = batch.column_by_name(name) {
                columns.insert(name, cast(array, &DataType::Utf8)?);
            }
        }
        for name in [column::SUCCESS, "mfa"] {
            if let Some(array) = batch.column_by_name(name) {
                columns.insert(name, array.clone());
            }
        }
        let timestamps = batch
            .column_by_name(column::TIMESTAMP)
            .ok_or_else(|| Error::Invalid("no timestamp column".into()))?
            .as_primitive::<TimestampMicrosecondType>();
        for index in 0..batch.num_rows() {
            visit(&Row {
                columns: &columns,
                timestamps,
                index,
            });
        }
    }
    Ok(())
}

/// Counts with first/last times, ordered by count.
#[derive(Default)]
struct Tallies(HashMap<String, (u64, i64, i64, Option<String>)>);

impl Tallies {
    fn add(&mut self, value: &str, micros: i64, detail: Option<&str>) {
        let entry = self
            .0
            .entry(value.to_owned())
            .or_insert((0, micros, micros, None));
        entry.0 += 1;
        entry.1 = entry.1.min(micros);
        entry.2 = entry.2.max(micros);
        if let Some(detail) = detail {
            entry.3 = Some(detail.to_owned());
        }
    }

    fn list(self) -> Vec<Tally> {
        let mut list: Vec<Tally> = self
            .0
            .into_iter()
            .map(|(value, (count, first, last, detail))| Tally {
                value,
                count,
                first_seen: format_timestamp_us(first),
                last_seen: format_timestamp_us(last),
                detail,
            })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
        list.truncate(LIST_LIMIT);
        list
    }
}

fn is_auth(service: &str, event_type: &str) -> bool {
    matches!(service, "sso" | "radius" | "ldap" | "systems") && !event_type.starts_with("system_")
        || event_type.contains("login")
}

fn changes_of(details: Option<&str>) -> Value {
    details
        .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
        .and_then(|event| event.get("changes").cloned())
        .unwrap_or(Value::Null)
}

impl QueryEngine {
    async fn enrichment_rows(
        &self,
        organization: &str,
        window: Window,
        filter: Expr,
    ) -> Result<Vec<RecordBatch>> {
        let ctx = self.context()?;
        let scope = Scope::one(organization);
        let range = filter::within(window.start_us(), window.at_us + 1)
            .and(
                col(column::DATE).gt_eq(lit(datafusion::scalar::ScalarValue::Date32(Some(
                    window.start_us().div_euclid(MICROS_PER_DAY) as i32,
                )))),
            )
            .and(
                col(column::DATE).lt_eq(lit(datafusion::scalar::ScalarValue::Date32(Some(
                    window.at_us.div_euclid(MICROS_PER_DAY) as i32,
                )))),
            );
        let _ = timestamp_lit;
        let batches: Vec<RecordBatch> = self
            .events(&ctx, &scope)?
            .filter(range.and(filter))?
            .select(columns())?
            .execute_stream()
            .await?
            .try_collect()
            .await?;
        // The subject's rows are few next to the scan; ordering them here keeps the sort out
        // of the shared query memory pool.
        let Some(first) = batches.first() else {
            return Ok(batches);
        };
        let all = arrow::compute::concat_batches(&first.schema(), &batches)?;
        let times = all
            .column_by_name(column::TIMESTAMP)
            .ok_or_else(|| Error::Invalid("no timestamp column".into()))?;
        let order = arrow::compute::sort_to_indices(times, None, None)?;
        Ok(vec![arrow::compute::take_record_batch(&all, &order)?])
    }

    /// Enriches a user known by username, e-mail or id.
    pub async fn enrich_user(
        &self,
        organization: &str,
        who: &str,
        window: Window,
    ) -> Result<UserReport> {
        let searched = who.trim().to_owned();
        let mut names: BTreeSet<String> = BTreeSet::from([searched.to_lowercase()]);
        let mut ids: BTreeSet<String> = BTreeSet::from([searched.clone()]);
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
            ids.insert(id);
        }
        let mut batches = Vec::new();
        // Follow renames: each pass may reveal more names or ids of the same user.
        for _ in 0..3 {
            let by = in_list(lower(col(column::USERNAME)), lowered(&names), false)
                .or(in_list(
                    lower(col("initiated_by_email")),
                    lowered(&names),
                    false,
                ))
                .or(in_list(
                    col("initiated_by_id"),
                    ids.iter().map(|i| lit(i.as_str())).collect(),
                    false,
                ));
            let about = col("resource_type").eq(lit("user")).and(
                in_list(
                    col("resource_id"),
                    ids.iter().map(|i| lit(i.as_str())).collect(),
                    false,
                )
                .or(in_list(lower(col("resource_name")), lowered(&names), false)),
            );
            batches = self
                .enrichment_rows(organization, window, by.or(about))
                .await?;
            let (before_names, before_ids) = (names.len(), ids.len());
            each_row(&batches, |row| {
                if row.text("resource_type") == Some("user") {
                    if let Some(id) = row.text("resource_id") {
                        ids.insert(id.to_owned());
                    }
                    if let Value::Array(changes) = changes_of(row.text(DETAILS)) {
                        for change in changes {
                            if matches!(
                                change.get("field").and_then(Value::as_str),
                                Some("username" | "email")
                            ) {
                                for side in ["from", "to"] {
                                    if let Some(name) = change.get(side).and_then(Value::as_str) {
                                        names.insert(name.to_lowercase());
                                    }
                                }
                            }
                        }
                    }
                }
                if row.text("initiated_by_type") == Some("user")
                    && let Some(id) = row.text("initiated_by_id")
                {
                    ids.insert(id.to_owned());
                }
            })?;
            if names.len() == before_names && ids.len() == before_ids {
                break;
            }
        }
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Err(Error::NotFound(format!(
                "no user {searched:?} (searched usernames, e-mails and ids) in organization {organization} in the {} days before {}",
                window.days,
                format_timestamp_us(window.at_us)
            )));
        }
        let mut report = UserReport {
            searched: searched.clone(),
            organization: organization.to_owned(),
            window_days: window.days,
            at: format_timestamp_us(window.at_us),
            id: None,
            username: None,
            email: None,
            attributes: BTreeMap::new(),
            state: "unknown".into(),
            state_since: None,
            mfa_seen: false,
            events: 0,
            last_success: BTreeMap::new(),
            last_failure: BTreeMap::new(),
            failures_24h: 0,
            failures_7d: 0,
            client_ips: Vec::new(),
            countries: Vec::new(),
            devices: Vec::new(),
            applications: Vec::new(),
            radius: ServiceUse::default(),
            ldap: ServiceUse::default(),
            changes_to_user: Vec::new(),
            changes_by_user: Vec::new(),
            signals: Vec::new(),
        };
        let (mut ips, mut countries, mut devices, mut apps) = (
            Tallies::default(),
            Tallies::default(),
            Tallies::default(),
            Tallies::default(),
        );
        let mut to_user = Vec::new();
        let mut by_user = Vec::new();
        let mut failure_ips: BTreeSet<String> = BTreeSet::new();
        let mut suspended_since: Option<i64> = None;
        let mut logins_while_suspended = 0u64;
        let mut countries_before_last_day: BTreeSet<String> = BTreeSet::new();
        let mut countries_last_day: BTreeSet<String> = BTreeSet::new();
        let day_ago = window.at_us - MICROS_PER_DAY;
        let week_ago = window.at_us - 7 * MICROS_PER_DAY;
        each_row(&batches, |row| {
            report.events += 1;
            let micros = row.micros();
            let service = row.text(column::SERVICE).unwrap_or_default();
            let event_type = row.text(column::EVENT_TYPE).unwrap_or_default();
            let about = row.text("resource_type") == Some("user")
                && (row.text("resource_id").is_some_and(|id| ids.contains(id))
                    || row
                        .text("resource_name")
                        .is_some_and(|n| names.contains(&n.to_lowercase())));
            if about {
                report.id = row
                    .text("resource_id")
                    .map(str::to_owned)
                    .or(report.id.take());
                if let Some(name) = row.text("resource_name") {
                    if name.contains('@') {
                        report.email.get_or_insert_with(|| name.to_owned());
                    } else {
                        report.username = Some(name.to_owned());
                    }
                }
                let changes = changes_of(row.text(DETAILS));
                if let Value::Array(items) = &changes {
                    for change in items {
                        if let (Some(field), Some(to)) = (
                            change.get("field").and_then(Value::as_str),
                            change.get("to"),
                        ) {
                            report.attributes.insert(field.to_owned(), to.clone());
                        }
                    }
                }
                let state = match event_type {
                    "user_suspended" => Some("suspended"),
                    "user_unsuspended" | "user_create" | "user_unlocked" => Some("active"),
                    "user_delete" => Some("deleted"),
                    "user_lockout" => Some("locked"),
                    _ => None,
                };
                if let Some(state) = state {
                    report.state = state.to_owned();
                    report.state_since = Some(format_timestamp_us(micros));
                    suspended_since =
                        (state == "suspended" || state == "deleted").then_some(micros);
                }
                let party = row
                    .text("initiated_by_email")
                    .or(row.text(column::USERNAME))
                    .unwrap_or("system")
                    .to_owned();
                to_user.push(Change {
                    time: format_timestamp_us(micros),
                    event_type: event_type.to_owned(),
                    party,
                    changes,
                });
                return;
            }
            // The user acted.
            if report.id.is_none() && row.text("initiated_by_type") == Some("user") {
                report.id = row.text("initiated_by_id").map(str::to_owned);
            }
            if let Some(email) = row.text("initiated_by_email") {
                report.email.get_or_insert_with(|| email.to_owned());
            }
            if report.username.is_none() {
                report.username = row
                    .text(column::USERNAME)
                    .filter(|u| !u.contains('@'))
                    .map(str::to_owned);
            }
            if row.flag("mfa") == Some(true) {
                report.mfa_seen = true;
            }
            if service == "directory" && !event_type.contains("login") {
                let target = format!(
                    "{} {}",
                    row.text("resource_type").unwrap_or("?"),
                    row.text("resource_name")
                        .or(row.text("resource_id"))
                        .unwrap_or("?")
                );
                by_user.push(Change {
                    time: format_timestamp_us(micros),
                    event_type: event_type.to_owned(),
                    party: target,
                    changes: changes_of(row.text(DETAILS)),
                });
                return;
            }
            if !is_auth(service, event_type) {
                return;
            }
            let ip = row.text(column::CLIENT_IP);
            let country = row.text("geoip_country_code");
            if let Some(ip) = ip {
                ips.add(ip, micros, country);
            }
            if let Some(country) = country {
                countries.add(country, micros, None);
                if micros >= day_ago {
                    countries_last_day.insert(country.to_owned());
                } else {
                    countries_before_last_day.insert(country.to_owned());
                }
            }
            let seen = Seen {
                time: format_timestamp_us(micros),
                event_type: event_type.to_owned(),
                client_ip: ip.map(str::to_owned),
            };
            let success = row.flag(column::SUCCESS);
            match success {
                Some(true) => {
                    report.last_success.insert(service.to_owned(), seen);
                    if suspended_since.is_some() {
                        logins_while_suspended += 1;
                    }
                    if service == "systems"
                        && let Some(host) = row.text("system_hostname")
                    {
                        devices.add(host, micros, row.text("system_id"));
                    }
                    if service == "sso"
                        && let Some(app) = row.text("application_name")
                    {
                        apps.add(app, micros, None);
                    }
                }
                Some(false) => {
                    report.last_failure.insert(service.to_owned(), seen);
                    if micros >= day_ago {
                        report.failures_24h += 1;
                        if let Some(ip) = ip {
                            failure_ips.insert(ip.to_owned());
                        }
                    }
                    if micros >= week_ago {
                        report.failures_7d += 1;
                    }
                }
                None => {}
            }
            let usage = match service {
                "radius" => Some(&mut report.radius),
                "ldap" => Some(&mut report.ldap),
                _ => None,
            };
            if let Some(usage) = usage {
                usage.events += 1;
                usage.failures += u64::from(success == Some(false));
                usage.last = Some(format_timestamp_us(micros));
            }
        })?;
        report.client_ips = ips.list();
        report.countries = countries.list();
        report.devices = devices.list();
        report.applications = apps.list();
        to_user.reverse();
        to_user.truncate(RECENT_CHANGES);
        by_user.reverse();
        by_user.truncate(RECENT_CHANGES);
        report.changes_to_user = to_user;
        report.changes_by_user = by_user;
        if failure_ips.len() >= 3 {
            report.signals.push(format!(
                "failed logins from {} client IPs in the last 24 hours",
                failure_ips.len()
            ));
        }
        if report.failures_24h >= 10 {
            report.signals.push(format!(
                "{} failed logins in the last 24 hours",
                report.failures_24h
            ));
        }
        let new: Vec<&String> = countries_last_day
            .difference(&countries_before_last_day)
            .collect();
        if !new.is_empty() && !countries_before_last_day.is_empty() {
            report.signals.push(format!(
                "logins from a new country in the last 24 hours: {}",
                new.iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if logins_while_suspended > 0 {
            report.signals.push(format!(
                "{logins_while_suspended} successful logins after the user was suspended or deleted"
            ));
        }
        Ok(report)
    }

    /// The id of the `kind` resource whose `resource.<field>` in admin events is `name`
    /// (lower-case), as last seen. Only admin events about such resources are read for it.
    async fn resource_id_by(
        &self,
        organization: &str,
        kind: &str,
        field: &str,
        name: &str,
        window: Window,
    ) -> Result<Option<String>> {
        let display = lower(
            datafusion_functions_json::udfs::json_as_text_udf().call(vec![
                col(column::RAW),
                lit("resource"),
                lit(field.to_owned()),
            ]),
        );
        let ctx = self.context()?;
        let batches: Vec<RecordBatch> = self
            .events(&ctx, &Scope::one(organization))?
            .filter(
                filter::within(window.start_us(), window.at_us + 1)
                    .and(col(column::SERVICE).eq(lit("directory")))
                    .and(col("resource_type").eq(lit(kind.to_owned())))
                    .and(display.eq(lit(name.to_owned()))),
            )?
            .sort(vec![col(column::TIMESTAMP).sort(false, false)])?
            .select(vec![col("resource_id")])?
            .limit(0, Some(1))?
            .collect()
            .await?;
        for batch in &batches {
            let ids = cast(batch.column(0), &DataType::Utf8)?;
            if !ids.is_empty() && ids.is_valid(0) {
                return Ok(Some(ids.as_string::<i32>().value(0).to_owned()));
            }
        }
        Ok(None)
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
        let filter = lower(col("system_hostname"))
            .eq(lit(name.clone()))
            .or(col("system_id").eq(lit(searched.as_str())))
            .or(col("resource_type").eq(lit("system")).and(
                lower(col("resource_name"))
                    .eq(lit(name.clone()))
                    .or(col("resource_id").eq(lit(searched.as_str()))),
            ));
        let mut batches = self.enrichment_rows(organization, window, filter).await?;
        if batches.iter().all(|b| b.num_rows() == 0)
            && let Some(id) = self
                .resource_id_by(organization, "system", "displayName", &name, window)
                .await?
        {
            batches = self
                .enrichment_rows(
                    organization,
                    window,
                    col("system_id")
                        .eq(lit(id.as_str()))
                        .or(col("resource_type")
                            .eq(lit("system"))
                            .and(col("resource_id").eq(lit(id.as_str())))),
                )
                .await?;
        }
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Err(Error::NotFound(format!(
                "no host {searched:?} (searched hostnames, display names and system ids) in organization {organization} in the {} days before {}",
                window.days,
                format_timestamp_us(window.at_us)
            )));
        }
        let mut report = HostReport {
            searched,
            organization: organization.to_owned(),
            window_days: window.days,
            at: format_timestamp_us(window.at_us),
            id: None,
            hostname: None,
            display_name: None,
            os: None,
            events: 0,
            users: Vec::new(),
            source_ips: Vec::new(),
            failed_logins: 0,
            last_failed_login: None,
            commands: Vec::new(),
            mdm_results: Vec::new(),
            admin_changes: Vec::new(),
            last_activity: None,
        };
        let (mut users, mut ips) = (Tallies::default(), Tallies::default());
        let (mut commands, mut mdm, mut admin) = (Vec::new(), Vec::new(), Vec::new());
        each_row(&batches, |row| {
            report.events += 1;
            let micros = row.micros();
            report.last_activity = Some(format_timestamp_us(micros));
            let service = row.text(column::SERVICE).unwrap_or_default();
            let event_type = row.text(column::EVENT_TYPE).unwrap_or_default();
            if let Some(id) = row.text("system_id").or(row
                .text("resource_id")
                .filter(|_| row.text("resource_type") == Some("system")))
            {
                report.id = Some(id.to_owned());
            }
            if let Some(host) = row.text("system_hostname") {
                report.hostname = Some(host.to_owned());
            }
            let event: Option<Value> = row
                .text(DETAILS)
                .and_then(|raw| serde_json::from_str(raw).ok());
            if let Some(event) = &event {
                if let Some(display) = event
                    .pointer("/resource/displayName")
                    .or(event.pointer("/system/displayName"))
                    .and_then(Value::as_str)
                {
                    report.display_name = Some(display.to_owned());
                }
                let os = event
                    .pointer("/system/os")
                    .or(event.pointer("/resource/os"))
                    .or(event.pointer("/os"))
                    .and_then(Value::as_str);
                if let Some(os) = os {
                    report.os = Some(os.to_owned());
                }
            }
            let changes = || {
                event
                    .as_ref()
                    .and_then(|e| e.get("changes").cloned())
                    .unwrap_or(Value::Null)
            };
            if event_type.starts_with("command")
                || event_type.contains("command_result") && service != "mdm"
            {
                let result = event
                    .as_ref()
                    .and_then(|e| {
                        e.get("command_result")
                            .or(e.get("result"))
                            .or(e.get("exit_code"))
                            .cloned()
                    })
                    .unwrap_or(Value::Null);
                let party = row
                    .text("initiated_by_email")
                    .or(row.text(column::USERNAME))
                    .unwrap_or("system")
                    .to_owned();
                commands.push(Change {
                    time: format_timestamp_us(micros),
                    event_type: event_type.to_owned(),
                    party,
                    changes: result,
                });
                return;
            }
            if service == "mdm" {
                let status = event
                    .as_ref()
                    .and_then(|e| e.get("status").cloned())
                    .unwrap_or(Value::Null);
                mdm.push(Change {
                    time: format_timestamp_us(micros),
                    event_type: event_type.to_owned(),
                    party: "mdm".into(),
                    changes: status,
                });
                return;
            }
            if service == "directory" && row.text("resource_type") == Some("system") {
                let party = row
                    .text("initiated_by_email")
                    .or(row.text(column::USERNAME))
                    .unwrap_or("system")
                    .to_owned();
                admin.push(Change {
                    time: format_timestamp_us(micros),
                    event_type: event_type.to_owned(),
                    party,
                    changes: changes(),
                });
                return;
            }
            if !is_auth(service, event_type) {
                return;
            }
            if let Some(ip) = row.text(column::CLIENT_IP) {
                ips.add(ip, micros, row.text("geoip_country_code"));
            }
            match row.flag(column::SUCCESS) {
                Some(true) => {
                    if let Some(user) = row.text(column::USERNAME) {
                        users.add(user, micros, None);
                    }
                }
                Some(false) => {
                    report.failed_logins += 1;
                    report.last_failed_login = Some(Seen {
                        time: format_timestamp_us(micros),
                        event_type: event_type.to_owned(),
                        client_ip: row.text(column::CLIENT_IP).map(str::to_owned),
                    });
                }
                None => {}
            }
        })?;
        report.users = users.list();
        report.source_ips = ips.list();
        for list in [&mut commands, &mut mdm, &mut admin] {
            list.reverse();
            list.truncate(RECENT_CHANGES);
        }
        report.commands = commands;
        report.mdm_results = mdm;
        report.admin_changes = admin;
        Ok(report)
    }
}
