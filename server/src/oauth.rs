//! `POST /oauth2/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) for service
//! accounts, as JumpCloud's token endpoint answers it to JumpCloud's own clients: HTTP Basic with
//! `CLIENT_ID:CLIENT_SECRET` (or `client_id`/`client_secret` in the form),
//! `grant_type=client_credentials`, `scope=api`. Errors take RFC 6749's shape (§5.2,
//! `{"error": "invalid_client", "error_description": ...}`), which OAuth client libraries read.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::App;
use super::keys::TOKEN_LIFETIME_SECONDS;

/// The one scope there is: the whole API, as the account's role allows.
const SCOPE: &str = "api";
/// A token request is a short form.
const MAX_FORM_BYTES: usize = 8 << 10;

/// An RFC 6749 error answer.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> Refusal {
    Refusal {
        status,
        error,
        description: description.to_owned(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"insights\""),
            );
        }
        no_store(response)
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The client id and secret of HTTP Basic, if that is how the client authenticated.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, Refusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match headers.get_all(header::AUTHORIZATION).iter().count() {
            0 => Ok(None),
            _ => Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send one Authorization header",
            )),
        };
    };
    let invalid = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Authorization must be Basic base64(client_id:client_secret)",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(invalid());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(invalid)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
    Ok(Some((id.to_owned(), secret.to_owned())))
}

/// Answers a token request.
pub async fn token(app: &App, headers: &HeaderMap, body: Bytes) -> Response {
    if body.len() > MAX_FORM_BYTES {
        return oauth_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the form is too large",
        )
        .into_response();
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| -> Result<Option<&str>, Refusal> {
        let mut found = form.iter().filter(|(key, _)| key == name);
        match (found.next(), found.next()) {
            (None, _) => Ok(None),
            (Some((_, value)), None) => Ok(Some(value.as_str())),
            (Some(_), Some(_)) => Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("`{name}` is given more than once"),
            )),
        }
    };
    let answer = async {
        match field("grant_type")? {
            Some("client_credentials") => {}
            Some(other) => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    &format!("grant_type {other:?} is not supported; use client_credentials"),
                ));
            }
            None => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "grant_type=client_credentials is required",
                ));
            }
        }
        if let Some(scope) = field("scope")?
            && scope.split_whitespace().any(|s| s != SCOPE)
        {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("the only scope is {SCOPE:?}"),
            ));
        }
        let in_form = match (field("client_id")?, field("client_secret")?) {
            (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
            _ => None,
        };
        let (client_id, secret) = match (basic_credentials(headers)?, in_form) {
            (Some(basic), None) => basic,
            (None, Some(form)) => form,
            (Some(_), Some(_)) => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "authenticate once: HTTP Basic or the form's client_id and client_secret",
                ));
            }
            (None, None) => {
                return Err(oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication is required (HTTP Basic client_id:client_secret)",
                ));
            }
        };
        let record = match app.keys.verify_client(&client_id, &secret).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                return Err(oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "unknown or revoked client, or a wrong secret",
                ));
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "checking a client");
                return Err(oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the key store could not be read",
                ));
            }
        };
        let token = app.keys.issue_token(&record).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "issuing a token");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "no token could be issued",
            )
        })?;
        Ok(no_store(
            axum::Json(serde_json::json!({
                "access_token": token,
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "scope": SCOPE,
            }))
            .into_response(),
        ))
    };
    match answer.await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}
