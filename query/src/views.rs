//! Saved views: a name, a description and a DI request whose time range is absolute or
//! relative (`last 24h`, `last 7d`), kept in the store under
//! `views/<organization>/<name>.json` so they live wherever the events do.

use chrono::Utc;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use insights_ingest::StoreLocation;
use insights_schemas::format_timestamp_us;
use insights_schemas::request::{
    EventQuery, RequestError, parse_event_query_value, parse_relative_range,
};

use crate::error::{Error, Result};

/// A saved view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A relative range such as `last 24h`; when set, it replaces the request's start and end
    /// each time the view runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// The DI request body.
    pub request: Value,
    /// When the view was saved (RFC 3339).
    #[serde(default)]
    pub created: String,
}

impl View {
    /// Checks the name, the range and the request (with the range applied now).
    pub fn validate(&self) -> Result<()> {
        check_name(&self.name)?;
        self.query_at(now_us())?;
        Ok(())
    }

    /// The view's request as it runs at `now_us`.
    pub fn query_at(&self, now_us: i64) -> Result<EventQuery> {
        let mut request = self.request.clone();
        let Value::Object(body) = &mut request else {
            return Err(bad("request", "must be a JSON object (a DI request body)").into());
        };
        if let Some(range) = &self.range {
            let length = parse_relative_range(range).ok_or_else(|| {
                bad(
                    "range",
                    format!(
                        "{range:?} is not a range like \"last 24h\", \"last 7d\" or \"last 30m\""
                    ),
                )
            })?;
            body.insert(
                "start_time".into(),
                Value::from(format_timestamp_us(now_us - length)),
            );
            body.insert(
                "end_time".into(),
                Value::from(format_timestamp_us(now_us + 1000)),
            );
        }
        Ok(parse_event_query_value(&request)?)
    }

    /// The view's request as it runs now.
    pub fn query(&self) -> Result<EventQuery> {
        self.query_at(now_us())
    }
}

fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

fn bad(field: &str, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.into(),
        message: message.into(),
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(bad(
            "name",
            format!("{name:?} is not a view name (1-64 letters, digits, '-', '_' or '.')"),
        )
        .into())
    }
}

/// The saved views of a store.
pub struct ViewStore {
    store: std::sync::Arc<dyn ObjectStore>,
}

impl ViewStore {
    /// The views of a store.
    pub fn open(location: &StoreLocation) -> Result<Self> {
        Ok(Self {
            store: location.object_store()?,
        })
    }

    fn path(organization: &str, name: &str) -> Result<Path> {
        check_name(name)?;
        Ok(Path::from_iter([
            "views",
            organization,
            &format!("{name}.json"),
        ]))
    }

    /// Saves a new view; an existing one of that name is kept unless `replace`.
    pub async fn create(&self, organization: &str, mut view: View, replace: bool) -> Result<View> {
        view.validate()?;
        if view.created.is_empty() {
            view.created = format_timestamp_us(now_us());
        }
        let path = Self::path(organization, &view.name)?;
        let body = serde_json::to_vec_pretty(&view)
            .map_err(|e| Error::Invalid(format!("encoding the view: {e}")))?;
        let mode = if replace {
            PutMode::Overwrite
        } else {
            PutMode::Create
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(body), PutOptions::from(mode))
            .await
        {
            Ok(_) => Ok(view),
            Err(object_store::Error::AlreadyExists { .. }) => Err(Error::ViewExists {
                organization: organization.to_owned(),
                name: view.name,
            }),
            Err(source) => Err(Error::Object {
                path: path.to_string(),
                source,
            }),
        }
    }

    /// One view.
    pub async fn get(&self, organization: &str, name: &str) -> Result<View> {
        let path = Self::path(organization, name)?;
        let bytes = match self.store.get(&path).await {
            Ok(found) => found.bytes().await,
            Err(e) => Err(e),
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::ViewNotFound {
                    organization: organization.to_owned(),
                    name: name.to_owned(),
                });
            }
            Err(source) => {
                return Err(Error::Object {
                    path: path.to_string(),
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid(format!("saved view {path} is not readable: {e}")))
    }

    /// Every view of an organization, by name.
    pub async fn list(&self, organization: &str) -> Result<Vec<View>> {
        use futures::TryStreamExt;
        let prefix = Path::from_iter(["views", organization]);
        let metas: Vec<_> =
            self.store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|source| Error::Object {
                    path: prefix.to_string(),
                    source,
                })?;
        let mut views = Vec::new();
        for meta in metas {
            let Some(name) = meta
                .location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
            else {
                continue;
            };
            views.push(self.get(organization, name).await?);
        }
        views.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(views)
    }

    /// Deletes a view.
    pub async fn delete(&self, organization: &str, name: &str) -> Result<()> {
        // Reading first gives a clear not-found (object stores delete missing keys silently).
        self.get(organization, name).await?;
        let path = Self::path(organization, name)?;
        self.store
            .delete(&path)
            .await
            .map_err(|source| Error::Object {
                path: path.to_string(),
                source,
            })
    }
}
