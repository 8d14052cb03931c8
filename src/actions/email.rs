//! `email`: a plain-text mail over SMTP, built and sent by `lettre`. `smtp` is `host:port` (port
//! 25 when omitted); port 465 speaks TLS from the start, any other port upgrades with `STARTTLS`
//! when the server offers it. `username`/`password` log in with `AUTH PLAIN` (or `LOGIN`), only
//! over TLS or to a loopback host. Subject: `[ALARM] name` (the new state, then the alarm); the body lists the transition,
//! reason, time, canary, description and dashboard link, or is the rendered `template` when the
//! channel has one. A `2xx`/`3xx` SMTP answer to every
//! command means delivered.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use lettre::message::header::{ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use tokio_rustls::rustls::Error as TlsError;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

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

/// Why an SMTP delivery failed. Never holds the password or the user name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    /// The message could not be built (an address lettre refuses).
    #[error("could not build the message: {0}")]
    Message(String),
    /// The TLS settings could not be made (the host is no TLS name, a bad certificate).
    #[error("TLS setup failed: {0}")]
    TlsSetup(String),
    /// The TLS handshake failed, or a login is configured and the server offers no `STARTTLS`.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// The server answered with an error (its code and text).
    #[error("server answered {0}")]
    Rejected(String),
    /// The connection failed or broke (the system's or the protocol's error).
    #[error("{0}")]
    Connection(String),
}

impl From<lettre::transport::smtp::Error> for SmtpError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        let text = one_line(&e);
        if e.is_tls() || caused_by_tls(&e) {
            Self::Handshake(text)
        } else if let Some(code) = e.status() {
            Self::Rejected(format!("{code}: {text}"))
        } else {
            Self::Connection(text)
        }
    }
}

/// Whether a rustls error is among the error's sources (a certificate the client does not trust
/// reaches lettre as a connection error).
fn caused_by_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = error.source();
    while let Some(s) = source {
        let io_inner = s.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
        let in_io = match io_inner {
            Some(inner) => inner.is::<TlsError>(),
            None => false,
        };
        if s.is::<TlsError>() || in_io {
            return true;
        }
        source = s.source();
    }
    false
}

/// An error and its sources on one line.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text.replace(['\r', '\n'], " ")
}

/// The `email` channel: messages built and sent by `lettre` (SMTP over tokio, TLS by rustls).
pub struct Email {
    host: String,
    port: u16,
    from: String,
    to: Vec<String>,
    login: Option<(String, String)>,
    /// PEM certificates trusted besides `webpki-roots`: the system bundle, `SSL_CERT_FILE`, or
    /// what [`Email::with_extra_roots`] adds.
    extra_roots: Arc<Vec<Vec<u8>>>,
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
            extra_roots: SYSTEM_ROOTS.clone(),
            template: config.template,
        })
    }

    /// Also trusts the PEM certificates in `pem` (a private CA, a test server's certificate).
    #[must_use]
    pub fn with_extra_roots(mut self, pem: &[u8]) -> Self {
        let mut roots = (*self.extra_roots).clone();
        roots.extend(pem_certificates(pem));
        self.extra_roots = Arc::new(roots);
        self
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

/// `Auto-Submitted: auto-generated` (RFC 3834): mail robots do not answer it.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// The message: headers (a non-ASCII subject as RFC 2047 encoded words) and the UTF-8 body,
/// sent as 8-bit text so it reads as written; lettre dot-stuffs it on the wire.
fn message(from: &str, to: &[String], n: &Notification, body: &str) -> Result<Message, SmtpError> {
    let mailbox =
        |text: &str| text.parse::<Mailbox>().map_err(|e| SmtpError::Message(format!("`{text}`: {e}")));
    let mut builder = Message::builder()
        .from(mailbox(from)?)
        .subject(subject(n).replace(['\r', '\n'], " "))
        .date(n.time.into())
        .header(ContentType::TEXT_PLAIN)
        .header(AutoSubmitted);
    for to in to {
        builder = builder.to(mailbox(to)?);
    }
    builder.body(eight_bit_body(body)).map_err(|e| SmtpError::Message(e.to_string()))
}

/// The body as 8-bit text with CRLF line ends, readable as written (lettre's own choice would
/// turn text with a trailing space, such as the signature line `-- `, into quoted-printable);
/// a body that 8-bit SMTP cannot carry (a NUL, a line over 998 bytes) is left to lettre to encode.
fn eight_bit_body(body: &str) -> Body {
    let fits = !body.contains('\0') && body.lines().all(|line| line.len() <= 998);
    if !fits {
        return Body::new(body.to_string());
    }
    // lettre ends the data with CRLF `.` CRLF itself: the body's last line has no line end.
    let text = body.lines().collect::<Vec<_>>().join("\r\n");
    Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::EightBit)
}

/// The address of `Name <a@b>` (or the whole text).
fn mailbox(address: &str) -> &str {
    match (address.rfind('<'), address.rfind('>')) {
        (Some(start), Some(end)) if start < end => address[start + 1..end].trim(),
        _ => address.trim(),
    }
}

/// Trusted besides `webpki-roots`: `SSL_CERT_FILE` when set, else the system bundle.
static SYSTEM_ROOTS: LazyLock<Arc<Vec<Vec<u8>>>> = LazyLock::new(|| {
    let pem = match std::env::var_os("SSL_CERT_FILE") {
        Some(path) => std::fs::read(path).ok(),
        None => SYSTEM_BUNDLES.iter().find_map(|path| std::fs::read(path).ok()),
    };
    Arc::new(pem_certificates(pem.as_deref().unwrap_or_default()))
});

const SYSTEM_BUNDLES: &[&str] =
    &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// Each certificate of a PEM bundle, as DER.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).map(|der| der.to_vec()).collect()
}

impl Email {
    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Port 465: TLS from the start. Otherwise `STARTTLS` when the server offers it, and
    /// required when a password would be sent to a host that is not this machine.
    fn tls(&self) -> Result<Tls, SmtpError> {
        let mut parameters = TlsParameters::builder(self.host.clone());
        // A bundle's certificate that lettre cannot read is skipped, as `webpki-roots` stays.
        for certificate in self.extra_roots.iter().filter_map(|der| Certificate::from_der(der.clone()).ok()) {
            parameters = parameters.add_root_certificate(certificate);
        }
        let parameters = parameters.build_rustls().map_err(|e| SmtpError::TlsSetup(one_line(&e)))?;
        Ok(if self.port == 465 {
            Tls::Wrapper(parameters)
        } else if self.login.is_some() && !self.is_loopback() {
            Tls::Required(parameters)
        } else {
            Tls::Opportunistic(parameters)
        })
    }

    async fn send(&self, n: &Notification) -> Result<(), SmtpError> {
        let body = render(self.template.as_ref(), n).unwrap_or_else(|| body(n));
        let message = message(&self.from, &self.to, n, &body)?;
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
            .port(self.port)
            .tls(self.tls()?)
            .hello_name(ClientId::Domain("aviary".into()))
            // The channel's own timeout bounds the whole attempt.
            .timeout(None);
        if let Some((user, password)) = &self.login {
            transport = transport
                .credentials(Credentials::new(user.clone(), password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        transport.build().send(message).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_has_its_headers_an_encoded_subject_and_the_body_as_written() {
        let n = Notification {
            alarm: "disponibilité-€".into(),
            old_state: "OK".into(),
            new_state: "ALARM".into(),
            reason: "r".into(),
            time: chrono::Utc::now(),
            canary: None,
            description: None,
            dashboard_url: None,
        };
        let to = vec!["a@example.test".to_string(), "B <b@example.test>".to_string()];
        let text = String::from_utf8(
            message("Aviary <x@example.test>", &to, &n, "é\n.dot\n-- \n").unwrap().formatted(),
        )
        .unwrap();
        assert!(text.contains("Subject: [ALARM] =?utf-8?b?ZGlzcG9uaWJpbGl0w6kt4oKs?=\r\n"), "{text}");
        assert!(text.contains("To: a@example.test, B <b@example.test>\r\n"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: 8bit\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\né\r\n.dot\r\n-- "), "{text:?}");
        assert!(matches!(message("not an address", &to, &n, ""), Err(SmtpError::Message(_))));
        let long = "x".repeat(2000);
        let text = String::from_utf8(message("x@example.test", &to, &n, &long).unwrap().formatted()).unwrap();
        assert!(!text.contains("8bit") && text.lines().all(|l| l.len() <= 998), "a long line is encoded");
    }
}
