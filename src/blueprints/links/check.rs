//! One link's check: `HEAD`, then `GET` where the server rejects `HEAD` or the page's body is
//! needed (to crawl it or to find fragments); redirects followed; `429`/`503` retried as the
//! server asks, within the run's time.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use hyper::Method;
use tokio::time::Instant;
use url::Url;

use super::polite::{Hosts, MAX_RETRIES, MAX_RETRY_AFTER, retry_wait};
use crate::fetch::{Client, Exchange, Options, Pool, Request};
use crate::har;
use crate::spec::StatusRanges;

/// The body read at most from a page that is crawled or searched for fragments; the rest of a
/// larger page is not read.
pub const MAX_PAGE_BYTES: u64 = 10_000_000;

/// How links are checked in one run.
pub struct Checker {
    /// Statuses that count as working.
    pub accept: StatusRanges,
    /// Each request's deadline (redirects included).
    pub link_timeout: Duration,
    /// The run's deadline: no request or retry wait goes past it.
    pub deadline: Instant,
    /// The `User-Agent` sent.
    pub user_agent: String,
    /// Per-host limits.
    pub hosts: Hosts,
    /// Connections kept alive between the run's requests, as browsers and lychee keep them.
    pub pool: Pool,
}

/// What checking one URL found.
#[derive(Debug, Default)]
pub struct Checked {
    /// The final response's status, when one arrived.
    pub status: Option<u16>,
    /// Why the link is broken; `None` when it works.
    pub broken: Option<String>,
    /// From the first request to the final response.
    pub latency: Duration,
    /// The URLs redirected to, in order.
    pub redirects: Vec<String>,
    /// Requests made, `429`/`503` retries included.
    pub requests: u32,
    /// The final response's body when it was asked for and is HTML (at most [`MAX_PAGE_BYTES`]).
    pub html: Option<Bytes>,
    /// Every request as a HAR entry.
    pub entries: Vec<har::Entry>,
}

impl Checker {
    /// Checks `url`; `want_html` asks for the body of an HTML page.
    pub async fn check(&self, url: &Url, want_html: bool) -> Checked {
        let mut checked = Checked::default();
        let started = Instant::now();
        let host = url.host_str().unwrap_or_default().to_string();
        let mut method = if want_html { Method::GET } else { Method::HEAD };
        let mut retry = 0;
        let exchange = loop {
            let exchange = {
                let _turn = self.hosts.turn(&host).await;
                self.send(method.clone(), url, want_html).await
            };
            checked.requests += 1;
            let status = exchange.outcome.as_ref().ok().map(|r| r.status.as_u16());
            if let (Some(429 | 503), true) = (status, retry < MAX_RETRIES) {
                retry += 1;
                let retry_after = exchange.outcome.as_ref().ok().and_then(|r| r.header("retry-after"));
                let wait = retry_wait(retry_after.as_deref(), retry, Utc::now());
                if wait <= MAX_RETRY_AFTER && Instant::now() + wait < self.deadline {
                    checked.entries.extend(exchange.into_entries());
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            // A server that rejects HEAD (405, 501, or any status but a definite "gone") gets
            // the GET a browser would send.
            if method == Method::HEAD
                && let Some(status) = status
                && !self.accept.contains(status)
                && !matches!(status, 404 | 410 | 429 | 503)
            {
                checked.entries.extend(exchange.into_entries());
                method = Method::GET;
                continue;
            }
            break exchange;
        };
        checked.latency = started.elapsed();
        self.conclude(exchange, want_html, checked)
    }

    async fn send(&self, method: Method, url: &Url, want_html: bool) -> Exchange {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let options = Options {
            timeout: self.link_timeout.min(remaining),
            max_response_bytes: if want_html { MAX_PAGE_BYTES } else { 0 },
            truncate_response: true,
            pool: Some(self.pool.clone()),
            ..Options::default()
        };
        let request = Request {
            method,
            url: url.clone(),
            headers: vec![("user-agent".into(), self.user_agent.clone())],
            body: None,
        };
        Client::shared().fetch(request, &options).await
    }

    fn conclude(&self, exchange: Exchange, want_html: bool, mut checked: Checked) -> Checked {
        checked.redirects = exchange.hops.iter().skip(1).map(|h| h.url.to_string()).collect();
        match &exchange.outcome {
            Ok(response) => {
                let status = response.status.as_u16();
                checked.status = Some(status);
                if !self.accept.contains(status) {
                    let text = response.status.canonical_reason().unwrap_or("");
                    checked.broken = Some(format!("{status} {text}").trim_end().to_string());
                }
                let is_html =
                    response.header("content-type").is_some_and(|t| t.to_ascii_lowercase().contains("html"));
                if want_html && is_html && checked.broken.is_none() {
                    checked.html = Some(response.body.clone());
                }
            }
            Err(error) => checked.broken = Some(error.to_string()),
        }
        checked.entries.extend(exchange.into_entries());
        checked
    }
}
