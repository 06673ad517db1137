//! Retention: how long each organization's events are kept, legal holds that stop any removal,
//! and `vacuum`, which deletes the files no version needs any more.
//!
//! The policy is the object `_retention/policy.json` beside the table. Without an entry for
//! an organization its events are kept for ever. Applying the policy removes the expired whole
//! day partitions of each organization with a policy and without a hold, one organization per
//! commit (recorded as retention in the digest chain). Vacuum deletes files that compaction or
//! retention removed (and files of interrupted writes) once they are older than a grace
//! period, except under a hold, in a commit of its own that lists them.

use std::collections::BTreeMap;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::StoreLocation;
use crate::table::EventTable;

/// The policy object in a store.
const POLICY_PATH: &str = "_retention/policy.json";

/// How long one organization's events are kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rule {
    pub days: u32,
    pub set_at: String,
}

/// A legal hold on one organization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hold {
    #[serde(default)]
    pub reason: String,
    pub since: String,
}

/// The retention policy of a store.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Policy {
    #[serde(default)]
    pub organizations: BTreeMap<String, Rule>,
    #[serde(default)]
    pub holds: BTreeMap<String, Hold>,
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Policy {
    /// Reads the policy of a store (empty when none was set).
    pub async fn load(store: &StoreLocation) -> Result<Self> {
        let objects = store.object_store()?;
        let path = Path::from(POLICY_PATH);
        let bytes = match objects.get(&path).await {
            Ok(result) => result.bytes().await,
            Err(object_store::Error::NotFound { .. }) => return Ok(Self::default()),
            Err(e) => Err(e),
        }
        .map_err(|e| Error::Store {
            store: format!("{store}/{POLICY_PATH}"),
            message: e.to_string(),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Store {
            store: format!("{store}/{POLICY_PATH}"),
            message: format!("not a retention policy: {e}"),
        })
    }

    /// Writes the policy of a store.
    pub async fn save(&self, store: &StoreLocation) -> Result<()> {
        let objects = store.object_store()?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Store {
            store: store.to_string(),
            message: e.to_string(),
        })?;
        objects
            .put(&Path::from(POLICY_PATH), PutPayload::from(bytes))
            .await
            .map_err(|e| Error::Store {
                store: format!("{store}/{POLICY_PATH}"),
                message: e.to_string(),
            })?;
        Ok(())
    }

    /// Keeps `organization`'s events `days` days.
    pub fn set(&mut self, organization: &str, days: u32) {
        self.organizations.insert(
            organization.to_owned(),
            Rule {
                days,
                set_at: now_text(),
            },
        );
    }

    /// Puts `organization` under a legal hold.
    pub fn hold(&mut self, organization: &str, reason: &str) {
        self.holds.insert(
            organization.to_owned(),
            Hold {
                reason: reason.to_owned(),
                since: now_text(),
            },
        );
    }

    /// Whether `organization` is under a legal hold.
    pub fn held(&self, organization: &str) -> bool {
        self.holds.contains_key(organization)
    }
}

/// The first day a policy of `days` days keeps at `now`: a day partition has expired when
/// its whole day lies more than `days` days before `now`.
pub fn first_kept_day(now: chrono::DateTime<chrono::Utc>, days: u32) -> chrono::NaiveDate {
    // A policy longer than the calendar reaches keeps everything.
    let Some(cutoff) =
        chrono::Duration::try_days(i64::from(days)).and_then(|span| now.checked_sub_signed(span))
    else {
        return chrono::NaiveDate::MIN;
    };
    // The day of the cutoff still holds events younger than the policy's limit (unless the
    // cutoff is exactly its end), so it stays.
    cutoff.date_naive()
}

/// What one application of the policy removed.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RetentionSummary {
    /// Per organization with a policy: the partitions and files removed, and the commit.
    pub removed: Vec<OrganizationRemoval>,
    /// Organizations with a policy left alone because of a legal hold.
    pub held: Vec<String>,
}

/// One organization's retention commit.
#[derive(Debug, Clone, Serialize)]
pub struct OrganizationRemoval {
    pub organization: String,
    pub days: u32,
    /// Partitions before this day were removed.
    pub before: String,
    pub partitions: u64,
    pub files: u64,
    pub rows: u64,
    pub version: i64,
}

/// Removes every expired day partition of the organizations with a policy and without a legal
/// hold, one commit per organization.
pub async fn apply_retention(
    table: &mut EventTable,
    policy: &Policy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<RetentionSummary> {
    let mut summary = RetentionSummary::default();
    for (organization, rule) in &policy.organizations {
        if policy.held(organization) {
            summary.held.push(organization.clone());
            continue;
        }
        let before = first_kept_day(now, rule.days)
            .format("%Y-%m-%d")
            .to_string();
        // Planned again when another writer (a compaction) replaced one of the files first.
        for _ in 0..10 {
            let expired: Vec<_> = table
                .list(Some(organization), None)
                .await?
                .into_iter()
                .filter(|live| live.file.date < before)
                .collect();
            if expired.is_empty() {
                break;
            }
            let partitions: std::collections::BTreeSet<&str> =
                expired.iter().map(|l| l.file.date.as_str()).collect();
            let partitions = partitions.len() as u64;
            let rows = expired.iter().filter_map(|l| l.file.rows).sum();
            let details = serde_json::json!({
                "kind": "retention",
                "organization": organization,
                "days": rule.days,
                "before": before,
                "policy_set_at": rule.set_at,
            });
            let predicate = format!(
                "organization = '{}' AND date < '{before}'",
                organization.replace('\'', "''")
            );
            if let Some(version) = table.remove_files(&expired, predicate, details).await? {
                summary.removed.push(OrganizationRemoval {
                    organization: organization.clone(),
                    days: rule.days,
                    before,
                    partitions,
                    files: expired.len() as u64,
                    rows,
                    version,
                });
                break;
            }
            table.reload().await?;
        }
    }
    Ok(summary)
}

/// What a vacuum deleted.
#[derive(Debug, Default, Clone, Serialize)]
pub struct VacuumSummary {
    pub files_deleted: u64,
    /// Files left because their organization is under a legal hold.
    pub files_held: u64,
    /// The vacuum's commit, if it deleted anything.
    pub version: Option<i64>,
    /// With `dry_run`, the files it would delete.
    pub would_delete: Vec<String>,
}

/// Deletes the files no version from now on needs, removed (or never committed) more than
/// `grace` ago, except those of organizations under a legal hold.
pub async fn vacuum(
    table: &mut EventTable,
    policy: &Policy,
    grace: chrono::Duration,
    dry_run: bool,
) -> Result<VacuumSummary> {
    let mut summary = VacuumSummary::default();
    let candidates = table.unreferenced_files(grace).await?;
    let held = |path: &str| {
        path.strip_prefix("organization=")
            .and_then(|rest| rest.split('/').next())
            .is_some_and(|org| policy.held(org))
    };
    let (held_files, paths): (Vec<String>, Vec<String>) =
        candidates.into_iter().partition(|p| held(p));
    summary.files_held = held_files.len() as u64;
    if dry_run {
        summary.would_delete = paths;
        return Ok(summary);
    }
    if paths.is_empty() {
        return Ok(summary);
    }
    summary.version = Some(table.delete_unreferenced(&paths, grace).await?);
    summary.files_deleted = paths.len() as u64;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_expires_when_all_of_it_is_older_than_the_policy() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        // 30 days before is 2026-11-07T10:00: 2026-11-06 is wholly older, 2026-11-07 is not.
        assert_eq!(first_kept_day(now, 30).to_string(), "2026-11-07");
        assert_eq!(first_kept_day(now, 0).to_string(), "2026-12-07");
        // Longer than the calendar: nothing expires, nothing panics.
        assert_eq!(first_kept_day(now, u32::MAX), chrono::NaiveDate::MIN);
    }
}
