//! The catalogue of the table's columns: every column once, in schema order, with its Arrow
//! type, whether queries read it as a dictionary, whether flat exports (CSV, table output) show
//! it, the DI field it holds exactly (so a `search_term` on that field reads the column), and,
//! for the optional text columns, where its value comes from in a decoded event. The event
//! schema, the batch builder, the query schema, flat exports and search paths are all derived
//! from [`COLUMNS`]; adding a column is one entry here (and a field of [`DecodedEvent`]).

use arrow::datatypes::{DataType, TimeUnit};

use crate::DecodedEvent;

/// The names of the table's columns.
pub mod column {
    pub const TIMESTAMP: &str = "timestamp";
    pub const ID: &str = "id";
    pub const ORGANIZATION: &str = "organization";
    pub const DATE: &str = "date";
    pub const SERVICE: &str = "service";
    pub const EVENT_TYPE: &str = "event_type";
    pub const SUCCESS: &str = "success";
    pub const MFA: &str = "mfa";
    pub const CLIENT_IP: &str = "client_ip";
    pub const USERNAME: &str = "username";
    pub const INITIATED_BY_ID: &str = "initiated_by_id";
    pub const INITIATED_BY_TYPE: &str = "initiated_by_type";
    pub const INITIATED_BY_EMAIL: &str = "initiated_by_email";
    pub const RESOURCE_ID: &str = "resource_id";
    pub const RESOURCE_TYPE: &str = "resource_type";
    pub const RESOURCE_NAME: &str = "resource_name";
    pub const SYSTEM_ID: &str = "system_id";
    pub const SYSTEM_HOSTNAME: &str = "system_hostname";
    pub const APPLICATION_NAME: &str = "application_name";
    pub const AUTH_METHOD: &str = "auth_method";
    pub const ERROR_MESSAGE: &str = "error_message";
    pub const GEOIP_COUNTRY_CODE: &str = "geoip_country_code";
    pub const INGEST_SEQ: &str = "ingest_seq";
    pub const RAW: &str = "raw";
    pub const INITIATED_BY_USERNAME: &str = "initiated_by_username";
}

/// The type of a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Microseconds since the epoch, UTC.
    Timestamp,
    Text,
    Bool,
    /// Days since the epoch.
    Date,
    Int64,
}

impl ColumnType {
    /// The Arrow type of the table's files.
    pub fn arrow(self) -> DataType {
        match self {
            Self::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Self::Text => DataType::Utf8,
            Self::Bool => DataType::Boolean,
            Self::Date => DataType::Date32,
            Self::Int64 => DataType::Int64,
        }
    }
}

/// Where an optional text column's value comes from in a decoded event.
pub type TextOf = for<'e> fn(&'e DecodedEvent<'e>) -> Option<&'e str>;

/// One column of the events table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub nullable: bool,
    /// Queries read it as a dictionary of strings: few distinct values per file, looked up and
    /// grouped by value.
    pub dictionary: bool,
    /// Flat exports (CSV, table output) show it.
    pub flat: bool,
    /// The DI dot path whose value the column holds exactly; `None` for columns derived from
    /// several fields (`resource_name`, `application_name`) and the engine's own.
    pub path: Option<&'static str>,
    /// For an optional text column, its value in a decoded event.
    pub text_of: Option<TextOf>,
    /// Added to the table after its first release: files written before lack it, and readers
    /// derive its value from `raw` for them (`text_of` of the decoded event). Such columns
    /// follow `raw`, in the order they were added, as Delta's ADD COLUMNS appends them.
    pub added_later: bool,
}

const fn fixed(
    name: &'static str,
    kind: ColumnType,
    flat: bool,
    path: Option<&'static str>,
) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        dictionary: false,
        flat,
        path,
        text_of: None,
        added_later: false,
    }
}

const fn optional_bool(name: &'static str) -> Column {
    Column {
        name,
        kind: ColumnType::Bool,
        nullable: true,
        dictionary: false,
        flat: true,
        path: Some(name),
        text_of: None,
        added_later: false,
    }
}

const fn optional_text(name: &'static str, path: Option<&'static str>, text_of: TextOf) -> Column {
    Column {
        name,
        kind: ColumnType::Text,
        nullable: true,
        dictionary: true,
        flat: true,
        path,
        text_of: Some(text_of),
        added_later: false,
    }
}

/// Every column of the events table, in schema order (partition columns included).
pub const COLUMNS: &[Column] = &[
    fixed(
        column::TIMESTAMP,
        ColumnType::Timestamp,
        true,
        Some("timestamp"),
    ),
    fixed(column::ID, ColumnType::Text, true, Some("id")),
    fixed(
        column::ORGANIZATION,
        ColumnType::Text,
        true,
        Some("organization"),
    ),
    fixed(column::DATE, ColumnType::Date, false, None),
    Column {
        dictionary: true,
        ..fixed(column::SERVICE, ColumnType::Text, true, Some("service"))
    },
    Column {
        dictionary: true,
        ..fixed(
            column::EVENT_TYPE,
            ColumnType::Text,
            true,
            Some("event_type"),
        )
    },
    optional_bool(column::SUCCESS),
    optional_bool(column::MFA),
    optional_text(column::CLIENT_IP, Some("client_ip"), |e| {
        e.client_ip.as_deref()
    }),
    optional_text(column::USERNAME, Some("username"), |e| {
        e.username.as_deref()
    }),
    optional_text(column::INITIATED_BY_ID, Some("initiated_by.id"), |e| {
        e.initiated_by_id.as_deref()
    }),
    optional_text(column::INITIATED_BY_TYPE, Some("initiated_by.type"), |e| {
        e.initiated_by_type.as_deref()
    }),
    optional_text(
        column::INITIATED_BY_EMAIL,
        Some("initiated_by.email"),
        |e| e.initiated_by_email.as_deref(),
    ),
    optional_text(column::RESOURCE_ID, Some("resource.id"), |e| {
        e.resource_id.as_deref()
    }),
    optional_text(column::RESOURCE_TYPE, Some("resource.type"), |e| {
        e.resource_type.as_deref()
    }),
    optional_text(column::RESOURCE_NAME, None, |e| e.resource_name.as_deref()),
    optional_text(column::SYSTEM_ID, Some("system.id"), |e| {
        e.system_id.as_deref()
    }),
    optional_text(column::SYSTEM_HOSTNAME, Some("system.hostname"), |e| {
        e.system_hostname.as_deref()
    }),
    optional_text(column::APPLICATION_NAME, None, |e| {
        e.application_name.as_deref()
    }),
    optional_text(column::AUTH_METHOD, Some("auth_method"), |e| {
        e.auth_method.as_deref()
    }),
    optional_text(column::ERROR_MESSAGE, Some("error_message"), |e| {
        e.error_message.as_deref()
    }),
    optional_text(
        column::GEOIP_COUNTRY_CODE,
        Some("geoip.country_code"),
        |e| e.geoip_country_code.as_deref(),
    ),
    fixed(column::INGEST_SEQ, ColumnType::Int64, false, None),
    fixed(column::RAW, ColumnType::Text, false, None),
    // The path users search most for an actor ("failed logins of X"), typed so that such a
    // search reads no JSON. Not in flat exports: `username` shows the actor there.
    Column {
        flat: false,
        added_later: true,
        ..optional_text(
            column::INITIATED_BY_USERNAME,
            Some("initiated_by.username"),
            |e| e.initiated_by_username.as_deref(),
        )
    },
];

/// The column named `name`.
pub fn column_named(name: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.name == name)
}

/// The optional text columns, in schema order, with where their values come from.
pub fn optional_texts() -> impl Iterator<Item = (&'static str, TextOf)> {
    COLUMNS
        .iter()
        .filter_map(|c| c.text_of.map(|text_of| (c.name, text_of)))
}

/// The columns that files written before they were added lack, with their values in a decoded
/// event.
pub fn added_later() -> impl Iterator<Item = (&'static str, TextOf)> {
    COLUMNS
        .iter()
        .filter(|c| c.added_later)
        .filter_map(|c| c.text_of.map(|text_of| (c.name, text_of)))
}

/// The column `name` (one added later) computed from stored events' `raw` JSON, as the
/// ingest of that event would have filled it. `None` if `name` is not such a column.
pub fn derive_added_later<'a>(
    name: &str,
    raws: impl Iterator<Item = Option<&'a str>>,
) -> Option<arrow::array::StringArray> {
    let (_, text_of) = added_later().find(|(column, _)| *column == name)?;
    Some(
        raws.map(|raw| {
            let event = raw.and_then(|raw| crate::decode::decode_stored(raw).ok())?;
            text_of(&event).map(str::to_owned)
        })
        .collect(),
    )
}

/// The columns of flat exports (CSV, table output), in order.
pub fn flat_columns() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().filter(|c| c.flat).map(|c| c.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_schema_follows_the_catalogue() {
        let schema = crate::event_schema();
        assert_eq!(schema.fields().len(), COLUMNS.len());
        for (field, column) in schema.fields().iter().zip(COLUMNS) {
            assert_eq!(field.name(), column.name);
            assert_eq!(field.data_type(), &column.kind.arrow());
            assert_eq!(field.is_nullable(), column.nullable);
        }
        let mut names: Vec<_> = COLUMNS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len());
        // Columns added later follow every original one (Delta appends added columns).
        let first_late = COLUMNS.iter().position(|c| c.added_later);
        assert!(first_late.is_some_and(|i| COLUMNS[i..].iter().all(|c| c.added_later)));
        assert_eq!(COLUMNS[first_late.unwrap() - 1].name, column::RAW);
    }

    #[test]
    fn every_optional_text_column_is_filled_from_its_own_field() {
        let raw = r#"{"id":"a1","timestamp":"2026-10-01T00:00:00Z","organization":"o","service":"directory","event_type":"user_create","client_ip":"v:client_ip","initiated_by":{"id":"v:initiated_by_id","type":"v:initiated_by_type","email":"v:initiated_by_email","username":"v:initiated_by_username"},"resource":{"id":"v:resource_id","type":"v:resource_type","name":"v:resource_name"},"system":{"id":"v:system_id","hostname":"v:system_hostname"},"application":{"name":"v:application_name"},"auth_method":"v:auth_method","error_message":"v:error_message","geoip":{"country_code":"v:geoip_country_code"}}"#;
        let event = crate::decode_event(raw.as_bytes(), None).expect("decodes");
        for (name, text_of) in optional_texts() {
            // The actor is `initiated_by.username` when the event has one.
            let source = match name {
                column::USERNAME => column::INITIATED_BY_USERNAME,
                other => other,
            };
            assert_eq!(
                text_of(&event),
                Some(format!("v:{source}").as_str()),
                "{name}"
            );
        }
    }
}
