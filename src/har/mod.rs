//! HAR 1.2 (<http://www.softwareishard.com/blog/har-12-spec/>): the network log of a run.
//!
//! Browser capture (`browser/`) and the HTTP client (`fetch/`) both produce [`Entry`] values;
//! the runner redacts them and writes one `<canary>.har` per run.

use serde::{Deserialize, Serialize};

/// A HAR document: the top-level `{"log": ...}` object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Har {
    /// The network log itself.
    pub log: Log,
}

/// The `log` object of a HAR document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Log {
    /// HAR format version; always `1.2` here.
    pub version: String,
    /// The tool that wrote the log (aviary and its version).
    pub creator: Creator,
    /// The browser that made the requests, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<Creator>,
    /// The pages loaded during the run.
    pub pages: Vec<Page>,
    /// The requests made during the run, in order.
    pub entries: Vec<Entry>,
}

/// A name and version pair, used for `creator` and `browser`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Creator {
    /// The program's name.
    pub name: String,
    /// The program's version.
    pub version: String,
}

/// One page loaded during a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// ISO 8601 time the page started loading.
    pub started_date_time: String,
    /// Unique page id; entries refer to it through `pageref`.
    pub id: String,
    /// The page's title.
    pub title: String,
    /// When the page's load events fired.
    pub page_timings: PageTimings,
}

/// Page-level timings of a [`Page`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageTimings {
    /// Milliseconds from the page's start to DOMContentLoaded; -1 when unknown.
    pub on_content_load: f64,
    /// Milliseconds from the page's start to the load event; -1 when unknown.
    pub on_load: f64,
}

/// One request and its response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Id of the [`Page`] this request belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pageref: Option<String>,
    /// ISO 8601 start of the request.
    pub started_date_time: String,
    /// Total milliseconds: the sum of the non-negative timings.
    pub time: f64,
    /// The request as sent.
    pub request: Request,
    /// The response as received (status 0 when there was none).
    pub response: Response,
    /// Cache information; always empty.
    pub cache: Cache,
    /// Time spent in each phase of the request.
    pub timings: Timings,
    /// IP address of the server that answered.
    #[serde(rename = "serverIPAddress", skip_serializing_if = "Option::is_none")]
    pub server_ip_address: Option<String>,
    /// Id of the connection that carried the request (aviary uses the local port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Chromium's resource type (`document`, `script`, ...), as DevTools writes it.
    #[serde(rename = "_resourceType", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Why the request failed (`net::ERR_CONNECTION_REFUSED`, ...), when it did.
    #[serde(rename = "_error", skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The request part of an [`Entry`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// HTTP method (`GET`, `POST`, ...).
    pub method: String,
    /// The absolute URL requested.
    pub url: String,
    /// HTTP version as the client reports it (`HTTP/1.1`, `HTTP/2.0`, Chromium's `h2`, ...).
    pub http_version: String,
    /// Cookies sent with the request.
    pub cookies: Vec<Cookie>,
    /// Request headers.
    pub headers: Vec<Header>,
    /// Query parameters parsed from the URL.
    pub query_string: Vec<QueryParam>,
    /// The request body, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    /// Size of the request headers in bytes; -1 when unknown.
    pub headers_size: i64,
    /// Size of the request body in bytes; -1 when unknown.
    pub body_size: i64,
}

/// The response part of an [`Entry`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// HTTP status code; 0 when no response arrived.
    pub status: u16,
    /// HTTP reason phrase.
    pub status_text: String,
    /// HTTP version of the response.
    pub http_version: String,
    /// Cookies set by the response.
    pub cookies: Vec<Cookie>,
    /// Response headers.
    pub headers: Vec<Header>,
    /// Details about the response body.
    pub content: Content,
    /// Target of the `Location` header; empty when not a redirect.
    #[serde(rename = "redirectURL")]
    pub redirect_url: String,
    /// Size of the response headers in bytes; -1 when unknown.
    pub headers_size: i64,
    /// Size of the response body as transferred in bytes; -1 when unknown.
    pub body_size: i64,
}

/// An HTTP header as a name/value pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// One query string parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryParam {
    /// Parameter name, decoded.
    pub name: String,
    /// Parameter value, decoded.
    pub value: String,
}

/// A cookie as a name/value pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value.
    pub value: String,
}

/// A request body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    /// MIME type of the body.
    pub mime_type: String,
    /// The body as text.
    pub text: String,
}

/// The response body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Length of the body in bytes after decoding.
    pub size: i64,
    /// MIME type of the body.
    pub mime_type: String,
    /// The body text, when it was captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Encoding of `text` (such as `base64`), when it is not plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// HAR cache information; aviary records none.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cache {}

/// Phase durations in milliseconds; -1 where a phase does not apply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timings {
    /// Time waiting in a queue before the request could start.
    pub blocked: f64,
    /// DNS resolution time.
    pub dns: f64,
    /// Time to open the connection, TLS included.
    pub connect: f64,
    /// TLS handshake time (also counted in `connect`).
    pub ssl: f64,
    /// Time to send the request.
    pub send: f64,
    /// Time waiting for the first byte of the response.
    pub wait: f64,
    /// Time to read the response.
    pub receive: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Self { blocked: -1.0, dns: -1.0, connect: -1.0, ssl: -1.0, send: 0.0, wait: 0.0, receive: 0.0 }
    }
}

impl Timings {
    /// The entry's `time`: the sum of every phase that applies (HAR 1.2 excludes -1 values).
    pub fn total(&self) -> f64 {
        [self.blocked, self.dns, self.connect, self.send, self.wait, self.receive]
            .into_iter()
            .filter(|v| *v > 0.0)
            .sum()
    }
}

impl Entry {
    /// Whether this request failed at the network level (no HTTP response).
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.response.status == 0
    }
}

impl Request {
    /// The query string of `url` as HAR name/value pairs.
    pub fn query_of(url: &str) -> Vec<QueryParam> {
        url::Url::parse(url)
            .map(|u| {
                u.query_pairs()
                    .map(|(n, v)| QueryParam { name: n.into_owned(), value: v.into_owned() })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Har {
    /// A HAR 1.2 log written by aviary with these pages and entries.
    pub fn new(pages: Vec<Page>, entries: Vec<Entry>) -> Self {
        Har {
            log: Log {
                version: "1.2".to_string(),
                creator: Creator {
                    name: "aviary".to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                },
                browser: None,
                pages,
                entries,
            },
        }
    }
}
