//! CDP `Network` events of one page, turned into HAR entries.
//!
//! Each event type arrives on its own listener stream, so the streams are not ordered relative
//! to each other: everything is keyed by request id (or compared by timestamp) and only
//! assembled when the HAR is taken. The headers Chromium really sent and received (with `Cookie`
//! and `Set-Cookie`) come from a second connection (`extra_info.rs`) and replace the page's own
//! where they arrived. Only network requests are kept: what Chromium loads from
//! `data:`, `blob:`, `about:` or its own `chrome-error:` page is not a request to the site.
//! `Network.requestWillBeSentExtraInfo` does not parse on current Chromium (chromiumoxide drops
//! it), so headers come from `requestWillBeSent` / `responseReceived`.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::network::{
    EventDataReceived, EventLoadingFailed, EventLoadingFinished, EventRequestWillBeSent,
    EventResponseReceived, Headers, ResourceTiming, ResourceType, Response as CdpResponse,
};
use chromiumoxide::cdp::browser_protocol::page::EventLoadEventFired;
use chromiumoxide::error::CdpError;
use chromiumoxide::listeners::EventStream;
use futures::{FutureExt, StreamExt};

use super::Pending;
use super::extra_info::{ExtraHeaders, ExtraInfo};
use crate::har;

/// Bodies above this size are not kept in the HAR.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

struct Streams {
    sent: EventStream<EventRequestWillBeSent>,
    response: EventStream<EventResponseReceived>,
    finished: EventStream<EventLoadingFinished>,
    failed: EventStream<EventLoadingFailed>,
    data: EventStream<EventDataReceived>,
    load: EventStream<EventLoadEventFired>,
    /// The page's target id, which is also its main frame's id.
    main_frame: String,
}

/// One network request (a redirect chain shares the request id).
#[derive(Default)]
struct Tracked {
    /// First-seen order, to keep entries in request order.
    seq: u64,
    pageref: Option<String>,
    /// One `requestWillBeSent` per hop; hop `i + 1` carries hop `i`'s redirect response.
    hops: Vec<Arc<EventRequestWillBeSent>>,
    response: Option<Arc<EventResponseReceived>>,
    finished: Option<Arc<EventLoadingFinished>>,
    failed: Option<Arc<EventLoadingFailed>>,
    decoded_bytes: i64,
    body: Option<(String, bool)>,
    body_unavailable: bool,
    /// Still open when its tab was replaced after a timed-out navigation: it never finishes.
    abandoned: bool,
    /// The headers really sent, per hop (from the extra-info events, when they came).
    request_extra: Vec<Vec<har::Header>>,
    /// The headers really received, per response (redirect responses first).
    response_extra: Vec<Vec<har::Header>>,
}

/// URL schemes of what Chromium loads without a network request.
const NOT_NETWORK: [&str; 9] = [
    "data:",
    "blob:",
    "about:",
    "chrome:",
    "chrome-error:",
    "chrome-extension:",
    "chrome-untrusted:",
    "devtools:",
    "javascript:",
];

impl Tracked {
    /// The headers of response `index` (hop `index`'s answer): those really received when they
    /// came, else what `Network.responseReceived` said.
    fn response_headers(&self, index: usize, response: &CdpResponse) -> Vec<har::Header> {
        match self.response_extra.get(index) {
            Some(received) if !received.is_empty() => received.clone(),
            _ => headers_of(&response.headers),
        }
    }

    /// A request that went (or was meant to go) over the network.
    fn is_network(&self) -> bool {
        self.hops.first().is_some_and(|hop| {
            let url = hop.request.url.as_str();
            !NOT_NETWORK
                .iter()
                .any(|scheme| url.get(..scheme.len()).is_some_and(|p| p.eq_ignore_ascii_case(scheme)))
        })
    }

    /// Neither finished nor failed (yet).
    fn is_open(&self) -> bool {
        self.finished.is_none() && self.failed.is_none() && !self.abandoned
    }
}

/// What a HAR entry that never finished says in `_error`.
const UNFINISHED_AT_END: &str = "not finished when the run ended";
const UNFINISHED_AT_TIMEOUT: &str = "not finished when the run timed out";
const ABANDONED: &str = "not finished when its navigation timed out";

/// What the page's main document response said.
#[derive(Debug, Clone)]
pub(crate) struct DocumentResponse {
    pub status: u16,
    pub status_text: String,
}

pub(crate) struct Capture {
    streams: Streams,
    requests: HashMap<String, Tracked>,
    next_seq: u64,
    pages: Vec<har::Page>,
    page_count: usize,
    current_page: Option<String>,
    /// When the main frame's latest document request was sent (CDP monotonic seconds).
    last_navigation: Option<f64>,
    /// When the main frame's latest `load` event fired.
    last_load: Option<f64>,
    /// The `_error` of entries that never finished.
    unfinished: &'static str,
    /// The page's extra-info connection, if it could be made.
    extra_info: Option<ExtraInfo>,
    /// Extra headers received so far (kept across a tab replacement).
    extra_headers: ExtraHeaders,
}

impl Capture {
    /// Subscribes to the page's network events (chromiumoxide enables `Network` on every page).
    pub async fn attach(page: &Page) -> Result<Capture, CdpError> {
        let streams = Streams {
            sent: page.event_listener::<EventRequestWillBeSent>().await?,
            response: page.event_listener::<EventResponseReceived>().await?,
            finished: page.event_listener::<EventLoadingFinished>().await?,
            failed: page.event_listener::<EventLoadingFailed>().await?,
            data: page.event_listener::<EventDataReceived>().await?,
            load: page.event_listener::<EventLoadEventFired>().await?,
            main_frame: page.target_id().inner().clone(),
        };
        Ok(Capture {
            streams,
            requests: HashMap::new(),
            next_seq: 0,
            pages: Vec::new(),
            page_count: 0,
            current_page: None,
            last_navigation: None,
            last_load: None,
            unfinished: UNFINISHED_AT_END,
            extra_info: None,
            extra_headers: ExtraHeaders::default(),
        })
    }

    /// The page's extra-info connection (replacing the previous tab's, if any).
    pub fn set_extra_info(&mut self, extra_info: Option<ExtraInfo>) {
        self.collect_extra_headers();
        self.extra_info = extra_info;
    }

    fn collect_extra_headers(&mut self) {
        let Some(received) = self.extra_info.as_ref().map(ExtraInfo::take) else { return };
        for (id, hops) in received.requests {
            self.extra_headers.requests.entry(id).or_default().extend(hops);
        }
        for (id, hops) in received.responses {
            self.extra_headers.responses.entry(id).or_default().extend(hops);
        }
    }

    /// Switches to another page's event streams (a replacement tab), keeping what was captured;
    /// what the old tab still had open is given up.
    pub fn adopt(&mut self, other: Capture) {
        self.drain();
        for tracked in self.requests.values_mut().filter(|t| t.is_open()) {
            tracked.abandoned = true;
        }
        self.streams = other.streams;
        self.set_extra_info(other.extra_info);
    }

    /// What the page is still waiting for; `None` before its first document request.
    pub fn pending(&mut self) -> Option<Pending> {
        self.drain();
        let navigation = self.last_navigation?;
        let mut open: Vec<&Tracked> =
            self.requests.values().filter(|t| t.is_network() && t.is_open()).collect();
        open.sort_by_key(|t| t.seq);
        let open_requests = open
            .iter()
            .filter_map(|t| t.hops.last())
            .map(|hop| format!("{} {}", hop.request.method, hop.request.url))
            .collect();
        Some(Pending {
            load_event_fired: self.last_load.is_some_and(|load| load >= navigation),
            open_requests,
        })
    }

    /// The run's deadline passed: entries still open say so in the HAR.
    pub fn timed_out(&mut self) {
        self.unfinished = UNFINISHED_AT_TIMEOUT;
    }

    /// A main-frame document request starts a new document: its `load` event is awaited anew.
    fn note_navigation(&mut self, ev: &EventRequestWillBeSent) {
        let main_frame = ev.frame_id.as_ref().is_some_and(|f| *f.inner() == self.streams.main_frame);
        let document = matches!(ev.r#type, Some(ResourceType::Document));
        if main_frame && document && ev.request_id.inner() == ev.loader_id.inner() {
            self.last_navigation = Some(*ev.timestamp.inner());
        }
    }

    /// Moves every event already delivered into the request table (never waits).
    pub fn drain(&mut self) {
        while let Some(Some(ev)) = self.streams.sent.next().now_or_never() {
            self.note_navigation(&ev);
            let pageref = self.current_page.clone();
            let id = ev.request_id.inner().clone();
            let tracked = self.tracked(&id);
            if tracked.hops.is_empty() {
                tracked.pageref = pageref;
            }
            tracked.hops.push(ev);
        }
        while let Some(Some(ev)) = self.streams.response.next().now_or_never() {
            let id = ev.request_id.inner().clone();
            self.tracked(&id).response = Some(ev);
        }
        while let Some(Some(ev)) = self.streams.data.next().now_or_never() {
            self.tracked(ev.request_id.inner()).decoded_bytes += ev.data_length;
        }
        while let Some(Some(ev)) = self.streams.finished.next().now_or_never() {
            let id = ev.request_id.inner().clone();
            self.tracked(&id).finished = Some(ev);
        }
        while let Some(Some(ev)) = self.streams.failed.next().now_or_never() {
            let id = ev.request_id.inner().clone();
            self.tracked(&id).failed = Some(ev);
        }
        while let Some(Some(ev)) = self.streams.load.next().now_or_never() {
            let at = *ev.timestamp.inner();
            self.last_load = Some(self.last_load.map_or(at, |last| last.max(at)));
        }
    }

    fn tracked(&mut self, id: &str) -> &mut Tracked {
        let seq = &mut self.next_seq;
        self.requests.entry(id.to_string()).or_insert_with(|| {
            *seq += 1;
            Tracked { seq: *seq, ..Tracked::default() }
        })
    }

    /// Starts a new HAR page (one per `goto`); requests seen from now on belong to it.
    pub fn begin_page(&mut self, url: &str, started: chrono::DateTime<chrono::Utc>) -> usize {
        self.drain();
        self.page_count += 1;
        let id = format!("page_{}", self.page_count);
        self.current_page = Some(id.clone());
        self.pages.push(har::Page {
            started_date_time: iso(started),
            id,
            title: url.to_string(),
            page_timings: har::PageTimings { on_content_load: -1.0, on_load: -1.0 },
        });
        self.page_count
    }

    /// Fills in the timings of page `number` (from [`Capture::begin_page`]) if not taken yet.
    pub fn set_page_timings(&mut self, number: usize, on_content_load: Option<f64>, on_load: Option<f64>) {
        let id = format!("page_{number}");
        if let Some(page) = self.pages.iter_mut().find(|p| p.id == id) {
            page.page_timings.on_content_load = on_content_load.unwrap_or(-1.0);
            page.page_timings.on_load = on_load.unwrap_or(-1.0);
        }
    }

    /// The final response of the navigation request `request_id` (the navigation's loader id).
    pub fn document_response(&mut self, request_id: &str) -> Option<DocumentResponse> {
        self.drain();
        let tracked = self.requests.get(request_id)?;
        let response = &tracked.response.as_ref()?.response;
        Some(DocumentResponse { status: status_code(response.status), status_text: status_text(response) })
    }

    /// Requests whose bodies should be fetched: finished, not a redirect, small enough.
    pub fn body_candidates(&mut self) -> Vec<String> {
        self.drain();
        self.requests
            .iter()
            .filter(|(_, t)| t.is_network() && t.body.is_none() && !t.body_unavailable)
            .filter(|(_, t)| t.finished.is_some() && t.failed.is_none())
            .filter(|(_, t)| t.response.as_ref().is_some_and(|r| !(300..400).contains(&r.response.status)))
            .filter(|(_, t)| {
                let encoded = t.finished.as_ref().map_or(0.0, |f| f.encoded_data_length);
                t.decoded_bytes <= MAX_BODY_BYTES as i64 && encoded <= MAX_BODY_BYTES as f64
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Chromium no longer has this body: do not ask again.
    pub fn body_unavailable(&mut self, request_id: &str) {
        if let Some(tracked) = self.requests.get_mut(request_id) {
            tracked.body_unavailable = true;
        }
    }

    pub fn set_body(&mut self, request_id: &str, body: String, base64_encoded: bool) {
        let size = if base64_encoded { body.len() / 4 * 3 } else { body.len() };
        if let Some(tracked) = self.requests.get_mut(request_id) {
            if size > MAX_BODY_BYTES {
                tracked.body_unavailable = true;
            } else {
                tracked.body = Some((body, base64_encoded));
            }
        }
    }

    /// Everything captured so far, in request order; the capture starts empty again.
    pub fn take(&mut self) -> (Vec<har::Page>, Vec<har::Entry>) {
        self.drain();
        self.collect_extra_headers();
        let mut extra = std::mem::take(&mut self.extra_headers);
        let mut requests: Vec<Tracked> = self
            .requests
            .drain()
            .map(|(id, mut tracked)| {
                let as_headers = |hops: Vec<_>| hops.iter().map(headers_of_map).collect();
                tracked.request_extra = extra.requests.remove(&id).map(as_headers).unwrap_or_default();
                tracked.response_extra = extra.responses.remove(&id).map(as_headers).unwrap_or_default();
                tracked
            })
            .filter(Tracked::is_network)
            .collect();
        requests.sort_by_key(|t| t.seq);
        let mut entries: Vec<(f64, har::Entry)> = Vec::new();
        for tracked in &requests {
            for (index, hop) in tracked.hops.iter().enumerate() {
                let entry = match tracked.hops.get(index + 1) {
                    Some(next) => redirect_entry(tracked, index, next),
                    None => final_entry(tracked, index, self.unfinished),
                };
                entries.push((*hop.timestamp.inner(), entry));
            }
        }
        // Stable: a redirect chain keeps its order even with equal timestamps.
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        let pages = std::mem::take(&mut self.pages);
        (pages, entries.into_iter().map(|(_, e)| e).collect())
    }
}

/// A hop that was answered with a redirect; the next hop's start is its end.
fn redirect_entry(tracked: &Tracked, index: usize, next: &EventRequestWillBeSent) -> har::Entry {
    let hop = &tracked.hops[index];
    let mut entry = base_entry(tracked, index);
    if let Some(response) = next.redirect_response.as_ref() {
        entry.response =
            response_of(response, tracked.response_headers(index, response), 0, &next.request.url);
        entry.request.http_version = entry.response.http_version.clone();
        entry.server_ip_address = response.remote_ip_address.clone();
        entry.connection = connection_of(response);
        entry.timings =
            timings(*hop.timestamp.inner(), response.timing.as_ref(), Some(*next.timestamp.inner()));
    } else {
        entry.response.redirect_url = next.request.url.clone();
    }
    entry.time = round(entry.timings.total());
    entry
}

/// The last hop: answered (maybe finished), failed, or still open (`_error` says `unfinished`;
/// status 0 unless the response headers came).
fn final_entry(tracked: &Tracked, index: usize, unfinished: &str) -> har::Entry {
    let hop = &tracked.hops[index];
    let mut entry = base_entry(tracked, index);
    let end = tracked
        .finished
        .as_ref()
        .map(|f| *f.timestamp.inner())
        .or_else(|| tracked.failed.as_ref().map(|f| *f.timestamp.inner()));
    if let Some(received) = tracked.response.as_ref() {
        let response = &received.response;
        let body_size = tracked
            .finished
            .as_ref()
            .map_or(-1, |f| (f.encoded_data_length - response.encoded_data_length).max(0.0).round() as i64);
        entry.response = response_of(response, tracked.response_headers(index, response), body_size, "");
        entry.response.content.size =
            if tracked.decoded_bytes > 0 { tracked.decoded_bytes } else { body_size.max(0) };
        entry.request.http_version = entry.response.http_version.clone();
        entry.server_ip_address = response.remote_ip_address.clone();
        entry.connection = connection_of(response);
        entry.timings = timings(*hop.timestamp.inner(), response.timing.as_ref(), end);
        if let Some((text, base64)) = tracked.body.as_ref() {
            entry.response.content.text = Some(text.clone());
            if *base64 {
                entry.response.content.encoding = Some("base64".to_string());
            }
        }
    } else {
        entry.timings = timings(*hop.timestamp.inner(), None, end);
    }
    if let Some(failed) = tracked.failed.as_ref() {
        entry.error = Some(if failed.error_text.is_empty() {
            "net::ERR_FAILED".to_string()
        } else {
            failed.error_text.clone()
        });
        if tracked.response.is_none() {
            entry.response.status = 0;
        }
    } else if tracked.abandoned {
        entry.error = Some(ABANDONED.to_string());
    } else if tracked.finished.is_none() {
        entry.error = Some(unfinished.to_string());
    }
    entry.time = round(entry.timings.total());
    entry
}

/// Request side of an entry plus an empty response (status 0: no answer yet).
fn base_entry(tracked: &Tracked, index: usize) -> har::Entry {
    let hop = &tracked.hops[index];
    let request = &hop.request;
    let url = match request.url_fragment.as_deref() {
        Some(fragment) if !fragment.is_empty() => format!("{}{fragment}", request.url),
        _ => request.url.clone(),
    };
    let headers = match tracked.request_extra.get(index) {
        Some(sent) if !sent.is_empty() => sent.clone(),
        _ => headers_of(&request.headers),
    };
    let cookies = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("cookie"))
        .flat_map(|h| cookies_of(&h.value))
        .collect();
    let post_data = post_data_of(request, &headers);
    let body_size = match (&post_data, request.has_post_data) {
        (Some(data), _) => data.text.len() as i64,
        (None, Some(true)) => -1,
        (None, _) => 0,
    };
    har::Entry {
        pageref: tracked.pageref.clone(),
        started_date_time: iso_from_secs(*hop.wall_time.inner()),
        time: 0.0,
        request: har::Request {
            method: request.method.clone(),
            query_string: har::Request::query_of(&url),
            url,
            http_version: String::new(),
            cookies,
            headers,
            post_data,
            headers_size: -1,
            body_size,
        },
        response: har::Response {
            status: 0,
            status_text: String::new(),
            http_version: String::new(),
            cookies: Vec::new(),
            headers: Vec::new(),
            content: har::Content { size: 0, mime_type: "x-unknown".to_string(), text: None, encoding: None },
            redirect_url: String::new(),
            headers_size: -1,
            body_size: -1,
        },
        cache: har::Cache {},
        timings: har::Timings::default(),
        server_ip_address: None,
        connection: None,
        resource_type: hop.r#type.as_ref().map(resource_type_name),
        error: None,
    }
}

fn response_of(
    response: &CdpResponse,
    headers: Vec<har::Header>,
    body_size: i64,
    redirect_url: &str,
) -> har::Response {
    let cookies = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|h| set_cookie_of(&h.value))
        .collect();
    let redirect_url = if redirect_url.is_empty() {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("location"))
            .filter(|_| (300..400).contains(&response.status))
            .map(|h| h.value.clone())
            .unwrap_or_default()
    } else {
        redirect_url.to_string()
    };
    har::Response {
        status: status_code(response.status),
        status_text: status_text(response),
        http_version: http_version(response.protocol.as_deref()),
        cookies,
        headers,
        content: har::Content {
            size: body_size.max(0),
            mime_type: if response.mime_type.is_empty() {
                "x-unknown".to_string()
            } else {
                response.mime_type.clone()
            },
            text: None,
            encoding: None,
        },
        redirect_url,
        headers_size: -1,
        body_size,
    }
}

fn status_code(status: i64) -> u16 {
    u16::try_from(status).unwrap_or(0)
}

/// The status text Chromium reports, or the standard reason phrase (HTTP/2 has none).
fn status_text(response: &CdpResponse) -> String {
    if !response.status_text.is_empty() {
        return response.status_text.clone();
    }
    hyper::StatusCode::from_u16(status_code(response.status))
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or_default()
        .to_string()
}

fn connection_of(response: &CdpResponse) -> Option<String> {
    (response.connection_id > 0.0).then(|| format!("{}", response.connection_id as u64))
}

/// HAR phase durations from Chromium's resource timing, the way DevTools exports them.
/// `issued` / `end` are CDP monotonic seconds; `timing` fields are ms after `requestTime`.
fn timings(issued: f64, timing: Option<&ResourceTiming>, end: Option<f64>) -> har::Timings {
    let Some(t) = timing else {
        // No connection details (failed before connecting, cache, data: URL): all waiting.
        let total = end.map_or(0.0, |end| ((end - issued) * 1000.0).max(0.0));
        return har::Timings { wait: round(total), ..har::Timings::default() };
    };
    let span = |start: f64, stop: f64| if start >= 0.0 && stop >= 0.0 { round(stop - start) } else { -1.0 };
    let queued = ((t.request_time - issued) * 1000.0).max(0.0);
    let blocked_start = [t.dns_start, t.connect_start, t.send_start]
        .into_iter()
        .filter(|v| *v >= 0.0)
        .fold(f64::INFINITY, f64::min);
    let blocked_start = if blocked_start.is_finite() { blocked_start } else { 0.0 };
    let send =
        if t.send_start >= 0.0 && t.send_end >= 0.0 { (t.send_end - t.send_start).max(0.0) } else { 0.0 };
    let headers_end = t.receive_headers_end;
    let wait = if headers_end >= 0.0 { (headers_end - t.send_end.max(blocked_start)).max(0.0) } else { 0.0 };
    let receive = match end {
        Some(end) if headers_end >= 0.0 => ((end - t.request_time) * 1000.0 - headers_end).max(0.0),
        _ => 0.0,
    };
    har::Timings {
        blocked: round(queued + blocked_start),
        dns: span(t.dns_start, t.dns_end),
        connect: span(t.connect_start, t.connect_end),
        ssl: span(t.ssl_start, t.ssl_end),
        send: round(send),
        wait: round(wait),
        receive: round(receive),
    }
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// CDP headers (`{name: value}`, repeated headers joined by newlines) as HAR headers.
fn headers_of(headers: &Headers) -> Vec<har::Header> {
    headers.inner().as_object().map(headers_of_map).unwrap_or_default()
}

fn headers_of_map(map: &serde_json::Map<String, serde_json::Value>) -> Vec<har::Header> {
    map.iter()
        .flat_map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            value
                .split('\n')
                .map(|v| har::Header { name: name.clone(), value: v.to_string() })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The pairs of a `Cookie` request header (`a=1; b=2`).
fn cookies_of(value: &str) -> Vec<har::Cookie> {
    value
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| !name.trim().is_empty())
        .map(|(name, value)| har::Cookie { name: name.trim().to_string(), value: value.trim().to_string() })
        .collect()
}

fn set_cookie_of(value: &str) -> Option<har::Cookie> {
    let pair = value.split(';').next()?.trim();
    let (name, value) = pair.split_once('=')?;
    let name = name.trim();
    (!name.is_empty()).then(|| har::Cookie { name: name.to_string(), value: value.trim().to_string() })
}

fn post_data_of(
    request: &chromiumoxide::cdp::browser_protocol::network::Request,
    headers: &[har::Header],
) -> Option<har::PostData> {
    let entries = request.post_data_entries.as_ref()?;
    let mut bytes = Vec::new();
    for entry in entries {
        if let Some(chunk) = entry.bytes.as_ref() {
            let text: &str = chunk.as_ref();
            bytes.extend(base64::engine::general_purpose::STANDARD.decode(text).ok()?);
        }
    }
    let mime_type = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-type"))
        .map(|h| h.value.clone())
        .unwrap_or_default();
    Some(har::PostData { mime_type, text: String::from_utf8_lossy(&bytes).into_owned() })
}

/// `h2` → `HTTP/2.0` and so on, as DevTools writes them.
fn http_version(protocol: Option<&str>) -> String {
    match protocol.unwrap_or_default().to_ascii_lowercase().as_str() {
        "" => String::new(),
        "h2" | "http/2" | "http/2.0" => "HTTP/2.0".to_string(),
        p if p.starts_with("h3") || p.starts_with("http/3") => "HTTP/3.0".to_string(),
        "http/1.1" => "HTTP/1.1".to_string(),
        "http/1.0" => "HTTP/1.0".to_string(),
        other => other.to_string(),
    }
}

/// Resource types the way DevTools names them in HAR files (`document`, `xhr`, ...).
fn resource_type_name(kind: &ResourceType) -> String {
    match kind {
        ResourceType::TextTrack => "texttrack".to_string(),
        ResourceType::SignedExchange => "signed-exchange".to_string(),
        ResourceType::CspViolationReport => "csp-violation-report".to_string(),
        ResourceType::EventSource => "eventsource".to_string(),
        ResourceType::WebSocket => "websocket".to_string(),
        other => other.as_ref().to_ascii_lowercase(),
    }
}

pub(crate) fn iso(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn iso_from_secs(wall_time: f64) -> String {
    let micros = (wall_time * 1_000_000.0).round() as i64;
    chrono::DateTime::from_timestamp_micros(micros).map(iso).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> ResourceTiming {
        ResourceTiming {
            request_time: 100.0,
            proxy_start: -1.0,
            proxy_end: -1.0,
            dns_start: 1.0,
            dns_end: 3.0,
            connect_start: 3.0,
            connect_end: 10.0,
            ssl_start: 5.0,
            ssl_end: 10.0,
            worker_start: -1.0,
            worker_ready: -1.0,
            worker_fetch_start: -1.0,
            worker_respond_with_settled: -1.0,
            worker_router_evaluation_start: None,
            worker_cache_lookup_start: None,
            send_start: 10.5,
            send_end: 11.0,
            push_start: 0.0,
            push_end: 0.0,
            receive_headers_start: 20.0,
            receive_headers_end: 25.0,
        }
    }

    #[test]
    fn timings_follow_devtools() {
        // Issued 2 ms before requestTime, finished 40 ms after it.
        let t = timings(99.998, Some(&timing()), Some(100.040));
        assert_eq!(t.blocked, 3.0);
        assert_eq!(t.dns, 2.0);
        assert_eq!(t.connect, 7.0);
        assert_eq!(t.ssl, 5.0);
        assert_eq!(t.send, 0.5);
        assert_eq!(t.wait, 14.0);
        assert_eq!(t.receive, 15.0);
        // `time` leaves ssl out (it is part of connect).
        assert_eq!(round(t.total()), 41.5);
    }

    #[test]
    fn reused_connection_has_no_dns_or_connect() {
        let mut reused = timing();
        reused.dns_start = -1.0;
        reused.dns_end = -1.0;
        reused.connect_start = -1.0;
        reused.connect_end = -1.0;
        reused.ssl_start = -1.0;
        reused.ssl_end = -1.0;
        let t = timings(100.0, Some(&reused), None);
        assert_eq!((t.dns, t.connect, t.ssl), (-1.0, -1.0, -1.0));
        assert_eq!(t.blocked, 10.5);
        assert_eq!(t.receive, 0.0);
    }

    #[test]
    fn headers_split_repeated_values() {
        let headers = Headers::new(serde_json::json!({"Set-Cookie": "a=1; Path=/\nb=2", "X": "y"}));
        let list = headers_of(&headers);
        assert_eq!(list.len(), 3);
        let cookies: Vec<_> = list
            .iter()
            .filter(|h| h.name == "Set-Cookie")
            .filter_map(|h| set_cookie_of(&h.value))
            .map(|c| (c.name, c.value))
            .collect();
        assert_eq!(cookies, [("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())]);
    }

    #[test]
    fn request_cookie_header_is_split_into_pairs() {
        let cookies: Vec<_> =
            cookies_of("session=abc; theme=dark=blue;  ;x").into_iter().map(|c| (c.name, c.value)).collect();
        assert_eq!(
            cookies,
            [("session".to_string(), "abc".to_string()), ("theme".to_string(), "dark=blue".to_string())]
        );
    }

    #[test]
    fn protocol_names() {
        assert_eq!(http_version(Some("h2")), "HTTP/2.0");
        assert_eq!(http_version(Some("http/1.1")), "HTTP/1.1");
        assert_eq!(http_version(None), "");
        assert_eq!(resource_type_name(&ResourceType::Document), "document");
        assert_eq!(resource_type_name(&ResourceType::Xhr), "xhr");
    }

    #[test]
    fn wall_time_is_iso() {
        assert_eq!(iso_from_secs(1_700_000_000.5), "2023-11-14T22:13:20.500Z");
    }
}
