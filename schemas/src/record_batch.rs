//! The table's Arrow schema and a builder of record batches from decoded events.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;

use crate::decode::DecodedEvent;

/// Column names of the events table.
pub mod column {
    pub const TIMESTAMP: &str = "timestamp";
    pub const ID: &str = "id";
    pub const ORGANIZATION: &str = "organization";
    pub const DATE: &str = "date";
    pub const SERVICE: &str = "service";
    pub const EVENT_TYPE: &str = "event_type";
    pub const SUCCESS: &str = "success";
    pub const CLIENT_IP: &str = "client_ip";
    pub const USERNAME: &str = "username";
    pub const INGEST_SEQ: &str = "ingest_seq";
    pub const RAW: &str = "raw";
}

/// The table's partition columns, in path order.
pub const PARTITION_COLUMNS: [&str; 2] = [column::ORGANIZATION, column::DATE];

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Optional string columns, in schema order after the fixed leading columns.
const OPTIONAL_STRINGS: [&str; 14] = [
    "client_ip",
    "username",
    "initiated_by_id",
    "initiated_by_type",
    "initiated_by_email",
    "resource_id",
    "resource_type",
    "resource_name",
    "system_id",
    "system_hostname",
    "application_name",
    "auth_method",
    "error_message",
    "geoip_country_code",
];

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![
        Field::new(
            column::TIMESTAMP,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new(column::ID, DataType::Utf8, false),
        Field::new(column::ORGANIZATION, DataType::Utf8, false),
        Field::new(column::DATE, DataType::Date32, false),
        Field::new(column::SERVICE, DataType::Utf8, false),
        Field::new(column::EVENT_TYPE, DataType::Utf8, false),
        Field::new(column::SUCCESS, DataType::Boolean, true),
        Field::new("mfa", DataType::Boolean, true),
    ];
    fields.extend(
        OPTIONAL_STRINGS
            .iter()
            .map(|name| Field::new(*name, DataType::Utf8, true)),
    );
    fields.push(Field::new(column::INGEST_SEQ, DataType::Int64, false));
    fields.push(Field::new(column::RAW, DataType::Utf8, false));
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
    strings: Vec<StringBuilder>,
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
        let strings = OPTIONAL_STRINGS
            .iter()
            .map(|_| StringBuilder::with_capacity(rows, rows * 16))
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
        let optional = [
            &event.client_ip,
            &event.username,
            &event.initiated_by_id,
            &event.initiated_by_type,
            &event.initiated_by_email,
            &event.resource_id,
            &event.resource_type,
            &event.resource_name,
            &event.system_id,
            &event.system_hostname,
            &event.application_name,
            &event.auth_method,
            &event.error_message,
            &event.geoip_country_code,
        ];
        for (builder, value) in self.strings.iter_mut().zip(optional) {
            builder.append_option(value.as_deref());
        }
        self.ingest_seq.append_value(ingest_seq);
        self.raw.append_value(event.raw);
        self.raw_bytes += event.raw.len();
    }

    /// Returns the accumulated events as a batch of [`event_schema`] and resets the builder.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.timestamp.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.organization.finish()),
            Arc::new(self.date.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.success.finish()),
            Arc::new(self.mfa.finish()),
        ];
        columns.extend(
            self.strings
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.push(Arc::new(self.ingest_seq.finish()));
        columns.push(Arc::new(self.raw.finish()));
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
