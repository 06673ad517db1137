//! Read-only SQL over a table named `events` that holds only the caller's organizations.
//!
//! The session knows one table, `events`: a view whose plan already filters the Delta table to
//! the scope, so no SQL can reach another organization's rows. DDL, DML (including `COPY`),
//! `SET` and other statements are refused, and URL tables are off, so files cannot be read or
//! written either.

use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SQLOptions;

use crate::engine::{QueryEngine, Scope};
use crate::error::{Error, Result};

/// The name SQL uses for the scoped events.
pub const EVENTS_TABLE: &str = "events";

impl QueryEngine {
    /// Runs one read-only SQL query over `events` limited to `scope`.
    pub async fn sql(&self, scope: &Scope, text: &str) -> Result<SendableRecordBatchStream> {
        let ctx = self.context()?;
        let events = self.events(&ctx, scope)?;
        ctx.register_table(EVENTS_TABLE, events.into_view())?;
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = ctx
            .sql_with_options(text, options)
            .await
            .map_err(|e| Error::Sql(explain(&e.to_string())))?;
        Ok(frame.execute_stream().await?)
    }
}

/// One line, with what the caller can do about it.
fn explain(message: &str) -> String {
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.contains("not supported") {
        format!("only read-only queries (SELECT, WITH, EXPLAIN) are allowed: {message}")
    } else if message.contains("not found") && message.contains("table") {
        format!("the only table is `{EVENTS_TABLE}`: {message}")
    } else {
        message
    }
}
