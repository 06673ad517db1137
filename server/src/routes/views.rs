//! Saved views of one organization: `/api/v1/views`.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use insights_query::View;

use super::answer::json_response;
use super::body::read_body;
use super::limits::events_page;
use crate::App;
use crate::auth::Caller;
use crate::error::ApiError;

type Shared = State<Arc<App>>;

pub(super) async fn list(State(app): Shared, caller: Caller) -> Result<Response, ApiError> {
    let views = app.views.list(caller.organization()?).await?;
    Ok(json_response(&views))
}

pub(super) async fn create(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&app, &headers, body).await?;
    let mut view: View = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be a view {{\"name\", \"description\", \"range\"?, \"request\"}}: {e}"
        ))
    })?;
    view.created = String::new();
    let replace = headers
        .get("x-replace")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let saved = app
        .views
        .create(caller.organization()?, view, replace)
        .await?;
    let mut response = json_response(&saved);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub(super) async fn show(
    State(app): Shared,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        &app.views.get(caller.organization()?, &name).await?,
    ))
}

pub(super) async fn delete(
    State(app): Shared,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    app.views.delete(caller.organization()?, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn run(
    State(app): Shared,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let query = app
        .views
        .get(caller.organization()?, &name)
        .await?
        .query()?;
    events_page(&app, &caller, "views", &query).await
}
