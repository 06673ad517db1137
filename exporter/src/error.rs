//! Errors of the exporter; each names the table, file, object or setting at fault and keeps
//! the error that caused it as its source (print the chain, as `{:#}` of anyhow or
//! [`Error::chain`] do, to see every cause).

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error beneath an exporter error.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("table {table}: {message}")]
    Table {
        table: String,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("reading {file}: {message}")]
    Read {
        file: String,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("destination {destination}: {message}")]
    Destination {
        destination: String,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("{setting}: {message}")]
    Config { setting: String, message: String },
    #[error("export state at {key}: {message}")]
    State {
        key: String,
        message: String,
        #[source]
        source: Option<Cause>,
    },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A table error caused by `source`.
    pub fn table(
        table: impl Into<String>,
        message: impl Into<String>,
        source: impl Into<Cause>,
    ) -> Self {
        Self::Table {
            table: table.into(),
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A destination error caused by `source`.
    pub fn destination(
        destination: impl Into<String>,
        message: impl Into<String>,
        source: impl Into<Cause>,
    ) -> Self {
        Self::Destination {
            destination: destination.into(),
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The error and its causes, `error: cause: cause`.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    pub fn config(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            setting: setting.into(),
            message: message.into(),
        }
    }
}
