//! Table maintenance: compaction of small files and statistics.

use std::collections::{BTreeMap, BTreeSet};

use arrow::compute::concat_batches;
use serde::Serialize;

use insights_schemas::event_schema;

use crate::error::Result;
use crate::table::{EventTable, LiveFile};

/// Files are merged in groups of up to about this many bytes (one group is sorted in memory, at
/// several times its compressed size).
pub const TARGET_FILE_BYTES: u64 = 64 << 20;

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

/// The (organization, date) partitions that hold live files, dates as `YYYY-MM-DD`, with the
/// rows their files hold.
pub async fn partitions(table: &EventTable) -> Result<BTreeMap<(String, String), u64>> {
    let mut partitions = BTreeMap::new();
    for file in table.live_data_files().await? {
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
    let files = table.live_data_files().await?;
    for file in &files {
        stats.rows += file.rows;
        stats.files += 1;
        stats.bytes += file.bytes();
        let org = stats
            .organizations
            .entry(file.organization.clone())
            .or_default();
        org.rows += file.rows;
        org.files += 1;
        org.bytes += file.bytes();
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

/// Merges the files of every partition that has more than one into files of up to about
/// [`TARGET_FILE_BYTES`], their rows sorted for storage (by service and resource type, then by
/// time: see `storage_order`). Each merged group of files is replaced in one data-neutral
/// commit (Delta `OPTIMIZE`): readers see either the old files or the new ones, never both,
/// and the exporter sees no new data. A group is held in memory while it is sorted, so a
/// compaction's memory is bounded by the group size, not by the partition's.
pub async fn compact(table: &mut EventTable) -> Result<CompactSummary> {
    let mut per_partition: BTreeMap<(String, String), Vec<LiveFile>> = BTreeMap::new();
    for file in table.live_data_files().await? {
        per_partition
            .entry((file.organization.clone(), file.date.clone()))
            .or_default()
            .push(file);
    }
    let mut summary = CompactSummary::default();
    let schema = event_schema();
    for (_, files) in per_partition {
        if files.len() < 2 {
            continue;
        }
        let mut groups: Vec<Vec<LiveFile>> = Vec::new();
        let mut group_bytes = 0;
        for file in files {
            let bytes = file.bytes();
            if groups.is_empty() || group_bytes + bytes > TARGET_FILE_BYTES {
                groups.push(Vec::new());
                group_bytes = 0;
            }
            group_bytes += bytes;
            if let Some(group) = groups.last_mut() {
                group.push(file);
            }
        }
        let mut compacted = false;
        for group in groups.into_iter().filter(|group| group.len() > 1) {
            let mut batches = Vec::new();
            for file in &group {
                batches.extend(table.read_rows(file).await?);
            }
            let rows = concat_batches(&schema, &batches)?;
            drop(batches);
            summary.files_removed += group.len() as u64;
            summary.files_added += table.rewrite(group, rows, TARGET_FILE_BYTES).await?;
            compacted = true;
        }
        summary.partitions_compacted += u64::from(compacted);
    }
    summary.version = table.version();
    Ok(summary)
}
