//! What the HTTP channels share: checking and parsing their URLs, and one `POST` of a JSON body.
//! Errors name the receiver's host at most: URLs and headers often hold a secret.

use bytes::Bytes;
use hyper::Method;
use url::Url;

use super::{ChannelError, tail};
use crate::fetch::{Client, FetchError, Options, Request};
use crate::spec::validate::http_url_problem;
use crate::spec::{KeyPath, Problem};

/// The problem with a channel URL at `key`, if any.
pub(crate) fn check_url(url: &str, key: &str) -> Option<Problem> {
    http_url_problem(url.trim()).map(|message| Problem::new(KeyPath::root().key(key), message))
}

/// [`check_url`] for an optional URL (a service's endpoint, with a default).
pub(crate) fn check_optional_url(url: Option<&str>, key: &str) -> Option<Problem> {
    url.and_then(|url| check_url(url, key))
}

/// The problem with a required text at `key` (a key, token or topic) when it is blank.
pub(crate) fn check_not_blank(text: &str, key: &str) -> Option<Problem> {
    text.trim().is_empty().then(|| Problem::new(KeyPath::root().key(key), format!("`{key}` is empty")))
}

/// Parses a checked channel URL; the error names the key, never the value (it may hold a secret).
pub(crate) fn parse_url(text: &str, key: &'static str) -> Result<Url, ChannelError> {
    match Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        _ => Err(ChannelError::Unusable { key, expected: "an absolute http(s) URL" }),
    }
}

/// `base` (a service's API root, a parsed http(s) URL) with `segments` appended to its path,
/// each percent-encoded as one segment.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    // Only URLs without a host cannot take segments; `parse_url` admits none.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// `POST`s a JSON body; `Ok` on a 2xx answer. Errors name the host at most.
pub(crate) async fn post_json(
    url: &Url,
    headers: &[(String, String)],
    body: String,
) -> Result<(), ChannelError> {
    let mut all = Vec::with_capacity(headers.len() + 1);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        all.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    all.extend(headers.iter().cloned());
    let request =
        Request { method: Method::POST, url: url.clone(), headers: all, body: Some(Bytes::from(body)) };
    // The dispatcher bounds each attempt; this limit only has to be longer.
    let options = Options {
        timeout: std::time::Duration::from_secs(3600),
        follow_redirects: false,
        ..Options::default()
    };
    let host = url.host_str().unwrap_or("?").to_string();
    let exchange = Client::shared().fetch(request, &options).await;
    match exchange.outcome {
        Ok(response) if response.status.is_success() => Ok(()),
        Ok(response) => Err(ChannelError::Status {
            host,
            status: response.status.as_u16(),
            body: tail(&String::from_utf8_lossy(&response.body), 200),
        }),
        Err(FetchError::UnsupportedUrl(_)) => {
            Err(ChannelError::Post { host, reason: "not an http(s) URL".into() })
        }
        Err(FetchError::InvalidRequest(m)) if m.starts_with("URL") => {
            Err(ChannelError::Post { host, reason: "invalid URL".into() })
        }
        Err(e) => Err(ChannelError::Post { host, reason: e.to_string() }),
    }
}
