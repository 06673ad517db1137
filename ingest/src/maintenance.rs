//! Table maintenance: compaction of small files and statistics.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU64;

use deltalake::operations::optimize::OptimizeType;
use deltalake::{FilterOp, FilterValue};
use futures::TryStreamExt;
use serde::Serialize;

use insights_schemas::column;

use crate::error::{Error, Result};
use crate::table::{EventTable, writer_properties};

/// Files are merged up to about this size.
pub const TARGET_FILE_BYTES: u64 = 256 << 20;

/// Per-organization figures of [`TableStats`].
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct OrgStats {
    pub rows: u64,
    pub files: u64,
    pub partitions: u64,
    pub bytes: u64,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
}

/// What the table holds at its current version.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct TableStats {
    pub table: String,
    pub version: i64,
    pub rows: u64,
    pub files: u64,
    pub partitions: u64,
    pub bytes: u64,
    pub organizations: BTreeMap<String, OrgStats>,
}

/// One live data file: its partition, size and row count.
struct FileInfo {
    organization: String,
    date: String,
    bytes: u64,
    rows: u64,
}

async fn live_files(table: &EventTable) -> Result<Vec<FileInfo>> {
    let views: Vec<_> = table
        .delta()
        .get_active_add_actions_by_partitions(&[])
        .map_ok(|file| {
            let partition = file.partition_values_map();
            let value = |name: &str| partition.get(name).cloned().flatten().unwrap_or_default();
            let rows = file
                .stats()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|s| s.get("numRecords").and_then(serde_json::Value::as_u64))
                .unwrap_or(0);
            FileInfo {
                organization: value(column::ORGANIZATION),
                date: value(column::DATE),
                bytes: u64::try_from(file.size()).unwrap_or(0),
                rows,
            }
        })
        .try_collect()
        .await
        .map_err(|e| Error::Table {
            table: table.name().to_owned(),
            source: Box::new(e),
        })?;
    Ok(views)
}

/// The (organization, date) partitions that hold live files, dates as `YYYY-MM-DD`, with the
/// rows their files hold.
pub async fn partitions(table: &EventTable) -> Result<BTreeMap<(String, String), u64>> {
    let mut partitions = BTreeMap::new();
    for file in live_files(table).await? {
        *partitions
            .entry((file.organization, file.date))
            .or_default() += file.rows;
    }
    Ok(partitions)
}

/// Counts rows, files, partitions and bytes, in all and per organization.
pub async fn stats(table: &EventTable) -> Result<TableStats> {
    let mut stats = TableStats {
        table: table.name().to_owned(),
        version: table.version(),
        ..Default::default()
    };
    let mut partitions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let files = live_files(table).await?;
    for file in &files {
        stats.rows += file.rows;
        stats.files += 1;
        stats.bytes += file.bytes;
        let org = stats
            .organizations
            .entry(file.organization.clone())
            .or_default();
        org.rows += file.rows;
        org.files += 1;
        org.bytes += file.bytes;
        partitions
            .entry(&file.organization)
            .or_default()
            .insert(&file.date);
    }
    for (org, dates) in partitions {
        if let Some(entry) = stats.organizations.get_mut(org) {
            entry.partitions = dates.len() as u64;
            entry.first_date = dates.first().map(|d| d.to_string());
            entry.last_date = dates.last().map(|d| d.to_string());
            stats.partitions += dates.len() as u64;
        }
    }
    Ok(stats)
}

/// What a compaction did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CompactSummary {
    pub partitions_compacted: u64,
    pub files_removed: u64,
    pub files_added: u64,
    pub version: i64,
}

/// Merges the files of every partition that has more than one into files of up to
/// [`TARGET_FILE_BYTES`], sorted by timestamp. Each partition is one data-neutral commit
/// (Delta `OPTIMIZE`): readers see either the old files or the new ones, never both.
pub async fn compact(table: &mut EventTable) -> Result<CompactSummary> {
    let mut per_partition: BTreeMap<(String, String), u64> = BTreeMap::new();
    for file in live_files(table).await? {
        *per_partition
            .entry((file.organization, file.date))
            .or_insert(0) += 1;
    }
    let mut summary = CompactSummary::default();
    let target = NonZeroU64::new(TARGET_FILE_BYTES).unwrap_or(NonZeroU64::MIN);
    for ((organization, date), count) in per_partition {
        if count < 2 {
            continue;
        }
        let filters = [
            (
                column::ORGANIZATION,
                FilterOp::Eq,
                FilterValue::Scalar(organization.as_str()),
            ),
            (
                column::DATE,
                FilterOp::Eq,
                FilterValue::Scalar(date.as_str()),
            ),
        ];
        // Ordering by a single z-order column is a plain sort, so files stay time-ordered.
        let (optimized, metrics) = table
            .delta()
            .clone()
            .optimize()
            .with_type(OptimizeType::ZOrder(vec![column::TIMESTAMP.to_owned()]))
            .with_filters(&filters)
            .with_target_size(target)
            .with_writer_properties(writer_properties())
            .with_max_concurrent_tasks(1)
            .await
            .map_err(|e| Error::Table {
                table: table.name().to_owned(),
                source: Box::new(e),
            })?;
        table.replace(optimized);
        summary.partitions_compacted += 1;
        summary.files_removed += metrics.num_files_removed;
        summary.files_added += metrics.num_files_added;
    }
    summary.version = table.version();
    Ok(summary)
}
