//! `GET /api/v1/enrich/user/{who}` and `/api/v1/enrich/host/{which}`: what the events say
//! about a user or a host.
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use insights_query::enrich::Window;

use super::answer::json_response;
use super::limits::limited;
use crate::App;
use crate::auth::Caller;
use crate::error::ApiError;

type Shared = State<Arc<App>>;

#[derive(Deserialize)]
pub(super) struct EnrichParams {
    days: Option<u32>,
    at: Option<String>,
}

fn enrich_window(params: &EnrichParams) -> Result<Window, ApiError> {
    Window::ending(params.days.unwrap_or(30), params.at.as_deref()).map_err(ApiError::bad_request)
}

pub(super) async fn user(
    State(app): Shared,
    caller: Caller,
    Path(who): Path<String>,
    Query(params): Query<EnrichParams>,
) -> Result<Response, ApiError> {
    let organization = caller.organization()?.to_owned();
    let window = enrich_window(&params)?;
    let report = limited(&app, &caller, "enrich", async {
        Ok(app.engine.enrich_user(&organization, &who, window).await?)
    })
    .await?;
    Ok(json_response(&report))
}

pub(super) async fn host(
    State(app): Shared,
    caller: Caller,
    Path(which): Path<String>,
    Query(params): Query<EnrichParams>,
) -> Result<Response, ApiError> {
    let organization = caller.organization()?.to_owned();
    let window = enrich_window(&params)?;
    let report = limited(&app, &caller, "enrich", async {
        Ok(app
            .engine
            .enrich_host(&organization, &which, window)
            .await?)
    })
    .await?;
    Ok(json_response(&report))
}
