//! Request bodies, read within a limit: 413 in JSON beyond it.
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use futures::TryStreamExt;

use crate::App;
use crate::error::ApiError;

/// How much of an over-limit body is read and discarded before the 413 answer, so that a client
/// still sending receives the answer instead of a reset connection.
const DRAIN_BYTES: usize = 64 << 20;

/// Reads a body up to the service's limit.
/// The largest body of a query request (a DI request, SQL, a view): far more than any real
/// request, far less than what parsing it into a tree would cost in memory.
pub(super) const MAX_QUERY_BODY_BYTES: usize = 1 << 20;

/// Reads a query request's body, up to [`MAX_QUERY_BODY_BYTES`].
pub(super) async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, ApiError> {
    read_body_within(headers, body, MAX_QUERY_BODY_BYTES.min(app.max_body_bytes)).await
}

/// Reads a body up to `limit` bytes, answering 413 beyond.
pub(super) async fn read_body_within(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut stream = body.into_data_stream();
    let mut over = declared.is_some_and(|n| n > limit);
    // Room for the declared length at once: growing by doubling copies the body repeatedly.
    let mut collected = bytes::BytesMut::with_capacity(match declared {
        Some(n) if !over => n,
        _ => 0,
    });
    let mut seen = 0usize;
    loop {
        let frame = match stream.try_next().await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) if over => {
                tracing::debug!(error = %e, "over-limit body ended early");
                break;
            }
            Err(e) => return Err(ApiError::bad_request(format!("reading the body: {e:#}"))),
        };
        seen = seen.saturating_add(frame.len());
        if !over && collected.len() + frame.len() > limit {
            over = true;
            collected = bytes::BytesMut::new();
        }
        if over {
            if seen > DRAIN_BYTES {
                break;
            }
        } else {
            collected.extend_from_slice(&frame);
        }
    }
    if over {
        return Err(too_large());
    }
    Ok(collected.freeze())
}
