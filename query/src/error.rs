//! The query crate's error type.

use insights_schemas::request::RequestError;

/// Result of a query operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while answering a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is wrong; the message names the field (a 400 over HTTP).
    #[error("{0}")]
    Request(#[from] RequestError),
    /// SQL that is not a read-only query of `events`, or does not parse (a 400 over HTTP).
    #[error("sql: {0}")]
    Sql(String),
    /// A saved view that does not exist (a 404 over HTTP).
    #[error("no saved view named {name:?} in organization {organization}")]
    ViewNotFound { organization: String, name: String },
    /// A saved view of that name exists already (a 409 over HTTP).
    #[error("a saved view named {name:?} already exists in organization {organization}")]
    ViewExists { organization: String, name: String },
    /// A user or host that no event mentions (a 404 over HTTP).
    #[error("{0}")]
    NotFound(String),
    /// The table could not be opened or read.
    #[error(transparent)]
    Store(#[from] insights_ingest::Error),
    #[error("query execution: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("reading results: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("store object {path}: {source}")]
    Object {
        path: String,
        source: object_store::Error,
    },
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Whether the caller's input is at fault (HTTP 400) rather than the engine.
    pub fn is_bad_request(&self) -> bool {
        matches!(self, Error::Request(_) | Error::Sql(_) | Error::Invalid(_))
    }

    /// Whether the query needed more memory than the engine's pool has (HTTP 503): what it
    /// asked for is in the message.
    pub fn is_out_of_memory(&self) -> bool {
        match self {
            Error::DataFusion(e) => matches!(
                e.find_root(),
                datafusion::error::DataFusionError::ResourcesExhausted(_)
            ),
            _ => false,
        }
    }
}
