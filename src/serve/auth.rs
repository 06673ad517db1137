//! Who is calling: the `x-api-key` checked against the key store, and the organizations the
//! request may touch (the key's own, or those an all-organizations key names in `x-org-id`).

use axum::http::HeaderMap;

use insights_query::Scope;

use super::App;
use super::error::ApiError;
use super::keys::{ALL_ORGS, Role};

/// An authenticated caller and the organizations of the request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Never empty.
    pub organizations: Vec<String>,
}

impl Caller {
    pub fn scope(&self) -> Scope {
        Scope::Organizations(self.organizations.clone())
    }

    /// The single organization of the request (ingest, views, enrichment).
    pub fn organization(&self) -> Result<&str, ApiError> {
        match self.organizations.as_slice() {
            [one] => Ok(one),
            _ => Err(ApiError::bad_request(
                "this route works on one organization; send a single x-org-id",
            )),
        }
    }
}

/// The organizations named in `x-org-id` headers (repeated or comma-separated).
fn named_orgs(headers: &HeaderMap) -> Result<Vec<String>, ApiError> {
    let mut orgs = Vec::new();
    for value in headers.get_all("x-org-id") {
        let text = value
            .to_str()
            .map_err(|_| ApiError::bad_request("x-org-id is not ASCII text"))?;
        for org in text.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if !orgs.iter().any(|o| o == org) {
                orgs.push(org.to_owned());
            }
        }
    }
    Ok(orgs)
}

/// Authenticates a request and checks that its key may act in `role`.
pub async fn authorize(app: &App, headers: &HeaderMap, role: Role) -> Result<Caller, ApiError> {
    let presented = headers
        .get("x-api-key")
        .ok_or_else(|| ApiError::unauthorized("missing x-api-key header"))?
        .to_str()
        .map_err(|_| ApiError::unauthorized("x-api-key is not a valid key"))?;
    let key = app
        .keys
        .verify(presented)
        .await
        .map_err(|e| ApiError::internal(format!("checking the key: {e:#}")))?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
    let allowed = key.role == Role::Admin || key.role == role;
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "a {} key cannot {}",
            serde_json::to_value(key.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            match role {
                Role::Ingest => "ingest events",
                Role::Read => "read events",
                Role::Admin => "do this",
            }
        )));
    }
    let named = named_orgs(headers)?;
    let organizations = if key.organization == ALL_ORGS {
        if named.is_empty() {
            return Err(ApiError::bad_request(
                "a key of every organization must name the organization in x-org-id",
            ));
        }
        named
    } else {
        if let Some(other) = named.iter().find(|org| **org != key.organization) {
            return Err(ApiError::forbidden(format!(
                "this key belongs to another organization than {other}"
            )));
        }
        vec![key.organization.clone()]
    };
    tracing::debug!(key = %key.id, ?organizations, "authorized");
    Ok(Caller { organizations })
}
