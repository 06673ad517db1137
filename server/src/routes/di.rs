//! The DI-compatible routes under `/insights/directory/v1/`: events, count, distinct,
//! interval.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use insights_schemas::request::{parse_distinct_query, parse_event_query, parse_interval_query};

use super::answer::json_response;
use super::body::read_body;
use super::limits::{events_page, limited};
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
    let query = parse_event_query(&read_body(&app, &headers, body).await?)?;
    events_page(&app, &caller, "events", &query).await
}

/// A DI aggregate route named after the engine's method: the request body parsed by
/// `$parse`, one query under the route's limits, its answer as JSON.
macro_rules! aggregate_route {
    ($method:ident, $parse:path) => {
        pub(super) async fn $method(
            State(app): Shared,
            caller: Caller,
            headers: HeaderMap,
            body: Body,
        ) -> Result<Response, ApiError> {
            let query = $parse(&read_body(&app, &headers, body).await?)?;
            let answer = limited(&app, &caller, stringify!($method), async {
                Ok(app.engine.$method(&caller.scope(), &query).await?)
            })
            .await?;
            Ok(json_response(&answer))
        }
    };
}

aggregate_route!(count, parse_event_query);
aggregate_route!(distinct, parse_distinct_query);
aggregate_route!(interval, parse_interval_query);
