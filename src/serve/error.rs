//! Errors of the HTTP service: JSON `{"error": {"code", "message"}}` with the right status.

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
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
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

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
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
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
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
            _ => {
                tracing::error!(%error, "query failed");
                Self::internal(error.to_string())
            }
        }
    }
}

impl From<insights_schemas::request::RequestError> for ApiError {
    fn from(error: insights_schemas::request::RequestError) -> Self {
        Self::bad_request(error.to_string())
    }
}
