//! The limits every query runs under: the service's and its key's query slots, and the
//! request timeout.
use std::time::Instant;

use axum::http::StatusCode;

use crate::App;
use crate::auth::Caller;
use crate::error::ApiError;

/// The permits a running query holds: one of the service's, one of its key's.
pub(super) struct QueryPermits {
    _service: tokio::sync::OwnedSemaphorePermit,
    _key: tokio::sync::OwnedSemaphorePermit,
}

/// Takes a query slot of the service and one of the caller's key, or answers 503: one reader
/// cannot take every slot, so others (and `/healthz`) keep being answered.
pub(super) fn query_permits(app: &App, caller: &Caller) -> Result<QueryPermits, ApiError> {
    let service = app.queries.clone().try_acquire_owned().map_err(|_| {
        ApiError::busy(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many queries at once; retry shortly",
            1,
        )
    })?;
    let key = app
        .key_queries(&caller.key_id)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::busy(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "this key runs {} queries already, as many as one key may at once; retry \
                 when one has finished",
                    app.max_queries_per_key
                ),
                1,
            )
        })?;
    Ok(QueryPermits {
        _service: service,
        _key: key,
    })
}

/// Runs a query under the concurrency limits and the request timeout, refreshing the table
/// first so that every commit made so far is visible. When the timeout passes or the client
/// goes away, the query's future is dropped, and with it every task of its plan.
pub(super) async fn limited<T>(
    app: &App,
    caller: &Caller,
    route: &str,
    work: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let started = Instant::now();
    let result = async {
        let _permits = query_permits(app, caller)?;
        tokio::time::timeout(app.request_timeout, async {
            app.engine.refresh().await?;
            work.await
        })
        .await
        .map_err(|_| {
            ApiError::busy(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the query took longer than {} s; narrow it or retry",
                    app.request_timeout.as_secs()
                ),
                5,
            )
        })?
    }
    .await;
    app.metrics
        .observe(route, started.elapsed(), result.is_ok());
    result
}

/// A page of events for a DI event query, under the route's limits, with the paging headers.
pub(super) async fn events_page(
    app: &App,
    caller: &Caller,
    route: &str,
    query: &insights_schemas::request::EventQuery,
) -> Result<axum::response::Response, ApiError> {
    let page = limited(app, caller, route, async {
        Ok(app
            .engine
            .events_page(&caller.scope(), query, insights_query::Format::Json)
            .await?)
    })
    .await?;
    Ok(super::answer::page_response(page))
}
