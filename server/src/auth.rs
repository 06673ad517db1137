//! Who is calling: one credential — an `x-api-key`, or a bearer token of a service account
//! (`Authorization: Bearer`, from `POST /oauth2/token`) — checked against the key store, and the
//! organizations the request may touch (the key's own, or those an all-organizations key names
//! in `x-org-id`). A request that presents more than one credential is refused: which one
//! would win is exactly what a confused or hostile client must not get to choose.
//!
//! Authentication is a layer on the router of each role ([`require`]), not a call in each
//! handler: every route of the read or ingest router is checked before its handler runs, and a
//! handler receives the checked [`Caller`] as an extractor. A handler that asks for a `Caller`
//! on a router without the layer answers 500 instead of serving unauthenticated.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use insights_query::Scope;

use super::App;
use super::error::ApiError;
use super::keys::{ALL_ORGS, KeyRecord, Role};

/// The authentication layer of a router whose routes need `role`: the request goes on to its
/// handler with its [`Caller`] only if its one credential may act in `role`.
pub async fn require(
    State((app, role)): State<(Arc<App>, Role)>,
    mut request: Request,
    next: Next,
) -> Response {
    match authorize(&app, request.headers(), role).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refusal) => refusal.into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::internal("a route that needs a caller has no authentication layer")
        })
    }
}

/// An authenticated caller and the organizations of the request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The id of the key or service account.
    pub key_id: String,
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

/// The one credential of a request.
enum Credential<'a> {
    ApiKey(&'a str),
    Bearer(&'a str),
}

fn credential(headers: &HeaderMap) -> Result<Credential<'_>, ApiError> {
    let keys: Vec<_> = headers.get_all("x-api-key").iter().collect();
    let authorizations: Vec<_> = headers.get_all(header::AUTHORIZATION).iter().collect();
    match (keys.as_slice(), authorizations.as_slice()) {
        ([], []) => Err(ApiError::unauthorized(
            "missing credentials: send x-api-key, or Authorization: Bearer with a token from \
             POST /oauth2/token",
        )),
        ([key], []) => key
            .to_str()
            .map(Credential::ApiKey)
            .map_err(|_| ApiError::unauthorized("x-api-key is not a valid key")),
        ([], [authorization]) => {
            let text = authorization
                .to_str()
                .map_err(|_| ApiError::unauthorized("the Authorization header is not ASCII"))?;
            match text.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Ok(Credential::Bearer(token.trim()))
                }
                _ => Err(ApiError::unauthorized(
                    "Authorization must be `Bearer <token>` with a token from POST /oauth2/token",
                )),
            }
        }
        (keys, authorizations) => Err(ApiError::bad_request(format!(
            "send exactly one credential; this request has {} x-api-key and {} Authorization \
             header(s)",
            keys.len(),
            authorizations.len()
        ))),
    }
}

/// The key or service account of a request's one credential.
pub async fn identify(app: &App, headers: &HeaderMap) -> Result<KeyRecord, ApiError> {
    let checked = match credential(headers)? {
        Credential::ApiKey(presented) => app.keys.verify(presented).await,
        Credential::Bearer(token) => app.keys.verify_token(token).await,
    };
    checked
        .map_err(|e| ApiError::internal(format!("checking the key: {e:#}")))?
        .ok_or_else(|| ApiError::unauthorized("unknown, expired or revoked API key or token"))
}

/// Authenticates a request and checks that its key may act in `role`.
async fn authorize(app: &App, headers: &HeaderMap, role: Role) -> Result<Caller, ApiError> {
    let key = identify(app, headers).await?;
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
    Ok(Caller {
        key_id: key.id,
        organizations,
    })
}
