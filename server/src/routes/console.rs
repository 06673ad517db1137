//! The web console: its files, embedded at build time from `server/console/` and served at `/`
//! and `/console/...` under a strict Content-Security-Policy, and `GET /api/v1/me`, which tells
//! the console (or anyone) what the presented key is and which organizations it may open.
//!
//! The console is plain HTML, CSS and JavaScript modules that call the public HTTP API with
//! the key in `x-api-key`; it has no server-side state and no cookie.
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use insights_query::Scope;

use super::answer::json_response;
use crate::App;
use crate::auth::identify;
use crate::error::ApiError;
use crate::keys::ALL_ORGS;

/// Only the console's own files, no inline script or style, no frames, requests to this
/// origin only; nothing the page does can reach another host.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// A file of the console: its path under `/console/`, its type and its text.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    text: &'static str,
}

macro_rules! assets {
    ($(($path:literal, $type:expr)),* $(,)?) => {
        &[$(Asset {
            path: $path,
            content_type: $type,
            text: include_str!(concat!("../../console/", $path)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = assets![
    ("index.html", "text/html; charset=utf-8"),
    ("console.css", "text/css; charset=utf-8"),
    ("icon.svg", "image/svg+xml"),
    ("js/main.js", JS),
    ("js/api.js", JS),
    ("js/dom.js", JS),
    ("js/state.js", JS),
    ("js/signin.js", JS),
    ("js/filters.js", JS),
    ("js/histogram.js", JS),
    ("js/table.js", JS),
    ("js/rawjson.js", JS),
    ("js/topvalues.js", JS),
    ("js/views.js", JS),
    ("js/export.js", JS),
    ("js/enrich.js", JS),
];

fn asset_response(asset: &Asset) -> Response {
    let mut response = asset.text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change with the binary; a browser asks again each time (they are small).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`: the console's page.
pub(super) async fn index() -> Response {
    asset_response(&ASSETS[0])
}

/// `GET /console/{path}`: one of the console's files.
pub(super) async fn file(Path(path): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|asset| asset.path == path)
        .map(asset_response)
        .ok_or_else(|| ApiError::not_found(format!("the console has no file {path:?}")))
}

/// `GET /api/v1/me`: the presented key's id, name and role, and the organizations it may open:
/// its own, or for a key of every organization, those the table holds.
pub(super) async fn me(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = identify(&app, &headers).await?;
    let organizations: Vec<String> = if key.organization == ALL_ORGS {
        app.engine.refresh().await?;
        let mut orgs: Vec<String> = app
            .engine
            .partitions(&Scope::All)
            .await?
            .into_keys()
            .map(|(org, _)| org)
            .collect();
        orgs.dedup();
        orgs
    } else {
        vec![key.organization.clone()]
    };
    Ok(json_response(&serde_json::json!({
        "key_id": key.id,
        "name": key.name,
        "role": key.role,
        "all_organizations": key.organization == ALL_ORGS,
        "organizations": organizations,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_its_type_and_index_comes_first() {
        assert_eq!(ASSETS[0].path, "index.html");
        for asset in ASSETS {
            let expected = match asset.path.rsplit_once('.').map(|(_, ext)| ext) {
                Some("html") => "text/html; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                _ => JS,
            };
            assert_eq!(asset.content_type, expected, "{}", asset.path);
            assert!(!asset.text.is_empty(), "{}", asset.path);
        }
    }

    /// Every module a console file imports is served, so no import fails in the browser.
    #[test]
    fn every_imported_module_is_an_asset() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            for line in asset.text.lines().filter(|l| l.starts_with("import ")) {
                let Some(from) = line.split('\'').nth(1) else {
                    continue;
                };
                let target = format!("js/{}", from.trim_start_matches("./"));
                assert!(
                    ASSETS.iter().any(|a| a.path == target),
                    "{} imports {from}, which is not served",
                    asset.path
                );
            }
        }
    }
}
