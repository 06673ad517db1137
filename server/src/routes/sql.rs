//! `POST /api/v1/sql`: read-only SQL over the caller's organizations.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde::Deserialize;

use super::body::read_body;
use super::limits::limited;
use crate::App;
use crate::auth::Caller;
use crate::error::ApiError;

type Shared = State<Arc<App>>;

#[derive(Deserialize)]
struct SqlBody {
    query: String,
}

pub(super) async fn sql(
    State(app): Shared,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&app, &headers, body).await?;
    let text = match serde_json::from_slice::<SqlBody>(&bytes) {
        Ok(body) => body.query,
        Err(_) => String::from_utf8(bytes.to_vec()).map_err(|_| {
            ApiError::bad_request("the body must be {\"query\": \"SELECT ...\"} or SQL text")
        })?,
    };
    let rows = limited(&app, &caller, "sql", async {
        Ok(app.engine.sql_json(&caller.scope(), &text).await?)
    })
    .await?;
    let mut response = Response::new(Body::from(rows));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
