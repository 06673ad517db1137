//! What the exporter keeps beside the objects it writes: a claim per increment (its plan) and a
//! checkpoint per completed increment, both create-only objects under `_insights/`.
//!
//! Increment `n` is claimed by creating `_insights/claims/<n>.json`; the run that creates it (or
//! any later run that finds it without a checkpoint, after a crash) carries out exactly that
//! plan. It is completed by creating `_insights/checkpoints/<n>.json`, only after every object
//! and the manifest exist. Because both are create-only, two concurrent runs can never claim
//! two different increments starting at the same point, and a re-run never re-exports rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where claims and checkpoints live, relative to the destination.
pub const STATE_DIR: &str = "_insights";
/// Sub-prefix of backfills, so that they never collide with increments.
pub const BACKFILL_DIR: &str = "backfill";
/// The object name prefix of the DI serverless application.
pub const OBJECT_PREFIX: &str = "jc_directoryinsights_";

/// How increments are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Mode {
    /// Everything committed since the last exported table version.
    Versions,
    /// Events with timestamps in `[previous end, end)`, where `end` is `now - lag` rounded down
    /// to a multiple of `window`; events that arrive late for an exported window go into the
    /// next increment.
    Window { window_secs: u64, lag_secs: u64 },
    /// A one-off export of a past window, at the latest table version; no checkpoint.
    Backfill,
}

/// One increment: exactly which rows it holds and how its objects are cut. Stored as the claim,
/// so that a re-run after a crash writes the same objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Sequence number of the increment (1, 2, ...); 0 for a backfill.
    pub increment: u64,
    pub organization: Option<String>,
    pub mode: Mode,
    /// The last table version exported before (exclusive); -1 for none.
    pub from_version: i64,
    /// The table version this increment reads (inclusive).
    pub to_version: i64,
    /// The increment's range as epoch microseconds: the event-time window in window and backfill
    /// modes, the interval of the runs in versions mode.
    pub start_us: i64,
    pub end_us: i64,
    /// Objects are cut after this many bytes of events (uncompressed).
    pub object_bytes: u64,
    pub gzip_level: u32,
    pub claimed_at: String,
}

impl Plan {
    /// Key of the `part`th data object (0-based); the first has the plain DI name.
    pub fn object_key(&self, part: usize) -> String {
        let base = self.base_name();
        if part == 0 {
            format!("{base}.json.gz")
        } else {
            format!("{base}_part{:04}.json.gz", part + 1)
        }
    }

    pub fn manifest_key(&self) -> String {
        format!("{}.manifest.json", self.base_name())
    }

    fn base_name(&self) -> String {
        let name = format!(
            "{OBJECT_PREFIX}{}_{}",
            name_time(self.start_us),
            name_time(self.end_us)
        );
        match (self.mode, &self.organization) {
            (Mode::Backfill, Some(org)) => format!("{BACKFILL_DIR}/{org}/{name}"),
            (Mode::Backfill, None) => format!("{BACKFILL_DIR}/{name}"),
            _ => name,
        }
    }

    /// Where a backfill keeps its plan while it runs.
    pub fn backfill_claim_key(&self) -> String {
        format!(
            "{STATE_DIR}/backfills/{}.json",
            self.base_name().replace('/', "_")
        )
    }
}

/// A completed increment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub increment: u64,
    pub organization: Option<String>,
    pub mode: Mode,
    /// The last exported table version.
    pub version: i64,
    /// The end of the last increment's range (epoch microseconds).
    pub end_us: i64,
    pub rows: u64,
    /// The manifest, when the increment had rows.
    pub manifest: Option<String>,
    pub completed_at: String,
}

/// One data object of an increment, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// The manifest written beside an increment's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub increment: u64,
    pub organization: Option<String>,
    pub mode: Mode,
    pub start: String,
    pub end: String,
    pub from_version: i64,
    pub to_version: i64,
    pub rows: u64,
    pub objects: Vec<ObjectEntry>,
    pub created_at: String,
    /// The Ed25519 signature of the rest of the manifest, when the exporter had a signing key
    /// (`INSIGHTS_SIGNING_KEY_FILE` or `INSIGHTS_SIGNING_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<ManifestSignature>,
}

/// A manifest's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSignature {
    /// The fingerprint of the signing key (hex SHA-256 of the public key).
    pub key: String,
    /// Base64 Ed25519 signature of [`Manifest::signed_bytes`].
    pub value: String,
}

impl Manifest {
    /// What a signature covers: the manifest without its signature, as compact JSON with the
    /// fields in their declared order. A verifier parses the manifest and encodes it again, so
    /// the signature holds whatever whitespace or key order the file is stored with, and fails
    /// when any value differs.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = Self {
            signature: None,
            ..self.clone()
        };
        serde_json::to_vec(&unsigned).unwrap_or_default()
    }

    /// Signs the manifest.
    pub fn sign(&mut self, key: &insights_ingest::evidence::SigningKeyPair) {
        let bytes = self.signed_bytes();
        self.signature = Some(ManifestSignature {
            key: key.public().fingerprint(),
            value: key.sign(&bytes),
        });
    }
}

pub fn claim_key(increment: u64) -> String {
    format!("{STATE_DIR}/claims/{increment:020}.json")
}

pub fn checkpoint_key(increment: u64) -> String {
    format!("{STATE_DIR}/checkpoints/{increment:020}.json")
}

/// The increment number of a checkpoint key, if it is one.
pub fn checkpoint_number(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    name.strip_suffix(".json")?.parse().ok()
}

/// A time in an object name: RFC 3339 in UTC with `:` replaced by `-`, whole seconds unless the
/// time has a fraction (then milliseconds).
pub fn name_time(us: i64) -> String {
    let Some(time) = DateTime::<Utc>::from_timestamp_micros(us) else {
        return us.to_string();
    };
    let text = if us % 1_000_000 == 0 {
        time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    };
    text.replace(':', "-")
}

pub fn rfc3339(us: i64) -> String {
    insights_schemas::format_timestamp_us(us)
}

pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn decode<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::State {
        key: key.to_owned(),
        message: "not a valid export state object".into(),
        source: Some(e.into()),
    })
}

pub fn encode<T: Serialize>(value: &T) -> bytes::Bytes {
    let mut text = serde_json::to_vec_pretty(value).unwrap_or_default();
    text.push(b'\n');
    text.into()
}

/// The CloudWatch embedded-metric-format line for an increment without rows.
pub fn no_results_metric(destination: &str, organization: Option<&str>) -> String {
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "DirectoryInsights",
                "Dimensions": [["Destination"]],
                "Metrics": [{"Name": "NoResults", "Unit": "Count"}],
            }],
        },
        "Destination": destination,
        "NoResults": 1,
    });
    if let Some(org) = organization {
        line["Organization"] = org.into();
    }
    line.to_string()
}

/// Parses a duration like `90s`, `5m`, `1h`, `1d` (also `minutes`, `hours`, ...).
pub fn parse_duration(setting: &str, text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let amount: u64 = number.parse().map_err(|_| {
        Error::config(
            setting,
            format!("{text:?} is not a duration like 90s, 5m, 1h or 1d"),
        )
    })?;
    let unit_secs = unit_seconds(unit.trim()).ok_or_else(|| {
        Error::config(
            setting,
            format!("{text:?}: unknown unit {unit:?} (use s, m, h or d)"),
        )
    })?;
    Ok(amount.saturating_mul(unit_secs))
}

/// Seconds in a unit name: `s`/`m`/`h`/`d`, or the words of the DI serverless `IncrementType`.
pub fn unit_seconds(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_follow_the_di_serverless_pattern() {
        let plan = Plan {
            increment: 3,
            organization: None,
            mode: Mode::Window {
                window_secs: 3600,
                lag_secs: 300,
            },
            from_version: 4,
            to_version: 9,
            start_us: 1_763_892_000_000_000,
            end_us: 1_763_895_600_000_000,
            object_bytes: 1 << 20,
            gzip_level: 6,
            claimed_at: String::new(),
        };
        assert_eq!(
            plan.object_key(0),
            "jc_directoryinsights_2025-11-23T10-00-00Z_2025-11-23T11-00-00Z.json.gz"
        );
        assert_eq!(
            plan.object_key(1),
            "jc_directoryinsights_2025-11-23T10-00-00Z_2025-11-23T11-00-00Z_part0002.json.gz"
        );
        assert_eq!(
            plan.manifest_key(),
            "jc_directoryinsights_2025-11-23T10-00-00Z_2025-11-23T11-00-00Z.manifest.json"
        );
        assert_eq!(name_time(1_763_892_000_123_000), "2025-11-23T10-00-00.123Z");
        assert_eq!(checkpoint_number(&checkpoint_key(42)), Some(42));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("--window", "1h").unwrap(), 3600);
        assert_eq!(parse_duration("--lag", "5m").unwrap(), 300);
        assert_eq!(parse_duration("--lag", "0s").unwrap(), 0);
        assert!(parse_duration("--window", "h").is_err());
        assert!(parse_duration("--window", "3 fortnights").is_err());
    }

    #[test]
    fn the_metric_line_is_embedded_metric_format() {
        let line: serde_json::Value =
            serde_json::from_str(&no_results_metric("s3://b/p", Some("org1"))).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "DirectoryInsights"
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "NoResults"
        );
        assert_eq!(line["NoResults"], 1);
        assert_eq!(line["Destination"], "s3://b/p");
    }
}
