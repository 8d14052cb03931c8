//! One request as a HAR 1.2 entry. Nothing is redacted here: the runner redacts the whole HAR
//! before writing it.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use hyper::Version;
use hyper::header::{self, HeaderMap};

use super::{FetchError, Options, Phases, Record, Request};
use crate::har;

/// Bodies kept in a HAR entry are cut at this size (as for browser canaries).
pub const MAX_CAPTURED_BODY: usize = 1 << 20;

/// At most [`MAX_CAPTURED_BODY`] bytes of a body.
fn captured(body: &[u8]) -> &[u8] {
    &body[..body.len().min(MAX_CAPTURED_BODY)]
}

/// Whether the captured part of a body is UTF-8 (a character cut at the end aside).
fn is_text(body: &[u8]) -> bool {
    let cut = captured(body);
    match std::str::from_utf8(cut) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && cut.len() < body.len(),
    }
}

/// Text of a captured body, cut at a character boundary.
fn captured_text(body: &[u8]) -> String {
    let cut = captured(body);
    match std::str::from_utf8(cut) {
        Ok(text) => text.to_string(),
        Err(e) => String::from_utf8_lossy(&cut[..e.valid_up_to()]).into_owned(),
    }
}

pub(super) fn build(
    record: &Record,
    request: &Request,
    options: &Options,
    phases: &Phases,
    error: Option<&FetchError>,
) -> har::Entry {
    let timings = phases.to_har();
    har::Entry {
        pageref: None,
        started_date_time: record.start_wall.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        time: timings.total(),
        request: har_request(record, request, options),
        response: match record.status {
            None => no_response(),
            Some(status) => har_response(record, &request.url, options, status),
        },
        cache: har::Cache {},
        timings,
        server_ip_address: record.server_ip.clone(),
        connection: record.connection.clone(),
        resource_type: Some("fetch".to_string()),
        error: error.map(ToString::to_string),
    }
}

/// The request as sent: headers, cookies, query and (when captured) its body.
fn har_request(record: &Record, request: &Request, options: &Options) -> har::Request {
    let url = &request.url;
    let mut target = url.path().to_string();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let headers: Vec<har::Header> = record
        .headers
        .iter()
        .map(|(name, value)| har::Header { name: name.clone(), value: value.clone() })
        .collect();
    let headers_size = if record.http_version == "HTTP/1.1" {
        let line = request.method.as_str().len() + 1 + target.len() + " HTTP/1.1\r\n".len();
        (line + headers_size(record.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))) as i64
    } else {
        -1
    };
    let content_type = |headers: &[(String, String)]| {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.clone())
    };
    let post_data = match &request.body {
        Some(body) if options.capture_request_body => Some(har::PostData {
            mime_type: content_type(&record.headers).unwrap_or_else(|| "application/octet-stream".into()),
            text: captured_text(body),
        }),
        _ => None,
    };
    let cookies = record
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, v)| har::Cookie { name: n.trim().to_string(), value: v.trim().to_string() })
        .collect();
    har::Request {
        method: request.method.to_string(),
        url: url.to_string(),
        http_version: record.http_version.to_string(),
        cookies,
        headers,
        query_string: har::Request::query_of(url.as_str()),
        post_data,
        headers_size,
        body_size: request.body.as_ref().map_or(0, |b| b.len() as i64),
    }
}

/// The response of a request that got none (status 0, as browsers write it).
fn no_response() -> har::Response {
    har::Response {
        status: 0,
        status_text: String::new(),
        http_version: String::new(),
        cookies: Vec::new(),
        headers: Vec::new(),
        content: har::Content { size: 0, mime_type: String::new(), text: None, encoding: None },
        redirect_url: String::new(),
        headers_size: -1,
        body_size: -1,
    }
}

fn har_response(
    record: &Record,
    url: &url::Url,
    options: &Options,
    status: hyper::StatusCode,
) -> har::Response {
    let response_headers = &record.response_headers;
    let headers: Vec<har::Header> = response_headers
        .iter()
        .map(|(n, v)| har::Header {
            name: n.as_str().to_string(),
            value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
        })
        .collect();
    let version = version_text(record.version);
    let headers_size = if record.version == Some(Version::HTTP_2) {
        -1
    } else {
        let line = format!("{version} {} {}\r\n", status.as_u16(), record.status_text).len();
        (line + headers_size(headers.iter().map(|h| (h.name.as_str(), h.value.as_str())))) as i64
    };
    let body = &record.body;
    let (text, encoding) = if !options.capture_response_body || body.is_empty() {
        (None, None)
    } else if is_text(body) {
        (Some(captured_text(body)), None)
    } else {
        (Some(BASE64_STANDARD.encode(captured(body))), Some("base64".to_string()))
    };
    let redirect_url = response_headers
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(|l| url.join(l.trim()).map_or_else(|_| l.to_string(), |u| u.to_string()))
        .unwrap_or_default();
    har::Response {
        status: status.as_u16(),
        status_text: record.status_text.clone(),
        http_version: version.to_string(),
        cookies: set_cookies(response_headers),
        headers,
        content: har::Content {
            size: body.len() as i64,
            mime_type: header_text(response_headers, header::CONTENT_TYPE).unwrap_or_default(),
            text,
            encoding,
        },
        redirect_url,
        headers_size,
        body_size: body.len() as i64,
    }
}

fn version_text(version: Option<Version>) -> &'static str {
    match version {
        Some(Version::HTTP_09) => "HTTP/0.9",
        Some(Version::HTTP_10) => "HTTP/1.0",
        Some(Version::HTTP_2) => "HTTP/2.0",
        Some(Version::HTTP_3) => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Bytes of `name: value\r\n` lines and the closing blank line.
fn headers_size<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> usize {
    headers.map(|(n, v)| n.len() + 2 + v.len() + 2).sum::<usize>() + 2
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn set_cookies(headers: &HeaderMap) -> Vec<har::Cookie> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| {
            let text = String::from_utf8_lossy(v.as_bytes());
            let first = text.split(';').next()?;
            let (name, value) = first.split_once('=')?;
            Some(har::Cookie { name: name.trim().to_string(), value: value.trim().to_string() })
        })
        .collect()
}
