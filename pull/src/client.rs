//! One DI API page at a time: `POST /insights/directory/v1/events`, with the answer checked
//! (a JSON array of as many events as `X-Result-Count` says) and every transient fault retried.
//!
//! A 429 waits as long as the server says (`Retry-After`, else `X-RateLimit-Reset`); a 5xx, a
//! reset, a timeout, a page cut short or a page that is not JSON is retried after a capped
//! exponential backoff with jitter; 401 and 403 stop at once with what they mean for the key;
//! any other 4xx stops with the server's message.
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use insights_ingest::framing::{Chunk, RecordSpan};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::{PullError, PullSettings, PullStats, Stop};

/// The events route under the base URL.
const EVENTS_PATH: &str = "/insights/directory/v1/events";
/// First backoff; each retry doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest wait a server may ask for with 429.
const MAX_SERVER_WAIT: Duration = Duration::from_secs(15 * 60);
/// 429s in a row before the run gives up: a server that never lets us in.
const MAX_RATE_LIMITED: u32 = 100;

/// One page of events, framed for the ingester.
pub struct Page {
    /// The events' bytes as they came, one record per event (`line` is its place in the page).
    pub chunk: Chunk,
    /// The `limit` the server applied (`X-Limit`, else the one asked for).
    pub limit: usize,
    /// The cursor for the next page (`X-Search_after`).
    pub search_after: Option<Value>,
    /// The body's size, in bytes.
    pub bytes: usize,
}

impl Page {
    /// Events in the page.
    pub fn count(&self) -> usize {
        self.chunk.records.len()
    }

    /// Whether this is the last page of its window: fewer events than the limit.
    pub fn is_last(&self) -> bool {
        self.count() < self.limit
    }
}

/// What went wrong with one attempt.
enum Fault {
    /// Worth retrying after a backoff.
    Transient(String),
    /// The server asks us to wait this long (429).
    RateLimited(Option<Duration>),
    /// Retrying cannot help.
    Fatal(PullError),
}

/// A DI API client for one key.
pub struct DiClient {
    http: reqwest::Client,
    url: String,
    api_key: String,
    attempts: u32,
    /// No request leaves before this instant: a 429 pauses every reader, not only the one
    /// that met it.
    paused_until: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl DiClient {
    /// A client for `settings`' base URL and key.
    pub fn new(settings: &PullSettings) -> Result<Self, PullError> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("insights-pull/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PullError::Settings(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            http,
            url: format!("{}{EVENTS_PATH}", settings.base_url.trim_end_matches('/')),
            api_key: settings.api_key.clone(),
            attempts: settings.attempts.max(1),
            paused_until: std::sync::Mutex::new(None),
        })
    }

    /// The page `body` asks for, of `organization`, retrying transient faults.
    /// Gives up with [`PullError::Stopped`] as soon as `stop` turns true.
    pub async fn page(
        &self,
        organization: &str,
        body: &Value,
        stats: &PullStats,
        stop: &Stop,
    ) -> Result<Page, PullError> {
        tokio::select! {
            page = self.page_with_retries(organization, body, stats) => page,
            () = stop.wait() => Err(PullError::Stopped),
        }
    }

    async fn page_with_retries(
        &self,
        organization: &str,
        body: &Value,
        stats: &PullStats,
    ) -> Result<Page, PullError> {
        let limit = body["limit"].as_u64().map_or(1000, |l| l as usize);
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        loop {
            let paused_until = *self
                .paused_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(until) = paused_until {
                tokio::time::sleep_until(until).await;
            }
            let fault = match self.attempt(organization, body, limit).await {
                Ok(page) => return Ok(page),
                Err(fault) => fault,
            };
            stats.retries.fetch_add(1, Ordering::Relaxed);
            let wait = match fault {
                Fault::Fatal(error) => return Err(error),
                Fault::RateLimited(asked) => {
                    rate_limited += 1;
                    if rate_limited > MAX_RATE_LIMITED {
                        return Err(PullError::GaveUp {
                            attempts: rate_limited,
                            last: "429 Too Many Requests every time".into(),
                        });
                    }
                    tracing::info!(
                        organization,
                        wait_ms = asked.map(|w| w.as_millis() as u64),
                        "rate limited (429); waiting"
                    );
                    let wait =
                        asked.map_or_else(|| backoff(rate_limited), |w| w.min(MAX_SERVER_WAIT));
                    let until = tokio::time::Instant::now() + wait;
                    let mut paused = self
                        .paused_until
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    *paused = Some(paused.map_or(until, |p| p.max(until)));
                    wait
                }
                Fault::Transient(reason) => {
                    failures += 1;
                    if failures >= self.attempts {
                        return Err(PullError::GaveUp {
                            attempts: failures,
                            last: reason,
                        });
                    }
                    tracing::warn!(organization, attempt = failures, %reason, "retrying a page");
                    stats.set_error(Some(format!("retrying: {reason}")));
                    backoff(failures)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, organization: &str, body: &Value, limit: usize) -> Result<Page, Fault> {
        let response = self
            .http
            .post(&self.url)
            .header("x-api-key", &self.api_key)
            .header("x-org-id", organization)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| Fault::Transient(describe(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Fault::Transient(format!("reading the page: {}", describe(&e))))?;
        if !status.is_success() {
            return Err(classify(status, &headers, &bytes, organization));
        }
        frame(bytes, &headers, limit)
    }
}

/// What a non-2xx answer means for the pull.
fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8], organization: &str) -> Fault {
    let message = server_message(body);
    match status.as_u16() {
        429 => Fault::RateLimited(server_wait(headers)),
        401 => Fault::Fatal(PullError::KeyRefused {
            status: 401,
            message: format!(
                "the API key was not accepted (401): it is wrong, revoked or expired; check \
                 JC_API_KEY or --api-key-file ({message})"
            ),
        }),
        403 => Fault::Fatal(PullError::KeyRefused {
            status: 403,
            message: format!(
                "the API key may not read organization {organization} (403): use an \
                 administrator's key of that organization, or a multi-tenant key that \
                 administers it ({message})"
            ),
        }),
        408 | 500..=599 => Fault::Transient(format!("{status}: {message}")),
        _ => Fault::Fatal(PullError::Refused {
            status: status.as_u16(),
            message,
        }),
    }
}

/// The message of an error body: DI's `{"message": ...}`, ours `{"error": {"message": ...}}`,
/// else the text itself (shortened).
fn server_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        for pointer in ["/error/message", "/message", "/error"] {
            if let Some(text) = value.pointer(pointer).and_then(Value::as_str) {
                return text.to_owned();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no message".to_owned()
    } else {
        text.chars().take(300).collect()
    }
}

/// How long a 429 asks us to wait: `Retry-After` (seconds or an HTTP date), else
/// `X-RateLimit-Reset` (seconds from now, or an epoch second).
fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(value) = text("retry-after") {
        if let Ok(seconds) = value.parse::<f64>() {
            return Some(Duration::from_secs_f64(seconds.clamp(0.0, 86_400.0)));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
            let ms = (at.timestamp_millis() - chrono::Utc::now().timestamp_millis()).max(0);
            return Some(Duration::from_millis(ms.unsigned_abs()));
        }
    }
    let reset: f64 = text("x-ratelimit-reset")?.parse().ok()?;
    let now = chrono::Utc::now().timestamp() as f64;
    let seconds = if reset > 1e9 { reset - now } else { reset };
    Some(Duration::from_secs_f64(seconds.clamp(0.0, 86_400.0)))
}

/// Capped exponential backoff with full jitter: a random wait up to `FIRST_BACKOFF · 2^n`.
fn backoff(failures: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let mut bytes = [0u8; 8];
    let fraction = if getrandom::fill(&mut bytes).is_ok() {
        (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
    } else {
        0.5
    };
    // At least half the ceiling, so retries do not hammer a struggling server.
    ceiling.mul_f64(0.5 + fraction / 2.0)
}

fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Checks a 200 answer and frames its events: a JSON array, as many elements as
/// `X-Result-Count` says; each element's bytes become one record, untouched.
fn frame(bytes: Bytes, headers: &HeaderMap, asked_limit: usize) -> Result<Page, Fault> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let events = array_elements(&bytes)
        .map_err(|e| Fault::Transient(format!("the page is not a JSON array of events: {e}")))?;
    if let Some(count) = header("x-result-count").and_then(|c| c.trim().parse::<usize>().ok())
        && count != events.len()
    {
        return Err(Fault::Transient(format!(
            "the page holds {} events but X-Result-Count says {count}",
            events.len()
        )));
    }
    let limit = header("x-limit")
        .and_then(|l| l.trim().parse::<usize>().ok())
        .filter(|&l| l > 0)
        .unwrap_or(asked_limit);
    let search_after = match header("x-search_after") {
        Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| {
            Fault::Transient(format!("X-Search_after is not JSON ({text:?}): {e}"))
        })?),
        None => None,
    };
    let records = events
        .into_iter()
        .zip(1u64..)
        .map(|((start, end), line)| RecordSpan {
            line,
            start,
            end,
            too_long: None,
        })
        .collect();
    let size = bytes.len();
    Ok(Page {
        chunk: Chunk {
            data: Vec::from(bytes),
            records,
        },
        limit,
        search_after,
        bytes: size,
    })
}

/// The spans of the elements of the JSON array `text`, found by its structure: strings and
/// their escapes, brackets and braces that must pair up, and the commas between elements.
///
/// A page cut short, or anything but an array, is an error. Each element's own syntax is left
/// to the decoder, which parses every event anyway and quarantines one that is not a valid JSON
/// object; parsing the whole page here too cost the puller a tenth of its time.
fn array_elements(text: &[u8]) -> Result<Vec<(usize, usize)>, String> {
    let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let skip_blanks = |mut at: usize| {
        while text.get(at).is_some_and(|&b| blank(b)) {
            at += 1;
        }
        at
    };
    let mut at = skip_blanks(0);
    if text.get(at) != Some(&b'[') {
        return Err("it does not start with '['".into());
    }
    at = skip_blanks(at + 1);
    let mut elements = Vec::new();
    let mut open: Vec<u8> = Vec::new();
    if text.get(at) == Some(&b']') {
        at += 1;
    } else {
        loop {
            at = skip_blanks(at);
            let start = at;
            // One element: up to the comma or bracket that ends it at the array's level.
            let closing = loop {
                let Some(&byte) = text.get(at) else {
                    return Err(format!(
                        "it ends inside event {} (byte {at})",
                        elements.len() + 1
                    ));
                };
                match byte {
                    b'"' => {
                        at = end_of_string(text, at + 1)?;
                        continue;
                    }
                    b'{' => open.push(b'}'),
                    b'[' => open.push(b']'),
                    b'}' | b']' => match open.pop() {
                        Some(expected) if expected == byte => {}
                        Some(_) => return Err(format!("unpaired '{}' at byte {at}", byte as char)),
                        None if byte == b']' => break b']',
                        None => return Err(format!("unpaired '}}' at byte {at}")),
                    },
                    b',' if open.is_empty() => break b',',
                    _ => {}
                }
                at += 1;
            };
            let mut end = at;
            while end > start && blank(text[end - 1]) {
                end -= 1;
            }
            if end == start {
                return Err(format!("event {} is empty (byte {at})", elements.len() + 1));
            }
            elements.push((start, end));
            at += 1;
            if closing == b']' {
                break;
            }
        }
    }
    if skip_blanks(at) != text.len() {
        return Err(format!("something follows the array (byte {at})"));
    }
    Ok(elements)
}

/// The position after the quote that closes the string whose text starts at `at`.
fn end_of_string(text: &[u8], mut at: usize) -> Result<usize, String> {
    loop {
        match memchr::memchr2(b'"', b'\\', &text[at.min(text.len())..]) {
            Some(found) if text[at + found] == b'"' => return Ok(at + found + 1),
            // An escape: the next byte is part of it, whatever it is.
            Some(found) => at += found + 2,
            None => return Err("it ends inside a string".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn pages_frame_each_event_verbatim_and_check_the_count() {
        let body = Bytes::from_static(br#"[{"id":"a", "x": [1,2]} , {"id":"b"}]"#);
        let page = frame(
            body.clone(),
            &headers(&[
                ("x-result-count", "2"),
                ("x-limit", "2"),
                ("x-search_after", r#"[5,"b"]"#),
            ]),
            10,
        )
        .ok()
        .unwrap();
        assert_eq!(page.count(), 2);
        assert!(!page.is_last());
        assert_eq!(
            page.chunk.bytes(&page.chunk.records[0]),
            br#"{"id":"a", "x": [1,2]}"#
        );
        assert_eq!(page.chunk.bytes(&page.chunk.records[1]), br#"{"id":"b"}"#);
        assert_eq!(page.search_after, Some(serde_json::json!([5, "b"])));
        assert!(matches!(
            frame(body.clone(), &headers(&[("x-result-count", "3")]), 10),
            Err(Fault::Transient(_))
        ));
        assert!(matches!(
            frame(Bytes::from_static(b"[{\"id\":"), &HeaderMap::new(), 10),
            Err(Fault::Transient(_))
        ));
        let last = frame(body, &HeaderMap::new(), 10).ok().unwrap();
        assert!(last.is_last());
    }

    #[test]
    fn array_elements_follow_strings_escapes_and_nesting() {
        let text = br#" [ {"a":"x]},\"{[","b":[1,{"c":null}]} ,
            {"e":"\\"}, 3 ,"s"] "#;
        let spans = array_elements(text).unwrap();
        let parts: Vec<&[u8]> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(
            parts,
            [
                &br#"{"a":"x]},\"{[","b":[1,{"c":null}]}"#[..],
                br#"{"e":"\\"}"#,
                b"3",
                br#""s""#
            ]
        );
        assert_eq!(array_elements(b" [ ] ").unwrap(), []);
        for broken in [
            &b""[..],
            b"{}",
            b"[",
            br#"[{"a":"b"#,
            br#"[{"a":"b\"}]"#,
            b"[{]",
            b"[[}]",
            b"[{}}]",
            b"[1,]",
            b"[,1]",
            b"[1] x",
            b"[1]]",
            br#"[{"id":"#,
        ] {
            assert!(
                array_elements(broken).is_err(),
                "{}",
                String::from_utf8_lossy(broken)
            );
        }
    }

    #[test]
    fn waits_follow_the_server_and_backoff_is_capped() {
        assert_eq!(
            server_wait(&headers(&[("retry-after", "3")])),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            server_wait(&headers(&[("x-ratelimit-reset", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(server_wait(&HeaderMap::new()), None);
        for n in 1..40 {
            let wait = backoff(n);
            assert!(
                wait <= MAX_BACKOFF && wait >= FIRST_BACKOFF / 2,
                "{n}: {wait:?}"
            );
        }
    }

    #[test]
    fn statuses_are_classified() {
        let none = HeaderMap::new();
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, &none, b"", "o"),
            Fault::Fatal(PullError::KeyRefused { status: 401, .. })
        ));
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, &none, b"", "o"),
            Fault::Fatal(PullError::KeyRefused { status: 403, .. })
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, &none, b"", "o"),
            Fault::Transient(_)
        ));
        match classify(
            StatusCode::BAD_REQUEST,
            &none,
            br#"{"message":"bad start_time"}"#,
            "o",
        ) {
            Fault::Fatal(PullError::Refused {
                status: 400,
                message,
            }) => assert_eq!(message, "bad start_time"),
            _ => panic!("400 is final"),
        }
    }
}
