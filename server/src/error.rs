//! Errors of the HTTP service: JSON `{"error": {"code", "message"}}` with the right status.
//! A 500 answer says only that something failed, with the request id; the detail goes to the
//! log under the same id, for the operator (it may name files, keys or internal state).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a retry may succeed (429 and 503).
    pub retry_after: Option<u32>,
    /// The request id of a 500 answer, logged with its detail.
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            request_id: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// An internal error: `detail` goes to the log with a new request id, and the client
    /// gets the id only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let request_id = crate::routes::request_id();
        tracing::error!(request_id = %request_id, "internal error: {detail}");
        Self {
            request_id: Some(request_id.clone()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!(
                    "the server failed to answer; the operator finds the cause in its log under \
                     request id {request_id}"
                ),
            )
        }
    }

    /// Overloaded: try again after `seconds`.
    pub fn busy(status: StatusCode, message: impl Into<String>, seconds: u32) -> Self {
        let code = if status == StatusCode::TOO_MANY_REQUESTS {
            "too_many_requests"
        } else {
            "unavailable"
        };
        Self {
            retry_after: Some(seconds),
            ..Self::new(status, code, message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(id) = &self.request_id {
            error["request_id"] = json!(id);
        }
        let mut response = (self.status, axum::Json(json!({"error": error}))).into_response();
        if let Some(id) = self.request_id.as_deref().and_then(|id| id.parse().ok()) {
            response.headers_mut().insert("x-request-id", id);
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<insights_query::Error> for ApiError {
    fn from(error: insights_query::Error) -> Self {
        use insights_query::Error as E;
        if error.is_out_of_memory() {
            return Self::busy(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the query needs more memory than the server gives queries \
                     (--query-memory-mib); narrow it or add a LIMIT: {error}"
                ),
                5,
            );
        }
        match &error {
            E::Request(_) | E::Sql(_) | E::Invalid(_) => Self::bad_request(error.to_string()),
            E::ViewNotFound { .. } | E::NotFound(_) => Self::not_found(error.to_string()),
            E::ViewExists { .. } => Self::new(StatusCode::CONFLICT, "conflict", error.to_string()),
            _ => Self::internal(format_args!("query failed: {}", chain(&error))),
        }
    }
}

impl From<insights_schemas::request::RequestError> for ApiError {
    fn from(error: insights_schemas::request::RequestError) -> Self {
        Self::bad_request(error.to_string())
    }
}

/// An error and its sources, `outer: inner: innermost`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Errors that print their source themselves would repeat it.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
