//! The token guard: every write (any method but `GET`, `HEAD` and `OPTIONS`) needs
//! `Authorization: Bearer <server.token>`.
//!
//! The guard sits on the whole router and looks at the method, not at a list of routes, so a
//! write endpoint added later is guarded without anyone remembering to. A token is never taken
//! from the URL (where it would land in access logs, proxies and browser histories): a request
//! with a `token` or `access_token` query parameter is refused, whatever its method.
//!
//! Requests that came over the daemon's Unix socket carry [`LocalSocket`] (set by its listener)
//! and need no token: the socket's file mode already limits who can connect.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The configured token; `None` (or empty) refuses every write.
#[derive(Clone)]
pub struct Token(Option<Arc<str>>);

impl Token {
    /// The token writes must present; an empty one counts as none.
    pub fn new(token: Option<String>) -> Self {
        Self(token.filter(|t| !t.is_empty()).map(Arc::from))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token itself.
        f.write_str(if self.0.is_some() { "Token(set)" } else { "Token(none)" })
    }
}

/// Request extension: the request came over the daemon's Unix socket, so it is trusted.
#[derive(Debug, Clone, Copy)]
pub struct LocalSocket;

/// Whether a request with this method changes something.
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Query parameters that look like a credential in the URL.
const URL_CREDENTIALS: [&str; 2] = ["token", "access_token"];

/// Whether a query string carries a credential parameter (names percent-decoded).
fn has_url_credential(query: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes())
        .any(|(name, _)| URL_CREDENTIALS.iter().any(|c| name.eq_ignore_ascii_case(c)))
}

/// Middleware: refuses a credential in the URL; lets reads through, and writes only with the
/// right bearer token or over the Unix socket.
pub async fn guard(State(token): State<Token>, request: Request, next: Next) -> Response {
    if request.uri().query().is_some_and(has_url_credential) {
        return ApiError::bad_request(
            "a token in the URL is not accepted (it would be kept in logs and histories); \
             send `Authorization: Bearer <token>` instead",
        )
        .into_response();
    }
    if !is_write(request.method()) || request.extensions().get::<LocalSocket>().is_some() {
        return next.run(request).await;
    }
    match check(&token, request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Checks an `Authorization` header value against the configured token.
pub fn check(token: &Token, authorization: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = &token.0 else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "write endpoints are disabled: no token is configured; set `server.token` in aviary.yaml \
             (e.g. token: \"${secret:AVIARY_TOKEN}\") and send `Authorization: Bearer <token>`",
        ));
    };
    let Some(given) = authorization.and_then(bearer) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing token: send `Authorization: Bearer <token>` with the value of `server.token`",
        ));
    };
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong token: it does not match `server.token`"))
    }
}

/// The credentials of a `Bearer` authorization (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim()).filter(|t| !t.is_empty())
}

/// Compares two byte strings in time that depends only on their lengths, not on where they
/// differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cret2"));
        assert!(!constant_time_eq(b"s3cret", b""));
        // A longer string padded with zero bytes is still different.
        assert!(!constant_time_eq(b"ab\0", b"ab"));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_credentials() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn check_distinguishes_unconfigured_missing_and_wrong() {
        let none = Token::new(None);
        assert_eq!(check(&none, Some("Bearer x")).unwrap_err().status, StatusCode::FORBIDDEN);
        assert_eq!(check(&Token::new(Some(String::new())), None).unwrap_err().status, StatusCode::FORBIDDEN);
        let token = Token::new(Some("s3cret".into()));
        assert_eq!(check(&token, None).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(check(&token, Some("Bearer nope")).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert!(check(&token, Some("Bearer s3cret")).is_ok());
        assert!(format!("{token:?}").find("s3cret").is_none());
    }

    #[test]
    fn credentials_in_the_query_are_spotted() {
        assert!(has_url_credential("token=abc"));
        assert!(has_url_credential("limit=2&TOKEN=abc"));
        assert!(has_url_credential("access%5Ftoken=abc"));
        assert!(has_url_credential("token"));
        assert!(!has_url_credential("limit=2&before=2025-03-04T05%3A07%3A07Z"));
        assert!(!has_url_credential("tokens=1&x=token"));
    }

    #[test]
    fn reads_are_not_writes() {
        assert!(!is_write(&Method::GET));
        assert!(!is_write(&Method::HEAD));
        assert!(is_write(&Method::POST));
        assert!(is_write(&Method::DELETE));
        assert!(is_write(&Method::PUT));
    }
}
