//! What a pull does: where from, which organizations and services, and its timing.
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::PullError;

/// JumpCloud's API; `--base-url` points elsewhere (an EU or IN region, a proxy, another
/// `insights serve`).
pub const DEFAULT_BASE_URL: &str = "https://api.jumpcloud.com";
/// Events per page: the most a DI API answers.
pub const MAX_PAGE_LIMIT: usize = 10_000;
/// Slices of a window read at once, at most.
pub const MAX_READERS: usize = 8;
/// How far back a first pull reaches: JumpCloud keeps events 90 days.
pub const DEFAULT_SINCE: Duration = Duration::from_secs(90 * 86_400);

/// Where a pull starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now.
    Ago(Duration),
    /// This instant, in microseconds since the epoch.
    At(i64),
}

impl Since {
    /// `90d`, `12h`, ... before now, or an RFC 3339 instant.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(us) = insights_schemas::parse_timestamp_us(text) {
            return Ok(Self::At(us));
        }
        parse_duration(text).map(Self::Ago).map_err(|_| {
            format!("{text:?} is neither a duration (90d, 12h, 30m) nor an RFC 3339 instant")
        })
    }

    /// The instant, in microseconds, given now.
    pub fn at(self, now_us: i64) -> i64 {
        match self {
            Self::At(us) => us,
            Self::Ago(ago) => {
                now_us.saturating_sub(i64::try_from(ago.as_micros()).unwrap_or(i64::MAX))
            }
        }
    }
}

/// `500ms`, `30s`, `10m`, `2h`, `90d`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 10m, 2h or 90d"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m, h, d or w")),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

/// A pull: the API, the key, the organizations and services, and the timing.
#[derive(Debug, Clone)]
pub struct PullSettings {
    /// The DI API's base URL (without `/insights/...`).
    pub base_url: String,
    /// The API key, sent as `x-api-key`; never logged.
    pub api_key: String,
    /// Organizations pulled, each on its own checkpoint (sent as `x-org-id`).
    pub organizations: Vec<String>,
    /// Services asked for (`all` by default).
    pub services: Vec<String>,
    /// Where a pull starts when there is no checkpoint, or always when `force_since`.
    pub since: Since,
    /// Start at `since` even when a checkpoint is further on (a backfill).
    pub force_since: bool,
    /// How far before the checkpoint each run re-reads, for events DI makes visible late.
    pub overlap: Duration,
    /// How far behind now each run stops, so events still arriving are read by the next run.
    pub lag: Duration,
    /// Time between runs in continuous mode.
    pub every: Duration,
    /// Events per page (at most 10,000).
    pub limit: usize,
    /// How often, at most, a long window's progress is checkpointed between pages.
    pub checkpoint_every: Duration,
    /// Slices of a window read at once, each paged with its own cursor (1 to
    /// [`MAX_READERS`]): the server finds one slice's next page while the other's is stored.
    pub readers: usize,
    /// Retries of one request before the run gives up.
    pub attempts: u32,
    /// Longest wait for one answer.
    pub request_timeout: Duration,
}

impl PullSettings {
    /// The defaults for `organizations` with `api_key`.
    pub fn new(api_key: String, organizations: Vec<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key,
            organizations,
            services: vec!["all".to_owned()],
            since: Since::Ago(DEFAULT_SINCE),
            force_since: false,
            overlap: Duration::from_secs(600),
            lag: Duration::from_secs(60),
            every: Duration::from_secs(60),
            limit: MAX_PAGE_LIMIT,
            checkpoint_every: Duration::from_secs(10),
            readers: 2,
            attempts: 8,
            request_timeout: Duration::from_secs(120),
        }
    }

    /// Checks what the request and the checkpoint paths rely on.
    pub fn validate(&self) -> Result<(), PullError> {
        if self.organizations.is_empty() {
            return Err(PullError::Settings("name at least one organization".into()));
        }
        for org in &self.organizations {
            if org.is_empty()
                || !org
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(PullError::Settings(format!(
                    "organization {org:?}: an organization id is letters, digits, - and _"
                )));
            }
        }
        for service in &self.services {
            if service != "all" && !insights_schemas::catalogue::is_known_service(service) {
                return Err(PullError::Settings(format!(
                    "unknown service {service:?}; known: all, {}",
                    insights_schemas::catalogue::service_names()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        if self.limit == 0 || self.limit > MAX_PAGE_LIMIT {
            return Err(PullError::Settings(format!(
                "the page limit must be 1 to {MAX_PAGE_LIMIT}"
            )));
        }
        if self.readers == 0 || self.readers > MAX_READERS {
            return Err(PullError::Settings(format!(
                "readers must be 1 to {MAX_READERS}"
            )));
        }
        if self.api_key.trim().is_empty() {
            return Err(PullError::Settings("the API key is empty".into()));
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(PullError::Settings(format!(
                "base URL {:?} must start with https:// (or http://)",
                self.base_url
            )));
        }
        Ok(())
    }

    /// The services, sorted, as a checkpoint's name: `all`, or `ldap+radius`.
    pub fn service_set(&self) -> String {
        let mut services = self.services.clone();
        services.sort();
        services.dedup();
        services.join("+")
    }
}

/// Reads an API key file: its first line, trimmed.
pub fn read_key_file(path: &Path) -> Result<String, PullError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        PullError::Settings(format!("reading the API key file {}: {e}", path.display()))
    })?;
    let key = text.lines().next().unwrap_or_default().trim().to_owned();
    if key.is_empty() {
        return Err(PullError::Settings(format!(
            "the API key file {} is empty",
            path.display()
        )));
    }
    Ok(key)
}

/// The pull file of `insights serve --pull FILE`, TOML or JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PullFile {
    organizations: Vec<String>,
    key_file: std::path::PathBuf,
    base_url: Option<String>,
    services: Option<Vec<String>>,
    since: Option<String>,
    every: Option<String>,
    overlap: Option<String>,
    lag: Option<String>,
    readers: Option<usize>,
}

/// Reads the pull file of `insights serve --pull FILE`: TOML, or JSON when it starts with `{`.
/// A relative `key_file` is relative to the pull file.
pub fn read_pull_file(path: &Path) -> Result<PullSettings, PullError> {
    let bad = |message: String| PullError::Settings(format!("{}: {message}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let file: PullFile = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
    } else {
        toml::from_str(&text).map_err(|e| bad(e.to_string()))?
    };
    let key_path = path
        .parent()
        .map_or_else(|| file.key_file.clone(), |dir| dir.join(&file.key_file));
    let mut settings = PullSettings::new(read_key_file(&key_path)?, file.organizations);
    if let Some(url) = file.base_url {
        settings.base_url = url;
    }
    if let Some(services) = file.services {
        settings.services = services;
    }
    if let Some(since) = file.since {
        settings.since = Since::parse(&since).map_err(|e| bad(format!("since: {e}")))?;
    }
    if let Some(readers) = file.readers {
        settings.readers = readers;
    }
    for (name, value, slot) in [
        ("every", file.every, &mut settings.every),
        ("overlap", file.overlap, &mut settings.overlap),
        ("lag", file.lag, &mut settings.lag),
    ] {
        if let Some(value) = value {
            *slot = parse_duration(&value).map_err(|e| bad(format!("{name}: {e}")))?;
        }
    }
    settings.validate().map_err(|e| bad(e.to_string()))?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_since() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(
            Since::parse("2026-01-01T00:00:00Z"),
            Ok(Since::At(1_767_225_600_000_000))
        );
        assert_eq!(
            Since::parse("1h").map(|s| s.at(7_200_000_000)),
            Ok(3_600_000_000)
        );
        assert!(Since::parse("yesterday").is_err());
    }

    #[test]
    fn settings_are_checked() {
        let mut settings = PullSettings::new("k".into(), vec!["org_1".into()]);
        assert!(settings.validate().is_ok());
        settings.organizations = vec!["../x".into()];
        assert!(settings.validate().is_err());
        settings.organizations = vec!["a".into()];
        settings.services = vec!["radius".into(), "ldap".into(), "radius".into()];
        assert_eq!(settings.service_set(), "ldap+radius");
        settings.services = vec!["nope".into()];
        assert!(settings.validate().is_err());
    }
}
