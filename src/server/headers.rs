//! Security headers on every response (see "Security headers" in `docs/server.md`).
//!
//! The dashboard loads only its own stylesheet and script (and images and API calls from the
//! daemon itself), so the policy allows nothing else and nothing inline; no page may frame any
//! of ours. A handler that sets its own `Content-Security-Policy`
//! (artifacts: `sandbox`) keeps it, with `frame-ancestors 'none'` added.

use axum::extract::Request;
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every response that does not set its own.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Middleware: adds the security headers to the response.
pub async fn add(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    secure(response.headers_mut());
    response
}

/// Sets the security headers on a response's headers.
pub fn secure(headers: &mut HeaderMap) {
    let policy = match headers.get(CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()) {
        Some(own) if !own.contains("frame-ancestors") => {
            HeaderValue::from_str(&format!("{own}; frame-ancestors 'none'")).ok()
        }
        Some(_) => None,
        None => Some(HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE)),
    };
    if let Some(policy) = policy {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handlers_own_policy_is_kept_and_framing_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
        secure(&mut headers);
        assert_eq!(headers[CONTENT_SECURITY_POLICY], "sandbox; frame-ancestors 'none'");
        let mut headers = HeaderMap::new();
        secure(&mut headers);
        assert_eq!(headers[CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY_VALUE);
        assert_eq!(headers[X_FRAME_OPTIONS], "DENY");
    }
}
