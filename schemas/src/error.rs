//! Why an input line was rejected.

use std::fmt;

/// Result of decoding one event.
pub type Result<T, E = RejectReason> = std::result::Result<T, E>;

/// The reason a line is not a storable event; shown to the user with the line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The bytes are not UTF-8.
    InvalidUtf8 { offset: usize },
    /// The text is not JSON, or is cut off.
    InvalidJson(String),
    /// Valid JSON, but not an object.
    NotAnObject(&'static str),
    /// A required field is absent (or null, or empty).
    MissingField(&'static str),
    /// A required field has the wrong JSON type.
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    /// The timestamp is not RFC 3339.
    BadTimestamp(String),
    /// The timestamp is before 1970 or from 2200 on.
    TimestampOutOfRange(String),
    /// The line is longer than the configured limit.
    TooLong { len: usize, limit: usize },
    /// The event names another organization than the one the caller is bound to.
    OrganizationMismatch { event: String, expected: String },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUtf8 { offset } => write!(f, "invalid UTF-8 at byte {offset}"),
            Self::InvalidJson(msg) => write!(f, "invalid JSON: {msg}"),
            Self::NotAnObject(kind) => write!(f, "expected a JSON object, found {kind}"),
            Self::MissingField(field) => write!(f, "missing required field `{field}`"),
            Self::WrongType { field, expected } => {
                write!(f, "field `{field}` must be {expected}")
            }
            Self::BadTimestamp(value) => write!(
                f,
                "field `timestamp` is not an RFC 3339 date-time: {value:?} \
                 (expected e.g. \"2023-01-14T08:16:06.495Z\")"
            ),
            Self::TimestampOutOfRange(value) => write!(
                f,
                "field `timestamp` {value:?} is out of range: events must fall between \
                 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z (exclusive)"
            ),
            Self::TooLong { len, limit } => {
                write!(
                    f,
                    "line is {len} bytes, longer than the limit of {limit} bytes"
                )
            }
            Self::OrganizationMismatch { event, expected } => write!(
                f,
                "event belongs to organization {event:?} but this ingest is bound to {expected:?}"
            ),
        }
    }
}

impl std::error::Error for RejectReason {}
