//! Encoders from record batches of events to output bytes: NDJSON (the raw events), a JSON
//! array, CSV (RFC 4180, flattened columns) and a text table. An encoder appends to a caller's
//! buffer batch by batch, so output streams with memory bounded by one batch.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use insights_schemas::{column, flat_columns, format_timestamp_us};

use crate::error::{Error, Result};
use crate::paths::Paths;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One event per line: the raw event (or the requested fields) as JSON.
    Ndjson,
    /// A JSON array of the raw events (or of the requested fields).
    Json,
    /// RFC 4180 CSV with a header: the typed columns plus any requested dot paths.
    Csv,
    /// A text table of the main typed columns, for people at a terminal.
    Table,
}

impl Format {
    /// Parses `ndjson`, `json`, `csv` or `table`.
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "table" => Ok(Format::Table),
            other => Err(Error::Invalid(format!(
                "unknown format {other:?}; use ndjson, json, csv or table"
            ))),
        }
    }

    /// The HTTP content type of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Table => "text/plain; charset=utf-8",
        }
    }

    /// The file extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Table => "txt",
        }
    }

    /// The columns a scan must produce for this format.
    pub(crate) fn columns(self, fields: &[String]) -> Vec<&'static str> {
        match self {
            Format::Ndjson | Format::Json => vec![column::TIMESTAMP, column::ID, column::RAW],
            // CSV of chosen fields: the fields only, read from the event.
            Format::Csv if !fields.is_empty() => vec![column::TIMESTAMP, column::ID, column::RAW],
            Format::Csv | Format::Table => {
                let mut columns: Vec<&str> = flat_columns().collect();
                if !fields.is_empty() {
                    columns.push(column::RAW);
                }
                columns
            }
        }
    }
}

/// The columns of text-table output.
const TABLE_COLUMNS: [&str; 8] = [
    column::TIMESTAMP,
    column::SERVICE,
    column::EVENT_TYPE,
    column::SUCCESS,
    column::USERNAME,
    column::CLIENT_IP,
    column::SYSTEM_HOSTNAME,
    column::ID,
];

/// The column of a scan that holds each event's requested fields already encoded, one record
/// per row (see [`Records`]).
pub(crate) const RECORD: &str = "record";

/// The requested dot paths of events, encoded as one record per event: a CSV row (strings as
/// they are, other values as JSON, absent ones empty) or a JSON object nested as in the event.
/// Each event's JSON is read once however many paths are requested.
#[derive(Debug)]
pub(crate) struct Records {
    csv: bool,
    fields: Vec<Vec<String>>,
    paths: Paths,
}

impl Records {
    /// The records of `fields` in `format` (CSV, or a JSON object for the JSON formats).
    pub(crate) fn new(format: Format, fields: &[String]) -> Self {
        let fields: Vec<Vec<String>> = fields
            .iter()
            .map(|f| f.split('.').map(str::to_owned).collect())
            .collect();
        Self {
            csv: matches!(format, Format::Csv | Format::Table),
            paths: Paths::new(&fields),
            fields,
        }
    }

    /// Appends the record of `event` (a stored event's JSON) to `out`; `found` is scratch space.
    pub(crate) fn write<'a>(
        &self,
        event: &'a str,
        found: &mut Vec<Option<&'a RawValue>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        self.paths.find(event, found);
        if self.csv {
            for (i, value) in found.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if let Some(value) = value {
                    csv_value(value, out);
                }
            }
            Ok(())
        } else {
            serde_json::to_writer(&mut *out, &project(&self.fields, found))
                .map_err(|e| Error::Invalid(format!("encoding an event: {e}")))
        }
    }

    /// The record of a row without an event (`raw` is never null in the table): every field
    /// absent.
    fn write_empty(&self, out: &mut Vec<u8>) {
        if self.csv {
            out.extend(std::iter::repeat_n(
                b',',
                self.fields.len().saturating_sub(1),
            ));
        } else {
            out.extend_from_slice(b"{}");
        }
    }
}

/// A scalar function of the `raw` column that encodes each event's requested `fields` as a
/// [`Records`] record. An export selects it before its sort, so each event's JSON is read once,
/// where the scan decompresses it, and the sort holds only the records.
pub(crate) fn records_udf(format: Format, fields: &[String]) -> ScalarUDF {
    ScalarUDF::new_from_impl(RecordsUdf {
        format,
        fields: fields.to_vec(),
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RecordsUdf {
    format: Format,
    fields: Vec<String>,
    signature: Signature,
}

impl ScalarUDFImpl for RecordsUdf {
    fn name(&self) -> &str {
        "insights_records"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let [events] = args.args.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "{} takes the raw events",
                self.name()
            )));
        };
        let events = events.to_array(args.number_rows)?;
        let events = match events.data_type() {
            DataType::Utf8 => events,
            _ => cast(&events, &DataType::Utf8)?,
        };
        let events = events.as_string::<i32>();
        let records = Records::new(self.format, &self.fields);
        let mut built = StringBuilder::with_capacity(events.len(), events.len() * 64);
        let mut found = Vec::new();
        let mut record = Vec::new();
        for row in 0..events.len() {
            record.clear();
            if events.is_valid(row) {
                records
                    .write(events.value(row), &mut found, &mut record)
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
            } else {
                records.write_empty(&mut record);
            }
            // Built from text and JSON written by serde_json: valid UTF-8.
            let text = std::str::from_utf8(&record)
                .map_err(|e| DataFusionError::Execution(format!("an encoded record: {e}")))?;
            built.append_value(text);
        }
        Ok(ColumnarValue::Array(Arc::new(built.finish())))
    }
}

/// Encodes batches of events in one format.
pub struct Encoder {
    format: Format,
    records: Option<Records>,
    field_names: Vec<String>,
    rows: u64,
}

impl Encoder {
    /// An encoder; `fields` are the requested dot paths (empty for whole events).
    pub fn new(format: Format, fields: &[String]) -> Self {
        Self {
            format,
            records: (!fields.is_empty()).then(|| Records::new(format, fields)),
            field_names: fields.to_vec(),
            rows: 0,
        }
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// What comes before the first row.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => out.push(b'['),
            Format::Csv => {
                // With `fields`, exactly those columns; without, the typed columns.
                let names: Vec<&str> = if self.field_names.is_empty() {
                    flat_columns().collect()
                } else {
                    self.field_names.iter().map(String::as_str).collect()
                };
                for (i, name) in names.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    csv_field(name, out);
                }
                out.extend_from_slice(b"\r\n");
            }
            Format::Ndjson | Format::Table => {}
        }
    }

    /// Appends a batch's rows.
    /// A batch with a [`RECORD`] column (made by [`records_udf`]) is written from it: the
    /// requested fields were encoded when the events were read.
    pub fn batch(&mut self, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<()> {
        if self.format != Format::Table
            && let Some(records) = batch.column_by_name(RECORD)
        {
            self.record_rows(records, out)?;
            self.rows += batch.num_rows() as u64;
            return Ok(());
        }
        match self.format {
            Format::Ndjson | Format::Json => self.json_rows(batch, out)?,
            Format::Csv => self.csv_rows(batch, out)?,
            Format::Table => self.table_rows(batch, out)?,
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// What comes after the last row.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.format == Format::Json {
            out.push(b']');
        }
    }

    fn json_rows(&mut self, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<()> {
        let raw = text_column(batch, column::RAW)?;
        let raw = raw.as_string::<i32>();
        let mut found = Vec::new();
        for row in 0..batch.num_rows() {
            if self.format == Format::Json && (self.rows > 0 || row > 0) {
                out.push(b',');
            }
            let text = raw.value(row);
            if let Some(records) = &self.records {
                records.write(text, &mut found, out)?;
            } else {
                if self.format == Format::Ndjson && text.contains(['\n', '\r']) {
                    // Line breaks can only sit between JSON tokens; a space keeps the line whole.
                    out.extend(
                        text.bytes()
                            .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
                    );
                } else {
                    out.extend_from_slice(text.as_bytes());
                }
            }
            if self.format == Format::Ndjson {
                out.push(b'\n');
            }
        }
        Ok(())
    }

    fn csv_rows(&mut self, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<()> {
        if let Some(records) = &self.records {
            let raw = text_column(batch, column::RAW)?;
            let raw = raw.as_string::<i32>();
            let mut found = Vec::new();
            for row in 0..batch.num_rows() {
                records.write(raw.value(row), &mut found, out)?;
                out.extend_from_slice(b"\r\n");
            }
            return Ok(());
        }
        let cells = flat_columns()
            .map(|name| Cells::of(batch, name))
            .collect::<Result<Vec<_>>>()?;
        let mut cell = String::new();
        for row in 0..batch.num_rows() {
            for (i, column) in cells.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                cell.clear();
                column.write(row, &mut cell);
                csv_field(&cell, out);
            }
            out.extend_from_slice(b"\r\n");
        }
        Ok(())
    }

    /// Rows already encoded as records: each with its separator.
    fn record_rows(&mut self, records: &ArrayRef, out: &mut Vec<u8>) -> Result<()> {
        let records = records
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::Invalid(format!("the scan's {RECORD} column is not text")))?;
        for row in 0..records.len() {
            if self.format == Format::Json && (self.rows > 0 || row > 0) {
                out.push(b',');
            }
            match (records.is_valid(row), &self.records) {
                (true, _) => out.extend_from_slice(records.value(row).as_bytes()),
                (false, Some(fields)) => fields.write_empty(out),
                (false, None) => {}
            }
            match self.format {
                Format::Csv => out.extend_from_slice(b"\r\n"),
                Format::Ndjson => out.push(b'\n'),
                Format::Json | Format::Table => {}
            }
        }
        Ok(())
    }

    fn table_rows(&mut self, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<()> {
        let columns = TABLE_COLUMNS
            .iter()
            .map(|name| Cells::of(batch, name))
            .collect::<Result<Vec<_>>>()?;
        let mut line = String::new();
        if self.rows == 0 {
            for name in TABLE_COLUMNS {
                line.push_str(&format!("{name:<width$}  ", width = table_width(name)));
            }
            out.extend_from_slice(line.trim_end().as_bytes());
            out.push(b'\n');
        }
        let mut cell = String::new();
        for row in 0..batch.num_rows() {
            line.clear();
            for (name, column) in TABLE_COLUMNS.iter().zip(&columns) {
                cell.clear();
                column.write(row, &mut cell);
                line.push_str(&format!("{cell:<width$}  ", width = table_width(name)));
            }
            out.extend_from_slice(line.trim_end().as_bytes());
            out.push(b'\n');
        }
        Ok(())
    }
}

fn table_width(name: &str) -> usize {
    match name {
        "timestamp" => 24,
        "success" => 7,
        "service" => 10,
        "event_type" => 24,
        "client_ip" => 15,
        _ => 20,
    }
}

/// A column's values rendered as CSV/table cells.
enum Cells {
    Text(ArrayRef),
    Bool(ArrayRef),
    Timestamp(ArrayRef),
}

impl Cells {
    fn of(batch: &RecordBatch, name: &str) -> Result<Self> {
        let array = batch
            .column_by_name(name)
            .ok_or_else(|| Error::Invalid(format!("the scan has no column {name}")))?;
        Ok(match array.data_type() {
            DataType::Boolean => Cells::Bool(array.clone()),
            DataType::Timestamp(_, _) => Cells::Timestamp(array.clone()),
            _ => Cells::Text(cast(array, &DataType::Utf8)?),
        })
    }

    fn write(&self, row: usize, cell: &mut String) {
        match self {
            Cells::Text(array) if array.is_valid(row) => {
                cell.push_str(array.as_string::<i32>().value(row));
            }
            Cells::Bool(array) if array.is_valid(row) => {
                cell.push_str(if array.as_boolean().value(row) {
                    "true"
                } else {
                    "false"
                });
            }
            Cells::Timestamp(array) if array.is_valid(row) => {
                let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
                cell.push_str(&format_timestamp_us(micros));
            }
            _ => {}
        }
    }
}

/// A string column as a plain `Utf8` array (scans may produce views or dictionaries).
pub(crate) fn text_column(batch: &RecordBatch, name: &str) -> Result<ArrayRef> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Invalid(format!("the scan has no column {name}")))?;
    Ok(match array.data_type() {
        DataType::Utf8 => Arc::clone(array),
        _ => cast(array, &DataType::Utf8)?,
    })
}

/// One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str, out: &mut Vec<u8>) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        for b in text.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// A JSON value as a CSV field: strings as they are, `null` empty, other values as JSON.
fn csv_value(value: &RawValue, out: &mut Vec<u8>) {
    let json = value.get();
    if json.starts_with('"') {
        // Borrowed when the string has no escapes.
        match serde_json::from_str::<&str>(json) {
            Ok(text) => csv_field(text, out),
            Err(_) => {
                if let Ok(text) = serde_json::from_str::<String>(json) {
                    csv_field(&text, out);
                }
            }
        }
    } else if json != "null"
        && let Ok(value) = serde_json::from_str::<Value>(json)
    {
        csv_field(&value.to_string(), out);
    }
}

/// The requested fields of an event (`found` by `Paths::find`), nested as in the event
/// (`{"initiated_by": {"email": ..}}`); fields the event lacks are left out.
fn project(fields: &[Vec<String>], found: &[Option<&RawValue>]) -> Value {
    let mut projected = Map::new();
    'paths: for (path, value) in fields.iter().zip(found) {
        let Some(value) = value.and_then(|v| serde_json::from_str::<Value>(v.get()).ok()) else {
            continue;
        };
        let mut target = &mut projected;
        for segment in &path[..path.len() - 1] {
            let entry = target
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(next) => target = next,
                // A shorter requested path already holds this whole value.
                _ => continue 'paths,
            }
        }
        target.insert(path[path.len() - 1].clone(), value);
    }
    Value::Object(projected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks() {
        let mut out = Vec::new();
        for text in ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\rhere"] {
            csv_field(text, &mut out);
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\"cr\rhere\"|"
        );
    }

    #[test]
    fn csv_values_unescape_strings_and_write_other_json_compactly() {
        let fields: Vec<Vec<String>> = ["s", "e", "n", "o", "z", "gone"]
            .iter()
            .map(|p| vec![(*p).to_owned()])
            .collect();
        let mut found = Vec::new();
        Paths::new(&fields).find(
            r#"{"s":"a,b","e":"tab\there \u00e9","n":1.50,"o":{ "k" : [1, 2] },"z":null}"#,
            &mut found,
        );
        let mut out = Vec::new();
        for value in &found {
            if let Some(value) = value {
                csv_value(value, &mut out);
            }
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\"|tab\there \u{e9}|1.5|\"{\"\"k\"\":[1,2]}\"|||"
        );
    }

    #[test]
    fn projection_nests_paths_and_skips_missing_ones() {
        let fields = vec![
            vec!["initiated_by".to_owned(), "email".to_owned()],
            vec!["success".to_owned()],
            vec!["absent".to_owned()],
        ];
        let mut found = Vec::new();
        let paths = Paths::new(&fields);
        paths.find(
            r#"{"initiated_by":{"email":"a@b.c","id":"1"},"success":false,"x":1}"#,
            &mut found,
        );
        let projected = project(&fields, &found);
        assert_eq!(
            projected,
            serde_json::json!({"initiated_by": {"email": "a@b.c"}, "success": false})
        );
    }

    /// Records encoded by the scan's function, written by the encoder, are byte for byte what
    /// the encoder writes from the events themselves, in every format that takes `fields`.
    #[test]
    fn records_encoded_while_reading_equal_the_encoders_own() {
        use arrow::array::StringArray;
        use arrow::datatypes::{Field, Schema};
        let events = [
            r#"{"id":"a","timestamp":"2026-10-01T00:00:00.123456789Z","geoip":{"country_code":"US"},"n":1}"#,
            r#"{"id":"b,\"q\"","timestamp":"2026-10-01T00:00:01Z","changes":[{"to":true}]}"#,
            r#"{"id":"c","timestamp":"2026-10-01T00:00:02Z","geoip":null}"#,
        ];
        let fields: Vec<String> = ["id", "timestamp", "geoip.country_code", "changes", "gone"]
            .map(str::to_owned)
            .to_vec();
        let raw = Arc::new(StringArray::from(events.to_vec())) as ArrayRef;
        // The whole output of one column named `name` holding `values`.
        let encode = |format: Format, name: &str, values: ArrayRef| {
            let batch = RecordBatch::try_new(
                Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)])),
                vec![values],
            )
            .unwrap();
            let mut encoder = Encoder::new(format, &fields);
            let mut out = Vec::new();
            encoder.begin(&mut out);
            encoder.batch(&batch, &mut out).unwrap();
            encoder.finish(&mut out);
            assert_eq!(encoder.rows(), 3);
            out
        };
        for format in [Format::Csv, Format::Ndjson, Format::Json] {
            let by_raw = encode(format, column::RAW, raw.clone());
            let result = records_udf(format, &fields)
                .invoke_with_args(ScalarFunctionArgs {
                    args: vec![ColumnarValue::Array(raw.clone())],
                    arg_fields: vec![Arc::new(Field::new("raw", DataType::Utf8, false))],
                    number_rows: events.len(),
                    return_field: Arc::new(Field::new(RECORD, DataType::Utf8, true)),
                    config_options: Arc::default(),
                })
                .unwrap();
            let ColumnarValue::Array(records) = result else {
                panic!("an array of records")
            };
            let by_records = encode(format, RECORD, records);
            assert_eq!(
                String::from_utf8(by_records).unwrap(),
                String::from_utf8(by_raw).unwrap(),
                "{format:?}"
            );
        }
    }
}
