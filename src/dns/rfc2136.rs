//! RFC 2136 DNS UPDATE over TCP, signed with TSIG (RFC 8945), for BIND9, Knot, PowerDNS…

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::prelude::{BASE64_STANDARD, Engine};
use futures::future::BoxFuture;
use hickory_proto::op::{Message, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{DnsError, DnsProvider, ProviderConfig};
use crate::spec::model::{HumanDuration, RecordSpec};
use crate::spec::section::SectionSettings;
use crate::spec::{KeyPath, Problem};

/// Default deadline for one exchange (connect, send, answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The TSIG algorithms requests are signed with.
pub const ALGORITHMS: [&str; 3] = ["hmac-sha256", "hmac-sha384", "hmac-sha512"];

/// The settings of a `type: rfc2136` provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The primary server, `host:port` (port 53 when omitted).
    pub server: String,
    /// The zone the records are in (`example.com.`).
    pub zone: String,
    /// The key updates are signed with; none: unsigned.
    pub tsig: Option<Tsig>,
    /// Limit of one exchange (default 5s).
    pub timeout: Option<HumanDuration>,
}

/// A TSIG key (RFC 8945).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tsig {
    /// The key's name, as the server knows it.
    pub name: String,
    /// One of [`ALGORITHMS`].
    pub algorithm: String,
    /// The shared secret, base64.
    pub secret: String,
}

impl std::fmt::Debug for Tsig {
    // By hand: never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsig")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SectionSettings for Config {
    fn check(&self) -> Vec<Problem> {
        let root = KeyPath::root();
        let mut problems = Vec::new();
        if self.server.trim().is_empty() {
            problems.push(Problem::new(
                root.key("server"),
                "`server` is empty; expected host:port, e.g. ns1.example.com:53",
            ));
        }
        problems.extend(name_problem(&self.zone, root.key("zone")));
        if let Some(tsig) = &self.tsig {
            let at = root.key("tsig");
            if algorithm(&tsig.algorithm).is_none() {
                let message = format!(
                    "unknown TSIG algorithm `{}`; expected one of: {}",
                    tsig.algorithm,
                    ALGORITHMS.join(", ")
                );
                problems.push(Problem::new(at.key("algorithm"), message));
            }
            if BASE64_STANDARD.decode(tsig.secret.trim()).is_err() {
                problems.push(Problem::new(at.key("secret"), "the secret is not valid base64"));
            }
            problems.extend(name_problem(&tsig.name, at.key("name")));
        }
        problems
    }

    fn timeout(&self) -> Option<HumanDuration> {
        self.timeout
    }
}

impl ProviderConfig for Config {
    fn build(self) -> Result<Arc<dyn DnsProvider>, DnsError> {
        Ok(Arc::new(Rfc2136::new(&self)?))
    }
}

/// The problem with a DNS name at `at`, if any.
fn name_problem(name: &str, at: KeyPath) -> Option<Problem> {
    if name.trim().is_empty() {
        return Some(Problem::new(at, "empty name; expected a DNS name like example.com."));
    }
    match parse_name(name) {
        Err(DnsError::Invalid(message)) => Some(Problem::new(at, message)),
        _ => None,
    }
}

fn algorithm(name: &str) -> Option<TsigAlgorithm> {
    match name.to_ascii_lowercase().as_str() {
        "hmac-sha256" => Some(TsigAlgorithm::HmacSha256),
        "hmac-sha384" => Some(TsigAlgorithm::HmacSha384),
        "hmac-sha512" => Some(TsigAlgorithm::HmacSha512),
        _ => None,
    }
}

/// A zone on one authoritative server, updated with an optional TSIG key.
pub struct Rfc2136 {
    server: String,
    zone: Name,
    signer: Option<TSigner>,
    key_name: String,
    timeout: Duration,
}

impl std::fmt::Debug for Rfc2136 {
    // By hand: the signer holds the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc2136")
            .field("server", &self.server)
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

impl Rfc2136 {
    /// From checked settings.
    pub fn new(config: &Config) -> Result<Rfc2136, DnsError> {
        let server = config.server.trim();
        let server = if server.contains(':') { server.to_string() } else { format!("{server}:53") };
        let zone = parse_name(&config.zone)?;
        let (signer, key_name) = match &config.tsig {
            None => (None, String::new()),
            Some(tsig) => (Some(signer(tsig)?), tsig.name.clone()),
        };
        let timeout = config.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.0);
        Ok(Rfc2136 { server, zone, signer, key_name, timeout })
    }

    fn record_name(&self, record: &RecordSpec) -> Result<(Name, RecordType), DnsError> {
        let name = parse_name(&record.name)?;
        if !self.zone.zone_of(&name) {
            return Err(DnsError::Invalid(format!(
                "record `{}` is not in zone `{}`",
                record.name, self.zone
            )));
        }
        let kind = RecordType::from_str(&record.kind.to_ascii_uppercase())
            .map_err(|_| DnsError::Invalid(format!("unknown record type `{}`", record.kind)))?;
        Ok((name, kind))
    }

    /// The update message replacing the RRset: delete it, then add each value, in one message.
    fn update_message(&self, record: &RecordSpec, values: &[String]) -> Result<Message, DnsError> {
        let (name, kind) = self.record_name(record)?;
        let mut zone = Query::new();
        zone.set_name(self.zone.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
        let mut message = Message::query();
        message.metadata.op_code = OpCode::Update;
        message.metadata.recursion_desired = false;
        message.add_zone(zone);
        let mut delete = Record::update0(name.clone(), 0, kind);
        delete.dns_class = DNSClass::ANY;
        message.add_update(delete);
        for value in values {
            let data = RData::try_from_str(kind, value)
                .map_err(|e| DnsError::Invalid(format!("`{value}` is not a valid {kind} value: {e}")))?;
            let mut add = Record::from_rdata(name.clone(), record.ttl, data);
            add.dns_class = DNSClass::IN;
            message.add_update(add);
        }
        Ok(message)
    }

    /// Signs (when keyed), sends over TCP and reads one answer, all under the deadline.
    async fn exchange(&self, mut message: Message) -> Result<Message, DnsError> {
        if let Some(signer) = &self.signer {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            message
                .finalize(signer, now)
                .map_err(|e| DnsError::Invalid(format!("cannot sign the request: {e}")))?;
        }
        let bytes =
            message.to_vec().map_err(|e| DnsError::Invalid(format!("cannot encode the request: {e}")))?;
        let id = message.metadata.id;
        let server = self.server.clone();
        let unreachable =
            |e: std::io::Error| DnsError::Unreachable { server: server.clone(), reason: e.to_string() };
        let io = async {
            let mut stream = TcpStream::connect(&self.server).await.map_err(unreachable)?;
            let len =
                u16::try_from(bytes.len()).map_err(|_| DnsError::Invalid("request too large".into()))?;
            let mut framed = len.to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            stream.write_all(&framed).await.map_err(unreachable)?;
            loop {
                let mut len = [0u8; 2];
                stream.read_exact(&mut len).await.map_err(unreachable)?;
                let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                stream.read_exact(&mut buf).await.map_err(unreachable)?;
                let answer = Message::from_vec(&buf).map_err(|e| DnsError::Other {
                    server: server.clone(),
                    code: format!("an undecodable answer ({e})"),
                })?;
                if answer.metadata.id == id {
                    return Ok(answer);
                }
            }
        };
        let answer = tokio::time::timeout(self.timeout, io).await.map_err(|_| DnsError::Timeout {
            server: self.server.clone(),
            secs: self.timeout.as_secs().max(1),
        })??;
        self.check(&answer)?;
        Ok(answer)
    }

    /// Maps the answer's RCODE (and TSIG error) to an error.
    fn check(&self, answer: &Message) -> Result<(), DnsError> {
        let server = self.server.clone();
        let tsig_error = answer.signature.as_ref().and_then(|s| s.data.error);
        if let Some(e) = tsig_error {
            let code = match e {
                TsigError::BadSig => "BADSIG (wrong secret or algorithm)",
                TsigError::BadKey => "BADKEY (key name unknown to the server)",
                TsigError::BadTime => "BADTIME (clocks differ by more than the fudge)",
                TsigError::BadTrunc => "BADTRUNC",
                TsigError::Unknown(_) => "unknown TSIG error",
            };
            return Err(DnsError::TsigRejected { server, key: self.key_name.clone(), code });
        }
        match answer.metadata.response_code {
            ResponseCode::NoError => Ok(()),
            ResponseCode::NotAuth => Err(DnsError::NotAuth { server }),
            ResponseCode::Refused => Err(DnsError::Refused { server }),
            ResponseCode::ServFail => Err(DnsError::ServFail { server }),
            ResponseCode::BADSIG | ResponseCode::BADKEY | ResponseCode::BADTIME => {
                Err(DnsError::TsigRejected {
                    server,
                    key: self.key_name.clone(),
                    code: match answer.metadata.response_code {
                        ResponseCode::BADKEY => "BADKEY (key name unknown to the server)",
                        ResponseCode::BADTIME => "BADTIME (clocks differ by more than the fudge)",
                        _ => "BADSIG (wrong secret or algorithm)",
                    },
                })
            }
            other => Err(DnsError::Other { server, code: other.to_str().to_string() }),
        }
    }
}

/// The signer of a TSIG key; errors name the key, never the secret.
fn signer(tsig: &Tsig) -> Result<TSigner, DnsError> {
    let algorithm = algorithm(&tsig.algorithm).ok_or_else(|| {
        DnsError::Invalid(format!(
            "TSIG algorithm `{}` is not supported; expected one of: {}",
            tsig.algorithm,
            ALGORITHMS.join(", ")
        ))
    })?;
    let key = BASE64_STANDARD.decode(tsig.secret.trim()).map_err(|_| {
        DnsError::Invalid(format!("TSIG key `{}`: the secret is not valid base64", tsig.name))
    })?;
    let name = parse_name(&tsig.name)?;
    TSigner::new(key, algorithm, name, 300)
        .map_err(|e| DnsError::Invalid(format!("TSIG key `{}`: {e}", tsig.name)))
}

fn parse_name(s: &str) -> Result<Name, DnsError> {
    let mut name =
        Name::from_ascii(s).map_err(|e| DnsError::Invalid(format!("`{s}` is not a DNS name: {e}")))?;
    name.set_fqdn(true);
    Ok(name)
}

impl DnsProvider for Rfc2136 {
    fn replace<'a>(
        &'a self,
        record: &'a RecordSpec,
        values: &'a [String],
    ) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async move {
            let message = self.update_message(record, values)?;
            self.exchange(message).await.map(|_| ())
        })
    }

    fn current<'a>(&'a self, record: &'a RecordSpec) -> BoxFuture<'a, Result<Vec<String>, DnsError>> {
        Box::pin(async move {
            let (name, kind) = self.record_name(record)?;
            let mut message = Message::query();
            message.metadata.recursion_desired = false;
            message.add_query(Query::query(name.clone(), kind));
            let answer = self.exchange(message).await;
            let answer = match answer {
                Err(DnsError::Other { code, .. }) if code == ResponseCode::NXDomain.to_str() => {
                    return Ok(Vec::new());
                }
                other => other?,
            };
            let mut values: Vec<String> = answer
                .answers
                .iter()
                .filter(|r| r.record_type() == kind && r.name == name)
                .map(|r| r.data.to_string())
                .collect();
            values.sort();
            Ok(values)
        })
    }
}
