//! Decoding one DI event: validation of the required fields and derivation of the typed columns.
//!
//! Real events are heterogeneous, so every optional field is read leniently: a field of an
//! unexpected JSON type yields a null column, never a rejection. Only the five required fields
//! (`id`, `timestamp`, `service`, `event_type`, `organization`) can reject an event.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{RejectReason, Result};
use crate::timestamp::parse_timestamp_us;

/// The earliest timestamp stored: 1970-01-01T00:00:00Z. Directory events are recent; an
/// earlier one is a producer's mistake (a zero date), and dates before the epoch or before year
/// 1 break other readers of the table (Python's `datetime` stops at year 1).
pub const MIN_TIMESTAMP_US: i64 = 0;
/// The first timestamp not stored: 2200-01-01T00:00:00Z.
pub const MAX_TIMESTAMP_US: i64 = 7_258_118_400_000_000;

/// A validated event: the verbatim JSON text and the typed columns derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEvent<'a> {
    /// The event's JSON object exactly as received (surrounding whitespace removed).
    pub raw: &'a str,
    pub id: Cow<'a, str>,
    /// Microseconds since the epoch, UTC.
    pub timestamp_us: i64,
    pub organization: Cow<'a, str>,
    pub service: Cow<'a, str>,
    pub event_type: Cow<'a, str>,
    /// `success`, or `sso_token_success` for `sso_auth` events that carry no `success`.
    pub success: Option<bool>,
    pub client_ip: Option<Cow<'a, str>>,
    /// The actor: `initiated_by.username`, else `username`, else `initiated_by.email`.
    pub username: Option<Cow<'a, str>>,
    pub initiated_by_id: Option<Cow<'a, str>>,
    pub initiated_by_type: Option<Cow<'a, str>>,
    pub initiated_by_email: Option<Cow<'a, str>>,
    /// `initiated_by.username` where it is a string.
    pub initiated_by_username: Option<Cow<'a, str>>,
    pub resource_id: Option<Cow<'a, str>>,
    pub resource_type: Option<Cow<'a, str>>,
    /// `resource.username`, else `.email`, else `.hostname`, else `.name`.
    pub resource_name: Option<Cow<'a, str>>,
    pub system_id: Option<Cow<'a, str>>,
    pub system_hostname: Option<Cow<'a, str>>,
    /// `application.name`, else `application.display_label`.
    pub application_name: Option<Cow<'a, str>>,
    pub auth_method: Option<Cow<'a, str>>,
    pub mfa: Option<bool>,
    pub error_message: Option<Cow<'a, str>>,
    pub geoip_country_code: Option<Cow<'a, str>>,
}

/// Decodes an event the table holds: it was validated when ingested, and only the organization
/// may be missing from its JSON (stamped from an organization's key then; the partition holds
/// it).
pub(crate) fn decode_stored(raw: &str) -> Result<DecodedEvent<'_>> {
    decode_event(raw.as_bytes(), None).or_else(|_| decode_event(raw.as_bytes(), Some("")))
}

/// Decodes and validates one event from the bytes of a JSON object.
///
/// `bound_org` is the organization an ingest is bound to (an organization's API key): an event
/// without `organization` is stamped with it, an event naming another one is rejected.
pub fn decode_event<'a>(bytes: &'a [u8], bound_org: Option<&'a str>) -> Result<DecodedEvent<'a>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| RejectReason::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?
        .trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{feff}');
    match text.as_bytes().first() {
        Some(b'{') => {}
        None => return Err(RejectReason::NotAnObject("an empty line")),
        Some(b'[') => return Err(RejectReason::NotAnObject("an array")),
        Some(b'"') => return Err(RejectReason::NotAnObject("a string")),
        Some(b't' | b'f') => return Err(RejectReason::NotAnObject("a boolean")),
        Some(b'n') => return Err(RejectReason::NotAnObject("null")),
        Some(b'-' | b'0'..=b'9') => return Err(RejectReason::NotAnObject("a number")),
        Some(_) => return Err(RejectReason::InvalidJson("expected a JSON object".into())),
    }
    let wire: Wire<'a> =
        serde_json::from_str(text).map_err(|e| RejectReason::InvalidJson(e.to_string()))?;

    let id = required(wire.id, "id")?;
    let timestamp = required(wire.timestamp, "timestamp")?;
    let timestamp_us = parse_timestamp_us(&timestamp)
        .ok_or_else(|| RejectReason::BadTimestamp(timestamp.to_string()))?;
    if !(MIN_TIMESTAMP_US..MAX_TIMESTAMP_US).contains(&timestamp_us) {
        return Err(RejectReason::TimestampOutOfRange(timestamp.to_string()));
    }
    let service = required(wire.service, "service")?;
    let event_type = required(wire.event_type, "event_type")?;
    let organization = match (
        optional_required(wire.organization, "organization")?,
        bound_org,
    ) {
        (Some(org), Some(bound)) if org != bound => {
            return Err(RejectReason::OrganizationMismatch {
                event: org.into_owned(),
                expected: bound.to_owned(),
            });
        }
        (Some(org), _) => org,
        (None, Some(bound)) => Cow::Borrowed(bound),
        (None, None) => return Err(RejectReason::MissingField("organization")),
    };

    let initiated_by = wire.initiated_by.0.unwrap_or_default();
    let resource = wire.resource.0.unwrap_or_default();
    let system = wire.system.0.unwrap_or_default();
    let application = wire.application.0.unwrap_or_default();
    let geoip = wire.geoip.0.unwrap_or_default();

    Ok(DecodedEvent {
        raw: text,
        id,
        timestamp_us,
        organization,
        service,
        event_type,
        success: wire.success.0.or(wire.sso_token_success.0),
        client_ip: wire.client_ip.into_str(),
        username: initiated_by
            .username
            .clone()
            .into_str()
            .or(wire.username.into_str())
            .or(initiated_by.email.clone().into_str()),
        initiated_by_id: initiated_by.id.into_str(),
        initiated_by_type: initiated_by.kind.into_str(),
        initiated_by_email: initiated_by.email.into_str(),
        initiated_by_username: initiated_by.username.into_str(),
        resource_id: resource.id.into_str(),
        resource_type: resource.kind.into_str(),
        resource_name: resource
            .username
            .into_str()
            .or(resource.email.into_str())
            .or(resource.hostname.into_str())
            .or(resource.name.into_str()),
        system_id: system.id.into_str(),
        system_hostname: system.hostname.into_str(),
        application_name: application
            .name
            .into_str()
            .or(application.display_label.into_str()),
        auth_method: wire.auth_method.into_str(),
        mfa: wire.mfa.0,
        error_message: wire.error_message.into_str(),
        geoip_country_code: geoip.country_code.into_str(),
    })
}

fn required<'a>(value: LenientStr<'a>, field: &'static str) -> Result<Cow<'a, str>> {
    optional_required(value, field)?.ok_or(RejectReason::MissingField(field))
}

/// A required field that may be supplied from elsewhere: absent is `None`, a wrong type an error.
fn optional_required<'a>(
    value: LenientStr<'a>,
    field: &'static str,
) -> Result<Option<Cow<'a, str>>> {
    match value {
        LenientStr::Absent => Ok(None),
        LenientStr::Str(s) if s.trim().is_empty() => Err(RejectReason::MissingField(field)),
        LenientStr::Str(s) => Ok(Some(s)),
        LenientStr::Other => Err(RejectReason::WrongType {
            field,
            expected: "a string",
        }),
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default)]
    timestamp: LenientStr<'a>,
    #[serde(borrow, default)]
    service: LenientStr<'a>,
    #[serde(borrow, default)]
    event_type: LenientStr<'a>,
    #[serde(borrow, default)]
    organization: LenientStr<'a>,
    #[serde(default)]
    success: LenientBool,
    #[serde(default)]
    sso_token_success: LenientBool,
    #[serde(borrow, default)]
    client_ip: LenientStr<'a>,
    #[serde(borrow, default)]
    username: LenientStr<'a>,
    #[serde(borrow, default)]
    initiated_by: Lenient<Actor<'a>>,
    #[serde(borrow, default)]
    resource: Lenient<Resource<'a>>,
    #[serde(borrow, default)]
    system: Lenient<System<'a>>,
    #[serde(borrow, default)]
    application: Lenient<Application<'a>>,
    #[serde(borrow, default)]
    auth_method: LenientStr<'a>,
    #[serde(default)]
    mfa: LenientBool,
    #[serde(borrow, default)]
    error_message: LenientStr<'a>,
    #[serde(borrow, default)]
    geoip: Lenient<GeoIp<'a>>,
}

#[derive(Deserialize, Default)]
struct Actor<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(borrow, default)]
    email: LenientStr<'a>,
    #[serde(borrow, default)]
    username: LenientStr<'a>,
}

#[derive(Deserialize, Default)]
struct Resource<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: LenientStr<'a>,
    #[serde(borrow, default)]
    username: LenientStr<'a>,
    #[serde(borrow, default)]
    email: LenientStr<'a>,
    #[serde(borrow, default)]
    hostname: LenientStr<'a>,
    #[serde(borrow, default)]
    name: LenientStr<'a>,
}

#[derive(Deserialize, Default)]
struct System<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
    #[serde(borrow, default)]
    hostname: LenientStr<'a>,
}

#[derive(Deserialize, Default)]
struct Application<'a> {
    #[serde(borrow, default)]
    name: LenientStr<'a>,
    #[serde(borrow, default)]
    display_label: LenientStr<'a>,
}

#[derive(Deserialize, Default)]
struct GeoIp<'a> {
    #[serde(borrow, default)]
    country_code: LenientStr<'a>,
}

/// A string field read leniently: any other JSON type is remembered as `Other`, not an error.
#[derive(Default, Clone)]
enum LenientStr<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Other,
}

impl<'a> LenientStr<'a> {
    fn into_str(self) -> Option<Cow<'a, str>> {
        match self {
            Self::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The value's text, unparsed: a number is never converted (so `1e400` is not an
        // error), and a string without escapes is borrowed as it is.
        let raw = <&'de RawValue>::deserialize(deserializer)?.get();
        Ok(match raw.as_bytes().first() {
            Some(b'"') => {
                let inner = &raw[1..raw.len() - 1];
                if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
                    LenientStr::Str(Cow::Borrowed(inner))
                } else {
                    match serde_json::from_str::<String>(raw) {
                        Ok(text) => LenientStr::Str(Cow::Owned(text)),
                        Err(e) => return Err(de::Error::custom(e)),
                    }
                }
            }
            Some(b'n') => LenientStr::Absent,
            _ => LenientStr::Other,
        })
    }
}

/// A boolean read leniently: `true`/`false`, or the strings `"true"`/`"false"` that some
/// producers send; anything else is `None`.
#[derive(Default)]
struct LenientBool(Option<bool>);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The value's text, unparsed, so that a number of any size is simply not a boolean.
        let raw = <&'de RawValue>::deserialize(deserializer)?.get();
        Ok(LenientBool(match raw {
            "true" | "\"true\"" | "\"TRUE\"" | "\"True\"" => Some(true),
            "false" | "\"false\"" | "\"FALSE\"" | "\"False\"" => Some(false),
            _ => None,
        }))
    }
}

/// A nested object read leniently: any non-object value is ignored.
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Lenient(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Lenient(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests;
