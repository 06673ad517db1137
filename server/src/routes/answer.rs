//! Answers: JSON, pages of events with the DI paging headers, request ids.
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use insights_query::sort_header;

pub(crate) fn request_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return format!("{:x}", Instant::now().elapsed().as_nanos());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub(super) fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(super) fn json_response(value: &impl serde::Serialize) -> Response {
    let mut response = axum::Json(value).into_response();
    response
        .headers_mut()
        .insert("x-request-id", header_value(&request_id()));
    response
}

/// A page of events with the DI paging headers.
pub(super) fn page_response(page: insights_query::EventsPage) -> Response {
    let headers = [
        ("x-result-count", HeaderValue::from(page.count)),
        ("x-limit", HeaderValue::from(page.limit)),
        ("x-sort", HeaderValue::from_static(sort_header(page.sort))),
        ("x-search_after", header_value(&page.search_after_header())),
        ("x-request-id", header_value(&request_id())),
    ];
    let mut response = Response::new(Body::from(page.body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    response
}
