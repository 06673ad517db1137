//! Output of SQL results, whose columns are whatever the query selects: a text table, CSV,
//! a JSON array or NDJSON of row objects.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::util::pretty::pretty_format_batches;

use crate::{Format, Result};

/// Rows of a text table are printed in groups of this many, each group with its header.
const TABLE_GROUP_ROWS: usize = 10_000;

/// Writes SQL result batches in one format.
pub struct SqlWriter {
    format: Format,
    schema: SchemaRef,
    rows: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
}

impl SqlWriter {
    /// A writer of rows of `schema` in `format`.
    pub fn new(format: Format, schema: SchemaRef) -> Self {
        Self {
            format,
            schema,
            rows: 0,
            pending: Vec::new(),
            pending_rows: 0,
        }
    }

    /// Writes one batch (a text table holds its rows back until a group is full).
    pub fn write(&mut self, batch: &RecordBatch, out: &mut dyn Write) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        match self.format {
            Format::Table => {
                self.pending_rows += batch.num_rows();
                self.pending.push(batch.clone());
                if self.pending_rows >= TABLE_GROUP_ROWS {
                    self.flush_table(out)?;
                }
            }
            Format::Csv => {
                let mut writer = arrow::csv::WriterBuilder::new()
                    .with_header(self.rows == 0)
                    .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%S%.3fZ".to_owned())
                    .build(&mut *out);
                writer.write(batch)?;
            }
            Format::Json => {
                let mut buffer = Vec::new();
                let mut writer = arrow::json::ArrayWriter::new(&mut buffer);
                writer.write(batch)?;
                writer.finish()?;
                drop(writer);
                // Join the per-batch arrays into one: drop this batch's brackets.
                let inner = &buffer[1..buffer.len().saturating_sub(1)];
                out.write_all(if self.rows == 0 { b"[" } else { b"," })?;
                out.write_all(inner)?;
            }
            Format::Ndjson => {
                let mut writer = arrow::json::LineDelimitedWriter::new(&mut *out);
                writer.write(batch)?;
                writer.finish()?;
            }
        }
        self.rows += batch.num_rows();
        Ok(())
    }

    fn flush_table(&mut self, out: &mut dyn Write) -> Result<()> {
        if !self.pending.is_empty() {
            writeln!(out, "{}", pretty_format_batches(&self.pending)?)?;
        }
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }

    /// Ends the output (closing brackets, an empty table's header); answers how many rows
    /// were written.
    pub fn finish(&mut self, out: &mut dyn Write) -> Result<usize> {
        match self.format {
            Format::Table => {
                if self.rows == 0 {
                    writeln!(
                        out,
                        "{}",
                        pretty_format_batches(&[RecordBatch::new_empty(self.schema.clone())])?
                    )?;
                }
                self.flush_table(out)?;
            }
            Format::Json => out.write_all(if self.rows == 0 { b"[]\n" } else { b"]\n" })?,
            Format::Csv if self.rows == 0 => {
                let mut writer = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut *out);
                writer.write(&RecordBatch::new_empty(self.schema.clone()))?;
            }
            Format::Csv | Format::Ndjson => {}
        }
        Ok(self.rows)
    }
}
