//! The routes, by area in modules of their own, and the router that puts them behind their
//! role's authentication layer: the DI routes, SQL, views, exports and enrichment need a read
//! key; ingest an ingest key (an admin key may do both). `/oauth2/token`, `/healthz`,
//! `/metrics`, the OpenAPI document and the console's files need none; `/api/v1/me` checks the
//! key itself (it needs no organization), and an export download link is its own credential.

mod answer;
mod body;
mod console;
mod di;
mod enrich;
mod export;
mod ingest;
mod limits;
mod sql;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use answer::header_value;

use crate::metrics;
pub(crate) use answer::request_id;
pub(crate) use export::Ticket;

use crate::App;
use crate::auth::require;
use crate::error::ApiError;
use crate::keys::Role;

const OPENAPI: &str = include_str!("openapi.json");

type Shared = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    let read = Router::new()
        .route("/insights/directory/v1/events", post(di::events))
        .route("/insights/directory/v1/events/count", post(di::count))
        .route("/insights/directory/v1/events/distinct", post(di::distinct))
        .route("/insights/directory/v1/events/interval", post(di::interval))
        .route("/api/v1/sql", post(sql::sql))
        .route("/api/v1/views", get(views::list).post(views::create))
        .route(
            "/api/v1/views/{name}",
            get(views::show).delete(views::delete),
        )
        .route("/api/v1/views/{name}/run", post(views::run))
        .route("/api/v1/export", get(export::get).post(export::post))
        .route("/api/v1/export/link", post(export::link))
        .route("/api/v1/enrich/user/{who}", get(enrich::user))
        .route("/api/v1/enrich/host/{which}", get(enrich::host))
        .route_layer(from_fn_with_state((app.clone(), Role::Read), require));
    let ingest = Router::new()
        .route("/api/v1/ingest", post(ingest::ingest))
        .route_layer(from_fn_with_state((app.clone(), Role::Ingest), require));
    let open = Router::new()
        .route("/", get(console::index))
        .route("/console/{*path}", get(console::file))
        .route("/api/v1/me", get(console::me))
        // The token in the path is the credential: single-use, a minute long.
        .route("/api/v1/export/download/{token}", get(export::download))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/oauth2/token", post(oauth_token))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    Router::new()
        .merge(read)
        .merge(ingest)
        .merge(open)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read with the service's own limit, which answers 413 in JSON.
        .layer(DefaultBodyLimit::disable())
        .layer(map_response(with_request_id))
        .with_state(app)
}

/// Every answer carries an `X-Request-Id`, errors included, for a client to quote.
async fn with_request_id(mut response: Response) -> Response {
    if !response.headers().contains_key("x-request-id") {
        response
            .headers_mut()
            .insert("x-request-id", header_value(&request_id()));
    }
    response
}

async fn oauth_token(State(app): Shared, headers: HeaderMap, body: Body) -> Response {
    // Token requests are short forms: read at most a little more than one.
    match axum::body::to_bytes(body, 16 << 10).await {
        Ok(bytes) => crate::oauth::token(&app, &headers, bytes).await,
        Err(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "a token request is a short form",
        )
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /api/v1/openapi.json")
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on this route; see /api/v1/openapi.json"),
    )
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `ok`, or 503 `degraded` with the reason while ingest cannot go on (queries still work).
async fn healthz(State(app): Shared) -> Response {
    let version = app.engine.version();
    let mut body = serde_json::json!({"status": "ok", "table_version": version});
    let mut status = StatusCode::OK;
    if let Some(trouble) = app.metrics.ingest_trouble() {
        body["status"] = "degraded".into();
        body["ingest"] = trouble.into();
        status = StatusCode::SERVICE_UNAVAILABLE;
    }
    if !app.pull.is_empty() {
        let now_us = chrono::Utc::now().timestamp_micros();
        let pull: serde_json::Map<String, serde_json::Value> = app
            .pull
            .iter()
            .map(|(org, stats)| {
                let status = serde_json::to_value(stats.status(now_us)).unwrap_or_default();
                (org.clone(), status)
            })
            .collect();
        body["pull"] = pull.into();
    }
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(app): Shared) -> Response {
    let wal_bytes = std::fs::read_dir(&app.wal_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(wal_bytes) + &metrics::render_pull(&app.pull),
    )
        .into_response()
}
