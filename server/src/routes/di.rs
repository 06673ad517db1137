//! The DI-compatible routes under `/insights/directory/v1/`: events, count, distinct,
//! interval.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use insights_query::{Format, Scope};
use insights_schemas::request::{parse_distinct_query, parse_event_query, parse_interval_query};

use super::answer::{json_response, page_response};
use super::body::read_body;
use super::limits::limited;
use crate::App;
use crate::auth::Caller;
use crate::error::ApiError;

type Shared = State<Arc<App>>;

pub(super) async fn events(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&app, &headers, body).await?;
    let query = parse_event_query(&bytes)?;
    let page = limited(&app, &caller, "events", async {
        Ok(app
            .engine
            .events_page(&caller.scope(), &query, Format::Json)
            .await?)
    })
    .await?;
    Ok(page_response(page))
}

/// A DI aggregate route: the request body parsed by `parse`, one query under the
/// service's limits, its answer as JSON.
async fn di_aggregate<Q, A, E, Fut>(
    app: &App,
    caller: Caller,
    headers: &HeaderMap,
    body: Body,
    route: &str,
    parse: fn(&[u8]) -> Result<Q, E>,
    run: impl FnOnce(Scope, Q) -> Fut,
) -> Result<Response, ApiError>
where
    ApiError: From<E> + From<insights_query::Error>,
    Fut: std::future::Future<Output = Result<A, insights_query::Error>>,
    A: serde::Serialize,
{
    let bytes = read_body(app, headers, body).await?;
    let query = parse(&bytes)?;
    let answer = limited(app, &caller, route, async {
        Ok(run(caller.scope(), query).await?)
    })
    .await?;
    Ok(json_response(&answer))
}

pub(super) async fn count(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let engine = &app.engine;
    di_aggregate(
        &app,
        caller,
        &headers,
        body,
        "count",
        parse_event_query,
        |scope, query| async move { engine.count(&scope, &query).await },
    )
    .await
}

pub(super) async fn distinct(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let engine = &app.engine;
    di_aggregate(
        &app,
        caller,
        &headers,
        body,
        "distinct",
        parse_distinct_query,
        |scope, query| async move { engine.distinct(&scope, &query).await },
    )
    .await
}

pub(super) async fn interval(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let engine = &app.engine;
    di_aggregate(
        &app,
        caller,
        &headers,
        body,
        "interval",
        parse_interval_query,
        |scope, query| async move { engine.interval(&scope, &query).await },
    )
    .await
}
