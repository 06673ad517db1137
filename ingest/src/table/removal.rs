//! Commits that take data out of the table: retention's removal of whole partitions, and
//! vacuum's deletion of files no version needs any more. Both say what they do in their
//! commit (`commitInfo.insights`), so that their digests record it as retention or vacuum and
//! a verifier can tell them from tampering.

use deltalake::kernel::Action;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::operations::vacuum::VacuumMode;
use deltalake::protocol::DeltaOperation;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;

use super::{EventTable, LiveFile, commit_properties};
use crate::error::{Error, Result};

/// Commits a removal tries before it gives up when other writers keep committing first.
const REMOVE_ATTEMPTS: u32 = 20;

/// How old a file that no commit names must be before vacuum deletes it, whatever the grace:
/// longer than any write takes from writing a file to committing it.
const UNCOMMITTED_MINIMUM_AGE: chrono::Duration = chrono::Duration::hours(1);

impl EventTable {
    /// Removes `files` from the table in one commit of their own (Delta `DELETE`, data
    /// changed) that records `predicate` and `details`. Returns the version, or `None` when
    /// another writer replaced or removed one of them first (the caller plans again).
    pub(crate) async fn remove_files(
        &mut self,
        files: &[LiveFile],
        predicate: String,
        details: serde_json::Value,
    ) -> Result<Option<i64>> {
        let actions: Vec<Action> = files
            .iter()
            .map(|file| {
                let mut remove = file.remove.clone();
                remove.data_change = true;
                Action::Remove(remove)
            })
            .collect();
        let operation = DeltaOperation::Delete {
            predicate: Some(predicate),
        };
        let mut attempt = 1;
        loop {
            if !self.all_live(files).await? {
                return Ok(None);
            }
            let snapshot = self
                .table
                .snapshot()
                .map_err(|e| Error::table(&self.name, e))?;
            let properties = commit_properties()
                .with_max_retries(0)
                .with_metadata([("insights".to_owned(), details.clone())]);
            let committed = CommitBuilder::from(properties)
                .with_actions(actions.clone())
                .build(Some(snapshot), self.table.log_store(), operation.clone())
                .await;
            match committed {
                Ok(finalized) => {
                    let version = i64::try_from(finalized.version()).unwrap_or(i64::MAX);
                    self.table.state = Some(finalized.snapshot());
                    self.record_digests().await;
                    return Ok(Some(version));
                }
                Err(e) if attempt >= REMOVE_ATTEMPTS => return Err(Error::table(&self.name, e)),
                Err(_) => {
                    attempt += 1;
                    self.reload().await?;
                }
            }
        }
    }

    /// The files in the table's storage that no version from now on needs: not live, and
    /// removed (or written and never committed) more than `grace` ago. Paths are relative to
    /// the table.
    pub(crate) async fn unreferenced_files(&self, grace: chrono::Duration) -> Result<Vec<String>> {
        let candidates = self.vacuum_candidates(grace).await?;
        // A file no commit ever named may be one a writer is about to commit: whatever the
        // grace, it stays until it is older than any write takes.
        let snapshot = self
            .table
            .snapshot()
            .map_err(|e| Error::table(&self.name, e))?;
        let log_store = self.table.log_store();
        let tombstones: std::collections::HashSet<String> = snapshot
            .all_tombstones(log_store.as_ref())
            .map_ok(|t| t.path().into_owned())
            .try_collect()
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        let store = self.table.object_store();
        let young = chrono::Utc::now() - UNCOMMITTED_MINIMUM_AGE.max(grace);
        let mut files = Vec::with_capacity(candidates.len());
        for path in candidates {
            if !tombstones.contains(&path) {
                let location = object_store::path::Path::from(path.as_str());
                match store.head(&location).await {
                    Ok(meta) if meta.last_modified > young => continue,
                    Ok(_) => {}
                    Err(object_store::Error::NotFound { .. }) => continue,
                    Err(e) => {
                        return Err(Error::Store {
                            store: self.name.clone(),
                            message: format!("reading {path}: {e}"),
                        });
                    }
                }
            }
            files.push(path);
        }
        Ok(files)
    }

    /// What Delta's own vacuum (full mode, dry run) would delete with `grace` as retention.
    async fn vacuum_candidates(&self, grace: chrono::Duration) -> Result<Vec<String>> {
        let metrics = self
            .table
            .clone()
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(grace)
            .with_enforce_retention_duration(false)
            .with_dry_run(true)
            .await
            .map_err(|e| Error::table(&self.name, e))?
            .1;
        Ok(metrics.files_deleted)
    }

    /// Records in a commit of its own (Delta `VACUUM START`, no data change) that `paths` are
    /// deleted, writes its digest (which hashes them while they still exist), then deletes
    /// them. Nothing is deleted unless the digest is written. Returns the commit's version.
    pub(crate) async fn delete_unreferenced(
        &mut self,
        paths: &[String],
        grace: chrono::Duration,
    ) -> Result<i64> {
        let details = serde_json::json!({
            "kind": "vacuum",
            "grace_hours": grace.num_hours(),
            "deleted": paths,
        });
        let operation = DeltaOperation::VacuumStart {
            retention_check_enabled: false,
            specified_retention_millis: Some(grace.num_milliseconds()),
            default_retention_millis: grace.num_milliseconds(),
        };
        let snapshot = self
            .table
            .snapshot()
            .map_err(|e| Error::table(&self.name, e))?;
        let properties = commit_properties().with_metadata([("insights".to_owned(), details)]);
        let finalized = CommitBuilder::from(properties)
            .with_actions(Vec::new())
            .build(Some(snapshot), self.table.log_store(), operation)
            .await
            .map_err(|e| Error::table(&self.name, e))?;
        let version = i64::try_from(finalized.version()).unwrap_or(i64::MAX);
        self.table.state = Some(finalized.snapshot());
        self.write_digests().await.map_err(|e| Error::Store {
            store: self.name.clone(),
            message: format!(
                "the vacuum of version {version} is recorded but its digest could not be \
                 written, so no file was deleted (run vacuum again): {e}"
            ),
        })?;
        let store = self.table.object_store();
        for path in paths {
            let location = object_store::path::Path::from(path.as_str());
            match store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    return Err(Error::Store {
                        store: self.name.clone(),
                        message: format!("deleting {path}: {e}"),
                    });
                }
            }
        }
        Ok(version)
    }
}
