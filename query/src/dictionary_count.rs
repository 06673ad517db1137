//! Partial counts grouped by dictionary columns, counted by the dictionaries' keys.
//!
//! DataFusion groups dictionary-encoded strings through its row format: every row's values are
//! encoded, hashed and compared, which took about half of a count by service and event type.
//! Our low-cardinality columns (the dictionary columns of `insights_schemas::COLUMNS`) are read as dictionaries,
//! and a batch's rows share a few keys. [`DictionaryCount`] replaces the partial
//! `AggregateExec` of `count(*)` grouped only by such columns with [`DictionaryCountExec`],
//! which counts each batch by its keys and looks each dictionary's values up once. Its output is
//! the partial aggregate's own (the group values and one count per aggregate), so the final
//! aggregate above it is unchanged and sums the partial counts.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayData, ArrayRef, AsArray, Int64Array, RecordBatch, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int32Type, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{HashMap, Result, internal_datafusion_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, InputOrderMode,
    Partitioning, PlanProperties,
};
use futures::StreamExt;

/// At most this many group columns: their ids are packed 32 bits each into a `u128`.
const MAX_COLUMNS: usize = 4;

/// Partial groups held before they are sent on: the final aggregate merges a group sent twice,
/// so this bounds the memory of a count over many distinct values.
const FLUSH_GROUPS: usize = 64 * 1024;

/// The physical rule that plans [`DictionaryCountExec`]; it runs after DataFusion's own rules.
#[derive(Debug)]
pub(crate) struct DictionaryCount {
    /// Groups a partition holds before it sends them on.
    flush_groups: usize,
}

impl Default for DictionaryCount {
    fn default() -> Self {
        Self {
            flush_groups: FLUSH_GROUPS,
        }
    }
}

impl PhysicalOptimizerRule for DictionaryCount {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|plan| {
            Ok(match counted_by_keys(&plan, self.flush_groups) {
                Some(replaced) => Transformed::yes(replaced),
                None => Transformed::no(plan),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "DictionaryCount"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The dictionary type of [`crate::scan::query_schema`]'s dictionary columns.
fn is_string_dictionary(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Dictionary(key, value)
        if **key == DataType::Int32 && **value == DataType::Utf8)
}

/// The replacement of a partial `count(*)` grouped only by string dictionary columns, or `None`
/// for any other plan.
fn counted_by_keys(
    plan: &Arc<dyn ExecutionPlan>,
    flush_groups: usize,
) -> Option<Arc<dyn ExecutionPlan>> {
    let aggregate = plan.downcast_ref::<AggregateExec>()?;
    let group_by = aggregate.group_expr();
    if *aggregate.mode() != AggregateMode::Partial
        || !group_by.is_single()
        || group_by.is_empty()
        || group_by.expr().len() > MAX_COLUMNS
        || aggregate.limit_options().is_some()
        || !aggregate.dynamic_expressions_produced().is_empty()
        || *aggregate.input_order_mode() != InputOrderMode::Linear
        || aggregate.aggr_expr().is_empty()
    {
        return None;
    }
    let input_schema = aggregate.input().schema();
    let mut columns = Vec::with_capacity(group_by.expr().len());
    for (expr, _) in group_by.expr() {
        let column = expr.downcast_ref::<Column>()?;
        if !is_string_dictionary(input_schema.field(column.index()).data_type()) {
            return None;
        }
        columns.push(column.index());
    }
    for (function, filter) in aggregate.aggr_expr().iter().zip(aggregate.filter_expr()) {
        let counts_rows = function.fun().name() == "count"
            && !function.is_distinct()
            && filter.is_none()
            && function.order_bys().is_empty()
            && function.expressions().iter().all(|argument| {
                argument
                    .downcast_ref::<Literal>()
                    .is_some_and(|literal| !literal.value().is_null())
            })
            && function
                .state_fields()
                .is_ok_and(|fields| fields.len() == 1 && *fields[0].data_type() == DataType::Int64);
        if !counts_rows {
            return None;
        }
    }
    let schema = aggregate.schema();
    if schema.fields().len() != columns.len() + aggregate.aggr_expr().len() {
        return None;
    }
    Some(Arc::new(DictionaryCountExec::new(
        aggregate.input().clone(),
        columns,
        schema,
        plan.output_partitioning().clone(),
        flush_groups,
    )))
}

/// Partial `count(*)` grouped by string dictionary columns: the output of a partial
/// `AggregateExec` (group values, then one count column per aggregate), computed by keys.
#[derive(Debug, Clone)]
pub(crate) struct DictionaryCountExec {
    input: Arc<dyn ExecutionPlan>,
    /// The group columns' indices in the input.
    columns: Vec<usize>,
    /// Groups held before they are sent on.
    flush_groups: usize,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl DictionaryCountExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        columns: Vec<usize>,
        schema: SchemaRef,
        partitioning: Partitioning,
        flush_groups: usize,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            partitioning,
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            input,
            columns,
            flush_groups,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for DictionaryCountExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let input = self.input.schema();
        let names: Vec<String> = self
            .columns
            .iter()
            .map(|&index| format!("{}@{index}", input.field(index).name()))
            .collect();
        let counts = self.properties.eq_properties.schema().fields().len() - self.columns.len();
        write!(
            f,
            "DictionaryCountExec: gby=[{}], counts={counts}",
            names.join(", ")
        )
    }
}

impl ExecutionPlan for DictionaryCountExec {
    fn name(&self) -> &str {
        "DictionaryCountExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(internal_datafusion_err!(
                "DictionaryCountExec takes one input, not {}",
                children.len()
            ));
        }
        let input = children.swap_remove(0);
        let partitioning = match options.children_properties {
            ChildrenPropertiesMode::Keep => self.properties.partitioning.clone(),
            ChildrenPropertiesMode::Recompute => {
                // The counts keep the rows' partitions, and hash partitions by the group
                // columns stay valid; anything else is only as many partitions as the input.
                match input.output_partitioning() {
                    Partitioning::Hash(..) if self.same_partitioning(&input) => {
                        self.properties.partitioning.clone()
                    }
                    other => Partitioning::UnknownPartitioning(other.partition_count()),
                }
            }
        };
        Ok(Arc::new(Self::new(
            input,
            self.columns.clone(),
            self.properties.eq_properties.schema().clone(),
            partitioning,
            self.flush_groups,
        )))
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let state = CountState {
            input,
            counts: Counts::new(&self.columns),
            schema: schema.clone(),
            flush_groups: self.flush_groups,
            metrics,
            done: false,
        };
        let stream = futures::stream::try_unfold(state, CountState::next);
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

impl DictionaryCountExec {
    /// Whether a new input has the partitioning the plan was made with.
    fn same_partitioning(&self, input: &Arc<dyn ExecutionPlan>) -> bool {
        self.input.output_partitioning() == input.output_partitioning()
    }
}

/// One partition's counting as it pulls its input.
struct CountState {
    input: SendableRecordBatchStream,
    counts: Counts,
    schema: SchemaRef,
    flush_groups: usize,
    metrics: BaselineMetrics,
    done: bool,
}

impl CountState {
    async fn next(mut self) -> Result<Option<(RecordBatch, Self)>> {
        if self.done {
            return Ok(None);
        }
        while let Some(batch) = self.input.next().await.transpose()? {
            let timer = self.metrics.elapsed_compute().timer();
            self.counts.add(&batch)?;
            timer.done();
            if self.counts.groups.len() >= self.flush_groups {
                let out = self.counts.take(&self.schema)?;
                self.metrics.record_output(out.num_rows());
                return Ok(Some((out, self)));
            }
        }
        self.done = true;
        if self.counts.groups.is_empty() {
            return Ok(None);
        }
        let out = self.counts.take(&self.schema)?;
        self.metrics.record_output(out.num_rows());
        Ok(Some((out, self)))
    }
}

/// The ids one group column's values have been given; id 0 is null.
#[derive(Default)]
struct ColumnIds {
    /// The column's index in the input.
    index: usize,
    ids: HashMap<Box<str>, u32>,
    /// The value of each id, from id 1.
    values: Vec<Box<str>>,
    /// The dictionary the keys were last mapped for, and each of its keys' ids.
    dictionary: Option<ArrayData>,
    key_ids: Vec<u32>,
}

impl ColumnIds {
    /// Maps the keys of this dictionary, unless it is the one mapped last (a column chunk's
    /// batches share one dictionary).
    fn map_keys(&mut self, values: &ArrayRef) -> Result<()> {
        let data = values.to_data();
        if self
            .dictionary
            .as_ref()
            .is_some_and(|last| last.ptr_eq(&data))
        {
            return Ok(());
        }
        let strings = values
            .as_string_opt::<i32>()
            .ok_or_else(|| internal_datafusion_err!("dictionary values are not strings"))?;
        self.key_ids.clear();
        for value in strings.iter() {
            let id = match value {
                None => 0,
                Some(value) => match self.ids.get(value) {
                    Some(&id) => id,
                    None => {
                        self.values.push(value.into());
                        let id = u32::try_from(self.values.len()).map_err(|_| {
                            internal_datafusion_err!("more than 2^32 values in one count")
                        })?;
                        self.ids.insert(value.into(), id);
                        id
                    }
                },
            };
            self.key_ids.push(id);
        }
        self.dictionary = Some(data);
        Ok(())
    }

    fn value(&self, id: u32) -> Option<&str> {
        (id > 0).then(|| &*self.values[id as usize - 1])
    }
}

/// The partial counts of one partition, by the group columns' ids packed into a `u128`.
struct Counts {
    columns: Vec<ColumnIds>,
    groups: HashMap<u128, i64>,
    /// Per row: the slot of its key combination (dense counting) or its packed ids.
    slots: Vec<usize>,
    packed: Vec<u128>,
    dense: Vec<i64>,
}

impl Counts {
    fn new(columns: &[usize]) -> Self {
        Self {
            columns: columns
                .iter()
                .map(|&index| ColumnIds {
                    index,
                    ..ColumnIds::default()
                })
                .collect(),
            groups: HashMap::default(),
            slots: Vec::new(),
            packed: Vec::new(),
            dense: Vec::new(),
        }
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let mut dictionaries = Vec::with_capacity(self.columns.len());
        // Key combinations of this batch's dictionaries, with a slot for a null key.
        let mut combinations: usize = 1;
        for column in &mut self.columns {
            let dictionary = batch
                .column(column.index)
                .as_dictionary_opt::<Int32Type>()
                .ok_or_else(|| internal_datafusion_err!("group column is not a dictionary"))?;
            column.map_keys(dictionary.values())?;
            combinations = combinations.saturating_mul(column.key_ids.len() + 1);
            dictionaries.push(dictionary);
        }
        if combinations <= rows.max(1024) {
            // Few key combinations: count them in an array, then give each its group.
            self.slots.clear();
            self.slots.resize(rows, 0);
            let mut stride = 1;
            for (column, dictionary) in self.columns.iter().zip(&dictionaries) {
                let keys = dictionary.keys().values();
                match dictionary.nulls() {
                    None => {
                        for (slot, &key) in self.slots.iter_mut().zip(keys.iter()) {
                            *slot += (key as usize + 1) * stride;
                        }
                    }
                    Some(nulls) => {
                        for (row, slot) in self.slots.iter_mut().enumerate() {
                            if nulls.is_valid(row) {
                                *slot += (keys[row] as usize + 1) * stride;
                            }
                        }
                    }
                }
                stride *= column.key_ids.len() + 1;
            }
            self.dense.clear();
            self.dense.resize(combinations, 0);
            for &slot in &self.slots {
                self.dense[slot] += 1;
            }
            for (combination, &count) in self.dense.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let mut rest = combination;
                let mut packed = 0u128;
                for (position, column) in self.columns.iter().enumerate() {
                    let width = column.key_ids.len() + 1;
                    let slot = rest % width;
                    rest /= width;
                    let id = if slot == 0 {
                        0
                    } else {
                        column.key_ids[slot - 1]
                    };
                    packed |= u128::from(id) << (32 * position);
                }
                *self.groups.entry(packed).or_insert(0) += count;
            }
        } else {
            // Many key combinations: pack each row's ids and count them in the groups.
            self.packed.clear();
            self.packed.resize(rows, 0);
            for (position, (column, dictionary)) in
                self.columns.iter().zip(&dictionaries).enumerate()
            {
                let keys = dictionary.keys().values();
                let shift = 32 * position;
                for (row, packed) in self.packed.iter_mut().enumerate() {
                    if dictionary.is_valid(row) {
                        *packed |= u128::from(column.key_ids[keys[row] as usize]) << shift;
                    }
                }
            }
            for &packed in &self.packed {
                *self.groups.entry(packed).or_insert(0) += 1;
            }
        }
        Ok(())
    }

    /// The counts so far as a batch of the partial aggregate's schema; starts afresh.
    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let groups = std::mem::take(&mut self.groups);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (position, column) in self.columns.iter().enumerate() {
            let mut values = StringBuilder::with_capacity(groups.len(), groups.len() * 16);
            for &packed in groups.keys() {
                values.append_option(column.value((packed >> (32 * position)) as u32));
            }
            let values: ArrayRef = Arc::new(values.finish());
            arrays.push(cast(&values, schema.field(position).data_type())?);
        }
        let counts: ArrayRef = Arc::new(Int64Array::from_iter_values(groups.values().copied()));
        while arrays.len() < schema.fields().len() {
            arrays.push(counts.clone());
        }
        for column in &mut self.columns {
            *column = ColumnIds {
                index: column.index,
                ..ColumnIds::default()
            };
        }
        Ok(RecordBatch::try_new(schema.clone(), arrays)?)
    }
}

#[cfg(test)]
mod tests;
