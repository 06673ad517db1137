//! The rows an enrichment reads: the subject's events over the typed columns only, and the raw
//! JSON of the few events whose details the report shows.

use std::collections::HashMap;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int32Type, TimestampMicrosecondType};
use datafusion::prelude::{Expr, col, in_list, lit};
use futures::TryStreamExt;
use serde_json::Value;

use insights_schemas::column;

use super::Window;
use crate::engine::{QueryEngine, Scope};
use crate::error::{Error, Result};
use crate::fields::timestamp_lit;
use crate::filter;

/// Times in one list of [`at_times`]: up to DataFusion's `max_in_list_size` (20), a list of
/// times still prunes pages by their time statistics.
const TIMES_PER_LOOK: usize = 20;

/// Rows at one of `times` (sorted): a list of at most [`TIMES_PER_LOOK`] times per disjunct, so
/// that each still prunes pages by their time statistics. Each list is bounded by its first
/// and last time as well, which keeps the optimizer from merging the lists into one too long
/// to prune by. `None` for no times.
pub(super) fn at_times(times: &[i64]) -> Option<Expr> {
    times
        .chunks(TIMES_PER_LOOK)
        .map(|chunk| {
            let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
            col(column::TIMESTAMP)
                .between(timestamp_lit(first), timestamp_lit(last))
                .and(in_list(
                    col(column::TIMESTAMP),
                    chunk.iter().map(|&micros| timestamp_lit(micros)).collect(),
                    false,
                ))
        })
        .reduce(Expr::or)
}

/// The text columns an enrichment reads, in the order of [`Col`]; `raw`, the last, only when
/// named.
const TEXT_COLUMNS: [&str; 16] = [
    column::ID,
    column::SERVICE,
    column::EVENT_TYPE,
    column::CLIENT_IP,
    column::USERNAME,
    column::INITIATED_BY_ID,
    column::INITIATED_BY_TYPE,
    column::INITIATED_BY_EMAIL,
    column::RESOURCE_ID,
    column::RESOURCE_TYPE,
    column::RESOURCE_NAME,
    column::SYSTEM_ID,
    column::SYSTEM_HOSTNAME,
    column::APPLICATION_NAME,
    column::GEOIP_COUNTRY_CODE,
    column::RAW,
];

/// A text column of [`Rows`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Col {
    Id,
    Service,
    EventType,
    ClientIp,
    Username,
    InitiatedById,
    InitiatedByType,
    InitiatedByEmail,
    ResourceId,
    ResourceType,
    ResourceName,
    SystemId,
    SystemHostname,
    ApplicationName,
    Country,
    /// The event's JSON: read only by a look at a few rows.
    Raw,
}

/// A text column of a batch: plain strings, or a dictionary's values and the rows' keys, or
/// not read at all.
enum Text {
    Unread,
    Plain(StringArray),
    Dictionary {
        keys: Int32Array,
        values: StringArray,
    },
}

impl Text {
    fn of(array: &ArrayRef) -> Result<Self> {
        // The query schema's dictionaries have `Int32` keys; their keys are read as they are.
        if let Some(dictionary) = array.as_dictionary_opt::<Int32Type>() {
            let values = cast(dictionary.values(), &DataType::Utf8)?;
            return Ok(Text::Dictionary {
                keys: dictionary.keys().clone(),
                values: values.as_string::<i32>().clone(),
            });
        }
        let plain = match array.data_type() {
            DataType::Utf8 => array.clone(),
            _ => cast(array, &DataType::Utf8)?,
        };
        Ok(Text::Plain(plain.as_string::<i32>().clone()))
    }

    fn get(&self, row: usize) -> Option<&str> {
        match self {
            Text::Unread => None,
            Text::Plain(array) => array.is_valid(row).then(|| array.value(row)),
            Text::Dictionary { keys, values } => {
                let key = keys.is_valid(row).then(|| keys.value(row) as usize)?;
                (key < values.len() && values.is_valid(key)).then(|| values.value(key))
            }
        }
    }
}

/// One batch of the subject's events.
pub(super) struct Rows {
    timestamps: TimestampMicrosecondArray,
    success: BooleanArray,
    mfa: BooleanArray,
    texts: Vec<Text>,
}

impl Rows {
    fn from_batch(batch: &RecordBatch) -> Result<Self> {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| Error::Invalid(format!("enrichment rows lack the column {name}")))
        };
        let texts = TEXT_COLUMNS
            .iter()
            .map(|name| match batch.column_by_name(name) {
                Some(array) => Text::of(array),
                None => Ok(Text::Unread),
            })
            .collect::<Result<Vec<_>>>()?;
        let flags = |name: &str| match batch.column_by_name(name) {
            Some(array) => array.as_boolean().clone(),
            None => BooleanArray::new_null(batch.num_rows()),
        };
        Ok(Self {
            timestamps: column(column::TIMESTAMP)?
                .as_primitive::<TimestampMicrosecondType>()
                .clone(),
            success: flags(column::SUCCESS),
            mfa: flags(column::MFA),
            texts,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub(super) fn micros(&self, row: usize) -> i64 {
        self.timestamps.value(row)
    }

    pub(super) fn text(&self, col: Col, row: usize) -> Option<&str> {
        self.texts[col as usize].get(row)
    }

    pub(super) fn success(&self, row: usize) -> Option<bool> {
        self.success.is_valid(row).then(|| self.success.value(row))
    }

    pub(super) fn mfa(&self, row: usize) -> Option<bool> {
        self.mfa.is_valid(row).then(|| self.mfa.value(row))
    }

    /// The row's identity, to fetch its raw event.
    pub(super) fn key(&self, row: usize) -> Key {
        Key {
            micros: self.micros(row),
            id: self.text(Col::Id, row).unwrap_or_default().to_owned(),
        }
    }
}

/// An event's identity within an organization: its time and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Key {
    pub micros: i64,
    pub id: String,
}

/// Rows inside the window: `days` before `at`, `at` included, with the `date` partitions it spans.
fn in_window(window: Window) -> Expr {
    filter::within(window.start_us(), window.at_us + 1).and(window_days(window))
}

/// The `date` partitions the window spans: whole days, so they hold rows a little before and
/// after the window as well.
fn window_days(window: Window) -> Expr {
    filter::days(window.start_us(), window.at_us)
}

impl QueryEngine {
    /// Calls `each` with every row of the organization's events in the window that pass
    /// `filter`, batch by batch as the scan yields them (nothing is collected), over every
    /// typed column an enrichment reads, or only `reads` (and the timestamp and success) when
    /// given; columns not read read as null.
    pub(super) async fn fold_rows(
        &self,
        organization: &str,
        window: Window,
        filter: Expr,
        reads: Option<&[Col]>,
        mut each: impl FnMut(&Rows, usize),
    ) -> Result<()> {
        // The filter is selective: evaluating it inside the decoder decodes the other columns
        // only for the subject's rows.
        let ctx = self.context_filtering_in_scan()?;
        let columns: Vec<Expr> = match reads {
            Some(reads) => [column::TIMESTAMP, column::SUCCESS]
                .into_iter()
                .chain(reads.iter().map(|c| TEXT_COLUMNS[*c as usize]))
                .map(col)
                .collect(),
            None => [column::TIMESTAMP, column::SUCCESS, column::MFA]
                .into_iter()
                .chain(TEXT_COLUMNS.into_iter().filter(|name| *name != column::RAW))
                .map(col)
                .collect(),
        };
        // The scan keeps to the window's days; the rows of its first and last day outside the
        // window are dropped here. A time filter in the scan would be evaluated inside the
        // decoder as a filter of its own, over every row of every day (measured on the busy
        // host's scan: 66 ms without it, 105–120 ms with it), to drop rows of two days only.
        let (start, end) = (window.start_us(), window.at_us);
        let mut stream = self
            .events(&ctx, &Scope::one(organization))?
            .filter(window_days(window).and(filter))?
            .select(columns)?
            .execute_stream()
            .await?;
        let started = std::time::Instant::now();
        // How long the rows took to fold, apart from the scan's own time.
        let (mut folding, mut read) = (std::time::Duration::ZERO, 0usize);
        while let Some(batch) = stream.try_next().await? {
            if batch.num_rows() > 0 {
                let folded = std::time::Instant::now();
                read += batch.num_rows();
                let rows = Rows::from_batch(&batch)?;
                for row in 0..rows.len() {
                    if (start..=end).contains(&rows.micros(row)) {
                        each(&rows, row);
                    }
                }
                folding += folded.elapsed();
            }
        }
        tracing::debug!(
            rows = read,
            elapsed_ms = started.elapsed().as_millis() as u64,
            folding_ms = folding.as_millis() as u64,
            "enrichment: rows folded"
        );
        Ok(())
    }

    /// Reads into `raw` the events of `keys` that it does not hold yet; answers how many
    /// were asked for.
    pub(super) async fn read_raw<'k>(
        &self,
        organization: &str,
        window: Window,
        keys: impl Iterator<Item = &'k Key>,
        raw: &mut HashMap<Key, Value>,
    ) -> Result<usize> {
        let missing: Vec<Key> = keys.filter(|key| !raw.contains_key(key)).cloned().collect();
        raw.extend(self.raw_events(organization, window, &missing).await?);
        Ok(missing.len())
    }

    /// The raw events of `keys`, parsed, found by time and id in one scan: its filter names
    /// the keys' times in lists of at most [`TIMES_PER_LOOK`] ([`at_times`]), so the pages'
    /// time statistics skip every page that holds none of them, and `id` and `raw` are decoded
    /// only in the pages that remain. (One scan per list of times cost each list a plan and
    /// the opening of every file of the window: 181 events in ten scans took about 50 ms.)
    pub(super) async fn raw_events(
        &self,
        organization: &str,
        window: Window,
        keys: &[Key],
    ) -> Result<HashMap<Key, Value>> {
        let mut found = HashMap::new();
        let wanted: std::collections::HashSet<&Key> = keys.iter().collect();
        let mut times: Vec<i64> = wanted.iter().map(|key| key.micros).collect();
        times.sort_unstable();
        times.dedup();
        let Some(at_times) = at_times(&times) else {
            return Ok(found);
        };
        let mut ids: Vec<&str> = wanted.iter().map(|key| key.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let ctx = self.context()?;
        let mut stream = self
            .events(&ctx, &Scope::one(organization))?
            .filter(
                // The keys' times are inside the window: its days suffice.
                window_days(window).and(at_times).and(in_list(
                    col(column::ID),
                    ids.into_iter().map(lit).collect(),
                    false,
                )),
            )?
            .select(vec![
                col(column::TIMESTAMP),
                col(column::ID),
                col(column::RAW),
            ])?
            .execute_stream()
            .await?;
        while let Some(batch) = stream.try_next().await? {
            let times = batch.column(0).as_primitive::<TimestampMicrosecondType>();
            let ids = cast(batch.column(1), &DataType::Utf8)?;
            let raws = cast(batch.column(2), &DataType::Utf8)?;
            let (ids, raws) = (ids.as_string::<i32>(), raws.as_string::<i32>());
            for row in 0..batch.num_rows() {
                let key = Key {
                    micros: times.value(row),
                    id: ids.value(row).to_owned(),
                };
                if wanted.contains(&key)
                    && let Ok(event) = serde_json::from_str::<Value>(raws.value(row))
                {
                    found.insert(key, event);
                }
            }
        }
        Ok(found)
    }

    /// The id of the `kind` resource whose `resource.<field>` in admin events is `name`
    /// (lower-case), as last seen. Only admin events about such resources are read for it.
    pub(super) async fn resource_id_by(
        &self,
        organization: &str,
        kind: &str,
        field: &str,
        name: &str,
        window: Window,
    ) -> Result<Option<String>> {
        let value = datafusion_functions_json::udfs::json_as_text_udf().call(vec![
            col(column::RAW),
            lit("resource"),
            lit(field.to_owned()),
        ]);
        let ctx = self.context()?;
        let batches: Vec<RecordBatch> = self
            .events(&ctx, &Scope::one(organization))?
            .filter(
                in_window(window)
                    .and(col(column::SERVICE).eq(lit("directory")))
                    .and(col(column::RESOURCE_TYPE).eq(lit(kind.to_owned())))
                    .and(crate::case_fold::matches_any(value, [name])),
            )?
            .sort(vec![col(column::TIMESTAMP).sort(false, false)])?
            .select(vec![col(column::RESOURCE_ID)])?
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
}

/// The newest `n` of `items` by time, newest first.
pub(super) fn newest<T>(mut items: Vec<(Key, T)>, n: usize) -> Vec<(Key, T)> {
    items.sort_by(|a, b| b.0.cmp(&a.0));
    items.truncate(n);
    items
}
