//! The HTTP client for API steps and link checks: one fresh connection per request unless a
//! [`Pool`] of kept connections is given (link checks), every phase timed (DNS, TCP connect, TLS, send, time to first byte, transfer) and every phase under one
//! deadline; redirects followed or not; TLS verified unless told otherwise; request and response
//! bodies bounded. Each request (each redirect hop) becomes a HAR [`har::Entry`].
//!
//! ```no_run
//! # async fn demo() {
//! use aviary::fetch::{Client, Options, Request};
//! let request = Request::get("http://127.0.0.1:8080/health".parse().unwrap());
//! let exchange = Client::shared().fetch(request, &Options::default()).await;
//! match &exchange.outcome {
//!     Ok(response) => println!("{} in {:?}", response.status, exchange.elapsed),
//!     Err(error) => println!("failed: {error}"),
//! }
//! let entries = exchange.into_entries(); // for the run's HAR
//! # }
//! ```

mod entry;
mod io;
mod pool;
mod tls;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode, Uri, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Map, Value, json};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use url::Url;

use crate::har;
use io::{Clock, Stream, Timed};
use pool::{Conn, Key};
pub use pool::{MAX_IDLE, Pool};

/// Redirects followed at most, as browsers and curl do by default (curl: 50, Chromium: 20).
pub const DEFAULT_MAX_REDIRECTS: usize = 10;
/// Default request and response body limit: 10 MB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10_000_000;
/// The `User-Agent` sent unless the request sets one.
pub const USER_AGENT: &str = concat!("aviary/", env!("CARGO_PKG_VERSION"), " (synthetic monitoring)");

/// One HTTP request to make.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// The URL to request; `http` or `https`.
    pub url: Url,
    /// Sent as given, in order; `Host`, `User-Agent`, `Accept` and `Content-Length` are added
    /// unless present.
    pub headers: Vec<(String, String)>,
    /// The request body, if any.
    pub body: Option<Bytes>,
}

impl Request {
    /// A `GET` without headers.
    pub fn get(url: Url) -> Self {
        Self { method: Method::GET, url, headers: Vec::new(), body: None }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How a request is made.
#[derive(Debug, Clone)]
pub struct Options {
    /// The whole exchange, redirects included, ends by this.
    pub timeout: Duration,
    /// Follow `3xx` responses with a `Location` header; default on.
    pub follow_redirects: bool,
    /// Redirects followed at most before failing; default [`DEFAULT_MAX_REDIRECTS`].
    pub max_redirects: usize,
    /// Check the server's certificate (chain, name, dates).
    pub verify_tls: bool,
    /// Largest request body allowed, in bytes; default [`DEFAULT_MAX_BODY_BYTES`].
    pub max_request_bytes: u64,
    /// Largest response body read, in bytes; default [`DEFAULT_MAX_BODY_BYTES`].
    pub max_response_bytes: u64,
    /// Keep the request body in the HAR entry (`postData`).
    pub capture_request_body: bool,
    /// Keep the response body in the HAR entry (`content.text`).
    pub capture_response_body: bool,
    /// Past `max_response_bytes`, stop reading and keep the part read instead of failing (a link
    /// check needs the status and at most the start of a page).
    pub truncate_response: bool,
    /// Reuse the connections kept here, and keep this request's connection when it is done;
    /// `None` (the default): a fresh connection per request, every phase measured.
    pub pool: Option<Pool>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            follow_redirects: true,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            verify_tls: true,
            max_request_bytes: DEFAULT_MAX_BODY_BYTES,
            max_response_bytes: DEFAULT_MAX_BODY_BYTES,
            capture_request_body: false,
            capture_response_body: false,
            truncate_response: false,
            pool: None,
        }
    }
}

/// Why a request got no (complete) response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL's scheme is not `http` or `https`.
    #[error("`{0}` is not an http(s) URL")]
    UnsupportedUrl(String),
    /// The request cannot be sent as given (bad header name or value, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The host name did not resolve.
    #[error("could not resolve host `{host}`: {message}")]
    Dns {
        /// The host looked up.
        host: String,
        /// The resolver's error.
        message: String,
    },
    /// The TCP connection could not be opened.
    #[error("could not connect to {addr}: {message}")]
    Connect {
        /// The address tried (`ip:port`), or the host when it had no address.
        addr: String,
        /// The OS error.
        message: String,
    },
    /// The TLS handshake failed (certificate, protocol, ...).
    #[error("TLS handshake with `{host}` failed: {message}")]
    Tls {
        /// The server name checked.
        host: String,
        /// The TLS library's error.
        message: String,
    },
    /// The exchange ran past its timeout.
    #[error("timed out after {} {phase}", format_duration(*after))]
    Timeout {
        /// The timeout that ran out.
        after: Duration,
        /// The phase the request was in.
        phase: Phase,
    },
    /// The request body is over `max_request_bytes`.
    #[error("request body is {size} bytes, over the {limit}-byte limit (max_request_bytes)")]
    RequestTooLarge {
        /// The body's size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The response body is over `max_response_bytes`.
    #[error("response body is {}, over the {limit}-byte limit (max_response_bytes)",
        declared.map_or_else(|| format!("more than {limit} bytes"), |n| format!("{n} bytes (Content-Length)")))]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: u64,
        /// The size from `Content-Length`, when the server sent one.
        declared: Option<u64>,
    },
    /// More redirects than `max_redirects`.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// A redirect went back to a URL already visited; the URLs in order.
    #[error("redirect loop: {}", .0.join(" -> "))]
    RedirectLoop(Vec<String>),
    /// A redirect without a usable `Location`.
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    /// Any other HTTP protocol error.
    #[error("{0}")]
    Http(String),
}

impl FetchError {
    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}

/// The phase a request was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Looking up the host's addresses.
    Dns,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake.
    Tls,
    /// Writing the request.
    Send,
    /// Waiting for the response head.
    Wait,
    /// Reading the response body.
    Transfer,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Dns => "resolving the host",
            Self::Connect => "connecting",
            Self::Tls => "in the TLS handshake",
            Self::Send => "sending the request",
            Self::Wait => "waiting for the response",
            Self::Transfer => "reading the response body",
        })
    }
}

/// How long each phase of one request took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// `None`: no lookup (the host is an IP address) or not reached.
    pub dns: Option<Duration>,
    /// TCP connect only.
    pub connect: Option<Duration>,
    /// `None` for `http://`.
    pub tls: Option<Duration>,
    /// Time to write the request.
    pub send: Option<Duration>,
    /// Time to first byte: from the request sent to the response's first byte.
    pub wait: Option<Duration>,
    /// From the first byte to the last byte of the body.
    pub transfer: Option<Duration>,
    /// From the start of the request to its end (or failure).
    pub total: Duration,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

impl Phases {
    /// `{dns_ms, connect_ms, tls_ms, send_ms, ttfb_ms, transfer_ms, total_ms}`, `null` where a
    /// phase does not apply or was not reached.
    pub fn to_json(&self) -> Value {
        let f = |d: Option<Duration>| d.map_or(Value::Null, |d| json!(ms(d)));
        json!({
            "dns_ms": f(self.dns),
            "connect_ms": f(self.connect),
            "tls_ms": f(self.tls),
            "send_ms": f(self.send),
            "ttfb_ms": f(self.wait),
            "transfer_ms": f(self.transfer),
            "total_ms": ms(self.total),
        })
    }

    /// HAR 1.2 timings: `connect` includes `ssl`; -1 where a phase does not apply.
    pub fn to_har(&self) -> har::Timings {
        let f = |d: Option<Duration>| d.map_or(-1.0, ms);
        let connect = match (self.connect, self.tls) {
            (Some(c), Some(t)) => ms(c + t),
            (Some(c), None) => ms(c),
            _ => -1.0,
        };
        har::Timings {
            blocked: -1.0,
            dns: f(self.dns),
            connect,
            ssl: f(self.tls),
            send: self.send.map_or(0.0, ms),
            wait: self.wait.map_or(0.0, ms),
            receive: self.transfer.map_or(0.0, ms),
        }
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase as sent (HTTP/1), else the standard one.
    pub status_text: String,
    /// The HTTP version of the response.
    pub version: Version,
    /// The response headers.
    pub headers: HeaderMap,
    /// The response body as received.
    pub body: Bytes,
    /// The URL that answered (after redirects).
    pub url: Url,
    /// Phases of the request that answered.
    pub phases: Phases,
}

impl Response {
    /// The values of a header, joined by `, ` (HTTP's rule for repeated headers).
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()));
        let first = values.next()?;
        Some(values.fold(first.into_owned(), |mut all, v| {
            all.push_str(", ");
            all.push_str(&v);
            all
        }))
    }
}

/// One request of an exchange (the first, or a redirect hop).
#[derive(Debug, Clone)]
pub struct Hop {
    /// The hop's method.
    pub method: Method,
    /// The hop's URL.
    pub url: Url,
    /// Status code, when a response arrived.
    pub status: Option<u16>,
    /// How long each phase took.
    pub phases: Phases,
    /// Why this hop failed, when it did.
    pub error: Option<String>,
    /// The hop as a HAR entry.
    pub entry: har::Entry,
}

impl Hop {
    /// `{method, url, status, timings, error?}` for a report.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("method".into(), json!(self.method.as_str()));
        map.insert("url".into(), json!(self.url.as_str()));
        map.insert("status".into(), json!(self.status));
        map.insert("timings".into(), self.phases.to_json());
        if let Some(error) = &self.error {
            map.insert("error".into(), json!(error));
        }
        Value::Object(map)
    }
}

/// A request and its redirects: each hop, and the final response or why there is none.
#[derive(Debug)]
pub struct Exchange {
    /// Every request made, in order: the first, then each redirect.
    pub hops: Vec<Hop>,
    /// The final response, or why there is none.
    pub outcome: Result<Response, FetchError>,
    /// Wall time of the whole exchange.
    pub elapsed: Duration,
}

impl Exchange {
    /// The HAR entries, one per hop.
    pub fn into_entries(self) -> Vec<har::Entry> {
        self.hops.into_iter().map(|h| h.entry).collect()
    }
}

/// The HTTP client. Stateless apart from TLS settings; [`Client::shared`] is the process's one.
#[derive(Debug, Default, Clone, Copy)]
pub struct Client;

impl Client {
    /// The client every blueprint uses.
    pub fn shared() -> &'static Client {
        static CLIENT: Client = Client;
        &CLIENT
    }

    /// Makes the request (and its redirects, per `options`).
    pub async fn fetch(&self, request: Request, options: &Options) -> Exchange {
        let started = Instant::now();
        let deadline = started + options.timeout;
        let mut hops = Vec::new();
        let mut visited: Vec<(Method, Url)> = Vec::new();
        let mut current = request;
        let outcome = loop {
            if let Some(body) = &current.body
                && body.len() as u64 > options.max_request_bytes
            {
                break Err(FetchError::RequestTooLarge {
                    size: body.len() as u64,
                    limit: options.max_request_bytes,
                });
            }
            visited.push((current.method.clone(), current.url.clone()));
            let (hop, result) = self.one(&current, options, deadline).await;
            hops.push(hop);
            let response = match result {
                Ok(response) => response,
                Err(e) => break Err(e),
            };
            let location = response.headers.get(header::LOCATION).and_then(|l| l.to_str().ok());
            let (true, Some(location)) = (options.follow_redirects && is_redirect(response.status), location)
            else {
                break Ok(response);
            };
            let next_url = match current.url.join(location.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => u,
                Ok(u) => break Err(FetchError::BadRedirect(format!("Location `{u}` is not an http(s) URL"))),
                Err(e) => break Err(FetchError::BadRedirect(format!("invalid Location `{location}`: {e}"))),
            };
            let next = redirected(&current, response.status, next_url);
            if visited.iter().any(|(m, u)| *m == next.method && *u == next.url) {
                let mut chain: Vec<String> = visited.iter().map(|(_, u)| u.to_string()).collect();
                chain.push(next.url.to_string());
                break Err(FetchError::RedirectLoop(chain));
            }
            if hops.len() > options.max_redirects {
                break Err(FetchError::TooManyRedirects(options.max_redirects));
            }
            current = next;
        };
        Exchange { hops, outcome, elapsed: started.elapsed() }
    }

    /// One request on a fresh connection.
    async fn one(
        &self,
        request: &Request,
        options: &Options,
        deadline: Instant,
    ) -> (Hop, Result<Response, FetchError>) {
        let mut record = Record::new(request, options);
        let result = self.attempt(request, options, deadline, &mut record).await;
        let hop = record.finish(request, options, result.as_ref().err());
        (hop, result)
    }

    async fn attempt(
        &self,
        request: &Request,
        options: &Options,
        deadline: Instant,
        record: &mut Record,
    ) -> Result<Response, FetchError> {
        let target = Target::of(&request.url)?;
        if let Some(pool) = &options.pool {
            let key = target.key(options);
            while let Some(conn) = pool.take(&key) {
                match send_on(conn, true, Some(&key), request, options, deadline, record).await {
                    Err(Sent::Stale) => *record = Record::new(request, options),
                    Err(Sent::Failed(e)) => return Err(e),
                    Ok(response) => return Ok(response),
                }
            }
        }
        let addrs = resolve(&target, options, deadline, record).await?;
        let tcp = connect(&target, &addrs, options, deadline, record).await?;
        let (stream, h2) = secure(&target, tcp, options, deadline, record).await?;
        let conn = open(stream, h2, options, deadline, record).await?;
        let key = options.pool.as_ref().map(|_| target.key(options));
        send_on(conn, false, key.as_ref(), request, options, deadline, record).await.map_err(
            |sent| match sent {
                Sent::Failed(e) => e,
                Sent::Stale => FetchError::Http("the server closed the connection before the request".into()),
            },
        )
    }
}

/// Sends the request on `conn` and reads the response; the connection goes back to the pool
/// (under `key`) when the response was read whole and the server keeps it open.
async fn send_on(
    mut conn: Conn,
    reused: bool,
    key: Option<&Key>,
    request: &Request,
    options: &Options,
    deadline: Instant,
    record: &mut Record,
) -> Result<Response, Sent> {
    // A kept connection the server closed meanwhile is not an answer: the caller retries on
    // a fresh one, as browsers do, when nothing was sent or the request is idempotent.
    let idempotent = matches!(request.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if reused {
        if !matches!(timeout_at(deadline.into(), conn.sender.ready()).await, Ok(Ok(()))) {
            return Err(Sent::Stale);
        }
        conn.clock.reset();
        record.send_start = Some(Instant::now());
        record.server_ip.clone_from(&conn.server_ip);
        record.connection.clone_from(&conn.id);
    }
    record.clock = Some(conn.clock.clone());
    if conn.h2 {
        record.http_version = "HTTP/2.0";
    }
    let (parts, body) = match send(&mut conn, request, options, deadline, record).await {
        Err(e) if reused && idempotent && e.stale && conn.clock.first_read().is_none() => {
            return Err(Sent::Stale);
        }
        Err(e) => return Err(Sent::Failed(e.error)),
        Ok(head) => head,
    };
    let (body, whole) =
        read_body(&parts.headers, body, options, deadline, record).await.map_err(Sent::Failed)?;
    record.body_done = Some(Instant::now());
    record.stop_clock();
    record.body = body.clone();
    if let (Some(pool), Some(key), true) = (&options.pool, key, whole) {
        pool.put(key.clone(), conn);
    }
    Ok(Response {
        status: parts.status,
        status_text: record.status_text.clone(),
        version: parts.version,
        headers: parts.headers,
        body,
        url: request.url.clone(),
        phases: record.phases(),
    })
}

/// Why [`send_on`] got no response.
enum Sent {
    /// A kept connection turned out closed before the request got an answer.
    Stale,
    /// The request failed.
    Failed(FetchError),
}

/// Where a request goes.
struct Target<'u> {
    url: &'u Url,
    host: &'u str,
    port: u16,
    https: bool,
}

impl<'u> Target<'u> {
    fn of(url: &'u Url) -> Result<Self, FetchError> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(FetchError::UnsupportedUrl(url.to_string())),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| FetchError::UnsupportedUrl(url.to_string()))?;
        let port = url.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
        Ok(Self { url, host, port, https })
    }

    fn key(&self, options: &Options) -> Key {
        Key {
            https: self.https,
            host: self.host.to_ascii_lowercase(),
            port: self.port,
            verify_tls: options.verify_tls,
        }
    }
}

fn timed_out(options: &Options, phase: Phase) -> FetchError {
    FetchError::Timeout { after: options.timeout, phase }
}

/// DNS: the addresses of the host (an IP address as written).
async fn resolve(
    target: &Target<'_>,
    options: &Options,
    deadline: Instant,
    record: &mut Record,
) -> Result<Vec<SocketAddr>, FetchError> {
    let port = target.port;
    match target.url.host() {
        Some(url::Host::Ipv4(ip)) => return Ok(vec![SocketAddr::new(ip.into(), port)]),
        Some(url::Host::Ipv6(ip)) => return Ok(vec![SocketAddr::new(ip.into(), port)]),
        _ => {}
    }
    let host = target.host;
    let lookup = timeout_at(deadline.into(), tokio::net::lookup_host((host, port))).await;
    record.dns_done = Some(Instant::now());
    let dns_error = |message: String| FetchError::Dns { host: host.to_string(), message };
    match lookup {
        Err(_) => Err(timed_out(options, Phase::Dns)),
        Ok(Err(e)) => Err(dns_error(e.to_string())),
        Ok(Ok(found)) => {
            let found: Vec<SocketAddr> = found.collect();
            if found.is_empty() { Err(dns_error("no addresses".into())) } else { Ok(found) }
        }
    }
}

/// TCP: the first address that accepts.
async fn connect(
    target: &Target<'_>,
    addrs: &[SocketAddr],
    options: &Options,
    deadline: Instant,
    record: &mut Record,
) -> Result<TcpStream, FetchError> {
    record.connect_start = Some(Instant::now());
    let mut last_error = None;
    for addr in addrs {
        match timeout_at(deadline.into(), TcpStream::connect(addr)).await {
            Err(_) => return Err(timed_out(options, Phase::Connect)),
            Ok(Ok(tcp)) => {
                record.server_ip = Some(addr.ip().to_string());
                let _ = tcp.set_nodelay(true);
                record.connect_done = Some(Instant::now());
                record.connection = tcp.local_addr().ok().map(|a| a.port().to_string());
                return Ok(tcp);
            }
            Ok(Err(e)) => last_error = Some((addr, e)),
        }
    }
    Err(match last_error {
        Some((addr, e)) => {
            let message = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                _ => e.to_string(),
            };
            FetchError::Connect { addr: addr.to_string(), message }
        }
        None => FetchError::Connect { addr: target.host.to_string(), message: "no address".into() },
    })
}

/// TLS for https (with ALPN: whether the server chose HTTP/2); plain TCP for http.
async fn secure(
    target: &Target<'_>,
    tcp: TcpStream,
    options: &Options,
    deadline: Instant,
    record: &mut Record,
) -> Result<(Stream, bool), FetchError> {
    if !target.https {
        return Ok((Stream::Plain(tcp), false));
    }
    let host = target.host;
    let tls_error = |message: String| FetchError::Tls { host: host.to_string(), message };
    let name =
        tokio_rustls::rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
            .map_err(|e| tls_error(e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(tls::config(options.verify_tls));
    let tls = match timeout_at(deadline.into(), connector.connect(name, tcp)).await {
        Err(_) => return Err(timed_out(options, Phase::Tls)),
        Ok(Err(e)) => {
            let mut message = e.to_string();
            if options.verify_tls && message.contains("certificate") {
                message.push_str(" (set `verify_tls: false` to accept it anyway)");
            }
            return Err(tls_error(message));
        }
        Ok(Ok(tls)) => tls,
    };
    record.tls_done = Some(Instant::now());
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    Ok((Stream::Tls(Box::new(tls)), h2))
}

/// The HTTP/1.1 or HTTP/2 handshake on the stream, with a task driving the connection.
async fn handshake(
    io: TokioIo<Timed<Stream>>,
    h2: bool,
    options: &Options,
    deadline: Instant,
) -> Result<(Sender, AbortOnDrop), FetchError> {
    let drive = |conn: BoxFuture<'static, ()>| AbortOnDrop(tokio::spawn(conn));
    if h2 {
        let handshake = hyper::client::conn::http2::Builder::new(TokioExecutor::new()).handshake(io);
        match timeout_at(deadline.into(), handshake).await {
            Err(_) => Err(timed_out(options, Phase::Send)),
            Ok(Err(e)) => Err(FetchError::Http(format!("HTTP/2 handshake failed: {e}"))),
            Ok(Ok((sender, conn))) => Ok((
                Sender::H2(sender),
                drive(Box::pin(async move {
                    let _ = conn.await;
                })),
            )),
        }
    } else {
        let handshake = hyper::client::conn::http1::Builder::new().handshake(io);
        match timeout_at(deadline.into(), handshake).await {
            Err(_) => Err(timed_out(options, Phase::Send)),
            Ok(Err(e)) => Err(FetchError::Http(e.to_string())),
            Ok(Ok((sender, conn))) => Ok((
                Sender::H1(sender),
                drive(Box::pin(async move {
                    let _ = conn.await;
                })),
            )),
        }
    }
}

/// A new connection on the stream: the HTTP handshake, with a task driving the connection.
async fn open(
    stream: Stream,
    h2: bool,
    options: &Options,
    deadline: Instant,
    record: &mut Record,
) -> Result<Conn, FetchError> {
    let send_start = Instant::now();
    record.send_start = Some(send_start);
    let clock = Clock::new(send_start);
    let io = TokioIo::new(Timed::new(stream, clock.clone()));
    let (sender, driver) = handshake(io, h2, options, deadline).await?;
    Ok(Conn {
        sender,
        _driver: driver,
        clock,
        h2,
        server_ip: record.server_ip.clone(),
        id: record.connection.clone(),
        idle_since: std::time::Instant::now(),
    })
}

/// A failed send; `stale` when the connection was found closed (nothing was answered).
struct SendError {
    error: FetchError,
    stale: bool,
}

/// Sends the request and reads the response head.
async fn send(
    conn: &mut Conn,
    request: &Request,
    options: &Options,
    deadline: Instant,
    record: &mut Record,
) -> Result<(hyper::http::response::Parts, Incoming), SendError> {
    let failed = |error| SendError { error, stale: false };
    let hyper_request = build_request(request, &record.headers, conn.h2).map_err(failed)?;
    let response = match timeout_at(deadline.into(), conn.sender.send(hyper_request)).await {
        Err(_) => {
            let wrote = conn.clock.last_write().is_some();
            return Err(failed(timed_out(options, if wrote { Phase::Wait } else { Phase::Send })));
        }
        Ok(Err(e)) => {
            let stale = e.is_canceled() || e.is_closed() || e.is_incomplete_message();
            return Err(SendError { error: FetchError::Http(describe_hyper_error(&e)), stale });
        }
        Ok(Ok(response)) => response,
    };
    record.head_done = Some(Instant::now());
    let (parts, body) = response.into_parts();
    record.status = Some(parts.status);
    record.status_text = parts
        .extensions
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| parts.status.canonical_reason().map(str::to_string))
        .unwrap_or_default();
    record.version = Some(parts.version);
    record.response_headers = parts.headers.clone();
    Ok((parts, body))
}

/// Reads the body up to `max_response_bytes`, and whether it was read to its end; what was read
/// before a failure stays in the record.
async fn read_body(
    headers: &hyper::HeaderMap,
    mut body: Incoming,
    options: &Options,
    deadline: Instant,
    record: &mut Record,
) -> Result<(Bytes, bool), FetchError> {
    let limit = options.max_response_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if let Some(declared) = declared
        && declared > limit
        && !options.truncate_response
    {
        return Err(FetchError::ResponseTooLarge { limit, declared: Some(declared) });
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit).min(1 << 20) as usize);
    loop {
        let failure = match timeout_at(deadline.into(), body.frame()).await {
            Err(_) => timed_out(options, Phase::Transfer),
            Ok(None) => return Ok((buf.freeze(), true)),
            Ok(Some(Err(e))) => {
                FetchError::Http(format!("reading the response body: {}", describe_hyper_error(&e)))
            }
            Ok(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else { continue };
                if (buf.len() + data.len()) as u64 <= limit {
                    buf.extend_from_slice(&data);
                    continue;
                }
                buf.extend_from_slice(&data[..(limit as usize).saturating_sub(buf.len())]);
                if options.truncate_response {
                    return Ok((buf.freeze(), false));
                }
                FetchError::ResponseTooLarge { limit, declared: None }
            }
        };
        record.body = buf.freeze();
        return Err(failure);
    }
}

pub(crate) enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    async fn send(
        &mut self,
        request: hyper::Request<Full<Bytes>>,
    ) -> hyper::Result<hyper::Response<hyper::body::Incoming>> {
        match self {
            Self::H1(s) => s.send_request(request).await,
            Self::H2(s) => s.send_request(request).await,
        }
    }

    async fn ready(&mut self) -> hyper::Result<()> {
        match self {
            Self::H1(s) => s.ready().await,
            Self::H2(s) => s.ready().await,
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Self::H1(s) => s.is_closed(),
            Self::H2(s) => s.is_closed(),
        }
    }
}

/// Stops the connection task when the exchange is over (or abandoned).
pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn describe_hyper_error(e: &hyper::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_incomplete_message() {
        text = format!("the server closed the connection before a complete response ({text})");
    }
    text
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The request a redirect leads to: 303 (and 301/302 after a POST) becomes a GET without body,
/// as browsers do; 307/308 keep method and body. Credentials are not sent to another origin.
fn redirected(previous: &Request, status: StatusCode, url: Url) -> Request {
    let to_get = match status.as_u16() {
        303 => previous.method != Method::HEAD,
        301 | 302 => previous.method == Method::POST,
        _ => false,
    };
    let same_origin = previous.url.origin() == url.origin();
    let mut headers: Vec<(String, String)> = previous
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            let credential = matches!(name.as_str(), "authorization" | "cookie" | "proxy-authorization");
            let body_header = matches!(name.as_str(), "content-type" | "content-length" | "content-encoding");
            !(name == "host" || (credential && !same_origin) || (body_header && to_get))
        })
        .cloned()
        .collect();
    headers.shrink_to_fit();
    Request {
        method: if to_get { Method::GET } else { previous.method.clone() },
        url,
        headers,
        body: if to_get { None } else { previous.body.clone() },
    }
}

/// The headers sent: the request's, then defaults it does not set.
fn final_headers(request: &Request) -> Vec<(String, String)> {
    let mut headers = Vec::with_capacity(request.headers.len() + 4);
    let url = &request.url;
    if request.header("host").is_none() {
        let host = url.host_str().unwrap_or_default();
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        headers.push(("host".to_string(), host));
    }
    headers.extend(request.headers.iter().cloned());
    if request.header("user-agent").is_none() {
        headers.push(("user-agent".to_string(), USER_AGENT.to_string()));
    }
    if request.header("accept").is_none() {
        headers.push(("accept".to_string(), "*/*".to_string()));
    }
    if request.header("authorization").is_none() && !url.username().is_empty() {
        use base64::Engine;
        let user = percent_decode(url.username());
        let password = url.password().map(percent_decode).unwrap_or_default();
        let credential = base64::prelude::BASE64_STANDARD.encode(format!("{user}:{password}"));
        headers.push(("authorization".to_string(), format!("Basic {credential}")));
    }
    if let Some(body) = &request.body
        && request.header("content-length").is_none()
    {
        headers.push(("content-length".to_string(), body.len().to_string()));
    }
    headers
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn build_request(
    request: &Request,
    headers: &[(String, String)],
    h2: bool,
) -> Result<hyper::Request<Full<Bytes>>, FetchError> {
    let url = &request.url;
    let uri: Uri = if h2 {
        let mut absolute = url.clone();
        let _ = absolute.set_username("");
        let _ = absolute.set_password(None);
        absolute.set_fragment(None);
        absolute.as_str().parse()
    } else {
        let mut target = url.path().to_string();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        target.parse()
    }
    .map_err(|e| FetchError::InvalidRequest(format!("URL `{url}`: {e}")))?;
    let mut builder = hyper::Request::builder().method(request.method.clone()).uri(uri);
    let map = builder.headers_mut().expect("a fresh builder has headers");
    for (name, value) in headers {
        if h2 && name.eq_ignore_ascii_case("host") {
            continue;
        }
        let header_name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| FetchError::InvalidRequest(format!("`{name}` is not a header name")))?;
        let header_value = HeaderValue::from_str(value).map_err(|_| {
            FetchError::InvalidRequest(format!("header `{name}`: invalid value (control characters)"))
        })?;
        map.append(header_name, header_value);
    }
    builder
        .body(Full::new(request.body.clone().unwrap_or_default()))
        .map_err(|e| FetchError::InvalidRequest(e.to_string()))
}

/// What one request got to, for its HAR entry and phases.
struct Record {
    start_wall: DateTime<Utc>,
    start: Instant,
    headers: Vec<(String, String)>,
    dns_done: Option<Instant>,
    connect_start: Option<Instant>,
    connect_done: Option<Instant>,
    tls_done: Option<Instant>,
    send_start: Option<Instant>,
    clock: Option<std::sync::Arc<Clock>>,
    /// The clock's stamps when the response was read: a kept connection's clock moves on.
    stamps: Option<(Option<Instant>, Option<Instant>)>,
    head_done: Option<Instant>,
    body_done: Option<Instant>,
    server_ip: Option<String>,
    connection: Option<String>,
    http_version: &'static str,
    status: Option<StatusCode>,
    status_text: String,
    version: Option<Version>,
    response_headers: HeaderMap,
    body: Bytes,
    end: Option<Instant>,
}

impl Record {
    fn new(request: &Request, _options: &Options) -> Self {
        Self {
            start_wall: Utc::now(),
            start: Instant::now(),
            headers: final_headers(request),
            dns_done: None,
            connect_start: None,
            connect_done: None,
            tls_done: None,
            send_start: None,
            clock: None,
            stamps: None,
            head_done: None,
            body_done: None,
            server_ip: None,
            connection: None,
            http_version: "HTTP/1.1",
            status: None,
            status_text: String::new(),
            version: None,
            response_headers: HeaderMap::new(),
            body: Bytes::new(),
            end: None,
        }
    }

    /// Keeps the connection clock's stamps (first read, last write) of this request.
    fn stop_clock(&mut self) {
        self.stamps = self.clock.take().map(|c| (c.first_read(), c.last_write()));
    }

    fn first_read(&self) -> Option<Instant> {
        self.stamps.map_or_else(|| self.clock.as_ref().and_then(|c| c.first_read()), |(read, _)| read)
    }

    fn last_write(&self) -> Option<Instant> {
        self.stamps.map_or_else(|| self.clock.as_ref().and_then(|c| c.last_write()), |(_, write)| write)
    }

    fn phases(&self) -> Phases {
        let end = self.end.or(self.body_done).unwrap_or_else(Instant::now);
        let span = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(b.saturating_duration_since(a)),
            _ => None,
        };
        // The response's first byte; the request's last byte before it (HTTP/1). Over HTTP/2,
        // settings frames come and go before the response: the head's arrival is used instead.
        let http1 = self.http_version == "HTTP/1.1";
        let first_byte = if http1 { self.first_read() } else { None }
            .or(self.head_done)
            .filter(|_| self.head_done.is_some());
        let sent = if http1 { self.last_write() } else { None }
            .or(self.send_start)
            .filter(|_| self.send_start.is_some());
        let sent = match (sent, first_byte) {
            (Some(s), Some(f)) if s > f => Some(f),
            (s, _) => s,
        };
        Phases {
            dns: span(Some(self.start), self.dns_done),
            connect: span(self.connect_start, self.connect_done),
            tls: span(self.connect_done, self.tls_done),
            send: span(self.send_start, sent),
            wait: span(sent, first_byte),
            transfer: span(first_byte, self.body_done),
            total: end.saturating_duration_since(self.start),
        }
    }

    fn finish(mut self, request: &Request, options: &Options, error: Option<&FetchError>) -> Hop {
        self.end = Some(Instant::now());
        let phases = self.phases();
        let entry = entry::build(&self, request, options, &phases, error);
        Hop {
            method: request.method.clone(),
            url: request.url.clone(),
            status: self.status.map(|s| s.as_u16()),
            phases,
            error: error.map(ToString::to_string),
            entry,
        }
    }
}

/// `250ms`, `1.5s`, `2s`, `1m 30s`.
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    } else {
        let text = format!("{:.3}", d.as_secs_f64());
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m 30s");
    }

    #[test]
    fn redirects_drop_bodies_and_foreign_credentials() {
        let post = Request {
            method: Method::POST,
            url: "http://a.test/x".parse().unwrap(),
            headers: vec![
                ("authorization".into(), "Bearer t".into()),
                ("content-type".into(), "application/json".into()),
                ("x-trace".into(), "1".into()),
            ],
            body: Some(Bytes::from_static(b"{}")),
        };
        let same = redirected(&post, StatusCode::FOUND, "http://a.test/y".parse().unwrap());
        assert_eq!(same.method, Method::GET);
        assert!(same.body.is_none());
        assert_eq!(same.headers.len(), 2, "{:?}", same.headers);
        let kept = redirected(&post, StatusCode::PERMANENT_REDIRECT, "http://b.test/y".parse().unwrap());
        assert_eq!(kept.method, Method::POST);
        assert!(kept.body.is_some());
        assert!(kept.headers.iter().all(|(n, _)| n != "authorization"), "{:?}", kept.headers);
    }

    #[test]
    fn default_headers() {
        let mut request = Request::get("http://user:p%40ss@127.0.0.1:8080/a?b=1".parse().unwrap());
        request.body = Some(Bytes::from_static(b"abc"));
        let headers = final_headers(&request);
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("host"), Some("127.0.0.1:8080"));
        assert_eq!(get("content-length"), Some("3"));
        assert_eq!(get("authorization"), Some("Basic dXNlcjpwQHNz"));
        assert_eq!(get("accept"), Some("*/*"));
    }
}
