//! `webhook`: `POST` the JSON payload ([`Notification::payload`]) to `url`, with the configured
//! extra `headers`. A 2xx answer means delivered; anything else (another status, no answer) is
//! retried by the dispatcher.

use bytes::Bytes;
use hyper::Method;
use url::Url;

use super::{BoxFuture, Channel, Notification, tail};
use crate::fetch::{Client, FetchError, Options, Request};
use crate::spec::model::ChannelSpec;

/// The `webhook` channel.
pub struct Webhook {
    url: Url,
    headers: Vec<(String, String)>,
}

impl Webhook {
    /// From a `type: webhook` spec (`url`, `headers`).
    pub fn new(spec: &ChannelSpec) -> Result<Self, String> {
        let url = parse_url(spec.url.as_deref(), "url")?;
        Ok(Self { url, headers: spec.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect() })
    }
}

impl Channel for Webhook {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { post_json(&self.url, &self.headers, n.payload().to_string()).await })
    }
}

/// Parses a channel URL; the error names the key, never the value (it may hold a secret).
pub(crate) fn parse_url(url: Option<&str>, key: &str) -> Result<Url, String> {
    let Some(text) = url else {
        return Err(format!("missing `{key}`"));
    };
    match Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        Ok(_) => Err(format!("`{key}` is not an http(s) URL")),
        Err(e) => Err(format!("`{key}` is not a valid URL ({e})")),
    }
}

/// `POST`s a JSON body; `Ok` on a 2xx answer. Errors name the host at most.
pub(crate) async fn post_json(url: &Url, headers: &[(String, String)], body: String) -> Result<(), String> {
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
    let host = url.host_str().unwrap_or("?");
    let exchange = Client::shared().fetch(request, &options).await;
    match exchange.outcome {
        Ok(response) if response.status.is_success() => Ok(()),
        Ok(response) => {
            let body = String::from_utf8_lossy(&response.body);
            let body = tail(&body, 200);
            Err(if body.is_empty() {
                format!("{host} answered HTTP {}", response.status.as_u16())
            } else {
                format!("{host} answered HTTP {}: {body}", response.status.as_u16())
            })
        }
        Err(FetchError::UnsupportedUrl(_)) => Err(format!("{host}: not an http(s) URL")),
        Err(FetchError::InvalidRequest(m)) if m.starts_with("URL") => Err(format!("{host}: invalid URL")),
        Err(e) => Err(format!("POST to {host} failed: {e}")),
    }
}
