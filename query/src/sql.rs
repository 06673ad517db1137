//! Read-only SQL over a table named `events` that holds only the caller's organizations.
//!
//! The session knows one table, `events`: a view whose plan already filters the Delta table to
//! the scope, so no SQL can reach another organization's rows. DDL, DML (including `COPY`),
//! `SET` and other statements are refused, and URL tables are off, so files cannot be read or
//! written either.

use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::prelude::SQLOptions;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use futures::TryStreamExt;

use crate::engine::{QueryEngine, Scope};
use crate::error::{Error, Result};

/// The name SQL uses for the scoped events.
pub const EVENTS_TABLE: &str = "events";

/// The longest SQL text taken, in bytes.
pub const MAX_SQL_BYTES: usize = 64 << 10;
/// Tokens (words, literals, symbols) in one query.
pub const MAX_SQL_TOKENS: usize = 10_000;
/// Operators (`+`, `=`, `AND`, `LIKE`, `JOIN`, ...) in one query. Planning and evaluating an
/// expression recurse through its depth, and a chain of operators is as deep as it is long;
/// a query at this limit uses a small part of a query thread's stack.
pub const MAX_SQL_OPERATORS: usize = 1_000;

/// Refuses SQL beyond the size limits, before it is parsed into a tree.
fn check_size(text: &str) -> Result<()> {
    if text.len() > MAX_SQL_BYTES {
        return Err(Error::Sql(format!(
            "the query is {} bytes; at most {MAX_SQL_BYTES}",
            text.len()
        )));
    }
    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize()
        .map_err(|e| Error::Sql(e.to_string()))?;
    let words = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .count();
    if words > MAX_SQL_TOKENS {
        return Err(Error::Sql(format!(
            "the query has {words} tokens; at most {MAX_SQL_TOKENS}"
        )));
    }
    let operators = tokens.iter().filter(|t| is_operator(t)).count();
    if operators > MAX_SQL_OPERATORS {
        return Err(Error::Sql(format!(
            "the query has {operators} operators; at most {MAX_SQL_OPERATORS}"
        )));
    }
    Ok(())
}

/// Whether a token joins expressions or relations into a deeper tree.
fn is_operator(token: &Token) -> bool {
    match token {
        Token::Word(word) => matches!(
            word.keyword,
            Keyword::AND
                | Keyword::OR
                | Keyword::NOT
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::SIMILAR
                | Keyword::IS
                | Keyword::IN
                | Keyword::BETWEEN
                | Keyword::WHEN
                | Keyword::JOIN
                | Keyword::UNION
                | Keyword::INTERSECT
                | Keyword::EXCEPT
                | Keyword::SELECT
        ),
        Token::DoubleEq
        | Token::Eq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Spaceship
        | Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::DuckIntDiv
        | Token::Mod
        | Token::StringConcat
        | Token::DoubleColon
        | Token::Ampersand
        | Token::Pipe
        | Token::Caret
        | Token::Sharp
        | Token::Tilde
        | Token::TildeAsterisk
        | Token::ExclamationMarkTilde
        | Token::ExclamationMarkTildeAsterisk
        | Token::DoubleTilde
        | Token::DoubleTildeAsterisk
        | Token::ShiftLeft
        | Token::ShiftRight
        | Token::Arrow
        | Token::LongArrow => true,
        _ => false,
    }
}

impl QueryEngine {
    /// Runs one read-only SQL query over `events` limited to `scope`.
    pub async fn sql(&self, scope: &Scope, text: &str) -> Result<SendableRecordBatchStream> {
        check_size(text)?;
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

    /// Runs [`Self::sql`] and encodes its rows as one JSON array. The answer is held in memory
    /// until it is complete, so it counts against the query memory: an answer larger than the
    /// pool has free fails with a resources-exhausted error instead of growing without bound.
    pub async fn sql_json(&self, scope: &Scope, text: &str) -> Result<Vec<u8>> {
        let mut stream = self.sql(scope, text).await?;
        let reservation = MemoryConsumer::new("SQL answer").register(&self.memory_pool());
        let mut buffer = Vec::new();
        let mut writer = arrow::json::ArrayWriter::new(&mut buffer);
        while let Some(batch) = stream.try_next().await? {
            writer.write(&batch)?;
            reservation
                .try_resize(writer.get_ref().len())
                .map_err(|_| {
                    datafusion::error::DataFusionError::ResourcesExhausted(format!(
                        "the answer passed {} bytes, more than the query memory has free; \
                     export large results instead (/api/v1/export, insights export)",
                        writer.get_ref().len()
                    ))
                })?;
        }
        writer.finish()?;
        drop(writer);
        if buffer.is_empty() {
            buffer.extend_from_slice(b"[]");
        }
        Ok(buffer)
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
