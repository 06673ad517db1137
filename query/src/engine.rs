//! The query engine: the events table behind DataFusion sessions scoped to organizations.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use datafusion::catalog::TableProvider;
use datafusion::common::config::SpillCompression;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{DataFrame, Expr, SessionConfig, SessionContext, col, in_list, lit};

use insights_ingest::{EventTable, StoreLocation};
use insights_schemas::column;

use crate::capped_pool::CappedPool;
use crate::dictionary_count::DictionaryCount;
use crate::error::Result;
use crate::limits::{YieldAfterJoins, guard_functions};
use crate::scan::{EventsProvider, FileOrder, SequentialRead};

/// Limits of the engine's query execution.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Memory that sorts and aggregations may hold before they spill to disk, shared by every
    /// query of the engine.
    pub memory_limit: usize,
    /// Parquet footers and page indexes kept across queries, in bytes.
    pub metadata_cache: usize,
    /// Parallel partitions per query; 0 means one per core.
    pub target_partitions: usize,
    /// DataFusion settings (`datafusion.execution.batch_size` = `4096`, ...) applied after the
    /// engine's own, for measuring alternatives.
    pub options: Vec<(String, String)>,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            memory_limit: 256 << 20,
            metadata_cache: 16 << 20,
            target_partitions: 0,
            options: Vec::new(),
        }
    }
}

/// The organizations a query may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every organization in the store (an operator at the command line, an admin key).
    All,
    /// These organizations only (never empty).
    Organizations(Vec<String>),
}

impl Scope {
    /// A scope of one organization.
    pub fn one(organization: impl Into<String>) -> Self {
        Scope::Organizations(vec![organization.into()])
    }

    /// The filter that keeps a scan inside the scope, or `None` for every organization.
    pub(crate) fn filter(&self) -> Option<Expr> {
        match self {
            Scope::All => None,
            Scope::Organizations(orgs) => Some(in_list(
                col(column::ORGANIZATION),
                orgs.iter().map(|org| lit(org.as_str())).collect(),
                false,
            )),
        }
    }

    /// Whether the scope includes this organization.
    pub fn contains(&self, organization: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Organizations(orgs) => orgs.iter().any(|org| org == organization),
        }
    }
}

/// Memory that one export's sorts may hold before they spill to disk (within the engine's
/// shared pool): a day partition larger than this is sorted in runs on disk and merged.
pub(crate) const EXPORT_MEMORY: usize = 32 << 20;

/// Spilled runs that a sort merges at once; more are merged in passes. A merge holds a batch
/// of every run it reads, and a merge's reservation cannot spill, so without this bound a day
/// many times larger than an export's memory took its merge's memory from the shared pool
/// (600,000 events in one day: 330-336 MiB peak; with this bound, 199-200 MiB).
const SPILL_MERGE_FAN_IN: usize = 16;

/// Rows per batch of an export's scan and sort. A batch of whole events is about 800 KiB, and
/// the merge of a spilled day holds one batch per run.
const EXPORT_BATCH_ROWS: usize = 1024;

/// Session settings of every query.
fn session_config(target_partitions: usize, options: &[(String, String)]) -> Result<SessionConfig> {
    let mut config = SessionConfig::new()
        // Filters run inside the Parquet decoder only where a scan reads `raw` (the provider
        // decides per scan), so `raw` is decoded only for matching rows.
        .set_bool("datafusion.execution.parquet.pushdown_filters", false)
        .set_bool("datafusion.execution.parquet.reorder_filters", true)
        // A string view keeps its whole decoded page alive behind each selected row; plain
        // strings measured ~10 MiB lower peak memory in exports.
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        );
    if target_partitions > 0 {
        config = config.with_target_partitions(target_partitions);
    }
    for (key, value) in options {
        config.options_mut().set(key, value)?;
    }
    Ok(config)
}

/// Where the sessions' runtime finds the table's object store; the table's file paths are
/// relative to it.
const TABLE_STORE_URL: &str = "insights-table://events";

/// One loaded state of the table: its version and a table provider over it.
pub(crate) struct Loaded {
    table: EventTable,
    provider: Arc<dyn TableProvider>,
}

/// Answers queries over a store's events table. Cheap to share behind an `Arc`; every query
/// runs against the table version loaded at its start.
pub struct QueryEngine {
    store: StoreLocation,
    runtime: Arc<RuntimeEnv>,
    config: QueryConfig,
    loaded: RwLock<Arc<Loaded>>,
}

impl QueryEngine {
    /// Opens the events table of an existing store.
    pub async fn open(store: &StoreLocation, config: QueryConfig) -> Result<Self> {
        let table = EventTable::open(store).await?;
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(config.memory_limit)))
            .with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN)
            .with_cache_manager(
                CacheManagerConfig::default()
                    .with_metadata_cache_limit(config.metadata_cache)
                    .with_file_statistics_cache_limit(config.metadata_cache / 4),
            )
            .build_arc()?;
        let loaded = Self::load(table, &runtime).await?;
        Ok(Self {
            store: store.clone(),
            runtime,
            config,
            loaded: RwLock::new(Arc::new(loaded)),
        })
    }

    async fn load(table: EventTable, runtime: &Arc<RuntimeEnv>) -> Result<Loaded> {
        let url = ObjectStoreUrl::parse(TABLE_STORE_URL)?;
        runtime.register_object_store(url.as_ref(), table.object_store());
        let provider = Arc::new(EventsProvider::new(&table, url).await?);
        Ok(Loaded { table, provider })
    }

    /// The memory that every query of the engine shares.
    pub(crate) fn memory_pool(&self) -> Arc<dyn datafusion::execution::memory_pool::MemoryPool> {
        self.runtime.memory_pool.clone()
    }

    /// The store this engine reads.
    pub fn store(&self) -> &StoreLocation {
        &self.store
    }

    /// The table version queries currently run against.
    pub fn version(&self) -> i64 {
        self.current().table.version()
    }

    /// Loads commits made since the engine's table version, if any.
    pub async fn refresh(&self) -> Result<i64> {
        let current = self.current();
        let mut table = current.table.clone();
        if !table.refresh().await? {
            return Ok(current.table.version());
        }
        let loaded = Self::load(table, &self.runtime).await?;
        let version = loaded.table.version();
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        Ok(version)
    }

    /// The table version now loaded; reads that must all see the same one share it.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The (organization, date) partitions in scope, dates as `YYYY-MM-DD`, with their rows.
    pub async fn partitions(&self, scope: &Scope) -> Result<BTreeMap<(String, String), u64>> {
        let loaded = self.current();
        let all = insights_ingest::maintenance::partitions(&loaded.table).await?;
        Ok(all
            .into_iter()
            .filter(|((org, _), _)| scope.contains(org))
            .collect())
    }

    /// A fresh DataFusion session with the JSON functions registered.
    pub(crate) fn context(&self) -> Result<SessionContext> {
        self.context_with(false)
    }

    /// A session whose scans evaluate filters inside the Parquet decoder, for selective filters
    /// over a wide projection: the other columns are decoded only for matching rows.
    pub(crate) fn context_filtering_in_scan(&self) -> Result<SessionContext> {
        self.context_with(true)
    }

    /// A session for a page of events: its scans read the files in `order` (see
    /// [`FileOrder`]) and evaluate filters inside the Parquet decoder, since a page's keys
    /// include the id, plain strings that are then decoded only for matching rows (measured
    /// over HTTP on a day of 1.5 million events in 24 ingest files: failed logins, newest 100,
    /// 91 ms with filters after decoding, 51-56 ms inside the decoder).
    pub(crate) fn context_reading(&self, order: FileOrder) -> Result<SessionContext> {
        self.context_of(true, Some(order), None)
    }

    /// The runtime of one export: the engine's, with a memory ceiling of the export's own
    /// ([`EXPORT_MEMORY`]) within the shared pool, past which its sorts spill to disk.
    pub(crate) fn export_runtime(&self) -> Result<Arc<RuntimeEnv>> {
        let pool = CappedPool::new(self.runtime.memory_pool.clone(), EXPORT_MEMORY);
        Ok(RuntimeEnvBuilder::from_runtime_env(&self.runtime)
            .with_memory_pool(Arc::new(pool))
            .build_arc()?)
    }

    /// A session for an export, which reads whole days once, in order, on `runtime` (see
    /// [`Self::export_runtime`]): its scans keep the cache of file footers but do not fill it
    /// with page indexes (see [`SequentialRead`]), and what its sorts spill is compressed.
    pub(crate) fn context_exporting(&self, runtime: &Arc<RuntimeEnv>) -> Result<SessionContext> {
        self.context_of(false, None, Some(runtime))
    }

    fn context_with(&self, filter_in_scan: bool) -> Result<SessionContext> {
        self.context_of(filter_in_scan, None, None)
    }

    fn context_of(
        &self,
        filter_in_scan: bool,
        order: Option<FileOrder>,
        export: Option<&Arc<RuntimeEnv>>,
    ) -> Result<SessionContext> {
        let mut config = session_config(self.config.target_partitions, &self.config.options)?;
        if filter_in_scan {
            config.options_mut().execution.parquet.pushdown_filters = true;
        }
        if let Some(order) = order {
            config = config.with_extension(Arc::new(order));
        }
        if export.is_some() {
            config = config
                .with_extension(Arc::new(SequentialRead))
                .with_batch_size(EXPORT_BATCH_ROWS);
            config.options_mut().execution.spill_compression = SpillCompression::Lz4Frame;
        }
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(export.unwrap_or(&self.runtime).clone())
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(DictionaryCount::default()))
            .with_physical_optimizer_rule(Arc::new(YieldAfterJoins))
            .build();
        let mut ctx = SessionContext::new_with_state(state);
        datafusion_functions_json::register_all(&mut ctx)?;
        ctx.register_udf(crate::date_trunc::udf());
        guard_functions(&ctx, &self.runtime.memory_pool);
        Ok(ctx)
    }

    /// The events the scope may see, as a DataFrame of the session; nothing outside the scope
    /// is reachable from it.
    pub(crate) fn events(&self, ctx: &SessionContext, scope: &Scope) -> Result<DataFrame> {
        self.events_of(ctx, scope, &self.current())
    }

    /// [`Self::events`] of one loaded table version.
    pub(crate) fn events_of(
        &self,
        ctx: &SessionContext,
        scope: &Scope,
        loaded: &Loaded,
    ) -> Result<DataFrame> {
        let frame = ctx.read_table(loaded.provider.clone())?;
        Ok(match scope.filter() {
            Some(filter) => frame.filter(filter)?,
            None => frame,
        })
    }
}
