//! HAR 1.2 (<http://www.softwareishard.com/blog/har-12-spec/>): the network log of a run.
//!
//! Browser capture (`browser/`) and the HTTP client (`fetch/`) both produce [`Entry`] values;
//! the runner redacts them and writes one `<canary>.har` per run.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Har {
    pub log: Log,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Log {
    pub version: String,
    pub creator: Creator,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<Creator>,
    pub pages: Vec<Page>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Creator {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub started_date_time: String,
    pub id: String,
    pub title: String,
    pub page_timings: PageTimings,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageTimings {
    /// Milliseconds from the page's start to DOMContentLoaded; -1 when unknown.
    pub on_content_load: f64,
    /// Milliseconds from the page's start to the load event; -1 when unknown.
    pub on_load: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pageref: Option<String>,
    /// ISO 8601 start of the request.
    pub started_date_time: String,
    /// Total milliseconds: the sum of the non-negative timings.
    pub time: f64,
    pub request: Request,
    pub response: Response,
    pub cache: Cache,
    pub timings: Timings,
    #[serde(rename = "serverIPAddress", skip_serializing_if = "Option::is_none")]
    pub server_ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Chromium's resource type (`document`, `script`, ...), as DevTools writes it.
    #[serde(rename = "_resourceType", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Why the request failed (`net::ERR_CONNECTION_REFUSED`, ...), when it did.
    #[serde(rename = "_error", skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub method: String,
    pub url: String,
    pub http_version: String,
    pub cookies: Vec<Cookie>,
    pub headers: Vec<Header>,
    pub query_string: Vec<QueryParam>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    pub headers_size: i64,
    pub body_size: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: u16,
    pub status_text: String,
    pub http_version: String,
    pub cookies: Vec<Cookie>,
    pub headers: Vec<Header>,
    pub content: Content,
    #[serde(rename = "redirectURL")]
    pub redirect_url: String,
    pub headers_size: i64,
    pub body_size: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryParam {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cookie {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    pub mime_type: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub size: i64,
    pub mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cache {}

/// Phase durations in milliseconds; -1 where a phase does not apply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timings {
    pub blocked: f64,
    pub dns: f64,
    pub connect: f64,
    pub ssl: f64,
    pub send: f64,
    pub wait: f64,
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
