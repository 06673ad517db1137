//! Where a store lives: a local directory or an `s3://bucket/prefix` location.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use url::Url;

use crate::error::{Error, Result};

/// The default store of the CLI: a directory in the working directory.
pub const DEFAULT_STORE: &str = "./insights-data";

/// A parsed store location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A directory on local disk (absolute).
    Local(PathBuf),
    /// An S3 (or S3-compatible) bucket and key prefix.
    S3 { bucket: String, prefix: String },
}

impl StoreLocation {
    /// Parses `./dir`, `/abs/dir`, `file:///abs/dir` or `s3://bucket/prefix`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |message: String| Error::Store {
            store: text.to_owned(),
            message,
        };
        if let Some(rest) = text
            .strip_prefix("s3://")
            .or_else(|| text.strip_prefix("s3a://"))
        {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name; expected s3://bucket/prefix".into()));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if text.contains("://") && !text.starts_with("file://") {
            return Err(bad(
                "unsupported scheme; use a directory or s3://bucket/prefix".into(),
            ));
        }
        let path = Path::new(text.strip_prefix("file://").unwrap_or(text));
        if path.as_os_str().is_empty() {
            return Err(bad("empty path".into()));
        }
        let absolute = std::path::absolute(path)
            .map_err(|e| bad(format!("cannot resolve the directory: {e}")))?;
        Ok(Self::Local(absolute))
    }

    /// The URL of the events table inside the store.
    pub fn table_url(&self) -> Result<Url> {
        match self {
            Self::Local(dir) => {
                let table = dir.join("events");
                Url::from_directory_path(&table).map_err(|()| Error::Store {
                    store: dir.display().to_string(),
                    message: "not an absolute path".into(),
                })
            }
            Self::S3 { bucket, prefix } => {
                let path = if prefix.is_empty() {
                    format!("s3://{bucket}/events")
                } else {
                    format!("s3://{bucket}/{prefix}/events")
                };
                Url::parse(&path).map_err(|e| Error::Store {
                    store: self.to_string(),
                    message: e.to_string(),
                })
            }
        }
    }

    /// The URL of the store's root (the parent of the events table).
    pub fn root_url(&self) -> Result<Url> {
        let table = self.table_url()?;
        let text = table.as_str().trim_end_matches('/');
        let root = text.strip_suffix("events").unwrap_or(text);
        Url::parse(root).map_err(|e| Error::Store {
            store: self.to_string(),
            message: e.to_string(),
        })
    }

    /// An object store rooted at the store's root, for files kept beside the table (saved views).
    pub fn object_store(&self) -> Result<deltalake::logstore::ObjectStoreRef> {
        let url = self.root_url()?;
        deltalake::logstore::store_for(&url, self.storage_options()).map_err(|e| Error::Store {
            store: self.to_string(),
            message: e.to_string(),
        })
    }

    /// The local directory for the write-ahead log and quarantine: inside a local store, or
    /// `fallback` for a remote one.
    pub fn state_dir(&self, fallback: &Path) -> PathBuf {
        match self {
            Self::Local(dir) => dir.to_path_buf(),
            Self::S3 { bucket, prefix } => {
                let name = format!("{bucket}/{prefix}").replace(['/', ':'], "_");
                fallback.join(name.trim_end_matches('_'))
            }
        }
    }

    /// Storage options for the table; S3 settings come from the standard AWS environment
    /// variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...).
    pub fn storage_options(&self) -> HashMap<String, String> {
        let mut options = HashMap::new();
        if let Self::S3 { .. } = self {
            let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .ok();
            if let Some(endpoint) = endpoint {
                if endpoint.starts_with("http://") {
                    options.insert("AWS_ALLOW_HTTP".into(), "true".into());
                }
                options.insert("AWS_ENDPOINT_URL".into(), endpoint);
                // S3-compatible servers on a custom endpoint rarely serve virtual-host buckets.
                options
                    .entry("AWS_VIRTUAL_HOSTED_STYLE_REQUEST".into())
                    .or_insert("false".into());
            }
            if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err()
            {
                options.insert("AWS_REGION".into(), "us-east-1".into());
            }
        }
        options
    }
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(dir) => write!(f, "{}", dir.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_locations() {
        let store = StoreLocation::parse("s3://audit/prod/di/").unwrap();
        assert_eq!(
            store,
            StoreLocation::S3 {
                bucket: "audit".into(),
                prefix: "prod/di".into()
            }
        );
        assert_eq!(
            store.table_url().unwrap().as_str(),
            "s3://audit/prod/di/events"
        );
        assert_eq!(
            StoreLocation::parse("s3://audit")
                .unwrap()
                .table_url()
                .unwrap()
                .as_str(),
            "s3://audit/events"
        );
    }

    #[test]
    fn local_locations_become_absolute_table_urls() {
        let store = StoreLocation::parse("/var/lib/insights").unwrap();
        assert_eq!(
            store.table_url().unwrap().as_str(),
            "file:///var/lib/insights/events/"
        );
        assert!(
            matches!(StoreLocation::parse("rel/dir").unwrap(), StoreLocation::Local(p) if p.is_absolute())
        );
    }

    #[test]
    fn rejects_bad_locations() {
        assert!(StoreLocation::parse("s3:///x").is_err());
        assert!(StoreLocation::parse("gs://bucket").is_err());
        assert!(StoreLocation::parse("").is_err());
    }
}
