//! Errors of the exporter; each names the table, file, object or setting at fault.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("table {table}: {message}")]
    Table { table: String, message: String },
    #[error("reading {file}: {message}")]
    Read { file: String, message: String },
    #[error("destination {destination}: {message}")]
    Destination {
        destination: String,
        message: String,
    },
    #[error("{setting}: {message}")]
    Config { setting: String, message: String },
    #[error("export state at {key}: {message}")]
    State { key: String, message: String },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub fn config(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            setting: setting.into(),
            message: message.into(),
        }
    }
}
