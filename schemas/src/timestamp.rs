//! RFC 3339 timestamps as DI sends them: 0 to 9 fractional digits, `Z` or an offset.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 date-time into microseconds since the Unix epoch (UTC).
///
/// Digits beyond microseconds are truncated, never rounded, so an event never moves into the
/// next microsecond (or the next day's partition).
pub fn parse_timestamp_us(text: &str) -> Option<i64> {
    let parsed = DateTime::parse_from_rfc3339(text.trim()).ok()?;
    let utc = parsed.with_timezone(&Utc);
    let seconds = utc.timestamp();
    let micros = i64::from(utc.timestamp_subsec_micros());
    seconds.checked_mul(1_000_000)?.checked_add(micros)
}

/// Formats microseconds since the epoch as UTC RFC 3339 with milliseconds (`...T08:16:06.495Z`).
pub fn format_timestamp_us(micros: i64) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => micros.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fraction_length_real_events_use() {
        let base = 1_673_684_166_000_000;
        assert_eq!(parse_timestamp_us("2023-01-14T08:16:06Z"), Some(base));
        assert_eq!(
            parse_timestamp_us("2023-01-14T08:16:06.495Z"),
            Some(base + 495_000)
        );
        assert_eq!(
            parse_timestamp_us("2023-01-14T08:16:06.495123Z"),
            Some(base + 495_123)
        );
        assert_eq!(
            parse_timestamp_us("2023-01-14T08:16:06.49512345Z"),
            Some(base + 495_123)
        );
        assert_eq!(
            parse_timestamp_us("2023-01-14T08:16:06.999999999Z"),
            Some(base + 999_999)
        );
    }

    #[test]
    fn applies_offsets() {
        assert_eq!(
            parse_timestamp_us("2023-01-14T03:16:06-05:00"),
            parse_timestamp_us("2023-01-14T08:16:06Z")
        );
    }

    #[test]
    fn rejects_non_rfc3339() {
        for bad in [
            "",
            "yesterday",
            "2023-01-14",
            "2023-13-14T08:16:06Z",
            "1673684166",
        ] {
            assert_eq!(parse_timestamp_us(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_with_milliseconds() {
        assert_eq!(
            format_timestamp_us(1_673_684_166_495_123),
            "2023-01-14T08:16:06.495Z"
        );
    }
}
