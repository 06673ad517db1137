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
    for file in table.live_files(None).await? {
        *partitions
            .entry((file.organization, file.date))
            .or_default() += file.rows.unwrap_or(0);
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
    let files = table.live_files(None).await?;
    for file in &files {
        let rows = file.rows.unwrap_or(0);
        stats.rows += rows;
        stats.files += 1;
        stats.bytes += file.size;
        let org = stats
            .organizations
            .entry(file.organization.clone())
            .or_default();
        org.rows += rows;
        org.files += 1;
        org.bytes += file.size;
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
    /// Groups left alone because another writer replaced one of their files first.
    pub groups_skipped: u64,
    pub version: i64,
}

/// The groups of files a compaction merges, chosen from one version of the table.
pub struct CompactionPlan {
    /// Per partition, groups of two or more files of up to about [`TARGET_FILE_BYTES`], or of
    /// one file written before columns were added.
    partitions: Vec<Vec<Vec<LiveFile>>>,
}

/// Plans the merge of the files of every partition that has more than one into files of up to
/// about [`TARGET_FILE_BYTES`]; a file that lacks a column added to the table since it was
/// written is rewritten even alone, so that compaction brings every file to the current
/// schema.
pub async fn plan_compaction(table: &EventTable) -> Result<CompactionPlan> {
    let mut per_partition: BTreeMap<(String, String), Vec<LiveFile>> = BTreeMap::new();
    for live in table.list(None, None).await? {
        per_partition
            .entry((live.file.organization.clone(), live.file.date.clone()))
            .or_default()
            .push(live);
    }
    let mut partitions = Vec::new();
    for (_, files) in per_partition {
        let outdated = |group: &[LiveFile]| group.iter().any(|f| !f.file.has_added_columns);
        if files.len() < 2 && !outdated(&files) {
            continue;
        }
        let mut groups: Vec<Vec<LiveFile>> = Vec::new();
        let mut group_bytes = 0;
        for file in files {
            let bytes = file.file.size;
            if groups.is_empty() || group_bytes + bytes > TARGET_FILE_BYTES {
                groups.push(Vec::new());
                group_bytes = 0;
            }
            group_bytes += bytes;
            if let Some(group) = groups.last_mut() {
                group.push(file);
            }
        }
        groups.retain(|group| group.len() > 1 || outdated(group));
        if !groups.is_empty() {
            partitions.push(groups);
        }
    }
    Ok(CompactionPlan { partitions })
}

impl CompactionPlan {
    /// Merges each group's rows, sorted for storage (by service and resource type, then by
    /// time: see `storage_order`), and replaces the group in one data-neutral commit (Delta
    /// `OPTIMIZE`): readers see either the old files or the new ones, never both, and the
    /// exporter sees no new data. A group is held in memory while it is sorted, so memory is
    /// bounded by the group size, not by the partition's.
    ///
    /// Safe while `insights serve` or `insights ingest` appends to the same table: appends only
    /// add files, and a group whose files another compaction replaced first is skipped
    /// ([`EventTable::replace_files`]).
    pub async fn execute(self, table: &mut EventTable) -> Result<CompactSummary> {
        let mut summary = CompactSummary::default();
        // The rewritten files carry every column, those added since older files were written
        // too.
        table.add_missing_columns().await?;
        let schema = event_schema();
        for groups in self.partitions {
            let mut compacted = false;
            for group in groups {
                let mut batches = Vec::new();
                for live in &group {
                    batches.extend(table.read_rows(&live.file).await?);
                }
                let rows = concat_batches(&schema, &batches)?;
                drop(batches);
                let adds = table.write_rewritten(rows).await?;
                let added = adds.len() as u64;
                if table.replace_files(&group, adds, TARGET_FILE_BYTES).await? {
                    summary.files_removed += group.len() as u64;
                    summary.files_added += added;
                    compacted = true;
                } else {
                    summary.groups_skipped += 1;
                }
            }
            summary.partitions_compacted += u64::from(compacted);
        }
        summary.version = table.version();
        Ok(summary)
    }
}

/// Plans and executes a compaction ([`plan_compaction`], [`CompactionPlan::execute`]).
pub async fn compact(table: &mut EventTable) -> Result<CompactSummary> {
    plan_compaction(table).await?.execute(table).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreLocation;
    use crate::test_support::{chunk, events, open, table_rows};

    async fn files_and_rows(dir: &std::path::Path) -> (u64, u64) {
        let table = EventTable::open(&StoreLocation::Local(dir.join("store")))
            .await
            .unwrap();
        let stats = stats(&table).await.unwrap();
        (stats.files, stats.rows)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_compactions_of_the_same_files_merge_them_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut ingester = open(dir.path(), |c| c.flush_rows = 10).await;
        ingester
            .ingest("t", &chunk(&events(40)), None)
            .await
            .unwrap();
        ingester.close().await.unwrap();
        assert_eq!(files_and_rows(dir.path()).await, (4, 40));

        let store = StoreLocation::Local(dir.path().join("store"));
        let mut first = EventTable::open(&store).await.unwrap();
        let mut second = EventTable::open(&store).await.unwrap();
        let first_plan = plan_compaction(&first).await.unwrap();
        let second_plan = plan_compaction(&second).await.unwrap();
        let done = first_plan.execute(&mut first).await.unwrap();
        assert_eq!((done.files_removed, done.files_added), (4, 1));
        let late = second_plan.execute(&mut second).await.unwrap();
        assert_eq!(
            (late.files_removed, late.groups_skipped),
            (0, 1),
            "the files it planned to merge are gone"
        );
        assert_eq!(files_and_rows(dir.path()).await, (1, 40));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn compaction_between_the_ingesters_commits_keeps_every_event_once() {
        let dir = tempfile::tempdir().unwrap();
        let all = events(40);
        let mut ingester = open(dir.path(), |c| c.flush_rows = 10).await;
        ingester
            .ingest("t", &chunk(&all[..30]), None)
            .await
            .unwrap();
        ingester.flush().await.unwrap();

        // Another process compacts while the ingester holds the table as of its last commit.
        let mut table = EventTable::open(&StoreLocation::Local(dir.path().join("store")))
            .await
            .unwrap();
        let summary = compact(&mut table).await.unwrap();
        assert_eq!(summary.files_removed, 3);

        let mut retried = all[30..].to_vec();
        retried.extend_from_slice(&all[..10]);
        let outcome = ingester.ingest("t", &chunk(&retried), None).await.unwrap();
        assert_eq!((outcome.accepted, outcome.duplicates), (10, 10));
        ingester.close().await.unwrap();
        assert_eq!(table_rows(dir.path()).await, 40);
        assert_eq!(files_and_rows(dir.path()).await, (2, 40));
        let table = EventTable::open(&StoreLocation::Local(dir.path().join("store")))
            .await
            .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 1)
            .unwrap()
            .signed_duration_since(chrono::NaiveDate::default())
            .num_days() as i32;
        let keys = table.partition_keys("o1", day).await.unwrap();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!((keys.len(), distinct.len()), (40, 40));
    }
}
