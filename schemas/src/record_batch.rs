//! The table's Arrow schema and a builder of record batches from decoded events.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::error::ArrowError;

use crate::columns::{COLUMNS, TextOf, column, optional_texts};
use crate::decode::DecodedEvent;

/// The table's partition columns, in path order.
pub const PARTITION_COLUMNS: [&str; 2] = [column::ORGANIZATION, column::DATE];

const MICROS_PER_DAY: i64 = 86_400_000_000;

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|c| Field::new(c.name, c.kind.arrow(), c.nullable))
        .collect();
    Arc::new(Schema::new(fields))
});

/// The Arrow schema of the events table (partition columns included).
pub fn event_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// The UTC day (days since the epoch) of a timestamp, the `date` partition value.
pub fn day_of(timestamp_us: i64) -> i32 {
    // Out-of-range days cannot come from a parsed RFC 3339 year (0..=9999).
    i32::try_from(timestamp_us.div_euclid(MICROS_PER_DAY)).unwrap_or(i32::MAX)
}

/// Accumulates decoded events into Arrow columns.
pub struct EventBatchBuilder {
    timestamp: TimestampMicrosecondBuilder,
    id: StringBuilder,
    organization: StringBuilder,
    date: Date32Builder,
    service: StringBuilder,
    event_type: StringBuilder,
    success: BooleanBuilder,
    mfa: BooleanBuilder,
    /// The optional text columns of the catalogue, in schema order.
    strings: Vec<(StringBuilder, TextOf)>,
    ingest_seq: Int64Builder,
    raw: StringBuilder,
    raw_bytes: usize,
}

impl Default for EventBatchBuilder {
    fn default() -> Self {
        Self::with_capacity(1024, 1024 * 800)
    }
}

impl EventBatchBuilder {
    /// A builder sized for `rows` events of `raw_bytes` raw JSON in total.
    pub fn with_capacity(rows: usize, raw_bytes: usize) -> Self {
        let strings = optional_texts()
            .map(|(_, text_of)| (StringBuilder::with_capacity(rows, rows * 16), text_of))
            .collect();
        Self {
            timestamp: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            id: StringBuilder::with_capacity(rows, rows * 24),
            organization: StringBuilder::with_capacity(rows, rows * 24),
            date: Date32Builder::with_capacity(rows),
            service: StringBuilder::with_capacity(rows, rows * 8),
            event_type: StringBuilder::with_capacity(rows, rows * 16),
            success: BooleanBuilder::with_capacity(rows),
            mfa: BooleanBuilder::with_capacity(rows),
            strings,
            ingest_seq: Int64Builder::with_capacity(rows),
            raw: StringBuilder::with_capacity(rows, raw_bytes),
            raw_bytes: 0,
        }
    }

    /// Number of events appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.id.len()
    }

    /// Whether no event was appended since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of raw JSON appended since the last [`finish`](Self::finish).
    pub fn raw_bytes(&self) -> usize {
        self.raw_bytes
    }

    /// Appends one event with its ingest sequence number.
    pub fn append(&mut self, event: &DecodedEvent<'_>, ingest_seq: i64) {
        self.timestamp.append_value(event.timestamp_us);
        self.id.append_value(&event.id);
        self.organization.append_value(&event.organization);
        self.date.append_value(day_of(event.timestamp_us));
        self.service.append_value(&event.service);
        self.event_type.append_value(&event.event_type);
        self.success.append_option(event.success);
        self.mfa.append_option(event.mfa);
        for (builder, text_of) in &mut self.strings {
            builder.append_option(text_of(event));
        }
        self.ingest_seq.append_value(ingest_seq);
        self.raw.append_value(event.raw);
        self.raw_bytes += event.raw.len();
    }

    /// Returns the accumulated events as a batch of [`event_schema`] and resets the builder.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        // The optional text columns, in schema order, wherever the catalogue places them.
        let mut strings = self.strings.iter_mut().map(|(b, _)| Arc::new(b.finish()));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(COLUMNS.len());
        for c in COLUMNS {
            columns.push(match c.name {
                column::TIMESTAMP => Arc::new(self.timestamp.finish()),
                column::ID => Arc::new(self.id.finish()),
                column::ORGANIZATION => Arc::new(self.organization.finish()),
                column::DATE => Arc::new(self.date.finish()),
                column::SERVICE => Arc::new(self.service.finish()),
                column::EVENT_TYPE => Arc::new(self.event_type.finish()),
                column::SUCCESS => Arc::new(self.success.finish()),
                column::MFA => Arc::new(self.mfa.finish()),
                column::INGEST_SEQ => Arc::new(self.ingest_seq.finish()),
                column::RAW => Arc::new(self.raw.finish()),
                other => match strings.next() {
                    Some(array) => array,
                    None => {
                        return Err(ArrowError::SchemaError(format!(
                            "no builder for the column {other}"
                        )));
                    }
                },
            });
        }
        drop(strings);
        self.raw_bytes = 0;
        RecordBatch::try_new(event_schema(), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_event;

    #[test]
    fn builds_batches_of_the_schema() {
        let line = br#"{"id":"a","timestamp":"1970-01-01T23:59:59Z","service":"s","event_type":"e","organization":"o","username":"u"}"#;
        let event = decode_event(line, None).unwrap();
        let mut builder = EventBatchBuilder::default();
        builder.append(&event, 7);
        let batch = builder.finish().unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), event_schema());
        assert_eq!(day_of(event.timestamp_us), 0);
        assert!(builder.is_empty());
    }
}
