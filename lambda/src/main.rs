//! `bootstrap`: the AWS Lambda function that archives increments of the events table to S3.
//!
//! - An EventBridge scheduled event exports one increment: the events of the windows of
//!   `INCREMENT_AMOUNT` `INCREMENT_TYPE` that closed `INCREMENT_LAG` ago, plus late events for
//!   windows exported before (see `insights-exporter`).
//! - A manual payload `{"start": "...", "end": "..."}` backfills that window under `backfill/`.
//!
//! The table is read from S3 (deltalake); objects are written with aws-sdk-s3, create-only
//! (`If-None-Match: *`). Configuration comes from the environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `INSIGHTS_TABLE_URI` | the store, `s3://bucket/prefix` (its table is `<prefix>/events`) |
//! | `DESTINATION_BUCKET` | bucket of the exported objects |
//! | `DESTINATION_PREFIX` | key prefix of the exported objects (optional) |
//! | `INCREMENT_AMOUNT`, `INCREMENT_TYPE` | the window, e.g. `1` and `hour` (default 1 hour) |
//! | `INCREMENT_LAG` | how long after its end a window is exported (default `5m`) |
//! | `ORGANIZATION` | export one organization only (optional) |
//! | `OBJECT_BYTES`, `GZIP_LEVEL` | object size before a new part begins; gzip level |
//! | `INSIGHTS_SIGNING_KEY` | the signing key (PKCS#8 PEM text) that signs each manifest (optional) |

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

use insights_exporter::{
    Created, DEFAULT_GZIP_LEVEL, DEFAULT_OBJECT_BYTES, Destination, Error, IncrementConfig, Result,
    parse_duration, run_backfill, run_increment, unit_seconds,
};
use insights_ingest::StoreLocation;

/// A destination bucket and prefix, written with aws-sdk-s3.
#[derive(Clone)]
struct S3Destination {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Destination {
    fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn error(&self, key: &str, e: impl std::fmt::Display) -> Error {
        Error::Destination {
            destination: format!("s3://{}/{}", self.bucket, self.full_key(key)),
            message: e.to_string(),
            source: None,
        }
    }
}

/// One buffer of the parts (a single part is passed through without copying).
fn concatenate(mut parts: Vec<Bytes>) -> Bytes {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut all = bytes::BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
    for part in parts {
        all.extend_from_slice(&part);
    }
    all.freeze()
}

/// The message of an SDK error with its service code, when there is one.
fn describe<E>(e: &aws_sdk_s3::error::SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => format!("{}", aws_sdk_s3::error::DisplayErrorContext(e)),
    }
}

impl Destination for S3Destination {
    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    async fn put_new(&self, key: &str, body: Vec<Bytes>) -> Result<Created> {
        let body = concatenate(body);
        let mut attempt = 0;
        loop {
            let sent = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(self.full_key(key))
                .body(ByteStream::from(body.clone()))
                .if_none_match("*")
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(Created::Written),
                Err(e) if e.code() == Some("PreconditionFailed") => {
                    return Ok(Created::AlreadyExists);
                }
                // A concurrent conditional write of the same key is in flight: try again.
                Err(e) if e.code() == Some("ConditionalRequestConflict") && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(self.error(key, describe(&e))),
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.full_key(key))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(self.error(key, describe(&e))),
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| self.error(key, e))?;
        Ok(Some(body.into_bytes()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let full = self.full_key(prefix);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(prefix, describe(&e)))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter_map(|k| k.get(strip..).map(str::to_owned)),
            );
        }
        Ok(keys)
    }
}

/// The function's configuration, read once per cold start.
struct Settings {
    table: StoreLocation,
    destination: S3Destination,
    config: IncrementConfig,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn required(name: &str) -> Result<String> {
    env(name).ok_or_else(|| Error::config(name, "must be set"))
}

async fn settings() -> Result<Settings> {
    let table_uri = required("INSIGHTS_TABLE_URI")?;
    let table = StoreLocation::parse(&table_uri)
        .map_err(|e| Error::config("INSIGHTS_TABLE_URI", e.to_string()))?;
    let bucket = required("DESTINATION_BUCKET")?;
    let prefix = env("DESTINATION_PREFIX")
        .unwrap_or_default()
        .trim_matches('/')
        .to_owned();
    let amount: u64 = env("INCREMENT_AMOUNT")
        .unwrap_or_else(|| "1".into())
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::config("INCREMENT_AMOUNT", "must be a whole number above 0"))?;
    let unit = env("INCREMENT_TYPE").unwrap_or_else(|| "hour".into());
    let unit_secs = unit_seconds(unit.trim()).ok_or_else(|| {
        Error::config(
            "INCREMENT_TYPE",
            format!("{unit:?}: use minute(s), hour(s) or day(s)"),
        )
    })?;
    let lag = parse_duration(
        "INCREMENT_LAG",
        &env("INCREMENT_LAG").unwrap_or_else(|| "5m".into()),
    )?;
    let object_bytes = match env("OBJECT_BYTES") {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| Error::config("OBJECT_BYTES", format!("{v:?} is not a byte count")))?,
        None => DEFAULT_OBJECT_BYTES,
    };
    let gzip_level = match env("GZIP_LEVEL") {
        Some(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|l| *l <= 9)
            .ok_or_else(|| Error::config("GZIP_LEVEL", format!("{v:?} is not 0-9")))?,
        None => DEFAULT_GZIP_LEVEL,
    };

    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut s3 = aws_sdk_s3::config::Builder::from(&shared);
    // S3-compatible servers on a custom endpoint rarely serve virtual-host buckets.
    if env("AWS_ENDPOINT_URL_S3")
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .is_some()
    {
        s3 = s3.force_path_style(true);
    }
    if shared.region().is_none() {
        s3 = s3.region(aws_sdk_s3::config::Region::new("us-east-1"));
    }
    Ok(Settings {
        table,
        destination: S3Destination {
            client: Client::from_conf(s3.build()),
            bucket,
            prefix,
        },
        config: IncrementConfig {
            organization: env("ORGANIZATION"),
            window: Some((amount.saturating_mul(unit_secs), lag)),
            object_bytes,
            gzip_level,
        },
    })
}

/// What an invocation asks for.
enum Request {
    Increment,
    Backfill { start_us: i64, end_us: i64 },
}

fn request(payload: &Value) -> Result<Request> {
    let time = |name: &str| -> Result<Option<i64>> {
        match payload.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => insights_schemas::parse_timestamp_us(text)
                .map(Some)
                .ok_or_else(|| {
                    Error::config(
                        format!("payload {name}"),
                        format!("{text:?} is not an RFC 3339 time"),
                    )
                }),
            Some(other) => Err(Error::config(
                format!("payload {name}"),
                format!("{other} is not an RFC 3339 time"),
            )),
        }
    };
    match (time("start")?, time("end")?) {
        (Some(start_us), Some(end_us)) => return Ok(Request::Backfill { start_us, end_us }),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::config(
                "payload",
                "a backfill needs both \"start\" and \"end\"",
            ));
        }
        (None, None) => {}
    }
    let scheduled = payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        || payload.get("source").and_then(Value::as_str) == Some("aws.events");
    if scheduled {
        Ok(Request::Increment)
    } else {
        Err(Error::config(
            "payload",
            "expected an EventBridge scheduled event or {\"start\": ..., \"end\": ...}",
        ))
    }
}

async fn handle(settings: &Settings, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let request_id = event.context.request_id.clone();
    let report = match request(&event.payload)? {
        Request::Increment => {
            run_increment(&settings.table, &settings.destination, &settings.config).await?
        }
        Request::Backfill { start_us, end_us } => {
            run_backfill(
                &settings.table,
                &settings.destination,
                &settings.config,
                start_us,
                end_us,
            )
            .await?
        }
    };
    tracing::info!(
        request_id,
        status = report.status,
        increment = report.increment,
        rows = report.rows,
        objects = report.objects.len(),
        seconds = report.seconds,
        "increment done"
    );
    Ok(serde_json::to_value(&report).unwrap_or_else(|e| json!({"error": e.to_string()})))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INSIGHTS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .init();
    let settings = match settings().await {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e.chain(), "configuration");
            return Err(e.chain().into());
        }
    };
    let settings = &settings;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(settings, event).await.map_err(|e| {
            tracing::error!(error = %e.chain(), "increment failed");
            lambda_runtime::Error::from(e.chain())
        })
    }))
    .await
}
