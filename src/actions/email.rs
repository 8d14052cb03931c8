//! `email`: a plain-text mail over SMTP. `smtp` is `host:port` (port 25 when omitted); port 465
//! speaks TLS from the start, any other port upgrades with `STARTTLS` when the server offers it.
//! `username`/`password` log in with `AUTH PLAIN` (or `LOGIN`), only over TLS or to a loopback
//! host. Subject: `[ALARM] name` (the new state, then the alarm); the body lists the transition,
//! reason, time, canary, description and dashboard link. A `2xx`/`3xx` SMTP answer to every
//! command means delivered.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use base64::prelude::{BASE64_STANDARD, Engine};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

use super::{BoxFuture, Channel, Notification};
use crate::spec::model::ChannelSpec;

/// The `email` channel.
pub struct Email {
    host: String,
    port: u16,
    from: String,
    to: Vec<String>,
    login: Option<(String, String)>,
    tls: Arc<ClientConfig>,
}

impl Email {
    /// From a `type: email` spec (`smtp`, `from`, `to`, optional `username`/`password`).
    pub fn new(spec: &ChannelSpec) -> Result<Self, String> {
        let smtp = spec.smtp.as_deref().map(str::trim).filter(|s| !s.is_empty()).ok_or("missing `smtp`")?;
        let (host, port) = match smtp.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') => {
                (host, port.parse::<u16>().map_err(|_| format!("`smtp`: `{port}` is not a port"))?)
            }
            _ => (smtp, 25),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let from = spec.from.clone().filter(|f| !f.trim().is_empty()).ok_or("missing `from`")?;
        if spec.to.is_empty() {
            return Err("missing `to`".into());
        }
        for address in std::iter::once(&from).chain(&spec.to) {
            if address.contains(['\r', '\n']) || !mailbox(address).contains('@') {
                return Err(format!("`{address}` is not an email address"));
            }
        }
        let login = match (&spec.username, &spec.password) {
            (Some(user), password) => Some((user.clone(), password.clone().unwrap_or_default())),
            (None, _) => None,
        };
        Ok(Self { host, port, from, to: spec.to.clone(), login, tls: TLS.clone() })
    }
}

impl Channel for Email {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(
            async move { self.send(n).await.map_err(|e| format!("SMTP {}:{}: {e}", self.host, self.port)) },
        )
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
fn message(from: &str, to: &[String], n: &Notification) -> String {
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
    for line in body(n).lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// RFC 2047 for a header value with non-ASCII characters or line breaks.
fn encode_header(value: &str) -> String {
    let value = value.replace(['\r', '\n'], " ");
    if value.is_ascii() { value } else { format!("=?utf-8?B?{}?=", BASE64_STANDARD.encode(value)) }
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

    async fn tls(&self, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let name = ServerName::try_from(self.host.clone()).map_err(|e| format!("bad TLS name: {e}"))?;
        TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))
    }

    async fn send(&self, n: &Notification) -> Result<(), String> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("could not connect: {e}"))?;
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
    ) -> Result<(), String> {
        if let Some((user, password)) = &self.login {
            if !tls && !self.is_loopback() {
                return Err("refusing to send the password: the server offers no STARTTLS".into());
            }
            if has(caps, "AUTH") && caps.iter().any(|c| c.to_ascii_uppercase().contains("PLAIN")) {
                let token = BASE64_STANDARD.encode(format!("\0{user}\0{password}"));
                command(io, &format!("AUTH PLAIN {token}"), 235)
                    .await
                    .map_err(|_| "login failed (AUTH PLAIN)")?;
            } else {
                command(io, "AUTH LOGIN", 334).await?;
                command(io, &BASE64_STANDARD.encode(user), 334)
                    .await
                    .map_err(|_| "login failed (AUTH LOGIN)")?;
                command(io, &BASE64_STANDARD.encode(password), 235)
                    .await
                    .map_err(|_| "login failed (AUTH LOGIN)")?;
            }
        }
        command(io, &format!("MAIL FROM:<{}>", mailbox(&self.from)), 250).await?;
        for to in &self.to {
            command(io, &format!("RCPT TO:<{}>", mailbox(to)), 250).await?;
        }
        command(io, "DATA", 354).await?;
        let data = dot_stuff(&message(&self.from, &self.to, n));
        io.write_all(data.as_bytes()).await.map_err(|e| format!("sending the message: {e}"))?;
        io.flush().await.map_err(|e| format!("sending the message: {e}"))?;
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
async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufStream<S>) -> Result<Vec<String>, String> {
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
) -> Result<(), String> {
    io.write_all(format!("{line}\r\n").as_bytes()).await.map_err(|e| format!("write failed: {e}"))?;
    io.flush().await.map_err(|e| format!("write failed: {e}"))
}

/// Sends a command and checks the reply code. Errors name the command's verb only (an `AUTH`
/// line carries the password).
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
    line: &str,
    want: u16,
) -> Result<(), String> {
    send_line(io, line).await?;
    let first = line.split([' ', ':']).next().unwrap_or("");
    // Lines of an `AUTH LOGIN` exchange are the encoded user name and password.
    let verb = ["EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "DATA", "QUIT"]
        .into_iter()
        .find(|v| *v == first)
        .unwrap_or("AUTH");
    expect(io, want).await.map_err(|e| format!("{verb}: {e}"))
}

async fn expect<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufStream<S>, want: u16) -> Result<(), String> {
    let (code, lines) = read_reply(io).await?;
    if code == want || (want == 250 && (200..300).contains(&code)) {
        Ok(())
    } else {
        Err(format!("server answered {code} {}", lines.join(" / ")))
    }
}

/// One (possibly multi-line) reply: its code and the text of each line.
async fn read_reply<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
) -> Result<(u16, Vec<String>), String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let read = io.read_line(&mut line).await.map_err(|e| format!("read failed: {e}"))?;
        if read == 0 {
            return Err("connection closed by the server".into());
        }
        let line = line.trim_end();
        let code =
            line.get(..3).and_then(|c| c.parse::<u16>().ok()).ok_or_else(|| format!("bad reply `{line}`"))?;
        lines.push(line.get(4..).unwrap_or("").to_string());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, lines));
        }
        if lines.len() > 1000 {
            return Err("reply too long".into());
        }
    }
}
