//! `email`: a plain-text mail over SMTP. `smtp` is `host:port` (port 25 when omitted); port 465
//! speaks TLS from the start, any other port upgrades with `STARTTLS` when the server offers it.
//! `username`/`password` log in with `AUTH PLAIN` (or `LOGIN`), only over TLS or to a loopback
//! host. Subject: `[ALARM] name` (the new state, then the alarm); the body lists the transition,
//! reason, time, canary, description and dashboard link, or is the rendered `template` when the
//! channel has one. A `2xx`/`3xx` SMTP answer to every
//! command means delivered.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use base64::prelude::{BASE64_STANDARD, Engine};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

use super::template::{MessageTemplate, render};
use super::{BoxFuture, Channel, ChannelConfig, ChannelError, Notification};
use crate::spec::model::HumanDuration;
use crate::spec::section::SectionSettings;
use crate::spec::{KeyPath, Problem};

/// The settings of a `type: email` channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The SMTP server, `host:port` (port 25 when omitted).
    pub smtp: String,
    /// The sender, `a@b` or `Name <a@b>`.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// Logs in with `AUTH PLAIN` (or `LOGIN`) when set.
    pub username: Option<String>,
    /// The password for `username` (empty when omitted); only sent over TLS or to a loopback host.
    pub password: Option<String>,
    /// The body, instead of the default one.
    pub template: Option<MessageTemplate>,
    /// Limit of one delivery attempt (default 10s).
    pub timeout: Option<HumanDuration>,
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        let root = KeyPath::root();
        let mut problems = Vec::new();
        if let Err(e) = server(&self.smtp) {
            problems.push(Problem::new(root.key("smtp"), e.to_string()));
        }
        if !is_address(&self.from) {
            problems.push(Problem::new(root.key("from"), not_an_address(&self.from)));
        }
        if self.to.is_empty() {
            problems.push(Problem::new(root.key("to"), "`to` must list at least one address"));
        }
        for (i, to) in self.to.iter().enumerate() {
            if !is_address(to) {
                problems.push(Problem::new(root.key("to").index(i), not_an_address(to)));
            }
        }
        problems
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ChannelConfig for Config {
    fn build(self, _base_dir: &Path) -> Result<Arc<dyn Channel>, ChannelError> {
        Ok(Arc::new(Email::new(self)?))
    }
}

/// What is wrong with an `smtp` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// `smtp` is empty.
    #[error("`smtp` is empty; expected host:port, e.g. smtp.example.com:587")]
    Empty,
    /// What follows the last `:` is not a port number (that text).
    #[error("`{0}` is not a port; expected host:port, e.g. smtp.example.com:587")]
    Port(String),
}

/// `host` and `port` of `smtp` (`host:port`, `[v6]:port` or `host`, port 25).
fn server(smtp: &str) -> Result<(String, u16), ServerError> {
    let smtp = smtp.trim();
    if smtp.is_empty() {
        return Err(ServerError::Empty);
    }
    let (host, port) = match smtp.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => {
            (host, port.parse::<u16>().map_err(|_| ServerError::Port(port.to_string()))?)
        }
        _ => (smtp, 25),
    };
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), port))
}

fn is_address(address: &str) -> bool {
    !address.contains(['\r', '\n']) && mailbox(address).contains('@')
}

fn not_an_address(address: &str) -> String {
    format!("`{address}` is not an email address; expected a@b or Name <a@b>")
}

/// Why an SMTP exchange failed. Never holds the password or the user name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    /// The TCP connection failed (the system's error).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The host is not a valid name for TLS (why).
    #[error("bad TLS name: {0}")]
    TlsName(String),
    /// The TLS handshake failed (why).
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// A login is configured but the server offers no `STARTTLS` and is not on loopback.
    #[error("refusing to send the password: the server offers no STARTTLS")]
    NoTls,
    /// The server refused the login (the mechanism: `AUTH PLAIN` or `AUTH LOGIN`).
    #[error("login failed ({0})")]
    Login(&'static str),
    /// The server answered a command with another code than expected.
    #[error("{verb}: server answered {code} {text}")]
    Rejected {
        /// The command's verb, e.g. `RCPT` (`AUTH` for every login line).
        verb: &'static str,
        /// The reply code.
        code: u16,
        /// The reply text.
        text: String,
    },
    /// The greeting or the end of the message was answered with another code than expected.
    #[error("server answered {code} {text}")]
    Answer {
        /// The reply code.
        code: u16,
        /// The reply text, lines joined by ` / `.
        text: String,
    },
    /// Writing to the connection failed (the system's error).
    #[error("write failed: {0}")]
    Write(String),
    /// Reading from the connection failed (the system's error).
    #[error("read failed: {0}")]
    Read(String),
    /// The server closed the connection before replying.
    #[error("connection closed by the server")]
    Closed,
    /// A reply line that does not start with a three-digit code (the line).
    #[error("bad reply `{0}`; expected a three-digit code")]
    BadReply(String),
    /// A multi-line reply of over 1000 lines.
    #[error("reply too long (over 1000 lines)")]
    TooLong,
}

/// The `email` channel.
pub struct Email {
    host: String,
    port: u16,
    from: String,
    to: Vec<String>,
    login: Option<(String, String)>,
    tls: Arc<ClientConfig>,
    template: Option<MessageTemplate>,
}

impl Email {
    /// From checked settings.
    pub fn new(config: Config) -> Result<Self, ChannelError> {
        let (host, port) = server(&config.smtp)
            .map_err(|_| ChannelError::Unusable { key: "smtp", expected: "host:port" })?;
        let login = config.username.map(|user| (user, config.password.unwrap_or_default()));
        Ok(Self {
            host,
            port,
            from: config.from,
            to: config.to,
            login,
            tls: TLS.clone(),
            template: config.template,
        })
    }
}

impl Channel for Email {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            self.send(n).await.map_err(|source| ChannelError::Smtp {
                server: format!("{}:{}", self.host, self.port),
                source,
            })
        })
    }
}

/// The subject line: `[NEW_STATE] alarm`.
pub fn subject(n: &Notification) -> String {
    format!("[{}] {}", n.new_state, n.alarm)
}

/// The plain-text body.
pub fn body(n: &Notification) -> String {
    let mut text = format!(
        "Alarm:     {}\nState:     {} -> {}\nReason:    {}\nTime:      {}\n",
        n.alarm,
        n.old_state,
        n.new_state,
        n.reason,
        n.time_rfc3339()
    );
    if let Some(canary) = &n.canary {
        let _ = writeln!(text, "Canary:    {canary}");
    }
    if let Some(url) = &n.dashboard_url {
        let _ = writeln!(text, "Dashboard: {url}");
    }
    if let Some(description) = n.description.as_deref().filter(|d| !d.is_empty()) {
        let _ = write!(text, "\n{description}\n");
    }
    text.push_str("\n-- \nSent by Aviary\n");
    text
}

/// The whole message (headers and body, CRLF line ends, not yet dot-stuffed).
fn message(from: &str, to: &[String], n: &Notification, body: &str) -> String {
    let date = n.time.to_rfc2822();
    let id = uuid::Uuid::new_v4();
    let mut out = String::new();
    let _ = write!(out, "From: {from}\r\n");
    let _ = write!(out, "To: {}\r\n", to.join(", "));
    let _ = write!(out, "Subject: {}\r\n", encode_header(&subject(n)));
    let _ = write!(out, "Date: {date}\r\n");
    let _ = write!(out, "Message-ID: <{id}@aviary>\r\n");
    out.push_str(
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
    );
    out.push_str("Auto-Submitted: auto-generated\r\n\r\n");
    for line in body.lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// Most UTF-8 bytes in one encoded word: 45 bytes are 60 base64 characters, and with
/// `=?utf-8?B?` and `?=` the word stays within RFC 2047's 75.
const ENCODED_WORD_BYTES: usize = 45;

/// A header value as is when it is ASCII, else as RFC 2047 encoded words (base64), each whole
/// characters, on folded lines. Line breaks become spaces.
pub fn encode_header(value: &str) -> String {
    let value = value.replace(['\r', '\n'], " ");
    if value.is_ascii() {
        return value;
    }
    let mut words = Vec::new();
    let mut rest = value.as_str();
    while !rest.is_empty() {
        let mut end = rest.len().min(ENCODED_WORD_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        words.push(format!("=?utf-8?B?{}?=", BASE64_STANDARD.encode(&rest[..end])));
        rest = &rest[end..];
    }
    words.join("\r\n ")
}

/// The address of `Name <a@b>` (or the whole text).
fn mailbox(address: &str) -> &str {
    match (address.rfind('<'), address.rfind('>')) {
        (Some(start), Some(end)) if start < end => address[start + 1..end].trim(),
        _ => address.trim(),
    }
}

/// Lines starting with `.` get another `.` (RFC 5321 4.5.2); the message ends with `.`.
fn dot_stuff(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out.push_str(".\r\n");
    out
}

/// Trusted roots: `webpki-roots`, then `SSL_CERT_FILE` when set, else the system bundle.
static TLS: LazyLock<Arc<ClientConfig>> = LazyLock::new(|| {
    let extra = match std::env::var_os("SSL_CERT_FILE") {
        Some(path) => std::fs::read(path).ok(),
        None => SYSTEM_BUNDLES.iter().find_map(|path| std::fs::read(path).ok()),
    };
    tls_config(extra.as_deref().unwrap_or_default())
});

const SYSTEM_BUNDLES: &[&str] =
    &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// A client configuration trusting `webpki-roots` and the PEM certificates in `extra_pem`.
fn tls_config(extra_pem: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    roots.add_parsable_certificates(CertificateDer::pem_slice_iter(extra_pem).filter_map(Result::ok));
    let config = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

impl Email {
    /// Also trusts the PEM certificates in `pem` (a private CA, a test server's certificate).
    #[must_use]
    pub fn with_extra_roots(mut self, pem: &[u8]) -> Self {
        self.tls = tls_config(pem);
        self
    }
}

impl Email {
    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    async fn tls(&self, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SmtpError> {
        let name = ServerName::try_from(self.host.clone()).map_err(|e| SmtpError::TlsName(e.to_string()))?;
        TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| SmtpError::Handshake(e.to_string()))
    }

    async fn send(&self, n: &Notification) -> Result<(), SmtpError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| SmtpError::Connect(e.to_string()))?;
        if self.port == 465 {
            let mut io = BufStream::new(self.tls(tcp).await?);
            expect(&mut io, 220).await?;
            let caps = ehlo(&mut io).await?;
            return self.transaction(&mut io, &caps, true, n).await;
        }
        let mut io = BufStream::new(tcp);
        expect(&mut io, 220).await?;
        let caps = ehlo(&mut io).await?;
        if has(&caps, "STARTTLS") {
            command(&mut io, "STARTTLS", 220).await?;
            let mut io = BufStream::new(self.tls(io.into_inner()).await?);
            let caps = ehlo(&mut io).await?;
            return self.transaction(&mut io, &caps, true, n).await;
        }
        self.transaction(&mut io, &caps, false, n).await
    }

    async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: &mut BufStream<S>,
        caps: &[String],
        tls: bool,
        n: &Notification,
    ) -> Result<(), SmtpError> {
        if let Some((user, password)) = &self.login {
            if !tls && !self.is_loopback() {
                return Err(SmtpError::NoTls);
            }
            if has(caps, "AUTH") && caps.iter().any(|c| c.to_ascii_uppercase().contains("PLAIN")) {
                let token = BASE64_STANDARD.encode(format!("\0{user}\0{password}"));
                command(io, &format!("AUTH PLAIN {token}"), 235)
                    .await
                    .map_err(|_| SmtpError::Login("AUTH PLAIN"))?;
            } else {
                command(io, "AUTH LOGIN", 334).await?;
                command(io, &BASE64_STANDARD.encode(user), 334)
                    .await
                    .map_err(|_| SmtpError::Login("AUTH LOGIN"))?;
                command(io, &BASE64_STANDARD.encode(password), 235)
                    .await
                    .map_err(|_| SmtpError::Login("AUTH LOGIN"))?;
            }
        }
        command(io, &format!("MAIL FROM:<{}>", mailbox(&self.from)), 250).await?;
        for to in &self.to {
            command(io, &format!("RCPT TO:<{}>", mailbox(to)), 250).await?;
        }
        command(io, "DATA", 354).await?;
        let body = render(self.template.as_ref(), n).unwrap_or_else(|| body(n));
        let data = dot_stuff(&message(&self.from, &self.to, n, &body));
        io.write_all(data.as_bytes()).await.map_err(|e| SmtpError::Write(e.to_string()))?;
        io.flush().await.map_err(|e| SmtpError::Write(e.to_string()))?;
        expect(io, 250).await?;
        // The mail is accepted; a failing QUIT changes nothing.
        let _ = command(io, "QUIT", 221).await;
        Ok(())
    }
}

fn has(caps: &[String], keyword: &str) -> bool {
    caps.iter().any(|c| c.split_whitespace().next().is_some_and(|k| k.eq_ignore_ascii_case(keyword)))
}

/// `EHLO`, falling back to `HELO`; the server's extension lines.
async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufStream<S>) -> Result<Vec<String>, SmtpError> {
    send_line(io, "EHLO aviary").await?;
    match read_reply(io).await? {
        (250, lines) => Ok(lines.into_iter().skip(1).collect()),
        _ => {
            command(io, "HELO aviary", 250).await?;
            Ok(Vec::new())
        }
    }
}

async fn send_line<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
    line: &str,
) -> Result<(), SmtpError> {
    io.write_all(format!("{line}\r\n").as_bytes()).await.map_err(|e| SmtpError::Write(e.to_string()))?;
    io.flush().await.map_err(|e| SmtpError::Write(e.to_string()))
}

/// Sends a command and checks the reply code. Errors name the command's verb only (an `AUTH`
/// line carries the password).
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
    line: &str,
    want: u16,
) -> Result<(), SmtpError> {
    send_line(io, line).await?;
    let first = line.split([' ', ':']).next().unwrap_or("");
    // Lines of an `AUTH LOGIN` exchange are the encoded user name and password.
    let verb = ["EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "DATA", "QUIT"]
        .into_iter()
        .find(|v| *v == first)
        .unwrap_or("AUTH");
    match expect(io, want).await {
        Err(SmtpError::Answer { code, text }) => Err(SmtpError::Rejected { verb, code, text }),
        other => other,
    }
}

async fn expect<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
    want: u16,
) -> Result<(), SmtpError> {
    let (code, lines) = read_reply(io).await?;
    if code == want || (want == 250 && (200..300).contains(&code)) {
        Ok(())
    } else {
        Err(SmtpError::Answer { code, text: lines.join(" / ") })
    }
}

/// One (possibly multi-line) reply: its code and the text of each line.
async fn read_reply<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
) -> Result<(u16, Vec<String>), SmtpError> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let read = io.read_line(&mut line).await.map_err(|e| SmtpError::Read(e.to_string()))?;
        if read == 0 {
            return Err(SmtpError::Closed);
        }
        let line = line.trim_end();
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| SmtpError::BadReply(line.to_string()))?;
        lines.push(line.get(4..).unwrap_or("").to_string());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, lines));
        }
        if lines.len() > 1000 {
            return Err(SmtpError::TooLong);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes what [`encode_header`] wrote (the encoded words of folded lines).
    fn decode(header: &str) -> String {
        header
            .split("\r\n ")
            .map(|word| {
                let inner = word.strip_prefix("=?utf-8?B?").and_then(|w| w.strip_suffix("?=")).unwrap();
                // Each word holds whole characters.
                String::from_utf8(BASE64_STANDARD.decode(inner).unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn ascii_headers_are_kept_and_others_are_encoded_words_of_whole_characters() {
        assert_eq!(encode_header("[ALARM] home\r\npage"), "[ALARM] home  page");
        let subject = "[ALARM] disponibilité-de-la-page-d’accueil-très-longue-€€€-✓✓✓-ünïcödé-çà";
        let encoded = encode_header(subject);
        assert!(encoded.lines().count() > 1, "{encoded}");
        for line in encoded.split("\r\n") {
            assert!(line.trim_start().len() <= 75, "{line}");
            assert!(line.is_ascii(), "{line}");
        }
        assert_eq!(decode(&encoded), subject);
    }
}
