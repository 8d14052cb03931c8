//! `webhook`: `POST` the JSON payload ([`Notification::payload`]) to `url`, with the configured
//! extra `headers`. A 2xx answer means delivered; anything else (another status, no answer) is
//! retried by the dispatcher.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use url::Url;

use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification, tail};
use crate::fetch::{Client, FetchError, Options, Request};
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;
use crate::spec::validate::http_url_problem;
use crate::spec::{KeyPath, Problem};

/// The settings of a `type: webhook` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to `POST` (http or https).
    pub url: String,
    /// Extra request headers (`Authorization`, ...).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Limit of one delivery attempt (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        check_url(&self.url, "url").into_iter().collect()
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ChannelConfig for Config {
    fn build(self, _base_dir: &Path) -> Result<Arc<dyn Channel>, ChannelError> {
        Ok(Arc::new(Webhook {
            url: parse_url(&self.url, "url")?,
            headers: self.headers.into_iter().collect(),
        }))
    }
}

/// The `webhook` channel.
pub struct Webhook {
    url: Url,
    headers: Vec<(String, String)>,
}

impl Channel for Webhook {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move { post_json(&self.url, &self.headers, n.payload().to_string()).await })
    }
}

/// The problem with a channel URL at `key`, if any.
pub(crate) fn check_url(url: &str, key: &str) -> Option<Problem> {
    http_url_problem(url.trim()).map(|message| Problem::new(KeyPath::root().key(key), message))
}

/// Parses a checked channel URL; the error names the key, never the value (it may hold a secret).
pub(crate) fn parse_url(text: &str, key: &'static str) -> Result<Url, ChannelError> {
    match Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        _ => Err(ChannelError::Unusable { key, expected: "an absolute http(s) URL" }),
    }
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
